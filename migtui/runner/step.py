"""Run ONE alembic revision (up or down) with the runner's safety: its own transaction, ``lock_timeout`` on
every statement with bounded jittered retries, a per-revision timeout enforced by a watchdog, progress
sampling, and typed events.

The Runner uses it for every step of ``migtui up``/``down``; other jobs (rollback-test, dry-run shadow
execution, phases) call :func:`run_revision_step` directly. It takes no advisory lock: that is the caller's
business.

How it works
- alembic is driven through ``EnvironmentContext`` + ``script.run_env()`` (what ``alembic.command.upgrade``
  does), with a work function that returns exactly one migration step, so each call is one revision in one
  transaction whatever env.py does (a stock ``alembic init`` env.py is enough).
- env.py gets the target as ``sqlalchemy.url`` (the project's driver) and, for sync drivers, as an open
  connection in ``config.attributes["connection"]`` (opened when env.py reads it).
- Class-level SQLAlchemy listeners, installed only while the step runs and active only on this thread, set
  ``application_name`` (``migtui up <rev>``), ``lock_timeout`` and ``client_connection_check_interval`` as
  SQL on every connection env.py opens (its own engine included, any PostgreSQL driver), refuse one that is
  not PostgreSQL or not the target, learn its backend pid, and emit StatementStarted for the revision's own
  SQL. A revision about to run on a connection they never saw is refused.
- A watchdog thread with its own connection samples the backend (pg_stat_activity, pg_locks,
  pg_blocking_pids, pg_stat_progress_*), emits Progress / LockWait, and on timeout cancels the statement
  (``pg_cancel_backend``); if that does not end the step within a grace period it terminates the backend
  and interrupts the Python code running the revision (a signal on the main thread, an async exception on
  other threads).

The sink may be called from the watchdog thread.
"""

from __future__ import annotations

import contextlib
import functools
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migtui.errors import (
    Interrupted,
    MigrationFailed,
    MigrationTimeout,
    MigtuiError,
    ProjectError,
    RevisionCodeError,
    UsageError,
)
from migtui.events import (
    EventSink,
    LockWait,
    Message,
    Progress,
    RevisionFailed,
    RevisionFinished,
    RevisionStarted,
    StatementStarted,
    discard,
)
from migtui.pg import progress as pg_progress
from migtui.pg.progress import Blocker
from migtui.project.load import ASYNC_DRIVERS, ENV_LOCK, no_logging_config
from migtui.redact import redact_sql
from migtui.report import report_and_exit

LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"
CANCEL_GRACE_SECONDS = 1.0  # after pg_cancel_backend, wait this long before terminating and interrupting
# the watchdog's sampling query can hang with the server (a SIGSTOPped or partitioned server answers nothing,
# and statement_timeout is enforced by the server): the deadline is also kept by a thread that makes no
# database call, which interrupts the revision this long after the watchdog should have
BLIND_GRACE_SECONDS = 1.0
# last resort (the CLI's up/down): this long after a revision's timeout, if the run has still not ended (its
# clean-up waits for a server that does not answer), report and exit 3 without waiting for the server
HARD_EXIT_GRACE_SECONDS = 10.0
# the same last resort around the run's own short queries (deploy lock, version table, catalog checks): a
# server that has not answered one of them for this long is treated as unreachable (exit 6)
QUERY_STALL_SECONDS = 30.0
WATCH_TICK_SECONDS = 0.2
MAX_RETRY_DELAY_SECONDS = 30.0
APPLICATION_NAME_MAX = 63


class StepInterrupted(BaseException):
    """Raised inside the thread running a revision when the watchdog gives up on it."""


StallCallback = Callable[[int, str], Any]  # (exit code, one-line reason): a server stopped answering


class HardStop:
    """The last-resort exit of a command-line run: armed when a revision's timeout passes, it reports and ends
    the process with exit 3 if the run has not ended ``grace`` seconds later; the run disarms it when it ends.

    Ending the process is only for a process that is the run (``migtui up``/``down``). With ``on_stall`` (the
    TUI) the same verdict goes to ``on_stall(3, line)`` instead, and the caller decides when the process ends:
    the thread running the revision stays blocked on the server either way.
    """

    def __init__(
        self,
        sink: EventSink,
        job: str,
        grace: float = HARD_EXIT_GRACE_SECONDS,
        on_stall: StallCallback | None = None,
    ) -> None:
        self.sink = sink
        self.job = job
        self.grace = grace
        self.on_stall = on_stall
        self._done = threading.Event()
        self._armed = False
        self._lock = threading.Lock()

    def arm(self, why: str) -> None:
        with self._lock:
            if self._armed or self._done.is_set():
                return
            self._armed = True
        threading.Thread(target=self._wait, args=(why,), name="migtui-hard-stop", daemon=True).start()

    def disarm(self) -> None:
        self._done.set()

    def _wait(self, why: str) -> None:
        if self._done.wait(self.grace):
            return
        message = (
            f"{why}, and the server has not answered for {self.grace:g}s since: exiting without waiting for it; "
            "the server rolls the revision back when it sees the connection gone (check the version table)"
        )
        if self.on_stall is not None:
            self.on_stall(int(MigrationTimeout.exit_code), message)
            return
        report_and_exit(self.sink, self.job, int(MigrationTimeout.exit_code), message)


