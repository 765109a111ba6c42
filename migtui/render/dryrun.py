"""Render dry-run events for a terminal (text, streamed), GitHub Actions annotations; the report as JSON, SARIF
or JUnit (its ``findings``, with the shared renderers)."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from migtui.analysis.rules import LINT_RULES
from migtui.dryrun.static import is_blocking_finding
from migtui.events import (
    DryRunReplica,
    DryRunStatement,
    Event,
    Finding,
    Message,
    RevisionFailed,
    RevisionStarted,
    RunFinished,
)


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)  # pragma: no cover


def _one_line_sql(sql: str, width: int = 100) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _locks_text(report: dict[str, Any]) -> str:
    locks = report.get("observed_locks")
    if locks is None:
        static = report.get("locks") or []
        if static:
            return "locks " + ", ".join(f"{lk.get('mode')} {lk.get('relation', '')}".strip() for lk in static)
        return "locks not observable (outside a transaction)"
    tables = [lk for lk in locks if lk["kind"] == "table"] or locks
    if not tables:
        return "locks none"
    strongest: dict[str, str] = {}
    from migtui.analysis.lock_modes import STRENGTH

    for lk in tables:
        cur = strongest.get(lk["relation"])
        if cur is None or (lk["mode"] in STRENGTH and STRENGTH[lk["mode"]] > STRENGTH.get(cur, -1)):
            strongest[lk["relation"]] = lk["mode"]
    return "locks " + ", ".join(f"{mode} {rel}" for rel, mode in strongest.items())


def statement_line(report: dict[str, Any]) -> str:
    parts = [_locks_text(report)]
    if report.get("rewrite"):
        parts.append("rewrite")
    elif report.get("scan"):
        parts.append("scan")
    rows = report.get("rows")
    if rows is not None:
        count = rows.get("count")
        label = "exact" if rows.get("exact") else ("estimate" if count is not None else rows.get("method", "?"))
        parts.append(f"rows {count:,} ({label})" if count is not None else f"rows ? ({label})")
    if report.get("table_bytes") is not None:
        parts.append(f"table {human_bytes(report['table_bytes'])}")
    if report.get("estimated_seconds"):
        parts.append(f"~{report['estimated_seconds']:.2f}s")
    return " · ".join(parts)


class TextRenderer:
    """Streams one block per statement as the events arrive."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def _p(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def __call__(self, event: Event) -> None:
        if isinstance(event, DryRunReplica):
            t = event.replica
            lag = t.get("lag") or {}
            lag_text = ""
            if lag:
                behind = lag.get("behind_primary_bytes")
                lag_text = f" · replay lag {human_bytes(lag.get('replay_lag_bytes') or 0)}"
                if behind is not None:
                    lag_text += f" · {human_bytes(behind)} behind the primary"
            current = ", ".join(t.get("current_revisions") or []) or "(none)"
            self._p(f"dry-run on {t['role']} {t['dsn']} (PostgreSQL {t['server_version']}) at {current}{lag_text}")
            self._p(f"pending: {', '.join(event.pending) if event.pending else 'nothing'}")
        elif isinstance(event, Message):
            prefix = {"warning": "warning: ", "error": "error: "}.get(event.level, "")
            self._p(f"{prefix}{event.text}")
        elif isinstance(event, RevisionStarted):
            desc = f"  {event.description}" if event.description and event.description != event.revision else ""
            self._p(f"\n== {event.revision}{desc}")
        elif isinstance(event, DryRunStatement):
            r = event.report
            where = f"  (line {r['line']})" if r.get("line") else ""
            phase = f"[{r['phase']}] " if r.get("phase") else ""
            self._p(f"  {event.index + 1:>2}. {phase}{_one_line_sql(r['sql'])}{where}")
            self._p(f"      {statement_line(r)}")
            for diff in r.get("lock_differences") or []:
                self._p(
                    f"      lock model differs on {diff['relation']}: model {diff['model'] or 'no lock'}, "
                    f"observed {diff['observed'] or 'no lock'}"
                )
            lint = r.get("findings") or []
            blocking = [f for f in lint if is_blocking_finding(f)]
            for f in blocking:
                self._p(f"      ERROR [{f['rule']}] {f['message']}")
            others = sorted({f["rule"] for f in lint if f not in blocking})
            if others:
                self._p(f"      lint: {', '.join(others)}")
        elif isinstance(event, Finding) and event.statement is not None:
            # follows its statement's block; the linter's blocking findings are printed in that block
            if event.rule not in LINT_RULES:
                mark = {"error": "ERROR", "warning": "warning", "info": "info"}.get(event.severity, event.severity)
                self._p(f"      {mark} [{event.rule}] {event.message}")
        elif isinstance(event, Finding) and event.revision is not None:
            self._p(f"  {event.severity} [{event.rule}] {event.message}")
        elif isinstance(event, RevisionFailed):
            self._p(f"  revision {event.revision} fails on the shadow: {event.error}")
        elif isinstance(event, RunFinished):
            self._p(f"\n{'ok' if event.ok else 'FAILED'}: {event.summary}")


class GithubRenderer:
    """GitHub Actions workflow commands, one annotation per finding as it arrives (the same annotation format
    as ``migtui lint --format github``: ``migtui.render.github``); the summary line goes to stderr."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def __call__(self, event: Event) -> None:
        from migtui.render.github import annotation

        if isinstance(event, Finding):
            print(annotation(_relative(event)), file=self.out, flush=True)
        elif isinstance(event, RunFinished):
            print(f"migtui dry-run: {event.summary}", file=self.err, flush=True)


def _relative(finding: Finding) -> Finding:
    """The finding with its revision file relative to the working directory (the job knows it absolute)."""
    from migtui.render.findings import relative_path

    if not finding.path:
        return finding
    return finding.located(relative_path(finding.path), finding.revision)


def sarif_json(report: Any) -> str:
    """A ``DryRunReport``'s findings as SARIF."""
    from migtui import __version__
    from migtui.render.json_report import render_json
    from migtui.render.sarif import sarif_log

    return render_json(sarif_log([_relative(f) for f in report.findings], tool_version=__version__))


def junit_text(report: Any) -> str:
    """A ``DryRunReport`` as JUnit: one case per pending revision, failed by its error findings."""
    from migtui.render.findings import relative_path
    from migtui.render.junit import findings_junit

    checked = [(relative_path(r["path"]) if r["path"] else None, r["revision"]) for r in report.revisions]
    findings = [_relative(f) for f in report.findings]
    return findings_junit("migtui dry-run", "dry-run", findings, checked=checked)


def markdown_text(report: Any) -> str:
    """The PR-sized Markdown summary; each finding of a statement with the locks the statement took."""
    from migtui.render.markdown import render_markdown

    locks = {
        (rev["revision"], stmt.get("index", i)): _locks_text(stmt).removeprefix("locks ")
        for rev in report.revisions
        for i, stmt in enumerate(rev.get("statements", []))
    }
    rows = [(f, locks.get((f.revision, f.statement), "")) for f in report.findings]
    return render_markdown(report, rows)


def print_json(report: dict[str, Any], out: TextIO | None = None) -> None:
    print(json.dumps(report, indent=2, default=str), file=out or sys.stdout, flush=True)
