"""rollback-test reports as text, JSON, GitHub annotations, SARIF and JUnit XML."""

from __future__ import annotations

from migtui.events import Finding
from migtui.render.junit import JUnitCase, junit_xml
from migtui.rollback.job import (
    FAILED,
    NOOP_DOWNGRADE,
    PASSED,
    PHASE_CONTRACT_DOWNGRADE_SCHEMA,
    PHASE_DOWNGRADE_SCHEMA,
    PHASE_REUPGRADE_SCHEMA,
    SKIPPED,
    RevisionResult,
    RollbackReport,
    count_differences,
)


def _seconds_line(result: RevisionResult) -> str:
    s = result.seconds
    parts = [
        f"{label} {s[key]:.2f}s"
        for key, label in (("upgrade", "up"), ("downgrade", "down"), ("re_upgrade", "up"))
        if key in s
    ]
    if "total" in s:
        parts.append(f"total {s['total']:.2f}s")
    return "  ".join(parts)


def _detail_lines(result: RevisionResult) -> list[str]:
    lines: list[str] = []
    for phase in result.failures:
        if phase == PHASE_DOWNGRADE_SCHEMA:
            lines.append(
                f"{phase} (expected: the schema before the upgrade): {count_differences(result.downgrade_differences)}"
            )
            lines.extend("  " + d.describe() for d in result.downgrade_differences)
        elif phase == PHASE_CONTRACT_DOWNGRADE_SCHEMA:
            found = count_differences(result.contract_differences)
            lines.append(f"{phase} (expected: the schema before the upgrade): {found}")
            lines.extend("  " + d.describe() for d in result.contract_differences)
        elif phase == PHASE_REUPGRADE_SCHEMA:
            found = count_differences(result.reupgrade_differences)
            lines.append(f"{phase} (expected: the schema after the first upgrade): {found}")
            lines.extend("  " + d.describe() for d in result.reupgrade_differences)
        else:
            lines.append(f"{phase} failed: {result.error}")
    if result.status == NOOP_DOWNGRADE:
        lines.append(
            "no-op downgrade: the downgrade left the schema as the upgrade made it "
            f"({count_differences(result.downgrade_differences)} from the schema before the upgrade)"
        )
        lines.extend("  " + d.describe() for d in result.downgrade_differences)
    lines.extend(f"warning: {w}" for w in result.data_warnings)
    lines.extend(f"phased: {sequence}" for sequence in result.phased)
    if result.phased and result.note:
        lines.append(f"note: {result.note}")
    return lines


def report_text(report: RollbackReport) -> str:
    width = max((len(r.revision) for r in report.revisions), default=8)
    out = [
        f"rollback-test on {report.scratch} (server {report.server_version}): {len(report.revisions)} revision(s)"
        + (", with data" if report.with_data else "")
        + (f", baseline {report.baseline}" if report.baseline else "")
    ]

    def shown(r: RevisionResult) -> str:
        text = r.description if r.description != r.revision else ""
        return text if len(text) <= 48 else text[:47] + "…"  # the full message is in JSON / JUnit

    desc_width = max((len(shown(r)) for r in report.revisions), default=0)
    for r in report.revisions:
        mark = {PASSED: "PASS", FAILED: "FAIL", SKIPPED: "SKIP", NOOP_DOWNGRADE: "NOOP"}[r.status]
        line = f"  {mark} {r.revision:<{width}}  {shown(r):<{desc_width}}"
        if r.status == SKIPPED:
            line += f"  ({r.note})" if r.note else ""
        else:
            line += "  " + _seconds_line(r)
        out.append(line.rstrip())
        out.extend("       " + d for d in _detail_lines(r))
    passed = sum(r.status == PASSED for r in report.revisions)
    skipped = sum(r.status == SKIPPED for r in report.revisions)
    failed = [r.revision for r in report.failed if r.status == FAILED]
    summary = f"{passed} passed, {len(failed)} failed" + (f" ({', '.join(failed)})" if failed else "")
    noop = len(report.noop_downgrades)
    if noop:
        summary += f", {noop} no-op downgrade(s)"
    if skipped:
        summary += f", {skipped} skipped"
    warnings = sum(len(r.data_warnings) for r in report.revisions)
    if warnings:
        summary += f", {warnings} data warning(s)"
    out.append(f"total {report.seconds:.2f}s: {summary}")
    return "\n".join(out) + "\n"


def report_json(report: RollbackReport) -> str:
    import json

    return json.dumps(report.to_dict(), indent=2, default=str) + "\n"


def report_junit(report: RollbackReport) -> str:
    cases = []
    for r in report.revisions:
        name = r.revision if r.description in ("", r.revision) else f"{r.revision} {r.description}"
        case = JUnitCase(name=name, classname="migtui.rollback-test", seconds=r.seconds.get("total", 0.0))
        if not r.ok:
            case.failure = f"revision {r.revision}: {r.summary()}"
            case.details = "\n".join(_detail_lines(r))
        elif r.status == SKIPPED:
            case.skipped = r.note or "skipped"
        output = [f"warning: {r.summary()}"] if r.status == NOOP_DOWNGRADE and r.ok else []
        output.extend(f"warning: {w}" for w in r.data_warnings)
        if output:
            case.output = "\n".join(output)
        cases.append(case)
    return junit_xml("migtui rollback-test", cases, seconds=report.seconds)


def _relative_findings(report: RollbackReport) -> list[Finding]:
    """The report's findings with their revision file relative to the working directory (what CI shows)."""
    from migtui.render.findings import relative_path

    out = []
    for f in report.findings:
        path = relative_path(f.path) if f.path else None
        out.append(Finding(f.rule, f.severity, f.message, f.hint, f.line, f.approved, f.revision, path, f.statement))
    return out


def report_github(report: RollbackReport) -> str:
    """Workflow annotations, one per failed revision or data warning, on the revision's file."""
    from migtui.render.github import render_annotations

    findings = _relative_findings(report)
    text = render_annotations(findings)
    return text + "\n" if text else ""


def report_sarif(report: RollbackReport) -> str:
    from migtui import __version__
    from migtui.render.json_report import render_json
    from migtui.render.sarif import sarif_log

    findings = _relative_findings(report)
    return render_json(sarif_log(findings, tool_version=__version__)) + "\n"


def report_markdown(report: RollbackReport) -> str:
    from migtui.render.markdown import render_markdown

    return render_markdown(report, [(f, "") for f in _relative_findings(report)])


FORMATTERS = {
    "text": report_text,
    "json": report_json,
    "github": report_github,
    "sarif": report_sarif,
    "junit": report_junit,
    "markdown": report_markdown,
}