class StallGuard:
    """Bounds, client-side, a stretch of a command-line run's queries that have no timeout of their own.

        with guard.watch("taking the deploy advisory lock", extra=wait):
            ...

    If the stretch has not ended ``seconds`` (+ ``extra``) after it began, the server is not answering: one
    line, ``run_finished`` with exit 6, and the process exits 6 without waiting for it; with ``on_stall`` (the
    TUI) ``on_stall(6, line)`` instead. A no-op when ``enabled`` is false (library callers). ``exit`` is how the
    process ends (``os._exit``).
    """

    def __init__(
        self,
        sink: EventSink,
        job: str,
        *,
        enabled: bool,
        seconds: float = QUERY_STALL_SECONDS,
        exit=None,
        on_stall: StallCallback | None = None,
    ):
        import os

        self.sink = sink
        self.job = job
        self.enabled = enabled
        self.seconds = seconds
        self.exit = exit or os._exit
        self.on_stall = on_stall

    @contextlib.contextmanager
    def watch(self, what: str, extra: float = 0.0):
        if not self.enabled:
            yield
            return
        bound = self.seconds + max(0.0, extra)
        timer = threading.Timer(bound, self._fire, args=(what, bound))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _fire(self, what: str, bound: float) -> None:
        from migtui.errors import ExitCode

        message = (
            f"the server has not answered for {bound:g}s while {what}: exiting without waiting for it "
            "(a revision still running there is rolled back when the server sees the connection gone)"
        )
        if self.on_stall is not None:
            self.on_stall(int(ExitCode.CONNECTION), message)
            return
        report_and_exit(self.sink, self.job, int(ExitCode.CONNECTION), message, self.exit)


class _Deadline(threading.Thread):
    """Keeps a revision's timeout without touching the database (see BLIND_GRACE_SECONDS)."""

    def __init__(self, state: _AttemptState, limits: StepLimits, interrupt, sink: EventSink, hard_stop):
        super().__init__(name=f"migtui-deadline-{state.revision}", daemon=True)
        self.state = state
        self.limits = limits
        self.interrupt = interrupt
        self.sink = sink
        self.hard_stop = hard_stop
        self.stop_event = threading.Event()

    def run(self) -> None:
        state, timeout = self.state, self.limits.timeout
        if not timeout:
            return
        deadline = state.started + timeout
        if self.stop_event.wait(max(0.0, deadline - time.monotonic())) or state.finished:
            return
        if self.hard_stop is not None:
            self.hard_stop.arm(f"revision {state.revision} ({state.direction}) ran past its timeout of {timeout:g}s")
        blind = deadline + CANCEL_GRACE_SECONDS + BLIND_GRACE_SECONDS
        if self.stop_event.wait(max(0.0, blind - time.monotonic())) or state.finished or state.terminated:
            return
        state.timed_out = True
        state.terminated = True
        self.sink(
            Message(
                text=f"{state.revision}: timeout of {timeout:g}s reached and the server does not answer the "
                "watchdog; interrupting the revision",
                level="warning",
            )
        )
        self.interrupt()


@dataclass(frozen=True)
class StepLimits:
    timeout: float | None  # per attempt, seconds; None or 0 = no timeout
    lock_timeout: float  # seconds
    lock_retries: int
    lock_retry_delay: float  # seconds; doubles per retry, with jitter
    progress_interval: float  # seconds; 0 = no progress events

    @classmethod
    def from_settings(cls, settings: Any) -> StepLimits:
        return cls(
            timeout=settings.timeout or None,
            lock_timeout=settings.lock_timeout,
            lock_retries=settings.lock_retries,
            lock_retry_delay=settings.lock_retry_delay,
            progress_interval=settings.progress_interval,
        )


@dataclass
class _AttemptState:
    revision: str
    direction: str
    thread_ident: int
    pid: int | None = None
    in_body: bool = False
    statements: int = 0
    current_sql: str = ""
    non_transactional_ran: bool = False
    timed_out: bool = False
    cancel_requested: bool = False  # the operator asked to stop (RevisionStep.cancel)
    terminated: bool = False
    armed: bool = True  # the watchdog may interrupt the thread
    finished: bool = False
    noop: bool = False
    body_started: bool = False  # the revision's upgrade()/downgrade() was entered
    body_error: BaseException | None = None  # what the revision's upgrade()/downgrade() itself raised
    hooked: bool = False  # a connection to the target got migtui's session settings in this attempt
    blockers: tuple[Blocker, ...] = ()
    waiting_lock: str = ""
    lock_wait_reported: bool = False
    started: float = field(default_factory=time.monotonic)


