"""Approvals and suppressions written in the migration itself.

    # migtui: approve=drop-column reason="column unused since release 41"       (alembic revision file)
    -- migtui: ignore=prefer-text-field reason="legacy naming"                   (raw SQL)

``approve=`` is for destructive rules, ``ignore=`` for the others; both need a reason. Several rules may be
listed comma-separated. Approvals apply to the whole file (revision).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from migtui.analysis.rules import INFO, LINT_RULES, RULE_ALIASES
from migtui.events import Finding

_COMMENT: Final = re.compile(
    r"(?:#|--)\s*migtui:\s*(?P<kind>approve|ignore)\s*=\s*(?P<rules>[A-Za-z0-9_,\-]*)"
    r"(?:\s+reason\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'))?"
)
_LOOSE: Final = re.compile(r"(?:#|--)\s*migtui:")


@dataclass
class Approval:
    kind: str  # "approve" | "ignore"
    rule: str
    reason: str
    line: int
    used: int = 0


def _finding(rule_id: str, message: str, line: int) -> Finding:
    rule = LINT_RULES[rule_id]
    return Finding(rule_id, rule.severity, message, rule.hint, line)


def parse_approvals(text: str) -> tuple[list[Approval], list[Finding]]:
    """Approvals in ``text`` and the findings about malformed ones (missing reason, unknown rule, wrong kind)."""
    approvals: list[Approval] = []
    problems: list[Finding] = []
    if "migtui:" not in text:
        return approvals, problems
    for number, line in enumerate(text.splitlines(), start=1):
        if "migtui:" not in line or not _LOOSE.search(line):
            continue
        match = _COMMENT.search(line)
        if not match or not match["rules"]:
            problems.append(_finding("approval-unknown-rule", f"cannot read migtui comment: {line.strip()}", number))
            continue
        reason = (match["dq"] if match["dq"] is not None else match["sq"]) or ""
        kind = match["kind"]
        for rule_id in [r.strip() for r in match["rules"].split(",") if r.strip()]:
            rule_id = RULE_ALIASES.get(rule_id, rule_id)
            if rule_id not in LINT_RULES:
                problems.append(_finding("approval-unknown-rule", f"{kind}={rule_id}: no such rule", number))
                continue
            if not reason.strip():
                problems.append(_finding("approval-missing-reason", f'{kind}={rule_id} has no reason="..."', number))
                continue
            destructive = LINT_RULES[rule_id].destructive
            if kind == "approve" and not destructive:
                problems.append(
                    _finding("approval-wrong-kind", f"{rule_id} is not destructive: use ignore={rule_id}", number)
                )
                continue
            if kind == "ignore" and destructive:
                problems.append(
                    _finding("approval-wrong-kind", f"{rule_id} is destructive: use approve={rule_id}", number)
                )
                continue
            approvals.append(Approval(kind, rule_id, reason.strip(), number))
    return approvals, problems


def apply_approvals(findings: list[Finding], approvals: list[Approval]) -> tuple[list[Finding], int]:
    """Apply approvals to ``findings`` in place order: approved findings become info with ``approved`` set,
    ignored ones are removed. Returns (kept findings, number ignored)."""
    if not approvals:
        return findings, 0
    by_rule: dict[str, Approval] = {a.rule: a for a in approvals}
    kept: list[Finding] = []
    ignored = 0
    for finding in findings:
        approval = by_rule.get(finding.rule)
        if approval is None:
            kept.append(finding)
            continue
        approval.used += 1
        if approval.kind == "ignore":
            ignored += 1
            continue
        finding.severity = INFO
        finding.approved = approval.reason
        kept.append(finding)
    return kept, ignored


def unused_approval_findings(approvals: list[Approval]) -> list[Finding]:
    return [
        _finding("approval-unused", f"{a.kind}={a.rule} matched no finding", a.line) for a in approvals if not a.used
    ]
