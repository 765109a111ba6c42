"""What every findings renderer (github, sarif, junit) shares: paths as CI shows them, counts by severity."""

from __future__ import annotations

import os
from collections.abc import Iterable

from migtui.analysis.rules import SEVERITY_RANK
from migtui.events import Finding


def relative_path(path: str) -> str:
    """``path`` relative to the working directory when it is inside it (annotations and SARIF want that)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """``{"error": n, "warning": n, "info": n}``."""
    counts = dict.fromkeys(("error", "warning", "info"), 0)
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return counts


def at_least(severity: str, threshold: str) -> bool:
    """Whether ``severity`` is ``threshold`` or worse (the registry's one order)."""
    return SEVERITY_RANK.get(severity, -1) >= SEVERITY_RANK[threshold]