def lock_timeout_ms(seconds: float) -> int:
    """``lock_timeout`` in milliseconds. 0 means none, as for ``--timeout`` and in PostgreSQL; anything above
    0 is at least 1 ms (a fraction of a millisecond must not round down to "none")."""
    return 0 if seconds <= 0 else max(1, int(seconds * 1000))


def application_name(job: str, revision: str, scope: str = "") -> str:
    """``migtui up a1b2c3 @1f2e3d4c``: what operators see in pg_stat_activity for the session running a revision.

    ``scope`` (a deploy's ``advisory.scope_tag``) always survives the 63-byte limit: the runner's sweep for
    sessions of a dead runner matches on it; the revision id is what gets shortened.
    """
    suffix = f" @{scope}" if scope else ""
    head = f"migtui {job} {revision}".encode()[: APPLICATION_NAME_MAX - len(suffix)]
    return head.decode(errors="ignore") + suffix


def _sqlstates(exc: BaseException | None) -> set[str]:
    """Every SQLSTATE found along an exception chain (SQLAlchemy wraps the psycopg error in ``.orig``)."""
    found: set[str] = set()
    seen: set[int] = set()
    stack = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        state = getattr(item, "sqlstate", None) or getattr(item, "pgcode", None)  # psycopg 3, asyncpg / psycopg2
        if isinstance(state, str):
            found.add(state)
        stack.extend([getattr(item, "orig", None), item.__cause__, item.__context__])
    return found


