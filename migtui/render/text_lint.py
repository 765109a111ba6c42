"""Lint report as text for a terminal: grouped by file/revision, statements with their locks.

Each file is rendered to one string (``file_text``), where it is linted (``LintOptions.render_file``: a worker
process for many raw files), and styled with plain ANSI codes when the output is a colour terminal: printing
thousands of files line by line through rich would take far longer than linting them (docs/lint.md, Speed).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final

# the few styles the report uses, as SGR codes
ANSI: Final = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36", "bold red": "1;31"}
SEVERITY_STYLE: Final = {"error": "bold red", "warning": "yellow", "info": "cyan"}

Paint = Callable[[str, str], str]


def painter(color: bool) -> Paint:
    """``paint(text, style)``: ``text`` in ANSI ``style`` when ``color``, else as is."""
    if not color:
        return lambda text, style: text
    return lambda text, style: f"\x1b[{ANSI[style]}m{text}\x1b[0m" if style in ANSI else text


def use_color(stream) -> bool:  # type: ignore[no-untyped-def]
    """Colour on a terminal, as rich decides it (NO_COLOR, FORCE_COLOR, TERM=dumb), without importing rich."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM", "") in ("dumb", "unknown"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def file_text(file, paint: Paint, *, verbose: bool = False) -> str:  # type: ignore[no-untyped-def]
    """One ``LintedFile``: its title, then each statement with findings (every one with ``verbose``); in a phased
    revision each statement starts with its phase (``[expand]``, ``[migrate]``, ``[contract]``)."""
    title = paint(file.path, "bold") + (f"  (revision {file.revision})" if file.revision else "")
    lines = [title]
    shown = 0
    for st in file.statements:
        if not st.findings and not verbose:
            continue
        shown += 1
        sql = " ".join(st.sql.split())
        if len(sql) > 100:
            sql = sql[:97] + "..."
        tx = "" if st.transactional else " " + paint("(no transaction)", "dim")
        phase = file.phases.get(st.index)  # a phased revision: the phase that runs the statement
        label = paint(f"[{phase}]", "bold") + " " if phase else ""
        lines.append(f"  {paint(f'{st.line:>5}', 'dim')}  {label}{sql}{tx}")
        for lock in st.locks:
            blocks = ", ".join(lock.blocks) or "nothing"
            lines.append(
                f"         {paint('lock', 'dim')} {lock.mode} on {lock.relation} {paint(f'(blocks {blocks})', 'dim')}"
            )
        if st.rewrites:
            lines.append(f"         {paint('rewrites', 'dim')} {', '.join(st.rewrites)}")
        elif st.scans:
            lines.append(f"         {paint('scans', 'dim')} {', '.join(st.scans)}")
        for finding in st.findings:
            _finding_lines(lines, finding, paint)
        for assumption in st.assumptions:
            lines.append("         " + paint(f"assumed: {assumption}", "dim"))
    for finding in file.findings:
        shown += 1
        line = f"{finding.line or '':>5}"
        lines.append(f"  {paint(line, 'dim')}  {paint('(file)', 'dim')}")
        _finding_lines(lines, finding, paint)
    if not shown:
        lines.append("  " + paint("no findings", "green"))
    return "\n".join(lines)


def summary_text(report, paint: Paint) -> str:  # type: ignore[no-untyped-def]
    s = report.totals()
    color = "red" if s["errors"] else ("yellow" if s["warnings"] else "green")
    return (
        paint(
            f"{s['files']} files, {s['statements']} statements: {s['errors']} errors, "
            f"{s['warnings']} warnings, {s['info']} info",
            color,
        )
        + (f", {s['approved']} approved" if s["approved"] else "")
        + (f", {s['ignored']} ignored" if s["ignored"] else "")
        + f"  (PostgreSQL {s['pg_version']}, catalog: {'yes' if s['catalog'] else 'no, worst case assumed'})"
    )


def _finding_lines(lines: list[str], finding, paint: Paint) -> None:  # type: ignore[no-untyped-def]
    approved = " " + paint(f"(approved: {finding.approved})", "green") if finding.approved else ""
    lines.append(
        f"         {paint(finding.severity, SEVERITY_STYLE.get(finding.severity, ''))} "
        f"{paint(finding.rule, 'bold')}: {finding.message}{approved}"
    )
    if finding.hint and finding.severity != "info":
        lines.append(f"           {paint('fix:', 'dim')} {finding.hint}")
