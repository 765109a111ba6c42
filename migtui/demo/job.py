"""``migtui demo``: an embedded primary + streaming replica with the sample project and real data.

    report = run_demo(settings, DemoOptions(scale=2000, then=tour), sink)

starts the servers (primary + replica, database, migrations to DEMO_STOP_REVISION, data, replay), calls
``then(demo)`` while they run (the front end's part: the headless tour of the commands in ``TOUR``, or the
TUI) and stops them (also on Ctrl-C). ``settings`` then point at the demo's primary and replica.

Engine only: no textual and no CLI here (the command runs the tour and opens the TUI itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from migtui.errors import ExitCode, MigtuiError, UsageError
from migtui.events import (
    Event,
    EventSink,
    Finding,
    Message,
    RevisionFailed,
    RevisionFinished,
    RevisionStarted,
    RunFinished,
    discard,
)

DEMO_DATABASE = "migtui_demo"
DEFAULT_SCALE = 1_000_000  # orders; order_items get ~1.5x that

JOB = "demo"

# The headless tour: (title, command, extra args), run by the front end against the demo's servers.
TOUR: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("status: current revision and the pending list", "status", ()),
    ("lint: what the pending revisions would do", "lint", ()),
    ("dry-run on the replica: row counts, sizes, estimated durations", "dry-run", ("--replica-dsn",)),
)


@dataclass(frozen=True)
class DemoOptions:
    scale: int = DEFAULT_SCALE  # orders to generate (order_items ~1.5x)
    pg_version: int | None = None  # embedded server major (default: the harness's)
    then: Callable[[Demo], int] | None = None  # the front end's part while the servers run; its exit code


@dataclass
class DemoReport:
    target: str  # the primary, redacted
    replica: str
    pending: list[str]
    exit_code: int
    timings: dict[str, float] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def job(self) -> str:
        return JOB

    @property
    def summary(self) -> str:
        return f"demo on {self.target}: {len(self.pending)} pending revision(s)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": JOB,
            "target": self.target,
            "replica": self.replica,
            "pending": self.pending,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "exit_code": self.exit_code,
        }


def run_demo(settings: Any, options: DemoOptions | None = None, sink: EventSink = discard) -> DemoReport:
    """Start the demo's servers, run ``options.then`` against them, stop them. What the demo says goes to
    ``sink`` as Message events (its progress lines)."""
    from migtui.redact import redact_dsn

    options = options or DemoOptions()
    check_scale(options.scale)
    with Demo(settings, scale=options.scale, pg_version=options.pg_version, sink=sink) as demo:
        demo.start()
        code = options.then(demo) if options.then is not None else int(ExitCode.OK)
        return DemoReport(
            redact_dsn(demo.dsn) or "",
            redact_dsn(demo.replica_dsn) or "",
            demo.pending,
            int(code),
            dict(demo.timings),
        )


@dataclass
class Demo:
    settings: Any
    scale: int = DEFAULT_SCALE
    pg_version: int | None = None
    sink: EventSink = discard
    primary: Any = None
    replica: object = None
    dsn: str = ""
    replica_dsn: str = ""
    row_counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.sink(Message(text=text))

    def _timed(self, name: str, fn: Callable[[], object]) -> object:
        started = time.perf_counter()
        result = fn()
        self.timings[name] = time.perf_counter() - started
        return result

    def _sink(self, event: Event) -> None:
        if isinstance(event, RevisionStarted):
            return
        if isinstance(event, RevisionFinished):
            self.say(f"  applied {event.revision} ({event.seconds:.2f}s)")
        elif isinstance(event, RevisionFailed):
            self.say(f"  FAILED {event.revision}: {event.error}")
        elif isinstance(event, Message) and event.level != "info":
            self.say(f"  {event.level}: {event.text}")
        elif isinstance(event, RunFinished) and not event.ok:
            self.say(f"  {event.summary}")

    def start(self) -> None:
        """Start servers, create the database, migrate to DEMO_STOP_REVISION, load data, wait for replay."""
        from migtui.demo.data import DEMO_STOP_REVISION, load_demo_data
        from migtui.pg import harness
        from migtui.project.load import AlembicProject
        from migtui.runner.job import Runner

        harness.install_signal_cleanup()
        project = AlembicProject.load(self.settings.migrations)
        project.script  # noqa: B018 - a broken project fails before any server starts
        self.say(f"starting PostgreSQL {self.pg_version or 'default'} primary …")
        self.primary = self._timed(
            "primary", lambda: harness.start_cluster(self.pg_version, pg_bin=self.settings.pg_bin)
        )
        self.say(f"  PostgreSQL {self.primary.pg_version} on 127.0.0.1:{self.primary.port}")
        self.say("starting streaming replica (pg_basebackup -R) …")
        self.replica = self._timed("replica", self.primary.start_replica)
        self.say(f"  hot standby on 127.0.0.1:{self.replica.port}")
        self.dsn = self.primary.create_database(DEMO_DATABASE)
        self.replica_dsn = self.replica.dsn(DEMO_DATABASE)
        self.settings.dsn = self.dsn
        self.settings.replica_dsn = self.replica_dsn

        self.say(f"applying sample migrations up to {DEMO_STOP_REVISION} …")
        runner = Runner(project, self.dsn, self.settings, self._sink)
        self._timed("migrate", lambda: runner.upgrade(DEMO_STOP_REVISION))
        self.say(f"loading demo data ({self.scale:,} orders) …")
        self.row_counts = self._timed("data", lambda: load_demo_data(self.dsn, self.scale))
        self.say("  " + ", ".join(f"{table} {count:,}" for table, count in self.row_counts.items()))
        self.say("waiting for the replica to replay …")
        self._timed("replay", lambda: self.primary.wait_for_replay(self.replica, timeout=300))
        self.pending = [info.revision for info in runner.pending()]
        self.say("")
        self.say(f"primary:  {self.dsn}")
        self.say(f"replica:  {self.replica_dsn}")
        self.say(f"pending:  {', '.join(self.pending) or 'none'}")
        self.say(
            f"(set up in {sum(self.timings.values()):.1f}s: "
            + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items())
            + ")"
        )

    def stop(self) -> None:
        for cluster in (self.replica, self.primary):
            if cluster is not None:
                cluster.cleanup()
        self.replica = self.primary = None

    def __enter__(self) -> Demo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_scale(scale: int) -> int:
    from migtui.demo.data import MIN_SCALE

    if scale < MIN_SCALE:
        raise UsageError(f"--scale must be at least {MIN_SCALE} orders, got {scale}")
    return scale


__all__ = ["DEFAULT_SCALE", "TOUR", "Demo", "DemoOptions", "DemoReport", "MigtuiError", "check_scale", "run_demo"]
