"""GitHub Actions workflow annotations (``::error file=...,line=...,title=...::message``)."""

from __future__ import annotations

from collections.abc import Iterable

from migtui.render.findings import FindingRecord

LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(record: FindingRecord) -> str:
    """One workflow command line for ``record``."""
    props = []
    if record.path:
        props.append(f"file={_escape_property(record.path)}")
        if record.line:
            props.append(f"line={int(record.line)}")
    props.append(f"title={_escape_property(record.rule)}")
    message = record.message + (f" (fix: {record.hint})" if record.hint else "")
    return f"::{LEVELS.get(record.severity, 'notice')} {','.join(props)}::{_escape_data(message)}"


def render_annotations(records: Iterable[FindingRecord]) -> str:
    return "\n".join(annotation(r) for r in records)
