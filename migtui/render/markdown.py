"""A job's report as Markdown for a pull request (a comment, ``$GITHUB_STEP_SUMMARY``): PR-sized.

The verdict and counts first, then the worst findings with their lock and fix, then every finding in a
collapsed ``<details>``; each rule links to its page under ``docs/rules/``. Works on any report of the one shape
(``job``, ``target``, ``summary``, ``findings``, ``exit_code``); a job passes its findings with the lock each
one's statement takes when it knows it (lint, dry-run).

    text = render_markdown(report)                              # findings without locks
    text = render_markdown(report, rows=[(finding, "AccessExclusiveLock on public.t"), ...])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from migtui.analysis.rules import SEVERITY_RANK
from migtui.events import Finding
from migtui.redact import redact
from migtui.render.findings import relative_path, severity_counts

DOCS_BASE = "docs/rules/"
WORST = 10  # errors and warnings in the summary table; every finding is in <details>
FULL_LIST = 300  # rows of <details> at most: a GitHub comment holds 65,536 characters
ICONS = {"error": "🔴", "warning": "🟡", "info": "🔵"}

Row = tuple[Finding, str]  # a finding and the lock its statement takes ("" when not known)


def marker(job: str) -> str:
    """The HTML comment that starts a job's Markdown report (a CI step finds its own PR comment by it)."""
    return f"<!-- migtui:{job} -->"


def cell(text: str) -> str:
    """``text`` safe in one table cell: one line, pipes escaped, passwords masked."""
    return redact(" ".join(str(text).split())).replace("|", "\\|")


def rule_link(rule: str, docs_base: str = DOCS_BASE) -> str:
    from migtui.analysis.rule_docs import page_name

    return f"[`{rule}`]({docs_base}{page_name(rule)})"


def _where(finding: Finding) -> str:
    parts = []
    if finding.path:
        path = relative_path(finding.path)
        parts.append(f"`{path}:{finding.line}`" if finding.line else f"`{path}`")
    # a revision file named after its revision (alembic's default "<rev>_<slug>.py") already says which
    if finding.revision and not (
        finding.path and finding.path.replace("\\", "/").split("/")[-1].startswith(finding.revision)
    ):
        parts.append(f"rev `{finding.revision}`")
    return " ".join(parts) or "-"


def _sorted(rows: list[Row]) -> list[Row]:
    """Worst first; the report's order within a severity."""
    return sorted(rows, key=lambda row: -SEVERITY_RANK.get(row[0].severity, -1))


def render_markdown(
    report: Any,
    rows: Iterable[Row] | None = None,
    *,
    worst: int = WORST,
    full_list: int = FULL_LIST,
    docs_base: str = DOCS_BASE,
    title: str | None = None,
) -> str:
    """The Markdown summary of ``report`` (``rows``: its findings with their locks; default its findings)."""
    items = list(rows) if rows is not None else [(f, "") for f in report.findings]
    counts = severity_counts(f for f, _ in items)
    code = int(report.exit_code)
    icon = "✅" if code == 0 and not counts["error"] and not counts["warning"] else ("❌" if code else "⚠️")
    out = [
        marker(report.job),
        f"### {icon} migtui {title or report.job}: {cell(report.summary)}",
        "",
    ]
    if report.target:
        out += [f"Target: `{cell(report.target)}`", ""]
    out += [
        "| errors | warnings | info |",
        "|---:|---:|---:|",
        f"| {counts['error']} | {counts['warning']} | {counts['info']} |",
        "",
    ]
    if not items:
        out.append("No findings.")
        return "\n".join(out) + "\n"
    ordered = _sorted(items)
    serious = [row for row in ordered if row[0].severity in ("error", "warning")]
    shown = serious[:worst]
    any_lock = any(lock for _, lock in shown)
    if shown:
        heading = "Worst findings" if len(serious) > len(shown) else "Errors and warnings"
        out += [f"**{heading}**", ""]
        out.append("| | rule | where | " + ("lock | " if any_lock else "") + "finding | fix |")
        out.append("|---|---|---|" + ("---|" if any_lock else "") + "---|---|")
    for finding, lock in shown:
        approved = f" (approved: {finding.approved})" if finding.approved else ""
        out.append(
            f"| {ICONS.get(finding.severity, '')} {finding.severity} | {rule_link(finding.rule, docs_base)} | "
            f"{_where(finding)} | "
            + (f"{cell(lock) or '-'} | " if any_lock else "")
            + f"{cell(finding.labelled_message + approved)} | {cell(finding.hint) or '-'} |"
        )
    out += ["", f"<details><summary>All {len(ordered)} finding(s)</summary>", ""]
    out += ["| severity | rule | where | finding |", "|---|---|---|---|"]
    for finding, _ in ordered[:full_list]:
        out.append(
            f"| {finding.severity} | {rule_link(finding.rule, docs_base)} | {_where(finding)} | "
            f"{cell(finding.labelled_message)} |"
        )
    if len(ordered) > full_list:
        out += ["", f"... and {len(ordered) - full_list} more: the json, sarif or junit report has them all."]
    out += ["", "</details>"]
    return "\n".join(out) + "\n"


def lock_text(locks: Iterable[Any]) -> str:
    """``AccessExclusiveLock on public.t (blocks reads, writes)``, one per relation, for a lint statement."""
    parts = []
    for lock in locks:
        blocks = ", ".join(lock.blocks)
        parts.append(f"{lock.mode} on {lock.relation}" + (f" (blocks {blocks})" if blocks else ""))
    return "; ".join(parts)


def lint_rows(report: Any) -> list[Row]:
    """A lint report's findings, each with the locks of its statement (file-level findings have none)."""
    rows: list[Row] = []
    for file in report.files:
        for st in file.statements:
            lock = lock_text(st.locks)
            rows.extend((f.located(file.path, file.revision), lock) for f in st.findings)
        rows.extend((f.located(file.path, file.revision), "") for f in file.findings)
    return rows
