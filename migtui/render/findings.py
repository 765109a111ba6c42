"""A command-neutral finding record: what the github and sarif renderers take (lint, dry-run, drift...)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FindingRecord:
    rule: str
    severity: str  # "error" | "warning" | "info"
    message: str
    path: str | None = None  # repository-relative when possible
    line: int | None = None  # 1-based
    hint: str = ""
    revision: str | None = None


@dataclass(frozen=True)
class RuleInfo:
    id: str
    severity: str
    why: str
    hint: str = ""


def records_from_lint(report) -> list[FindingRecord]:
    """Every finding of a ``migtui.lint.job.LintReport`` as ``FindingRecord`` (statement order, then file-level)."""
    out = []
    for file in report.files:
        out.extend(records_from_file(file))
    return out


def records_from_file(file) -> list[FindingRecord]:
    """Every finding of one ``migtui.lint.job.LintedFile`` (statement order, then file-level)."""
    path, revision = file.path, file.revision
    return [FindingRecord(f.rule, f.severity, f.message, path, f.line, f.hint, revision) for f in file.all_findings()]
