"""One attempt of a revision step in the project's own interpreter (the ``python`` setting).

:class:`migtui.runner.step.RevisionStep` calls :func:`attempt_in_child` instead of running env.py in its own
process. The guarantees are kept this way:

- advisory lock, version-table checks: unchanged, in migtui's process (the caller's business, as in-process);
- ``application_name``, ``lock_timeout``, ``client_connection_check_interval`` and the DSN's ``-c`` settings:
  the same session SQL migtui builds, sent by the child on every connection env.py opens (any engine, any
  driver), which is refused when it is not PostgreSQL or not the target (the child compares the identity migtui
  read on its own connection);
- lock_timeout retries: the attempt fails with SQLSTATE 55P03 and RevisionStep retries it in a fresh child;
- per-revision timeout and cancel: migtui's watchdog samples the backend pid the child reports, cancels it with
  pg_cancel_backend, and after the grace period terminates the backend and kills the child (a revision stuck in
  Python in the child cannot be interrupted any other way);
- the child is kept for the run's next step (the project's imports paid once, as ``alembic upgrade`` does in
  one process) after a step that ended cleanly; after a failure, a timeout or a kill the next step gets a new one;
- events and statement capture: the child streams each statement (as sent, and with parameters inlined) as a
  JSON line; StatementStarted and lint's online capture are fed from them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from migtui.errors import MigrationFailed, ProjectError
from migtui.events import Message, StatementStarted
from migtui.pg import progress as pg_progress
from migtui.project.load import ASYNC_DRIVERS
from migtui.redact import redact_sql


class ChildLockTimeout(Exception):
    """The child's revision hit lock_timeout (RevisionStep retries or gives up, as in-process)."""

    sqlstate = "55P03"


