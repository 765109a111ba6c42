"""The dry-run report: what the JSON output is, which findings count, the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migtui.dryrun.static import blocking_lint_findings
from migtui.errors import ExitCode

JOB = "dry-run"


def warning(rule: str, severity: str, message: str, hint: str = "") -> dict[str, str]:
    """A dry-run finding as it appears in a statement's or revision's ``warnings``."""
    return {"rule": rule, "severity": severity, "message": message, "hint": hint}


@dataclass
class DryRunReport:
    target: dict[str, Any]
    pending: list[str]
    revisions: list[dict[str, Any]] = field(default_factory=list)
    shadow: dict[str, Any] | None = None
    throughput: dict[str, Any] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)  # what the dry-run did on the target
    seconds: float = 0.0

    @property
    def findings(self) -> list[dict[str, Any]]:
        """Every dry-run warning, plus the linter's findings that fail a dry-run (destructive, not approved)."""
        out = []
        for rev in self.revisions:
            out += [{**w, "revision": rev["revision"]} for w in rev.get("warnings", [])]
            for stmt in rev["statements"]:
                where = {"revision": rev["revision"], "statement": stmt["index"], "line": stmt["line"]}
                out += [{**w, **where} for w in stmt["warnings"]]
                out += [{**f, **where} for f in blocking_lint_findings(stmt)]
        return out

    @property
    def job(self) -> str:
        return JOB

    @property
    def summary(self) -> str:
        if not self.pending:
            return "nothing pending"
        data = self.to_dict()["summary"]
        return (
            f"{data['revisions']} revision(s), {data['statements']} statement(s), "
            f"{data['errors']} error(s), {data['warnings']} warning(s)"
        )

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f["severity"] == "error")

    @property
    def exit_code(self) -> int:
        return int(ExitCode.FINDINGS if self.errors else ExitCode.OK)

    def to_dict(self) -> dict[str, Any]:
        findings = self.findings
        return {
            "job": JOB,
            "target": self.target,
            "pending": self.pending,
            "revisions": self.revisions,
            "shadow": self.shadow,
            "throughput": self.throughput,
            "load": self.load,
            "summary": {
                "revisions": len(self.revisions),
                "statements": sum(len(r["statements"]) for r in self.revisions),
                "errors": sum(1 for f in findings if f["severity"] == "error"),
                "warnings": sum(1 for f in findings if f["severity"] == "warning"),
                "seconds": round(self.seconds, 3),
            },
            "exit_code": self.exit_code,
        }
