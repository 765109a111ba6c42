"""The phase job: ``migtui phase status|run|advance|abort`` on ``settings.dsn``.

    report = run_phase(settings, PhaseOptions("run", "0018_x", until="migrate"), sink)
    report.state        # the revision's PhaseState after the action (run / advance / abort)
    report.entries      # status: one entry per phased revision (``migtui phase status --format json``)

A refused gate ends the run with RunFinished(ok=False) and raises GateRefused (exit 1): nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migtui.errors import ExitCode, UsageError
from migtui.events import EventSink, Finding, RunFinished, discard
from migtui.phases.driver import DriverOptions, GateRefused, PhaseDriver
from migtui.phases.state import PhaseState

JOB = "phase"
ACTIONS = ("status", "run", "advance", "abort")


@dataclass(frozen=True)
class PhaseOptions:
    action: str = "status"  # status | run | advance | abort
    revision: str | None = None  # status: every phased revision when None
    until: str = "contract"  # run: stop after this stage
    driver: DriverOptions = field(default_factory=DriverOptions)  # backfill pacing, gates, waiting


@dataclass
class PhaseReport:
    action: str
    target: str  # redacted DSN
    entries: list[dict[str, Any]] = field(default_factory=list)  # status
    state: PhaseState | None = None  # run / advance / abort: the revision's state afterwards
    findings: list[Finding] = field(default_factory=list)
    exit_code: int = int(ExitCode.OK)

    @property
    def job(self) -> str:
        return JOB

    @property
    def summary(self) -> str:
        if self.state is not None:
            return f"{self.state.revision}: {self.state.phase}"
        return f"{len(self.entries)} phased revision(s)"

    def to_dict(self) -> dict[str, Any]:
        if self.action == "status":
            return {"phases": self.entries}
        return {"job": JOB, "action": self.action, "state": self.state.to_dict() if self.state else None}


def run_phase(settings: Any, options: PhaseOptions, sink: EventSink = discard) -> PhaseReport:
    """Show or move phased revisions; emits the driver's events, and RunFinished for run/advance/abort."""
    from migtui.project.load import load_project
    from migtui.redact import redact_dsn

    if options.action not in ACTIONS:
        raise UsageError(f"unknown phase action {options.action!r}: use {', '.join(ACTIONS)}")
    if not settings.dsn:
        raise UsageError("no database: pass --dsn or set MIGTUI_DSN")
    if options.action != "status" and not options.revision:
        raise UsageError(f"phase {options.action} needs a revision id")
    report = PhaseReport(options.action, redact_dsn(settings.dsn) or "")
    with PhaseDriver(settings.dsn, load_project(settings), settings, sink, options.driver) as driver:
        if options.action == "status":
            report.entries = driver.status(options.revision)
            return report
        revision = str(options.revision)
        try:
            if options.action == "run":
                report.state = driver.run(revision, until=options.until)
            elif options.action == "advance":
                report.state = driver.advance(revision)
            else:
                report.state = driver.abort(revision)
        except GateRefused as exc:
            sink(RunFinished(JOB, False, int(exc.exit_code), exc.message))
            raise
    sink(RunFinished(JOB, True, 0, report.summary))
    return report
