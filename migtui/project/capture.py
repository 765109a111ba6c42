"""Capture every statement a revision's upgrade() sends while it runs for real (online, through SQLAlchemy).

Dry-run's shadow runs pending revisions on a throwaway copy of the target's schema this way; lint renders a
revision that cannot be rendered offline (it reads the database, or raises in ``--sql`` mode) the same way on a
scratch database. Hooks alembic's RevisionStep (which revision is running) and SQLAlchemy's cursor events.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from migtui.redact import error_line


@dataclass
class ObservedLock:
    relation: str
    kind: str  # "table" | "index" | "sequence" | "view" | ...
    mode: str  # e.g. "AccessExclusiveLock"
    created: bool = False  # the statement created this relation (a lock nobody else can wait for)

    def to_dict(self) -> dict[str, Any]:
        return {"relation": self.relation, "kind": self.kind, "mode": self.mode, "created": self.created}


@dataclass
class ShadowStatement:
    revision: str
    index: int  # position within the revision, from 0
    sql: str  # as sent, with parameters inlined
    transactional: bool
    seconds: float = 0.0
    error: str | None = None  # the error the statement raised on the shadow (the revision stops there)
    observed_locks: list[ObservedLock] | None = None  # None: not observable (outside a transaction)
    rewritten: list[str] = field(default_factory=list)  # tables whose relfilenode changed
    scanned: list[str] = field(default_factory=list)  # tables with a sequential scan by this statement
    executemany: int = 0  # executed for N parameter sets (op.bulk_insert)
    line: int | None = None  # the line in the revision file that sent it (the op.* call)
    # a phased revision's statements: "expand" (its upgrade), "migrate" / "contract" (replayed from the plan it
    # stored, after every pending revision: what ``migtui phase run`` will run later); None for other revisions
    phase: str | None = None
    _raw: tuple[str, Any, bool] | None = field(default=None, repr=False)  # statement, params, many (replay)


@dataclass
class ShadowRevision:
    revision: str
    seconds: float = 0.0
    error: str | None = None
    statements: list[ShadowStatement] = field(default_factory=list)


def _inline(cursor: Any, statement: str, parameters: Any) -> str:
    """The statement with its parameters inlined, as PostgreSQL would see it (psycopg 3 or psycopg2; asyncpg's
    ``$n`` statements are kept as sent: its driver sends ``%`` unchanged and binds server-side)."""
    try:
        import psycopg

        if "asyncpg" in type(cursor).__module__:
            return statement
        if not parameters:
            return statement.replace("%%", "%") if parameters is not None and parameters == {} else statement
        if isinstance(cursor, psycopg.Cursor):
            return psycopg.ClientCursor(cursor.connection).mogrify(statement, parameters)
        text = cursor.mogrify(statement, parameters)  # psycopg2
        return text.decode() if isinstance(text, bytes) else str(text)
    except Exception:
        return statement


def _is_catalog_read(sql: str) -> bool:
    low = sql.lstrip().lower()
    return low.startswith(("select", "show", "with")) and ("pg_catalog." in low or "information_schema." in low)


_EXTERNAL = threading.local()  # the capture active on this thread, for statements run by a child process


def record_external(revision: str, sql: str, transactional: bool, line: int | None, executemany: int) -> None:
    """A statement the project's interpreter sent (``python`` setting: migtui.runner.child_step streams them
    back), recorded like one seen in this process, when a capture is active on this thread."""
    by_id = getattr(_EXTERNAL, "by_id", None)
    if by_id is None or revision not in by_id or _is_catalog_read(sql):
        _EXTERNAL.current = None
        return
    rev = by_id[revision]
    stmt = ShadowStatement(
        revision=revision,
        index=len(rev.statements),
        sql=sql.strip(),
        transactional=transactional,
        executemany=executemany,
        line=line,
    )
    # replayed by dry-run's observation as inlined (a bulk insert: its first row only)
    stmt._raw = (stmt.sql, None, False)
    rev.statements.append(stmt)
    _EXTERNAL.current = stmt


def finish_external(seconds: float, error: str | None) -> None:
    """The end of the statement last recorded by :func:`record_external`."""
    current = getattr(_EXTERNAL, "current", None)
    if current is not None:
        current.seconds = seconds
        current.error = error
        _EXTERNAL.current = None


def fail_external(revision: str, seconds: float, error: str | None) -> None:
    """The revision's own outcome, as the in-process capture records it."""
    by_id = getattr(_EXTERNAL, "by_id", None)
    rev = by_id.get(revision) if by_id else None
    if rev is not None:
        rev.seconds = seconds
        if error and rev.error is None:
            rev.error = error