def _interrupted(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt (Ctrl-C, SIGTERM) is along ``exc``'s chain: an error raised while the driver
    and alembic unwound from it (SQLAlchemy's PendingRollbackError) is the interrupt, not a failed revision."""
    seen: set[int] = set()
    item: BaseException | None = exc
    while item is not None and id(item) not in seen:
        if isinstance(item, KeyboardInterrupt):
            return True
        seen.add(id(item))
        item = item.__cause__ or item.__context__
    return False


def _is_driver_error(exc: BaseException) -> bool:
    """A database or driver error (connection refused, ...) rather than the project's own Python failing."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    return isinstance(exc, (DBAPIError, OperationalError)) or "psycopg" in type(exc).__module__


def _check_version_table(context: Any, table: str | None, schema: str | None) -> None:
    """Refuse a step whose env.py keeps its revision in another version table than the one migtui reads
    (masakari's env.py passes ``version_table='masakari_alembic_version'`` to ``context.configure``): migtui's
    plan, status, drift and advisory lock would all read a table the run never writes."""
    expected = table or "alembic_version"
    used = getattr(context, "version_table", expected)
    used_schema = getattr(context, "version_table_schema", None)
    if used != expected or (used_schema and schema and used_schema != schema):
        where = f"{used_schema}.{used}" if used_schema else used
        setting = f"version_table = {used!r}" + (f", version_table_schema = {used_schema!r}" if used_schema else "")
        raise UsageError(
            f"env.py keeps the revision in version table {where}, migtui reads "
            f"{schema + '.' if schema else ''}{expected}: set {setting} in [tool.migtui] "
            "(or MIGTUI_VERSION_TABLE / MIGTUI_VERSION_TABLE_SCHEMA)"
        )


def describe_failure(exc: BaseException) -> str:
    """One line for a failed revision: the database's own message when there is one, redacted."""
    orig = getattr(exc, "orig", None)
    chosen = orig if orig is not None else exc
    text = str(chosen).strip()
    line = text.splitlines()[0] if text else chosen.__class__.__name__
    diag = getattr(chosen, "diag", None)
    detail = getattr(diag, "message_detail", None) if diag is not None else None
    if detail:
        line = f"{line} ({' '.join(str(detail).split())})"
    name = chosen.__class__.__name__
    if orig is None and not getattr(chosen, "sqlstate", None):
        line = f"{name}: {line}"
    return redact_sql(line)


class _Hooks:
    """Class-level SQLAlchemy listeners for the duration of one attempt, filtered to one thread.

    They act on every connection the thread opens, whatever engine env.py builds and whatever its driver
    (psycopg 3, psycopg2, asyncpg through SQLAlchemy's adapter): the session settings are sent as SQL on the
    connection (not as driver connect arguments, which differ per driver and which a non-libpq driver rejects),
    and the connection is refused when it is not PostgreSQL or not the target database, because the advisory
    lock, the watchdog and the version check all act on the target."""

    def __init__(
        self,
        state: _AttemptState,
        setup_sql: str,
        identity: tuple[str, str],
        driver: str,
        sink: EventSink,
        reported: set[str],
    ):
        self.reported = reported  # engines already named to the operator in this run (one line each)
        self.state = state
        self.setup_sql = setup_sql
        self.identity = identity  # (current_database(), pg_postmaster_start_time()) of the target
        self.driver = driver  # the driver migtui handed env.py in sqlalchemy.url
        self.sink = sink

    def _mine(self) -> bool:
        return threading.get_ident() == self.state.thread_ident

    def engine_connect(self, conn) -> None:
        if not self._mine():
            return
        dialect = conn.dialect
        used = f"{dialect.name}+{dialect.driver}"
        if dialect.name != "postgresql":
            conn.close()
            raise ProjectError(
                f"env.py connected through {used}, not PostgreSQL: it builds its own engine from its own settings; "
                "when config.attributes.get('migtui') is set, make it use config.attributes['connection'] or "
                "config.get_main_option('sqlalchemy.url')"
            )
        dbapi_connection = conn.connection.dbapi_connection
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.setup_sql)
            pid, database, started = cursor.fetchone()[:3]
        finally:
            cursor.close()
        dbapi_connection.commit()  # the settings outlive this transaction; nothing else ran in it
        if (database, started) != self.identity:
            conn.close()
            raise ProjectError(
                f"env.py connected to database {database!r}, not the target {self.identity[0]!r} on the target's "
                "server: migtui's advisory lock, timeout watchdog and version check act on the target; when "
                "config.attributes.get('migtui') is set, make env.py use config.attributes['connection'] or "
                "config.get_main_option('sqlalchemy.url')"
            )
        conn.connection.info["migtui_pid"] = int(pid)
        self.state.pid = int(pid)
        self.state.hooked = True
        if dialect.driver != self.driver and used not in self.reported:
            self.reported.add(used)
            self.sink(
                Message(
                    text=f"{self.state.revision}: env.py connects through its own engine ({used}), not the "
                    f"postgresql+{self.driver} URL migtui gave it; same database, migtui's settings applied",
                    level="info",
                )
            )

    def before_cursor_execute(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not self._mine() or not self.state.in_body:
            return
        pid = conn.connection.info.get("migtui_pid")
        if pid:  # the session running the revision, when env.py opened more than one
            self.state.pid = pid
        try:
            autocommit = bool(conn.connection.dbapi_connection.autocommit)
        except Exception:
            autocommit = False
        self.state.statements += 1
        self.state.current_sql = statement
        if autocommit:
            self.state.non_transactional_ran = True
        self.sink(
            StatementStarted(
                revision=self.state.revision,
                index=self.state.statements,
                sql=redact_sql(str(statement).strip()),
                transactional=not autocommit,
            )
        )

    def _engine_connect_14(self, conn, branch: bool) -> None:
        if not branch:  # a branch shares its parent's session, already set up
            self.engine_connect(conn)

    def _targets(self):
        import sqlalchemy
        from sqlalchemy.engine import Engine

        # SQLAlchemy 1.4 passes (conn, branch); 2.x warns about that signature. migtui runs on 1.4 when launched
        # in a project's own interpreter (Airflow 2, docs/real-world.md)
        legacy = sqlalchemy.__version__.startswith("1.")
        return [
            (Engine, "engine_connect", self._engine_connect_14 if legacy else self.engine_connect),
            (Engine, "before_cursor_execute", self.before_cursor_execute),
        ]

    def install(self) -> None:
        from sqlalchemy import event

        for target, name, fn in self._targets():
            event.listen(target, name, fn)

    def remove(self) -> None:
        from sqlalchemy import event

        for target, name, fn in self._targets():
            if event.contains(target, name, fn):
                event.remove(target, name, fn)


def dsn_settings(dsn: str) -> list[tuple[str, str]]:
    """The ``-c name=value`` settings of a DSN's libpq ``options`` (e.g. the dry-run shadow's
    statement_timeout), applied as SQL too: a driver that is not libpq (asyncpg) cannot take ``options``."""
    import shlex

    from psycopg.conninfo import conninfo_to_dict

    from migtui.pg.dsn import libpq_dsn

    try:
        words = shlex.split(str(conninfo_to_dict(libpq_dsn(dsn)).get("options") or ""))
    except Exception:
        return []
    found: list[tuple[str, str]] = []
    for index, word in enumerate(words):
        pair = word[2:] if word.startswith("-c") and len(word) > 2 else ""
        if word == "-c" and index + 1 < len(words):
            pair = words[index + 1]
        elif word.startswith("--"):
            pair = word[2:]
        name, sep, value = pair.partition("=")
        if sep and name.strip():
            found.append((name.strip().replace("-", "_"), value))
    return found


def session_setup_sql(
    monitor,
    job: str,
    revision: str,
    limits: StepLimits,
    server_version: int,
    extra: tuple[tuple[str, str], ...] = (),
    scope: str = "",
) -> str:
    """One SELECT that applies migtui's session settings on a migration connection and returns its backend
    pid and the database's identity; literals rendered by psycopg, sent as plain SQL through any driver."""
    from psycopg import sql

    settings = [
        *((name, value.replace("%", "")) for name, value in extra),
        # no "%": drivers with the format paramstyle would read it as a placeholder
        ("application_name", application_name(job, revision, scope).replace("%", "")),
        ("lock_timeout", f"{lock_timeout_ms(limits.lock_timeout)}ms"),
    ]
    if server_version >= 140000:
        # a backend whose client died (kill -9 of the runner) notices within a second and rolls back
        settings.append(("client_connection_check_interval", "1000"))
    calls = [sql.SQL("set_config({}, {}, false)").format(sql.Literal(k), sql.Literal(v)) for k, v in settings]
    query = sql.SQL("SELECT pg_backend_pid(), current_database(), pg_postmaster_start_time()::text, {}").format(
        sql.SQL(", ").join(calls)
    )
    return query.as_string(monitor)


def target_identity(monitor) -> tuple[str, str]:
    with monitor.cursor() as cur:
        cur.execute("SELECT current_database(), pg_postmaster_start_time()::text")
        database, started = cur.fetchone()
    return str(database), str(started)


class _HandedConnection:
    """The connection to the target handed to env.py in ``config.attributes["connection"]``, opened on first use
    (on the thread running the revision, so the hooks cover it)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Any = None
        self.connection: Any = None

    def get(self) -> Any:
        if self.connection is None:
            import sqlalchemy

            self.engine = sqlalchemy.create_engine(self.url, poolclass=sqlalchemy.pool.NullPool)
            self.connection = self.engine.connect()
        return self.connection

    def commit(self) -> None:
        if self.connection is not None and self.connection.in_transaction():
            self.connection.commit()

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):  # rolls back what is left; the backend may be gone
                self.connection.close()
        if self.engine is not None:
            self.engine.dispose()


class _AttributesWithConnection(dict):
    """alembic's ``config.attributes`` with a ``"connection"`` that opens when env.py reads it."""

    def __init__(self, base: dict, handed: _HandedConnection) -> None:
        super().__init__(base)
        self.handed = handed

    def __missing__(self, key: str) -> Any:
        if key == "connection":
            return self.handed.get()
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key == "connection" or super().__contains__(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default


class _Watchdog(threading.Thread):
    """Samples the migration backend; emits Progress/LockWait; enforces the timeout."""

    def __init__(self, state: _AttemptState, monitor_dsn_conn, limits: StepLimits, sink: EventSink, interrupt):
        super().__init__(name=f"migtui-watchdog-{state.revision}", daemon=True)
        self.state = state
        self.conn = monitor_dsn_conn
        self.limits = limits
        self.sink = sink
        self.interrupt = interrupt
        self.stop_event = threading.Event()
        self.error: str = ""

    def stop(self) -> bool:
        """Stop and join; False if the thread is still stuck in a query (its connection must not be closed)."""
        self.stop_event.set()
        self.join(timeout=10)
        return not self.is_alive()

    def run(self) -> None:
        state = self.state
        interval = self.limits.progress_interval
        next_progress = state.started + interval if interval else float("inf")
        deadline = state.started + self.limits.timeout if self.limits.timeout else float("inf")
        cancelled_at: float | None = None
        while not self.stop_event.wait(WATCH_TICK_SECONDS):
            now = time.monotonic()
            try:
                sample = pg_progress.sample_backend(self.conn, state.pid) if state.pid else None
                if sample is not None and sample.waiting_on_lock:
                    if sample.blockers:
                        state.blockers = sample.blockers
                    state.waiting_lock = sample.waiting_lock
                    if not state.lock_wait_reported and sample.blockers:
                        state.lock_wait_reported = True
                        first = sample.blockers[0]
                        self.sink(
                            LockWait(
                                what="relation",
                                holder_pid=first.pid,
                                holder_application=first.application_name,
                                holder_since=first.xact_start or None,
                                detail=f"{state.revision} waits for {sample.waiting_for()}",
                                waited_seconds=round(now - state.started, 2),
                            )
                        )
                stop_now = now >= deadline or state.cancel_requested
                if stop_now and cancelled_at is None and not state.finished:
                    cancelled_at = now
                    if state.cancel_requested:
                        why = "cancel requested"
                    else:
                        state.timed_out = True
                        why = f"timeout of {self.limits.timeout:g}s reached"
                    self.sink(
                        Message(
                            text=f"{state.revision}: {why}; cancelling the statement (pid {state.pid})",
                            level="warning",
                        )
                    )
                    if state.pid:
                        pg_progress.cancel_backend(self.conn, state.pid)
                if (
                    cancelled_at is not None
                    and not state.terminated
                    and not state.finished
                    and now >= cancelled_at + CANCEL_GRACE_SECONDS
                ):
                    state.terminated = True
                    if state.pid:
                        pg_progress.terminate_backend(self.conn, state.pid)
                    self.sink(
                        Message(
                            text=f"{state.revision}: still running {CANCEL_GRACE_SECONDS:g}s after cancel; "
                            f"terminated backend {state.pid} and interrupted the revision",
                            level="warning",
                        )
                    )
                    self.interrupt()
                if now >= next_progress and not state.finished and cancelled_at is None:
                    next_progress = now + interval
                    self._emit_progress(sample, now)
            except Exception as exc:  # the monitor connection broke: keep enforcing the timeout blind
                self.error = str(exc)
                if (now >= deadline or state.cancel_requested) and not state.terminated and not state.finished:
                    state.timed_out = now >= deadline
                    state.terminated = True
                    self.interrupt()

    def _emit_progress(self, sample, now: float) -> None:
        state = self.state
        report = pg_progress.progress_report(self.conn, state.pid) if state.pid else ""
        self.sink(
            Progress(
                revision=state.revision,
                elapsed=round(now - state.started, 1),
                timeout=self.limits.timeout,
                statement=redact_sql(" ".join((sample.query if sample else state.current_sql).split()))[:500],
                state=sample.state if sample else "",
                wait_event=f"{sample.wait_event_type}:{sample.wait_event}" if sample and sample.wait_event else "",
                waiting_for=sample.waiting_for() if sample else "",
                progress=report,
            )
        )


class RevisionStep:
    """Runs one revision of ``project`` up or down against ``dsn``; see :func:`run_revision_step`."""

    def __init__(
        self,
        project,
        dsn: str,
        limits: StepLimits,
        *,
        sink: EventSink = discard,
        job: str = "up",
        monitor_conn=None,
        version_table: str | None = None,
        version_table_schema: str | None = None,
        scope: str = "",
        hard_stop: HardStop | None = None,
        driver: str | None = None,
    ) -> None:
        self.driver = driver  # the driver setting (None: the project's alembic.ini, else psycopg 3)
        self.hard_stop = hard_stop
        self.scope = scope  # the deploy scope tag its sessions carry (Runner); "" for jobs without the deploy lock
        self.version_table = version_table
        self.version_table_schema = version_table_schema
        self.project = project
        self.dsn = dsn
        self.limits = limits
        self.sink = sink
        self.job = job
        self._monitor = monitor_conn
        self._owns_monitor = monitor_conn is None
        self._cancel = threading.Event()
        self._state: _AttemptState | None = None
        self._reported: set[str] = set()

    def cancel(self) -> None:
        """Stop the revision running now (from any thread): its statement is cancelled, it rolls back, and
        ``run`` raises Interrupted (exit 130). Also stops a lock_timeout retry wait."""
        self._cancel.set()
        state = self._state
        if state is not None:
            state.cancel_requested = True

    # -- connections -------------------------------------------------------------------------------------
    def _monitor_conn(self):
        if self._monitor is None:
            from migtui.pg.connect import connect

            # statement_timeout: a sampling query never hangs the watchdog (and the join at the end of a step)
            self._monitor = connect(
                self.dsn, application_name=f"migtui {self.job} [watch]", options="-c statement_timeout=5000"
            )
            self._owns_monitor = True
        return self._monitor

    def close(self) -> None:
        if self._owns_monitor and self._monitor is not None:
            self._monitor.close()
            self._monitor = None

    # -- one revision ----------------------------------------------------------------------------------
    def run(self, revision: str, direction: str) -> float:
        """Apply (``up``) or revert (``down``) ``revision``, retrying on lock_timeout. Returns seconds."""
        if direction not in ("up", "down"):
            raise UsageError(f"direction must be up or down, not {direction!r}")
        script = self.project.script
        try:
            script_rev = script.get_revision(revision)
        except Exception:
            script_rev = None
        if script_rev is None:
            raise UsageError(f"unknown revision {revision!r}")
        revision = script_rev.revision
        description = script_rev.doc or ""
        monitor = self._monitor_conn()
        server_version = int(monitor.info.server_version)
        total_started = time.monotonic()
        attempt = 0
        while True:
            if self._cancel.is_set():
                raise Interrupted(f"cancelled before revision {revision} ({direction}) started")
            attempt += 1
            self.sink(RevisionStarted(revision=revision, direction=direction, description=description, attempt=attempt))
            state = _AttemptState(revision=revision, direction=direction, thread_ident=threading.get_ident())
            state.cancel_requested = self._cancel.is_set()
            self._state = state
            try:
                self._attempt(script, script_rev, state, server_version, monitor)
            except BaseException as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)) or _interrupted(exc):
                    self.sink(
                        RevisionFailed(
                            revision=revision,
                            direction=direction,
                            error="interrupted",
                            seconds=round(time.monotonic() - total_started, 3),
                            rolled_back=not state.non_transactional_ran,
                        )
                    )
                    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                        raise
                    # Ctrl-C inside autocommit_block(): alembic's attempt to restart the transaction fails with
                    # PendingRollbackError; the operator's interrupt is what happened
                    raise KeyboardInterrupt from None
                seconds = time.monotonic() - total_started
                failure = self._classify(exc, state, attempt)
                if failure is None:  # lock_timeout: retry
                    delay = min(
                        MAX_RETRY_DELAY_SECONDS,
                        self.limits.lock_retry_delay * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5),
                    )
                    holder = f" (blocked by {state.blockers[0].describe()})" if state.blockers else ""
                    self.sink(
                        Message(
                            text=f"{revision}: lock_timeout ({self.limits.lock_timeout:g}s) hit{holder}; rolled "
                            f"back; retry {attempt}/{self.limits.lock_retries} in {delay:.1f}s",
                            level="warning",
                        )
                    )
                    if self._cancel.wait(delay):
                        failure = Interrupted(f"revision {revision} ({direction}) cancelled while waiting to retry")
                    else:
                        continue
                self.sink(
                    RevisionFailed(
                        revision=revision,
                        direction=direction,
                        error=failure.message,
                        seconds=round(seconds, 3),
                        rolled_back=not state.non_transactional_ran,
                    )
                )
                raise failure from None
            seconds = time.monotonic() - total_started
            if not state.noop:
                self.sink(RevisionFinished(revision=revision, direction=direction, seconds=round(seconds, 3)))
            return seconds

    def _classify(self, exc: BaseException, state: _AttemptState, attempt: int) -> MigtuiError | None:
        """The error to raise for a failed attempt, or None to retry it."""
        rev = state.revision
        partial = (
            " (statements run outside the transaction, e.g. in autocommit_block(), were NOT rolled back)"
            if state.non_transactional_ran
            else ""
        )
        if state.cancel_requested and not state.timed_out:
            return Interrupted(f"revision {rev} ({state.direction}) cancelled by the operator: rolled back{partial}")
        if state.timed_out or isinstance(exc, StepInterrupted):
            return MigrationTimeout(
                f"revision {rev} ({state.direction}) ran past its timeout of {self.limits.timeout:g}s: "
                f"cancelled and rolled back{partial}"
            )
        if isinstance(exc, MigtuiError):
            return exc
        states = _sqlstates(exc)
        if not state.body_started and not states and not _is_driver_error(exc):
            from migtui.project.load import _project_frame

            env_py = _project_frame(exc, self.project.script_location) or "env.py"
            return ProjectError(f"{env_py} failed before revision {rev} ran: {describe_failure(exc)}")
        body_error = state.body_error
        if body_error is not None and not _sqlstates(body_error) and not _is_driver_error(body_error):
            # the revision's own Python failed (a bug, a deliberate raise, a missing application module), not the
            # database: exit 7, like env.py failing, so CI tells a code bug from a statement the server refused
            from migtui.project.load import _project_frame

            where = _project_frame(body_error, self.project.script_location)
            if where:
                file, _, line = where.rpartition(":")
                with contextlib.suppress(ValueError):
                    where = f"{Path(file).resolve().relative_to(self.project.script_location.resolve())}:{line}"
            return RevisionCodeError(
                f"revision {rev} ({state.direction}) failed in its own code"
                f"{' at ' + where if where else ''}: {describe_failure(body_error)}; rolled back{partial}"
            )
        if LOCK_NOT_AVAILABLE in states:
            if attempt <= self.limits.lock_retries and not state.non_transactional_ran:
                return None
            who = state.blockers[0].describe() if state.blockers else "blocking session not identified"
            lock = f" waiting for {state.waiting_lock}" if state.waiting_lock else ""
            return MigrationFailed(
                f"revision {rev} ({state.direction}) gave up after {attempt} attempt(s): lock_timeout "
                f"{self.limits.lock_timeout:g}s exceeded{lock}; blocked by {who}{partial}"
            )
        return MigrationFailed(f"revision {rev} ({state.direction}) failed: {describe_failure(exc)}{partial}")

    def alembic_config(self):  # type: ignore[no-untyped-def]
        """(driver, alembic Config) for this step's target, in this process or the project's interpreter."""
        driver = self.project.check_driver(self.driver)
        config = self.project.config(self.dsn, driver=driver)
        # the version table migtui reads, for env.py files that honour these options (db/migrations does)
        if self.version_table and self.version_table != "alembic_version":
            config.set_main_option("version_table", self.version_table)
        if self.version_table_schema:
            config.set_main_option("version_table_schema", self.version_table_schema)
        return driver, config

    def _attempt(self, script, script_rev, state: _AttemptState, server_version: int, monitor) -> None:
        if getattr(self.project, "python", None):  # env.py and the revision run in the project's interpreter
            from migtui.runner.child_step import attempt_in_child

            return attempt_in_child(self, script_rev, state, server_version, monitor)
        from alembic.runtime.environment import EnvironmentContext
        from alembic.runtime.migration import MigrationStep

        revision = script_rev.revision
        direction = state.direction

        def work(heads, context):
            _check_version_table(context, self.version_table, self.version_table_schema)
            heads = tuple(heads or ())
            if direction == "up":
                try:
                    steps = script._upgrade_revs(revision, heads)
                except Exception as exc:
                    raise MigrationFailed(
                        f"cannot apply {revision}: database is at {', '.join(heads) or 'base'} ({exc})"
                    ) from None
                if not steps:
                    state.noop = True
                    return []
                if len(steps) != 1:
                    raise MigrationFailed(
                        f"cannot apply {revision} alone: database is at {', '.join(heads) or 'base'}, "
                        f"{len(steps)} revisions away"
                    )
                step = steps[0]
            else:
                if revision not in heads:
                    ancestors = {r.revision for r in script.iterate_revisions(heads, "base")} if heads else set()
                    if revision not in ancestors:
                        state.noop = True
                        return []
                    raise MigrationFailed(
                        f"cannot revert {revision}: it is not the current revision (database is at {', '.join(heads)})"
                    )
                step = MigrationStep.downgrade_from_script(script.revision_map, script_rev)
            original = step.migration_fn

            @functools.wraps(original)
            def body(**kw):
                if not state.hooked or threading.get_ident() != state.thread_ident:
                    # the revision would run on a session migtui does not watch: no lock_timeout, no timeout
                    raise ProjectError(
                        f"env.py runs revision {revision} on a connection migtui cannot watch (opened on another "
                        "thread, or before this run): open it in env.py while it runs, on its own thread, e.g. "
                        "from config.attributes['connection'] or config.get_main_option('sqlalchemy.url')"
                    )
                state.in_body = True
                state.body_started = True
                try:
                    return original(**kw)
                except BaseException as exc:
                    state.body_error = exc
                    raise
                finally:
                    state.in_body = False

            step.migration_fn = body
            return [step]

        driver, config = self.alembic_config()
        setup_sql = session_setup_sql(
            monitor, self.job, revision, self.limits, server_version, dsn_settings(self.dsn), self.scope
        )
        hooks = _Hooks(state, setup_sql, target_identity(monitor), driver, self.sink, self._reported)
        interrupt, restore = self._interrupter(state)
        watchdog = _Watchdog(state, monitor, self.limits, self.sink, interrupt)
        deadline = _Deadline(state, self.limits, interrupt, self.sink, self.hard_stop)
        handed = _HandedConnection(config.get_main_option("sqlalchemy.url")) if driver not in ASYNC_DRIVERS else None
        if handed is not None:
            # alembic's cookbook convention for a caller-owned connection (dagster's env.py requires it), opened
            # only when env.py asks for it; an env.py that builds its own engine never does
            config.attributes = _AttributesWithConnection(config.attributes, handed)
        hooks.install()
        watchdog.start()
        deadline.start()
        try:
            with ENV_LOCK, no_logging_config():
                with EnvironmentContext(config, script, fn=work, destination_rev=revision):
                    script.run_env()
                if handed is not None:
                    handed.commit()  # what env.py left open on the connection it was handed
        finally:
            state.armed = False
            state.finished = True
            deadline.stop_event.set()
            if not watchdog.stop():  # still inside a query on the monitor connection: never close it under it
                self._monitor = None
                self._owns_monitor = True
            hooks.remove()
            restore()
            if handed is not None:
                handed.close()

    @staticmethod
    def _interrupter(state: _AttemptState):
        """(interrupt, restore): how the watchdog stops Python code stuck in a revision on this thread."""
        if threading.current_thread() is threading.main_thread():

            def handler(signum, frame):
                if state.armed:
                    state.armed = False
                    raise StepInterrupted()

            previous = signal.signal(signal.SIGALRM, handler)

            def interrupt() -> None:
                if state.armed:
                    signal.pthread_kill(state.thread_ident, signal.SIGALRM)

            def restore() -> None:
                signal.signal(signal.SIGALRM, previous)

            return interrupt, restore

        import ctypes

        def interrupt_thread() -> None:  # takes effect when the thread next runs Python bytecode
            if state.armed:
                state.armed = False
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(state.thread_ident), ctypes.py_object(StepInterrupted)
                )

        return interrupt_thread, lambda: None


def run_revision_step(
    project,
    dsn: str,
    settings: Any,
    revision: str,
    direction: str = "up",
    *,
    sink: EventSink = discard,
    job: str | None = None,
) -> float:
    """Apply or revert ONE revision with the runner's safety (timeout, lock_timeout + retries, events).

    ``job`` names the work in ``application_name`` (default: the direction, e.g. ``migtui rollback-test
    a1b2``). Takes no advisory lock. Raises MigrationTimeout (exit 3) or MigrationFailed (exit 5); the
    revision's transaction is rolled back either way. Returns the seconds it took.
    """
    step = RevisionStep(
        project,
        dsn,
        StepLimits.from_settings(settings),
        sink=sink,
        job=job or direction,
        version_table=getattr(settings, "version_table", None),
        version_table_schema=getattr(settings, "version_table_schema", None),
        driver=getattr(settings, "driver", None),
    )
    try:
        return step.run(revision, direction)
    finally:
        step.close()
