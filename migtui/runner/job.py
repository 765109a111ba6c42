"""Apply and revert alembic revisions safely: ``migtui up`` / ``migtui down`` and the deploy-time entry.

    report = run_up(settings, UpOptions("head"), sink)     # RunReport(applied=[...], already_current=False, ...)
    report = run_down(settings, DownOptions("-1"), sink)   # "-N", a revision id, or "base" (never a default)

The jobs that apply revisions as a step of their own (dry-run's shadow, drift's expected schema, phases, the
demo) use ``Runner`` on a database they name:

    runner = Runner(AlembicProject.load("db/migrations"), dsn, settings, sink)
    runner.current()            # ('a1b2c3',) or () at base
    runner.pending()            # [RevisionInfo, ...] in apply order
    runner.upgrade("head")      # a RunReport

A run:
1. connects a pinned session and takes the deploy advisory lock (key derived from the schema-qualified
   version table) by polling ``pg_try_advisory_lock``, reporting who holds it, for up to
   ``settings.advisory_lock_wait`` seconds (else LockNotAcquired, exit 4);
2. ends migration sessions left behind by a runner that died (kill -9), only those of its own scope
   (database, version table: the tag ending their application_name), and re-reads the version table: if the
   work is already done, returns ``already_current=True``; refuses a revision a phase driver holds (exit 4)
   and, for ``up``, an INVALID index a pending revision builds (exit 5, unless told to rebuild it);
3. runs each revision as its own step (:mod:`migtui.runner.step`): own transaction, lock_timeout with
   bounded jittered retries, per-revision timeout (exit 3), progress events; stops at the first failure
   (exit 5), reporting INVALID indexes a failed concurrent build left behind;
4. releases the advisory lock (also on errors and Ctrl-C; a killed runner's lock goes with its session).
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from migtui.config import Settings
from migtui.errors import Interrupted, LockNotAcquired, MigrationFailed, MigtuiError, UsageError
from migtui.events import EventSink, Finding, Message, RunFinished, RunStarted, discard
from migtui.pg import advisory
from migtui.pg.version_table import VersionTable, advisory_key, read_current, resolved_schema
from migtui.project.load import AlembicProject, RevisionInfo
from migtui.redact import redact_dsn
from migtui.report import Cancel
from migtui.runner.step import (
    HARD_EXIT_GRACE_SECONDS,
    QUERY_STALL_SECONDS,
    HardStop,
    RevisionStep,
    StallCallback,
    StallGuard,
    StepLimits,
    run_revision_step,
)

__all__ = [
    "DownOptions",
    "RunReport",
    "Runner",
    "UpOptions",
    "check_down_target",
    "run_down",
    "run_revision_step",
    "run_up",
    "stop_on_sigterm",
]

ORPHAN_WAIT_SECONDS = 5.0
LEFT_AT_WAIT_SECONDS = 15.0  # how long a failed run tries to read where it left a database that restarted


@dataclass(frozen=True)
class UpOptions:
    revision: str = "head"  # apply up to this revision
    cancel: Cancel | None = None  # the TUI's cancel: the running revision rolls back, the run raises Interrupted
    # an INVALID index left by an interrupted CREATE INDEX CONCURRENTLY that a pending revision builds again:
    # drop it (DROP INDEX CONCURRENTLY) and let the revision rebuild it, instead of refusing to run
    rebuild_invalid_indexes: bool = False
    hard_exit: bool = False  # the process is this run (the CLI): see migtui.runner.step.HardStop
    # the TUI: the same two watchdogs (HardStop, StallGuard) report a server that stopped answering here, as
    # (exit code, one line), instead of ending the process; the run's thread stays blocked on the server
    on_stall: StallCallback | None = None


@dataclass(frozen=True)
class DownOptions:
    revision: str = ""  # -N, a revision id, or base: required, down never defaults to everything
    cancel: Cancel | None = None
    hard_exit: bool = False  # the process is this run (the CLI): see migtui.runner.step.HardStop
    on_stall: StallCallback | None = None  # see UpOptions.on_stall


@dataclass
class RunReport:
    """What an up or down run did (a run that fails raises instead: MigrationFailed, MigrationTimeout, ...)."""

    applied: list[str] = field(default_factory=list)  # revisions applied (up) or reverted (down), in order
    direction: str = "up"
    already_current: bool = False
    seconds: float = 0.0
    target: str = ""  # redacted DSN
    summary: str = ""
    findings: list[Finding] = field(default_factory=list)
    exit_code: int = 0

    @property
    def job(self) -> str:
        return self.direction

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "target": self.target,
            "applied": list(self.applied),
            "already_current": self.already_current,
            "seconds": round(self.seconds, 3),
            "summary": self.summary,
            "exit_code": self.exit_code,
        }


def run_up(settings: Settings, options: UpOptions | None = None, sink: EventSink = discard) -> RunReport:
    """``migtui up``: apply pending revisions of ``settings.migrations`` on ``settings.dsn``."""
    options = options or UpOptions()
    runner = _runner(settings, options.cancel, sink)
    runner.rebuild_invalid_indexes = options.rebuild_invalid_indexes
    runner.hard_exit = options.hard_exit
    runner.on_stall = options.on_stall
    return runner.upgrade(options.revision)


def run_down(settings: Settings, options: DownOptions, sink: EventSink = discard) -> RunReport:
    """``migtui down``: revert revisions down to ``options.revision`` (explicit: -N, a revision id, or base)."""
    target = check_down_target(options.revision)
    runner = _runner(settings, options.cancel, sink)
    runner.hard_exit = options.hard_exit
    runner.on_stall = options.on_stall
    return runner.downgrade(target)


def _runner(settings: Settings, cancel: Cancel | None, sink: EventSink) -> Runner:
    from migtui.project.load import load_project

    project = load_project(settings)
    project.script  # noqa: B018 - check the revision graph before anything else
    if not settings.dsn:
        raise UsageError("no database configured: pass --dsn URL or set MIGTUI_DSN")
    runner = Runner(project, settings.dsn, settings, sink)
    if cancel is not None:
        cancel.on_cancel(runner.cancel)
    return runner


def stop_on_sigterm() -> None:
    """SIGTERM (a deploy system stopping us) behaves like Ctrl-C: the running statement is cancelled, the
    revision rolled back, the advisory lock released, exit 130 (``migtui.report.interrupt_on_stop_signals``)."""
    from migtui.report import interrupt_on_stop_signals

    interrupt_on_stop_signals()


def check_down_target(target: str | None) -> str:
    """``down`` needs an explicit target: ``-N``, a revision id, or ``base``. Returns it stripped."""
    value = (target or "").strip()
    if not value:
        raise UsageError("down needs a target: a revision id, -N (steps back) or base; it never defaults to all")
    if value.startswith("-"):
        digits = value[1:]
        if not digits.isdigit() or int(digits) < 1:
            raise UsageError(f"down target {value!r}: use -N with N >= 1, a revision id, or base")
    if value in ("head", "heads") or value.startswith("+"):
        raise UsageError(f"down target {value!r} is not below the current revision: use -N, a revision or base")
    return value


class Runner:
    """Applies/reverts the revisions of ``project`` on ``dsn`` under the deploy advisory lock."""

    orphan_wait: float = ORPHAN_WAIT_SECONDS  # how long left-over migration sessions get to end by themselves
    stall_seconds: float = QUERY_STALL_SECONDS  # with hard_exit: how long one of the run's queries may go unanswered
    hard_exit_grace: float = HARD_EXIT_GRACE_SECONDS  # with hard_exit: HardStop's grace after a revision's timeout

    def __init__(self, project: AlembicProject, dsn: str, settings: Settings, sink: EventSink = discard) -> None:
        self.project = project
        self.dsn = dsn
        self.settings = settings
        self.sink = sink
        self.version_table = VersionTable(settings.version_table, settings.version_table_schema)
        self._cancel = threading.Event()
        self._step: RevisionStep | None = None
        # backend pids of phase-driver locks this process holds itself (``migtui phase run`` applying the
        # revision it drives through a Runner): not a conflicting driver
        self.own_phase_locks: frozenset[int] = frozenset()
        self.rebuild_invalid_indexes = False  # UpOptions.rebuild_invalid_indexes
        self.hard_exit = False  # UpOptions.hard_exit / DownOptions.hard_exit
        self._hard_stop: HardStop | None = None
        self.on_stall: StallCallback | None = None  # UpOptions.on_stall / DownOptions.on_stall
        self._guard = StallGuard(sink, "up", enabled=False)
        self.process_exit = None  # how StallGuard ends the process (None: os._exit)

    def cancel(self) -> None:
        """Stop a run in progress, from any thread (the TUI's "abort"): the running revision's statement is
        cancelled and rolled back, no further revision starts, the advisory lock is released; ``upgrade`` /
        ``downgrade`` raise Interrupted (exit 130). Revisions already finished stay applied."""
        self._cancel.set()
        step = self._step
        if step is not None:
            step.cancel()

    # -- reading ---------------------------------------------------------------------------------------
    def _connect(self, role: str):
        from migtui.pg.connect import connect

        return connect(self.dsn, application_name=f"migtui {role}")

    def current(self) -> tuple[str, ...]:
        """Revision(s) in the version table; () if the table is missing or empty (base)."""
        with self._connect("status") as conn:
            return read_current(conn, self.version_table)

    def pending(self) -> list[RevisionInfo]:
        """Revisions after the current one(s), in apply order."""
        from migtui.project.status import pending_revisions

        return pending_revisions(self.project, self.current())

    def plan(self, direction: str, target: str, heads: tuple[str, ...]) -> list[str]:
        """Revision ids a run from ``heads`` to ``target`` would apply (up) or revert (down), in order."""
        from migtui.project.status import plan_revisions

        return plan_revisions(self.project, direction, target, heads)

    # -- running ---------------------------------------------------------------------------------------
    def upgrade(self, target: str = "head") -> RunReport:
        """Apply revisions up to ``target`` (default head), one transaction each."""
        return self._run("up", (target or "head").strip())

    def downgrade(self, target: str) -> RunReport:
        """Revert revisions down to ``target``: ``-N``, a revision id, or ``base`` (explicit only)."""
        return self._run("down", check_down_target(target))

    def _run(self, direction: str, target: str) -> RunReport:
        from migtui.pg.connect import connect
        from migtui.pg.progress import invalid_indexes

        started = time.monotonic()
        self.project.script  # noqa: B018 - a broken revision graph fails here, before touching the database
        # armed by a step whose timeout passes; disarmed only once the lock session is closed, since its
        # clean-up queries wait for the server as much as the revision does
        watched = self.hard_exit or self.on_stall is not None
        self._hard_stop = (
            HardStop(self.sink, direction, grace=self.hard_exit_grace, on_stall=self.on_stall) if watched else None
        )
        guard = StallGuard(
            self.sink,
            direction,
            enabled=watched,
            seconds=self.stall_seconds,
            exit=self.process_exit,
            on_stall=self.on_stall,
        )
        self._guard = guard
        lock_conn = connect(self.dsn, application_name=f"migtui {direction} [lock]")
        try:
            with guard.watch("checking the target"):
                in_recovery = lock_conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
                schema = resolved_schema(lock_conn, self.version_table)
            if in_recovery:
                raise UsageError(
                    f"{redact_dsn(self.dsn)} is a read-only standby (pg_is_in_recovery() is true): "
                    f"run {direction} against the primary"
                )
            key = advisory_key(schema, self.version_table.table)
            with guard.watch("taking the deploy advisory lock", extra=self.settings.advisory_lock_wait):
                waited = advisory.acquire(
                    lock_conn,
                    key,
                    wait=self.settings.advisory_lock_wait,
                    sink=self.sink,
                    report_every=self.settings.progress_interval or 5.0,
                    cancelled=self._cancel.is_set,
                )
            if waited >= 0.5:
                self.sink(Message(text=f"deploy advisory lock acquired after waiting {waited:.1f}s"))
            try:
                with guard.watch("reading the version table", extra=self.orphan_wait + ORPHAN_WAIT_SECONDS):
                    self._end_orphans(lock_conn, key)
                    heads = read_current(lock_conn, self.version_table)
                    plan = self.plan(direction, target, heads)
                    self._refuse_driven(lock_conn, direction, plan)
                self.sink(
                    RunStarted(
                        job=direction,
                        target=redact_dsn(self.dsn) or "",
                        revisions=tuple(plan),
                        driver=self.project.driver(self.settings.driver)[0],
                    )
                )
                if not plan:
                    seconds = time.monotonic() - started
                    where = ", ".join(heads) or "base"
                    summary = f"already at {where}"
                    if direction == "up" and target not in ("head", "heads") and target not in heads:
                        summary = (
                            f"{target} is already applied (the database is at {where}, beyond it); "
                            f"to go back to it use 'migtui down {target}'"
                        )
                    self.sink(RunFinished(job=direction, ok=True, exit_code=0, summary=summary))
                    return RunReport([], direction, True, seconds, redact_dsn(self.dsn) or "", summary)
                try:
                    # not bounded when it drops an index: DROP INDEX CONCURRENTLY waits for transactions
                    with (
                        guard.watch("looking for INVALID indexes")
                        if not self.rebuild_invalid_indexes
                        else contextlib.nullcontext()
                    ):
                        self._check_invalid_indexes(lock_conn, direction, plan)
                except MigtuiError as exc:
                    self.sink(RunFinished(job=direction, ok=False, exit_code=int(exc.exit_code), summary=exc.message))
                    raise
                with guard.watch("looking for INVALID indexes"):
                    invalid_before = invalid_indexes(lock_conn)
                return self._apply(lock_conn, direction, plan, invalid_before, started, advisory.scope_tag(key))
            finally:
                with contextlib.suppress(Exception), guard.watch("releasing the deploy advisory lock"):
                    advisory.unlock(lock_conn, key)
        finally:
            with contextlib.suppress(Exception):
                lock_conn.close()
            if self._hard_stop is not None:
                self._hard_stop.disarm()

    def _apply(self, lock_conn, direction: str, plan: list[str], invalid_before: set[str], started: float, scope: str):
        from migtui.pg.progress import invalid_indexes

        step = RevisionStep(
            self.project,
            self.dsn,
            StepLimits.from_settings(self.settings),
            sink=self.sink,
            job=direction,
            version_table=self.settings.version_table,
            version_table_schema=self.settings.version_table_schema,
            scope=scope,
            hard_stop=self._hard_stop,
            driver=self.settings.driver,
        )
        applied: list[str] = []
        self._step = step
        if self._cancel.is_set():
            step.cancel()
        try:
            for revision in plan:
                if self._cancel.is_set():
                    raise Interrupted(f"run cancelled before revision {revision}")
                step.run(revision, direction)
                applied.append(revision)
        except (MigtuiError, KeyboardInterrupt) as caught:
            if isinstance(caught, KeyboardInterrupt):  # Ctrl-C / SIGTERM: report where it left the database
                at = (
                    f"revision {plan[len(applied)]} stopped: its transaction rolled back"
                    if len(applied) < len(plan)
                    else "stopped between revisions"
                )
                exc: MigtuiError = Interrupted(at)
            else:
                exc = caught
            message = exc.message
            with contextlib.suppress(Exception):
                left = sorted(invalid_indexes(lock_conn) - invalid_before)
                if left:
                    note = (
                        f"INVALID index(es) left behind by a failed concurrent build: {', '.join(left)} "
                        "(DROP INDEX CONCURRENTLY before retrying)"
                    )
                    self.sink(Message(text=note, level="warning"))
                    message = f"{message}; {note}"
            message = f"{message}; database left at {self._left_at(lock_conn)}"
            exc.args = (message,)
            done = f"{len(applied)} of {len(plan)} revision(s) {'applied' if direction == 'up' else 'reverted'}"
            self.sink(RunFinished(job=direction, ok=False, exit_code=int(exc.exit_code), summary=f"{done}; {message}"))
            if exc is caught:
                raise
            raise exc from None
        finally:
            self._step = None
            with contextlib.suppress(Exception):
                step.close()
        seconds = time.monotonic() - started
        verb = "applied" if direction == "up" else "reverted"
        with self._guard.watch("reading the version table"):
            now_at = ", ".join(read_current(lock_conn, self.version_table)) or "base"
        summary = f"{verb} {len(applied)} revision(s) in {seconds:.2f}s; now at {now_at}"
        self.sink(RunFinished(job=direction, ok=True, exit_code=0, summary=summary))
        return RunReport(applied, direction, False, seconds, redact_dsn(self.dsn) or "", summary)

    def _left_at(self, lock_conn) -> str:
        """Where a failed run left the database. The lock session may be gone with the failure (a server
        restart ends every session): then new sessions try for up to LEFT_AT_WAIT_SECONDS, while the server
        comes back."""
        from migtui.pg.connect import connect

        with contextlib.suppress(Exception):
            return ", ".join(read_current(lock_conn, self.version_table)) or "base"
        deadline = time.monotonic() + LEFT_AT_WAIT_SECONDS
        while True:
            with contextlib.suppress(Exception):
                with connect(self.dsn, application_name="migtui status", connect_timeout=5) as conn:
                    return ", ".join(read_current(conn, self.version_table)) or "base"
            if time.monotonic() >= deadline:
                return "an unknown revision (the server does not answer: check its version table)"
            time.sleep(0.5)

    def _check_invalid_indexes(self, lock_conn, direction: str, plan: list[str]) -> None:
        """INVALID indexes left by an interrupted CREATE INDEX CONCURRENTLY, before anything runs.

        One a pending revision names (it would build it again and fail with "already exists", or skip it with
        IF NOT EXISTS and leave it unusable): refuse, naming the fix, unless told to drop and rebuild it. Any
        other leftover is reported as a warning with its fix.
        """
        import re

        from psycopg import sql

        from migtui.pg.progress import leftover_indexes

        leftovers = leftover_indexes(lock_conn)
        if not leftovers:
            return
        sources: dict[str, str] = {}
        if direction == "up":
            by_id = {info.revision: info for info in self.project.revisions()}
            for revision in plan:
                with contextlib.suppress(OSError, KeyError):
                    sources[revision] = by_id[revision].path.read_text(errors="replace")
        ours: list[tuple[str, Any]] = []
        for index in leftovers:
            pattern = re.compile(rf"(?<![\w$]){re.escape(index.name)}(?![\w$])", re.I)
            creator = next((rev for rev, text in sources.items() if pattern.search(text)), None)
            if creator is None:
                self.sink(
                    Message(
                        text=f"INVALID index {index.qualified} on {index.table_schema}.{index.table} (left by an "
                        f"interrupted concurrent build); fix: {index.fix}",
                        level="warning",
                    )
                )
            else:
                ours.append((creator, index))
        if not ours:
            return
        if not self.rebuild_invalid_indexes:
            creator, index = ours[0]
            more = f" (and {len(ours) - 1} more)" if len(ours) > 1 else ""
            raise MigrationFailed(
                f"INVALID index {index.qualified}{more} left by an interrupted CREATE INDEX CONCURRENTLY; revision "
                f"{creator} builds it: drop it first ({index.fix}) or rerun with --rebuild-invalid-indexes; "
                "nothing was applied"
            )
        for creator, index in ours:
            self.sink(
                Message(
                    text=f"dropping INVALID index {index.qualified} for revision {creator} to build it again",
                    level="warning",
                )
            )
            lock_conn.execute(
                sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(index.schema, index.name))
            )

    def _refuse_driven(self, lock_conn, direction: str, plan: list[str]) -> None:
        """A phase driver holding a revision this run would apply or revert: refuse before touching anything
        (its backfill or contract would fail under us, or we under it)."""
        held = advisory.phase_lock_holders(lock_conn, plan, ignore_pids=self.own_phase_locks)
        if not held:
            return
        first = held[0]
        since = f", connected {first.since}" if first.since else ""
        raise LockNotAcquired(
            f"revision {first.revision} is being driven by a phase run (pid {first.pid}, "
            f"{first.application_name or 'no application_name'}{since}): {direction} would "
            f"{'apply' if direction == 'up' else 'revert'} it under that run; let it finish, or stop it and "
            f"'migtui phase abort {first.revision}', then retry"
        )

    def _end_orphans(self, lock_conn, key: int) -> None:
        """Migration sessions of a runner that died (we hold the lock, so nobody live owns them): wait, then end.

        Only the sessions of this deploy scope (this database's version table, ``advisory.scope_tag``): a
        deploy of another version table holds another lock and owns its sessions.
        With client_connection_check_interval (PostgreSQL 14+) they notice their dead client within a second.
        """
        rows = advisory.migration_sessions(lock_conn, key)
        if not rows:
            return
        names = ", ".join(f"pid {pid} ({name})" for pid, name in rows)
        self.sink(
            Message(
                text=f"migration session(s) of a runner that is gone: {names}; waiting for them to end", level="warning"
            )
        )
        deadline = time.monotonic() + self.orphan_wait
        while rows and time.monotonic() < deadline:
            time.sleep(0.2)
            rows = advisory.migration_sessions(lock_conn, key)
        if rows:
            for pid, _name in rows:
                lock_conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
            self.sink(Message(text=f"terminated left-over migration session(s): {names}", level="warning"))
            deadline = time.monotonic() + ORPHAN_WAIT_SECONDS
            while rows and time.monotonic() < deadline:
                time.sleep(0.1)
                rows = advisory.migration_sessions(lock_conn, key)