@contextlib.contextmanager
def capture_statements(revisions: list[ShadowRevision]) -> Iterator[None]:
    """While active, every statement sent by a revision's upgrade() lands in ``revisions`` (in order).

    Hooks alembic's RevisionStep (to know which revision is running) and SQLAlchemy's cursor events.
    """
    from alembic.runtime import migration
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    by_id = {r.revision: r for r in revisions}
    paths: dict[str, str] = {}
    state = threading.local()
    original_init = migration.RevisionStep.__init__

    owner = threading.get_ident()

    def init(self, revision_map, revision, is_upgrade):  # type: ignore[no-untyped-def]
        original_init(self, revision_map, revision, is_upgrade)
        if threading.get_ident() != owner:  # another thread's alembic run (e.g. the TUI applying migrations)
            return
        fn = self.migration_fn
        rev_id = revision.revision
        if revision.path:
            paths[rev_id] = os.path.realpath(revision.path)

        def run_revision(**kw):  # type: ignore[no-untyped-def]
            state.revision = rev_id
            started = time.monotonic()
            try:
                return fn(**kw)
            except BaseException as exc:
                rev = by_id.get(rev_id)
                if rev is not None and rev.error is None:
                    rev.error = error_line(exc, driver_error=True)
                raise
            finally:
                rev = by_id.get(rev_id)
                if rev is not None:
                    rev.seconds = time.monotonic() - started
                state.revision = None

        run_revision.__name__ = fn.__name__
        self.migration_fn = run_revision

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        rev_id = getattr(state, "revision", None)
        if rev_id is None or rev_id not in by_id:
            return
        first = parameters[0] if executemany and parameters else parameters
        sql = _inline(cursor, statement, first)
        if _is_catalog_read(sql):
            return
        rev = by_id[rev_id]
        stmt = ShadowStatement(
            revision=rev_id,
            index=len(rev.statements),
            sql=sql.strip(),
            transactional=not bool(getattr(conn.connection.dbapi_connection, "autocommit", False)),
            executemany=len(parameters) if executemany else 0,
            line=_caller_line(paths.get(rev_id)),
        )
        stmt._raw = (statement, parameters, bool(executemany))
        rev.statements.append(stmt)
        state.current = (stmt, time.monotonic())

    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        current = getattr(state, "current", None)
        if current is not None:
            current[0].seconds = time.monotonic() - current[1]
            state.current = None

    def on_error(ctx):  # type: ignore[no-untyped-def]
        current = getattr(state, "current", None)
        if current is not None:
            current[0].seconds = time.monotonic() - current[1]
            current[0].error = error_line(ctx.original_exception, driver_error=True)
            state.current = None

    migration.RevisionStep.__init__ = init  # type: ignore[method-assign]
    _EXTERNAL.by_id = by_id
    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    event.listen(Engine, "handle_error", on_error)
    try:
        yield
    finally:
        _EXTERNAL.by_id = None
        migration.RevisionStep.__init__ = original_init  # type: ignore[method-assign]
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
        event.remove(Engine, "handle_error", on_error)


def _caller_line(path: str | None) -> int | None:
    """The innermost line of the revision file on the current stack (the op.* call that sent the SQL)."""
    if path is None:
        return None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == path or os.path.realpath(frame.f_code.co_filename) == path:
            return frame.f_lineno
        frame = frame.f_back
    return None