def attempt_in_child(step: Any, script_rev: Any, state: Any, server_version: int, monitor: Any) -> None:
    from migtui.project import capture, interp
    from migtui.runner.step import (
        StepInterrupted,
        _Deadline,
        _Watchdog,
        dsn_settings,
        session_setup_sql,
        target_identity,
    )

    project = step.project
    revision = script_rev.revision
    driver, config = step.alembic_config()
    setup_sql = session_setup_sql(
        monitor, step.job, revision, step.limits, server_version, dsn_settings(step.dsn), step.scope
    )
    request = {
        "command": "step",
        **interp.base_request(project, config),
        "url": config.get_main_option("sqlalchemy.url"),
        "revision": revision,
        "direction": state.direction,
        "setup_sql": setup_sql,
        "identity": list(target_identity(monitor)),
        "driver": driver,
        "hand_connection": driver not in ASYNC_DRIVERS,
    }
    key = str(project.script_location)
    # code that builds its engine from the project's own settings reaches this step's database through them
    extra_env = {project.dsn_env: request["url"]} if getattr(project, "dsn_env", None) else None
    child = interp.take(project.python, key, extra_env)
    child.send(request)
    killed = threading.Event()

    def interrupt() -> None:
        if state.armed:
            state.armed = False
            killed.set()
            child.kill()

    watchdog = _Watchdog(state, monitor, step.limits, step.sink, interrupt)
    deadline = _Deadline(state, step.limits, interrupt, step.sink, step.hard_stop)
    outcome: dict[str, Any] | None = None
    started = time.monotonic()
    watchdog.start()
    deadline.start()
    try:
        for message in child.messages():
            kind = message.get("event")
            if kind == "connected":
                state.pid = int(message["pid"])
                state.hooked = True
            elif kind == "engine" and message.get("used") not in step._reported:
                step._reported.add(message.get("used"))
                step.sink(
                    Message(
                        text=f"{revision}: env.py connects through its own engine ({message.get('used')}), not the "
                        f"postgresql+{driver} URL migtui gave it; same database, migtui's settings applied",
                        level="info",
                    )
                )
            elif kind == "body":
                state.in_body = state.body_started = True
            elif kind == "statement":
                if message.get("pid"):
                    state.pid = int(message["pid"])
                transactional = bool(message.get("transactional", True))
                state.statements += 1
                state.current_sql = message.get("sql", "")
                if not transactional:
                    state.non_transactional_ran = True
                step.sink(
                    StatementStarted(
                        revision=revision,
                        index=state.statements,
                        sql=redact_sql(str(message.get("sql", "")).strip()),
                        transactional=transactional,
                    )
                )
                capture.record_external(
                    revision,
                    str(message.get("inlined") or message.get("sql") or ""),
                    transactional,
                    message.get("line"),
                    int(message.get("executemany") or 0),
                )
            elif kind == "statement_done":
                capture.finish_external(float(message.get("seconds") or 0.0), message.get("error"))
            elif kind in ("done", "error"):
                outcome = message
    finally:
        state.armed = False
        state.finished = True
        state.in_body = False
        deadline.stop_event.set()
        if not watchdog.stop():  # still inside a query on the monitor connection: never close it under it
            step._monitor = None
            step._owns_monitor = True
        alive = child.proc.poll() is None
        if outcome is None:
            child.kill()
        if outcome is None or outcome.get("event") != "done":
            child.ended = False  # after a failure the project's own state in that process is suspect: a new one
        elif step._monitor is not None and _sessions_left(step, revision):
            # the project kept a session of this step open (its own engine's pool, a session left idle in
            # transaction): ending the process closes it, so it cannot block the next revision's locks
            child.ended = False
            step.sink(
                Message(
                    text=f"{revision}: the project's code kept a database session open after the revision; "
                    "migtui ended its interpreter to close it (a new one runs the next revision)",
                    level="info",
                )
            )
        interp.give_back(child, key)  # kept for the next step only when it answered to its end
        if outcome is None and alive and state.pid and step._monitor is not None:
            # migtui stopped (Ctrl-C, an error here) while the child ran: its session must not linger
            try:
                pg_progress.terminate_backend(step._monitor, state.pid)
            except Exception:
                pass
    seconds = time.monotonic() - started
    if outcome is None:
        if killed.is_set() or state.terminated:
            capture.fail_external(revision, seconds, "interrupted")
            raise StepInterrupted()
        raise child.silent(f"revision {revision} ({state.direction})")
    if outcome.get("event") == "done":
        state.noop = bool(outcome.get("noop"))
        capture.fail_external(revision, seconds, None)
        return
    text = redact_sql(str(outcome.get("message") or ""))
    capture.fail_external(revision, seconds, text)
    if outcome.get("interrupted"):
        raise KeyboardInterrupt
    kind = outcome.get("kind")
    partial = (
        " (statements run outside the transaction, e.g. in autocommit_block(), were NOT rolled back)"
        if state.non_transactional_ran
        else ""
    )
    if kind == "project":
        raise ProjectError(text)
    if kind == "step":
        raise MigrationFailed(text)
    if kind == "child":
        raise ProjectError(f"the project's interpreter {child.python} failed on revision {revision}: {text}")
    states = list(outcome.get("sqlstates") or [])
    if not state.body_started and not states and not outcome.get("driver_error"):
        where = outcome.get("where") or "env.py"
        raise ProjectError(f"{where} failed before revision {revision} ran: {text}")
    if "55P03" in states:
        raise ChildLockTimeout(text)
    raise MigrationFailed(f"revision {revision} ({state.direction}) failed: {text}{partial}")


def _sessions_left(step: Any, revision: str) -> bool:
    """Whether a session that ran this step (its ``application_name``) is still connected to the target."""
    from migtui.runner.step import application_name

    name = application_name(step.job, revision, step.scope).replace("%", "")
    try:
        with step._monitor.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,))
            row = cur.fetchone()
    except Exception:
        return True  # cannot tell: do not keep the process
    return bool(row and row[0])
