"""GitHub Actions workflow annotations (``::error file=...,line=...,title=...::message``)."""

from __future__ import annotations

from collections.abc import Iterable

from migtui.render.findings import FindingRecord

LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def _escape_data(text: str) -> str:
    if "%" in text or "\r" in text or "\n" in text:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _line(severity: str, rule: str, message: str, hint: str, file_props: str, line: int | None) -> str:
    """One workflow command; ``file_props`` is ``file=<escaped path>`` or empty."""
    props = file_props
    if file_props and line:
        props += f",line={int(line)}"
    props += ("," if props else "") + f"title={_escape_property(rule)}"
    if hint:
        message += f" (fix: {hint})"
    return f"::{LEVELS.get(severity, 'notice')} {props}::{_escape_data(message)}"


def annotation(record: FindingRecord) -> str:
    """One workflow command line for ``record``."""
    file_props = f"file={_escape_property(record.path)}" if record.path else ""
    return _line(record.severity, record.rule, record.message, record.hint, file_props, record.line)


def render_annotations(records: Iterable[FindingRecord]) -> str:
    return "\n".join(annotation(r) for r in records)


def file_annotations(file) -> str:  # type: ignore[no-untyped-def]
    """Every finding of one ``migtui.lint.job.LintedFile``, as ``render_annotations(records_from_file(file))`` gives
    them, without building a record per finding (lint renders this in its worker processes)."""
    file_props = f"file={_escape_property(file.path)}" if file.path else ""
    return "\n".join(_line(f.severity, f.rule, f.message, f.hint, file_props, f.line) for f in file.all_findings())
