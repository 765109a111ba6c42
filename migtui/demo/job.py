"""``migtui demo``: an embedded primary + streaming replica with the sample project and real data.

    with Demo(settings, scale=1_000_000) as demo:   # servers stop and their files go on exit / Ctrl-C
        demo.start()        # primary + replica, database, migrations to DEMO_STOP_REVISION, data, replay
        demo.dsn, demo.replica_dsn
        demo.tour()         # headless: status (pending list), then every analysis command that exists

Engine only: no textual here (the command opens the TUI itself).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from migtui.errors import ExitCode, MigtuiError, UsageError
from migtui.events import Event, Message, RevisionFailed, RevisionFinished, RevisionStarted, RunFinished

DEMO_DATABASE = "migtui_demo"
DEFAULT_SCALE = 1_000_000  # orders; order_items get ~1.5x that

# The tour: (title, command, extra args). Commands not in this build are skipped with a note.
TOUR: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("status: current revision and the pending list", "status", ()),
    ("lint: what the pending revisions would do", "lint", ()),
    ("dry-run on the replica: row counts, sizes, estimated durations", "dry-run", ("--replica",)),
)


def command_available(name: str) -> bool:
    from migtui.cli.main import COMMANDS

    module = COMMANDS.get(name)
    return module is not None and importlib.util.find_spec(f"migtui.cli.{module}") is not None


@dataclass
class Demo:
    settings: object
    scale: int = DEFAULT_SCALE
    pg_version: int | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)
    primary: object = None
    replica: object = None
    dsn: str = ""
    replica_dsn: str = ""
    row_counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

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
        from migtui.pg import harness
        from migtui.project.load import AlembicProject

        try:
            from migtui.demo.data import DEMO_STOP_REVISION, load_demo_data
            from migtui.runner.job import Runner
        except ImportError as exc:  # an engine this demo needs is not in this build
            raise UsageError(f"the demo needs {exc.name}, which is not in this build yet") from None

        harness.install_signal_cleanup()
        project = AlembicProject.load(self.settings.migrations)
        project.script  # noqa: B018 - a broken project fails before any server starts
        self.say(f"starting PostgreSQL {self.pg_version or 'default'} primary …")
        self.primary = self._timed(
            "primary", lambda: harness.start_cluster(self.pg_version, pg_bin=self.settings.pg_bin)
        )
        self.say(f"  PostgreSQL {self.primary.major} on 127.0.0.1:{self.primary.port}")
        self.say("starting streaming replica (pg_basebackup -R) …")
        self.replica = self._timed("replica", self.primary.start_replica)
        self.say(f"  hot standby on 127.0.0.1:{self.replica.port}")
        self.dsn = self.primary.create_database(DEMO_DATABASE)
        self.replica_dsn = self.replica.dsn(DEMO_DATABASE)
        self.settings.database_url = self.dsn
        self.settings.replica_url = self.replica_dsn

        self.say(f"applying sample migrations up to {DEMO_STOP_REVISION} …")
        runner = Runner(project, self.dsn, self.settings, self._sink)
        self._timed("migrate", lambda: runner.upgrade(DEMO_STOP_REVISION))
        self.say(f"loading demo data ({self.scale:,} orders) …")
        self.row_counts = self._timed("data", lambda: load_demo_data(self.dsn, self.scale))
        self.say("  " + ", ".join(f"{table} {count:,}" for table, count in self.row_counts.items()))
        self.say("waiting for the replica to replay …")
        self._timed("replay", lambda: self.primary.wait_for_replay(self.replica, timeout=300))
        pending = runner.pending()
        self.say("")
        self.say(f"primary:  {self.dsn}")
        self.say(f"replica:  {self.replica_dsn}")
        self.say(f"pending:  {', '.join(r.revision for r in pending) or 'none'}")
        self.say(
            f"(set up in {sum(self.timings.values()):.1f}s: "
            + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items())
            + ")"
        )

    def tour(self) -> int:
        """Run the headless tour through the real CLI commands. Findings (exit 1) are expected; any other
        failure ends the tour with that command's exit code."""
        from migtui.cli.main import main as cli_main

        common = ["--dsn", self.dsn, "--migrations", str(self.settings.migrations)]
        for title, command, extra in TOUR:
            self.say("")
            self.say(f"== migtui {command} — {title}")
            if not command_available(command):
                self.say(f"   ({command} is not available in this build yet)")
                continue
            args = [command, *common]
            if "--replica" in extra:
                args += ["--replica", self.replica_dsn]
            code = cli_main(args)
            if code not in (ExitCode.OK, ExitCode.FINDINGS):
                self.say(f"== migtui {command} exited {code}")
                return int(code)
        self.say("")
        self.say("demo tour finished")
        return int(ExitCode.OK)

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
    try:
        from migtui.demo.data import MIN_SCALE
    except ImportError:
        MIN_SCALE = 100
    if scale < MIN_SCALE:
        raise UsageError(f"--scale must be at least {MIN_SCALE} orders, got {scale}")
    return scale


__all__ = ["DEFAULT_SCALE", "TOUR", "Demo", "MigtuiError", "check_scale", "command_available"]
