"""GitHub Actions workflow annotations (``::error file=...,line=...,title=...::message``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from migtui.events import Finding

LEVELS: Final = {"error": "error", "warning": "warning", "info": "notice"}


def _escape_data(text: str) -> str:
    if "%" in text or "\r" in text or "\n" in text:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


_TITLES: Final[dict[str, str]] = {}  # rule id -> escaped title property: a few dozen rules, tens of thousands of lines


def _line(severity: str, rule: str, message: str, hint: str, file_props: str, line: int | None) -> str:
    """One workflow command; ``file_props`` is ``file=<escaped path>`` or empty (then no ``line``)."""
    title = _TITLES.get(rule)
    if title is None:
        title = _TITLES[rule] = _escape_property(rule)
    if hint:
        message = f"{message} (fix: {hint})"
    level = LEVELS.get(severity, "notice")
    # one string built per line (compiled, each f-string and += builds one)
    if not file_props:
        return f"::{level} title={title}::{_escape_data(message)}"
    if line:
        return f"::{level} {file_props},line={int(line)},title={title}::{_escape_data(message)}"
    return f"::{level} {file_props},title={title}::{_escape_data(message)}"


def annotation(finding: Finding) -> str:
    """One workflow command line for ``finding``."""
    file_props = f"file={_escape_property(finding.path)}" if finding.path else ""
    return _line(finding.severity, finding.rule, finding.labelled_message, finding.hint, file_props, finding.line)


def render_annotations(findings: Iterable[Finding]) -> str:
    return "\n".join(annotation(f) for f in findings)


def file_annotations(file) -> str:  # type: ignore[no-untyped-def]
    """Every finding of one ``migtui.lint.job.LintedFile``, as ``render_annotations(file.located_findings())``
    gives them, without a located copy per finding (lint renders this in its worker processes)."""
    file_props = f"file={_escape_property(file.path)}" if file.path else ""
    return "\n".join(
        _line(f.severity, f.rule, f.labelled_message, f.hint, file_props, f.line) for f in file.all_findings()
    )
