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
2. ends migration sessions left behind by a runner that died (kill -9) and re-reads the version table:
   if the work is already done, returns ``already_current=True``;
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
from migtui.errors import Interrupted, MigtuiError, UsageError
from migtui.events import EventSink, Finding, Message, RunFinished, RunStarted, discard
from migtui.pg import advisory
from migtui.pg.version_table import VersionTable, advisory_key, read_current, resolved_schema
from migtui.project.load import AlembicProject, RevisionInfo
from migtui.redact import redact_dsn
from migtui.report import Cancel
from migtui.runner.step import RevisionStep, StepLimits, run_revision_step

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
# migration sessions are named "migtui up <rev>" / "migtui down <rev>"; ours in brackets ("[lock]", "[watch]")
_ORPHAN_PATTERN = r"^migtui (up|down) [^\[]"


@dataclass(frozen=True)
class UpOptions:
    revision: str = "head"  # apply up to this revision
    cancel: Cancel | None = None  # the TUI's cancel: the running revision rolls back, the run raises Interrupted


@dataclass(frozen=True)
class DownOptions:
    revision: str = ""  # -N, a revision id, or base: required, down never defaults to everything
    cancel: Cancel | None = None


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
    return _runner(settings, options.cancel, sink).upgrade(options.revision)


def run_down(settings: Settings, options: DownOptions, sink: EventSink = discard) -> RunReport:
    """``migtui down``: revert revisions down to ``options.revision`` (explicit: -N, a revision id, or base)."""
    target = check_down_target(options.revision)
    return _runner(settings, options.cancel, sink).downgrade(target)


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
    revision rolled back, the advisory lock released, exit 130."""
    import signal

    def handler(signum, frame):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


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

    def __init__(self, project: AlembicProject, dsn: str, settings: Settings, sink: EventSink = discard) -> None:
        self.project = project
        self.dsn = dsn
        self.settings = settings
        self.sink = sink
        self.version_table = VersionTable(settings.version_table, settings.version_table_schema)
        self._cancel = threading.Event()
        self._step: RevisionStep | None = None

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
        lock_conn = connect(self.dsn, application_name=f"migtui {direction} [lock]")
        try:
            if lock_conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                raise UsageError(
                    f"{redact_dsn(self.dsn)} is a read-only standby (pg_is_in_recovery() is true): "
                    f"run {direction} against the primary"
                )
            schema = resolved_schema(lock_conn, self.version_table)
            key = advisory_key(schema, self.version_table.table)
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
                self._end_orphans(lock_conn)
                heads = read_current(lock_conn, self.version_table)
                plan = self.plan(direction, target, heads)
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
                invalid_before = invalid_indexes(lock_conn)
                return self._apply(lock_conn, direction, plan, invalid_before, started)
            finally:
                with contextlib.suppress(Exception):
                    advisory.unlock(lock_conn, key)
        finally:
            with contextlib.suppress(Exception):
                lock_conn.close()

    def _apply(self, lock_conn, direction: str, plan: list[str], invalid_before: set[str], started: float):
        from migtui.pg.progress import invalid_indexes

        step = RevisionStep(
            self.project,
            self.dsn,
            StepLimits.from_settings(self.settings),
            sink=self.sink,
            job=direction,
            version_table=self.settings.version_table,
            version_table_schema=self.settings.version_table_schema,
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
        except MigtuiError as exc:
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
            with contextlib.suppress(Exception):
                now = ", ".join(read_current(lock_conn, self.version_table)) or "base"
                message = f"{message}; database left at {now}"
            exc.args = (message,)
            done = f"{len(applied)} of {len(plan)} revision(s) {'applied' if direction == 'up' else 'reverted'}"
            self.sink(RunFinished(job=direction, ok=False, exit_code=int(exc.exit_code), summary=f"{done}; {message}"))
            raise
        finally:
            self._step = None
            with contextlib.suppress(Exception):
                step.close()
        seconds = time.monotonic() - started
        verb = "applied" if direction == "up" else "reverted"
        summary = (
            f"{verb} {len(applied)} revision(s) in {seconds:.2f}s; now at "
            f"{', '.join(read_current(lock_conn, self.version_table)) or 'base'}"
        )
        self.sink(RunFinished(job=direction, ok=True, exit_code=0, summary=summary))
        return RunReport(applied, direction, False, seconds, redact_dsn(self.dsn) or "", summary)

    def _end_orphans(self, lock_conn) -> None:
        """Migration sessions of a runner that died (we hold the lock, so nobody live owns them): wait, then end.

        With client_connection_check_interval (PostgreSQL 14+) they notice their dead client within a second.
        """
        query = (
            "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND application_name ~ %s"
        )
        rows = lock_conn.execute(query, (_ORPHAN_PATTERN,)).fetchall()
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
            rows = lock_conn.execute(query, (_ORPHAN_PATTERN,)).fetchall()
        if rows:
            for pid, _name in rows:
                lock_conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
            self.sink(Message(text=f"terminated left-over migration session(s): {names}", level="warning"))
            deadline = time.monotonic() + ORPHAN_WAIT_SECONDS
            while rows and time.monotonic() < deadline:
                time.sleep(0.1)
                rows = lock_conn.execute(query, (_ORPHAN_PATTERN,)).fetchall()
