"""Lint report as text for a terminal (rich): grouped by file/revision, statements with their locks."""

from __future__ import annotations

from typing import Any

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def render_lint_text(report, console: Any, *, verbose: bool = False) -> None:
    """Print ``report`` (a ``LintReport``) to a rich ``Console``. ``verbose`` also lists clean statements."""
    from rich.markup import escape

    for file in report.files:
        title = f"[bold]{escape(file.path)}[/bold]" + (f"  (revision {escape(file.revision)})" if file.revision else "")
        console.print(title)
        shown = 0
        for st in file.statements:
            if not st.findings and not verbose:
                continue
            shown += 1
            sql = " ".join(st.sql.split())
            if len(sql) > 100:
                sql = sql[:97] + "..."
            tx = "" if st.transactional else " [dim](no transaction)[/dim]"
            console.print(f"  [dim]{st.line:>5}[/dim]  {escape(sql)}{tx}")
            for lock in st.locks:
                blocks = ", ".join(lock.blocks) or "nothing"
                console.print(
                    f"         [dim]lock[/dim] {escape(lock.mode)} on {escape(lock.relation)} "
                    f"[dim](blocks {blocks})[/dim]"
                )
            if st.rewrites:
                console.print(f"         [dim]rewrites[/dim] {escape(', '.join(st.rewrites))}")
            elif st.scans:
                console.print(f"         [dim]scans[/dim] {escape(', '.join(st.scans))}")
            for finding in st.findings:
                _print_finding(console, finding)
            for assumption in st.assumptions:
                console.print(f"         [dim]assumed: {escape(assumption)}[/dim]")
        for finding in file.findings:
            shown += 1
            console.print(f"  [dim]{finding.line or '':>5}[/dim]  [dim](file)[/dim]")
            _print_finding(console, finding)
        if not shown:
            console.print("  [green]no findings[/green]")
    s = report.summary()
    color = "red" if s["errors"] else ("yellow" if s["warnings"] else "green")
    console.print(
        f"[{color}]{s['files']} files, {s['statements']} statements: {s['errors']} errors, "
        f"{s['warnings']} warnings, {s['info']} info[/{color}]"
        + (f", {s['approved']} approved" if s["approved"] else "")
        + (f", {s['suppressed']} suppressed" if s["suppressed"] else "")
        + f"  (PostgreSQL {s['pg_version']}, catalog: {'yes' if s['catalog'] else 'no, worst case assumed'})"
    )


def _print_finding(console: Any, finding) -> None:
    from rich.markup import escape

    style = STYLE.get(finding.severity, "")
    approved = f" [green](approved: {escape(finding.approved)})[/green]" if finding.approved else ""
    console.print(
        f"         [{style}]{finding.severity}[/{style}] [bold]{finding.rule}[/bold]: "
        f"{escape(finding.message)}{approved}"
    )
    if finding.hint and finding.severity != "info":
        console.print(f"           [dim]fix:[/dim] {escape(finding.hint)}")
