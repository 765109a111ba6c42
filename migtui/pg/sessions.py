"""Acting on other sessions: read one backend's facts, cancel its query or terminate it, and the pre-flight
list of sessions in an apply's way. Headless (the TUI's Monitor and Apply views use it; a CLI could too).

    facts = session_facts(dsn, pid)                  # what the confirmation shows
    signal_session(dsn, facts, "terminate")          # acts only on that very backend (pid + backend_start)
    preflight(dsn, {"public.accounts"}, 60.0)        # sessions holding / waiting for locks, long transactions
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from migtui.errors import ConnectionFailed, ExitCode, MigtuiError
from migtui.pg.connect import connect, describe_error
from migtui.pg.queries import QUERIES, load_query

APPLICATION_NAME = "migtui-sessions"
STATEMENT_TIMEOUT_SECONDS = 5  # the server's bound on each of these reads
ACTIONS = ("cancel", "terminate")


class SessionActionRefused(MigtuiError):
    """The server refused to signal the backend (no privilege), or it is gone."""

    exit_code = ExitCode.CONNECTION


@dataclass(frozen=True)
class SessionFacts:
    pid: int
    application_name: str
    user: str | None
    state: str | None
    xact_age: float | None
    state_age: float | None
    backend_start: datetime
    query: str
    locks: tuple[str, ...] = ()  # pre-flight: "holds AccessShareLock on public.accounts", ...

    def describe(self) -> str:
        """ "pid 123 [psql] idle in transaction for 12 s (transaction 40 s)"."""
        from migtui.pg.monitor import age_words

        text = f"pid {self.pid} [{self.application_name or '-'}] {self.state or '-'}"
        if self.state_age is not None:
            text += f" for {age_words(self.state_age)}"
        if self.xact_age is not None:
            text += f" (transaction {age_words(self.xact_age)})"
        return text


def _run(dsn: str, name: str, params: dict[str, Any]) -> list[tuple]:
    import psycopg

    options = f"-c statement_timeout={STATEMENT_TIMEOUT_SECONDS * 1000}"
    with connect(dsn, application_name=APPLICATION_NAME, options=options) as conn:
        try:
            return conn.execute(load_query(QUERIES, name), params).fetchall()
        except psycopg.errors.InsufficientPrivilege as exc:
            raise SessionActionRefused(f"refused by the server: {describe_error(exc)}") from None
        except psycopg.OperationalError as exc:
            raise ConnectionFailed(describe_error(exc)) from None
        except psycopg.Error as exc:
            raise MigtuiError(describe_error(exc), ExitCode.CONNECTION) from None


def session_facts(dsn: str, pid: int) -> SessionFacts:
    rows = _run(dsn, "session_facts", {"pid": pid})
    if not rows:
        raise SessionActionRefused(f"pid {pid} is not a session of this server any more")
    return SessionFacts(*rows[0])


def signal_session(dsn: str, facts: SessionFacts, action: str) -> str:
    """Cancel the query of / terminate the backend ``facts`` describes; the one-line result. Raises
    SessionActionRefused without the privilege (pg_signal_backend, the same role, or superuser for a
    superuser's backend) or when that backend has ended (a new backend with the same pid is left alone)."""
    if action not in ACTIONS:
        raise MigtuiError(f"unknown session action {action!r}: use cancel or terminate")
    rows = _run(
        dsn,
        "session_signal",
        {"pid": facts.pid, "cancel": action == "cancel", "backend_start": facts.backend_start},
    )
    if not rows or rows[0][0] is None:
        raise SessionActionRefused(f"pid {facts.pid} has ended: nothing to {action}")
    if not rows[0][0]:
        raise SessionActionRefused(f"pid {facts.pid}: the server did not signal it (it may have just ended)")
    if action == "cancel":
        return f"cancelled the running query of pid {facts.pid} [{facts.application_name or '-'}]"
    return f"terminated pid {facts.pid} [{facts.application_name or '-'}]: its transaction is rolled back"


def preflight(dsn: str, relations: set[str] | list[str], long_seconds: float) -> list[SessionFacts]:
    """Sessions in an apply's way: holding or waiting for a lock on ``relations``, or with a transaction
    older than ``long_seconds``; oldest transaction first."""
    rows = _run(dsn, "preflight_sessions", {"relations": sorted(relations), "long_seconds": float(long_seconds)})
    return [
        SessionFacts(r[0], r[1] or "", r[2], r[3], r[4], r[5], r[6], r[8] or "", tuple(sorted(r[7] or ())))
        for r in rows
    ]
