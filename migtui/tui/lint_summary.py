"""Per-revision lint badges for the TUI, from the lint job's JSON shape (``LintReport.to_dict()``).

Headless (no textual): runs in a worker thread. The lint engine decides everything; this only groups its
report by revision: worst finding, strongest lock, statements with locks and findings. The analysis package is
imported where it is used: the Migrations view imports this module to draw its first screen, before any lint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# pg_locks mode -> short badge (PostgreSQL docs' names, abbreviated)
LOCK_BADGE = {
    "AccessShareLock": "AS",
    "RowShareLock": "RS",
    "RowExclusiveLock": "RE",
    "ShareUpdateExclusiveLock": "SUE",
    "ShareLock": "S",
    "ShareRowExclusiveLock": "SRE",
    "ExclusiveLock": "E",
    "AccessExclusiveLock": "AE",
}


@dataclass
class RevisionLint:
    revision: str
    path: str
    statements: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)  # every finding (statement + file level)
    destructive: list[dict[str, Any]] = field(default_factory=list)  # destructive findings not approved

    @property
    def counts(self) -> dict[str, int]:
        out = {"error": 0, "warning": 0, "info": 0}
        for f in self.findings:
            if f.get("approved") is None:
                out[f["severity"]] = out.get(f["severity"], 0) + 1
        return out

    @property
    def worst(self) -> str | None:
        from migtui.analysis.rules import SEVERITY_RANK

        live = [f["severity"] for f in self.findings if f.get("approved") is None]
        return max(live, key=lambda s: SEVERITY_RANK.get(s, -1)) if live else None

    @property
    def strongest_lock(self) -> tuple[str, str] | None:
        """(mode, relation) of the strongest lock any statement takes."""
        from migtui.analysis.lock_modes import STRENGTH

        best: tuple[str, str] | None = None
        for st in self.statements:
            for lock in st.get("locks", ()):
                if best is None or STRENGTH.get(lock["mode"], -1) > STRENGTH.get(best[0], -1):
                    best = (lock["mode"], lock["relation"])
        return best

    @property
    def needs_typed_confirmation(self) -> bool:
        return bool(self.destructive) or self.counts["error"] > 0


def summarize(report: dict[str, Any], destructive_rules: set[str]) -> dict[str, RevisionLint]:
    out: dict[str, RevisionLint] = {}
    for file in report.get("files", ()):
        revision = file.get("revision")
        if not revision:
            continue
        item = RevisionLint(revision, file.get("path", ""), list(file.get("statements", ())))
        for st in item.statements:
            item.findings.extend(st.get("findings", ()))
        item.findings.extend(file.get("findings", ()))
        item.destructive = [
            f for f in item.findings if f.get("rule") in destructive_rules and f.get("approved") is None
        ]
        out[revision] = item
    return out


def lint_revisions(settings) -> dict[str, RevisionLint]:
    """Run the lint job on the configured project (pending revisions when a target database is set)."""
    from migtui.analysis.rules import LINT_RULES
    from migtui.lint.job import LintOptions, run_lint

    report = run_lint(settings, LintOptions())
    destructive = {rule_id for rule_id, rule in LINT_RULES.items() if rule.destructive}
    return summarize(report.to_dict(), destructive)
