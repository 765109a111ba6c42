"""Render a drift report: text (grouped by object, expected vs actual side by side, fix SQL) and GitHub
workflow annotations; SARIF and JUnit from its findings (the shared renderers). JSON is ``DriftReport.to_dict()``."""

from __future__ import annotations

import json
from typing import Any

from migtui.drift.job import DriftReport

VALUE_WIDTH = 38
NO_FIX = "none generated (restore it from the revision that defines it)"


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _wrap(text: str, width: int | None) -> list[str]:
    lines: list[str] = []
    for raw in text.splitlines() or [""]:
        while width and len(raw) > width:
            lines.append(raw[:width])
            raw = raw[width:]
        lines.append(raw)
    return lines


def _header(report: DriftReport) -> list[str]:
    current = ", ".join(report.current) or "base (empty version table)"
    at = "head" if not report.pending else f"{len(report.pending)} behind head {report.head}"
    lines = [
        f"database:  {report.target}",
        f"revision:  {current} ({at})",
        f"expected:  {report.expected_server}, {'from cache' if report.expected_source == 'cache' else 'built now'}",
    ]
    checked = ", ".join(report.checked) or "none"
    excluded = f"; excluded: {', '.join(report.excluded)}" if report.excluded else ""
    lines.append(
        f"checked:   everything incl. {checked}{excluded}"
        if report.checked
        else f"excluded:  {', '.join(report.excluded)}"
    )
    if report.pending:
        lines.append("pending (not drift):")
        lines.extend(f"  {p['revision']}  {p['description']}" for p in report.pending)
    lines.extend(f"note:      {note}" for note in report.notes if "pending revision" not in note)
    return lines


CHANGE_TITLES = {
    "added": "in the database, not in the migrations",
    "removed": "in the migrations, missing from the database",
    "modified": "differs",
}


def object_groups(report: DriftReport) -> dict[tuple[str, str], list[int]]:
    """Indexes into ``report.differences`` (and ``report.fixes``) per drifted object (kind, name), in report
    order. The text report and the TUI's object tree both group this way."""
    groups: dict[tuple[str, str], list[int]] = {}
    for index, item in enumerate(report.differences):
        groups.setdefault((item.kind, item.object), []).append(index)
    return groups


def attribute_rows(report: DriftReport, indexes: list[int]) -> dict[str, tuple[Any, Any]]:
    """Expected vs actual per attribute for one object's differences: for an added (removed) object its
    attributes on the side where it exists; for a modified one, each attribute that differs."""
    items = [report.differences[i] for i in indexes]
    first = items[0]
    if first.change == "added":
        return {k: (None, v) for k, v in (first.actual or {}).items() if v not in (None, [], False)}
    if first.change == "removed":
        return {k: (v, None) for k, v in (first.expected or {}).items() if v not in (None, [], False)}
    return {d.attribute or "": (d.expected, d.actual) for d in items}


def render_text(report: DriftReport) -> str:
    lines = _header(report)
    lines.append("")
    if not report.drifted:
        lines.append("No drift: the schema matches the migrations at the recorded revision.")
        return "\n".join(lines)
    groups = object_groups(report)
    for (kind, name), indexes in groups.items():
        change = report.differences[indexes[0]].change
        lines.append(f"{kind} {name}: {CHANGE_TITLES.get(change, change)}")
        lines.extend(_attribute_table(attribute_rows(report, indexes)))
        fixes = [report.fixes[i] for i in indexes]
        if any(fixes):
            lines.append("    fix:")
            for fix in fixes:
                if fix:
                    lines.extend(f"      {line}" for line in fix.splitlines())
        else:
            lines.append("    fix: " + NO_FIX)
        lines.append("")
    objects = len(groups)
    lines.append(f"Drift: {objects} object(s) differ from the migrations ({len(report.differences)} difference(s)).")
    return "\n".join(lines)


def _attribute_table(rows: dict[str, tuple[Any, Any]]) -> list[str]:
    if not rows:
        return []
    width = max(len("attribute"), *(len(k) for k in rows))
    out = [f"    {'attribute'.ljust(width)}  {'expected'.ljust(VALUE_WIDTH)}  actual"]
    for name, (want, have) in rows.items():
        left, right = cells(want, have)
        for i in range(max(len(left), len(right))):
            label = name if i == 0 else ""
            a = left[i] if i < len(left) else ""
            b = right[i] if i < len(right) else ""
            out.append(f"    {label.ljust(width)}  {a.ljust(VALUE_WIDTH)}  {b}".rstrip())
    return out


def _lines(value: Any, width: int | None = VALUE_WIDTH) -> list[str]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        out: list[str] = []
        for item in value or ["(none)"]:
            out.extend(_wrap(item, width))
        return out
    return _wrap(_value(value), width)


def cells(want: Any, have: Any, width: int | None = VALUE_WIDTH) -> tuple[list[str], list[str]]:
    """The two columns of one attribute row. Two lists with different members show only what differs
    (``- x`` missing from the database, ``+ y`` only in it) and how many they share; lists with the same
    members in another order (enum values) are shown whole, one item per line. Lines are cut at ``width``
    characters (``None``: not cut, for a front end that wraps them itself)."""
    if isinstance(want, list) and isinstance(have, list) and set(map(str, want)) != set(map(str, have)):
        missing = [f"- {v}" for v in want if v not in have]
        extra = [f"+ {v}" for v in have if v not in want]
        shared = len([v for v in want if v in have])
        if shared:
            missing.append(f"({shared} more in both)")
            extra.append(f"({shared} more in both)")
        return [line for v in missing for line in _wrap(v, width)], [line for v in extra for line in _wrap(v, width)]
    return _lines(want, width), _lines(have, width)


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: DriftReport) -> str:
    """GitHub Actions workflow commands: one ``::error`` per difference, ``::notice`` for pending."""
    lines = []
    for item in report.pending:
        lines.append(
            f"::notice title=Pending revision (not drift)::{_escape(item['revision'] + ' ' + item['description'])}"
        )
    for note in report.notes:
        if "pending revision" not in note:
            lines.append(f"::warning title=Schema drift check::{_escape(note)}")
    for item, fix in zip(report.differences, report.fixes, strict=False):
        title = _escape_property(f"Schema drift: {item.kind} {item.object}")
        message = item.describe()
        if fix:
            message += "\nfix: " + fix
        lines.append(f"::error title={title}::{_escape(message)}")
    if report.drifted:
        lines.append(f"{len(report.objects())} object(s) drifted ({len(report.differences)} difference(s))")
    else:
        lines.append("no drift")
    return "\n".join(lines)


def render_sarif(report: DriftReport) -> str:
    """One SARIF result per difference (no file: the database is the subject)."""
    from migtui import __version__
    from migtui.render.json_report import render_json
    from migtui.render.sarif import sarif_log

    return render_json(sarif_log(report.findings, tool_version=__version__))


def render_junit(report: DriftReport) -> str:
    """One failed test case per difference; one passing case when the schema matches."""
    from migtui.render.junit import findings_junit

    return findings_junit("migtui drift", "drift", report.findings)
