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
_FIXES: Final[dict[str, str]] = {}  # hint -> escaped: most hints are a rule's own text, shared by many findings


def _line(
    severity: str, rule: str, message: str, hint: str, file_props: str, line: int | None, phase: str | None
) -> str:
    """One workflow command; ``file_props`` is ``file=<escaped path>`` or empty (then no ``line``). The message
    is ``Finding.labelled_message`` with its fix: ``[phase] message (fix: hint)``."""
    title = _TITLES.get(rule)
    if title is None:
        title = _TITLES[rule] = _escape_property(rule)
    level = LEVELS.get(severity, "notice")
    # escaping the parts one by one escapes their concatenation (the literal text between them has no %, CR or LF),
    # so each line is one string built (compiled, each f-string builds one), not one per part
    label = f"[{_escape_data(phase)}] " if phase else ""
    if hint:
        fix = _FIXES.get(hint)
        if fix is None:
            fix = _escape_data(hint)
            if len(_FIXES) < 1024:  # rules' and forms' texts, a few dozen; bounded should a caller write its own
                _FIXES[hint] = fix
        sep, end = " (fix: ", ")"
    else:
        sep = fix = end = ""
    # the test of _escape_data made here: most messages need no escaping, and a call per line costs (interpreted)
    text = _escape_data(message) if "%" in message or "\r" in message or "\n" in message else message
    if not file_props:
        return f"::{level} title={title}::{label}{text}{sep}{fix}{end}"
    if line:
        return f"::{level} {file_props},line={int(line)},title={title}::{label}{text}{sep}{fix}{end}"
    return f"::{level} {file_props},title={title}::{label}{text}{sep}{fix}{end}"


def annotation(finding: Finding) -> str:
    """One workflow command line for ``finding``."""
    file_props = f"file={_escape_property(finding.path)}" if finding.path else ""
    return _line(finding.severity, finding.rule, finding.message, finding.hint, file_props, finding.line, finding.phase)


def render_annotations(findings: Iterable[Finding]) -> str:
    return "\n".join(annotation(f) for f in findings)


def file_annotations(file) -> str:  # type: ignore[no-untyped-def]
    """Every finding of one ``migtui.lint.job.LintedFile``, as ``render_annotations(file.located_findings())``
    gives them, without a located copy per finding (lint renders this in its worker processes)."""
    file_props = f"file={_escape_property(file.path)}" if file.path else ""
    # a list, not a generator: join takes a list as it is, and the compiled comprehension has no per-item resume
    return "\n".join(
        [_line(f.severity, f.rule, f.message, f.hint, file_props, f.line, f.phase) for f in file.all_findings()]
    )
