"""The dry-run report: what the JSON output is, which findings count, the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migtui.analysis.rules import ERROR, INFO, RULES, WARNING
from migtui.errors import ExitCode
from migtui.events import Finding

JOB = "dry-run"


def finding(rule: str, message: str, hint: str = "") -> Finding:
    """A dry-run finding, with its rule's severity (the rule must be in the registry). The job says where it
    is (revision, path, line, statement) when it reports it."""
    return Finding(rule, RULES[rule].severity, message, hint)


@dataclass
class DryRunReport:
    target: str  # the target database, redacted ("" when only a replica was given)
    replica: dict[str, Any]  # the server inspected: role, versions, recorded revision, lag
    pending: list[str]
    revisions: list[dict[str, Any]] = field(default_factory=list)
    shadow: dict[str, Any] | None = None
    throughput: dict[str, Any] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)  # what the dry-run did on the replica
    seconds: float = 0.0
    # what the dry-run found, in the order it was reported: its own checks and the linter's findings that fail
    # a dry-run (destructive, not approved); the linter's other findings stay in each statement's model
    findings: list[Finding] = field(default_factory=list)

    def findings_for(self, revision: str, statement: int | None = None) -> list[Finding]:
        """The findings of one statement of ``revision`` (by index), or with ``None`` the revision's own."""
        return [f for f in self.findings if f.revision == revision and f.statement == statement]

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def job(self) -> str:
        return JOB

    @property
    def summary(self) -> str:
        if not self.pending:
            return "nothing pending"
        data = self.to_dict()["summary"]
        return (
            f"{data['revisions']} revision(s), {data['statements']} statement(s), "
            f"{data['errors']} error(s), {data['warnings']} warning(s)"
        )

    @property
    def errors(self) -> int:
        return self.count(ERROR)

    @property
    def exit_code(self) -> int:
        return int(ExitCode.FINDINGS if self.errors else ExitCode.OK)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": JOB,
            "target": self.target,
            "replica": self.replica,
            "pending": self.pending,
            "revisions": self.revisions,
            "shadow": self.shadow,
            "throughput": self.throughput,
            "load": self.load,
            "findings": [f.report_dict() for f in self.findings],
            "summary": {
                "revisions": len(self.revisions),
                "statements": sum(len(r["statements"]) for r in self.revisions),
                "errors": self.errors,
                "warnings": self.count(WARNING),
                "info": self.count(INFO),
                "seconds": round(self.seconds, 3),
            },
            "exit_code": self.exit_code,
        }
