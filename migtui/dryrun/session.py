"""Strictly read-only queries on the dry-run target (a hot standby, or a primary with --allow-primary).

Every query runs in its own short ``READ ONLY`` transaction with a ``statement_timeout``, so a slow query is
cancelled by the server, no snapshot is held open between queries (fewer recovery conflicts), and nothing
can be written even on a primary. Ctrl-C during a query: psycopg sends a cancel request to the server before
``KeyboardInterrupt`` propagates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from migtui.errors import ConnectionFailed
from migtui.pg.connect import connect, describe_error

APPLICATION_NAME = "migtui-dry-run"


class QueryFailed(Exception):
    """A query on the target failed; ``reason`` says how.

    reason: "timeout" (statement_timeout), "recovery_conflict" (the standby cancelled it), "missing" (a table
    or column the query needs does not exist there yet, e.g. created earlier in the same migration),
    "error" (anything else).
    """

    def __init__(self, reason: str, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.sqlstate = sqlstate


@dataclass
class QueryStats:
    """What this session did to the target, for the report and the benchmark."""

    queries: int = 0
    seconds: float = 0.0
    timeouts: int = 0
    recovery_conflicts: int = 0
    reconnects: int = 0


def _classify(exc: BaseException) -> QueryFailed:
    import psycopg.errors as e

    sqlstate = getattr(exc, "sqlstate", None)
    message = describe_error(exc)
    if isinstance(exc, e.QueryCanceled):
        return QueryFailed("timeout", message, sqlstate)
    if "conflict with recovery" in str(exc) or (sqlstate in ("40001", "40P01") and "recovery" in str(exc)):
        return QueryFailed("recovery_conflict", message, sqlstate)
    if isinstance(exc, e.UndefinedTable | e.UndefinedColumn | e.UndefinedObject | e.UndefinedFunction):
        return QueryFailed("missing", message, sqlstate)
    return QueryFailed("error", message, sqlstate)


class ReadOnlySession:
    """One connection to the target; ``query()`` runs one read-only statement under a timeout."""

    def __init__(self, dsn: str, *, statement_timeout: float = 30.0, application_name: str = APPLICATION_NAME):
        self.dsn = dsn
        self.statement_timeout = statement_timeout
        self.application_name = application_name
        self.stats = QueryStats()
        self._conn: Any = None
        self._connect()

    def _connect(self) -> None:
        ms = max(1, int(self.statement_timeout * 1000))
        self._conn = connect(
            self.dsn,
            application_name=self.application_name,
            autocommit=True,
            # no parallel workers: one backend per query keeps the dry-run's footprint on the replica small
            options=f"-c default_transaction_read_only=on -c statement_timeout={ms} "
            f"-c idle_in_transaction_session_timeout={ms + 5000} -c max_parallel_workers_per_gather=0",
        )

    def cancel(self) -> None:
        """Cancel the query running now (from any thread); it fails as a timeout would."""
        conn = self._conn
        if conn is not None and not conn.closed:
            try:
                conn.cancel()
            except Exception:  # the connection went away meanwhile: nothing runs
                pass

    @property
    def backend_pid(self) -> int:
        return int(self._conn.info.backend_pid)

    def query(self, statement: Any, params: Any = None, *, timeout: float | None = None) -> list[tuple]:
        """Run one statement in a fresh READ ONLY transaction; raise QueryFailed on any server error."""

        def work(conn: Any) -> list[tuple]:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

        return self._in_transaction(work, timeout)

    def query_then(
        self, statement: Any, params: Any, follow_up: Any, follow_params: Any = None, *, timeout: float | None = None
    ) -> tuple[list[tuple], list[tuple]]:
        """Two statements in one READ ONLY transaction (e.g. a count, then what this backend's transaction
        read according to ``pg_stat_xact_user_tables``)."""

        def work(conn: Any) -> tuple[list[tuple], list[tuple]]:
            first = conn.execute(statement, params).fetchall()
            return first, conn.execute(follow_up, follow_params).fetchall()

        return self._in_transaction(work, timeout)

    def _in_transaction(self, work: Any, timeout: float | None) -> Any:
        import psycopg

        ms = max(1, int((self.statement_timeout if timeout is None else timeout) * 1000))
        started = time.monotonic()
        self.stats.queries += 1
        for attempt in (1, 2):
            if self._conn is None or self._conn.closed:
                self._reconnect()
            try:
                with self._conn.transaction():
                    self._conn.execute("SET TRANSACTION READ ONLY")
                    self._conn.execute(f"SET LOCAL statement_timeout = {ms}")
                    result = work(self._conn)
                self.stats.seconds += time.monotonic() - started
                return result
            except psycopg.OperationalError as exc:
                # the standby may terminate the whole session on a recovery conflict: reconnect once
                failure = _classify(exc)
                if self._conn.closed and attempt == 1:
                    self._record(failure)
                    if failure.reason == "recovery_conflict":
                        self.stats.seconds += time.monotonic() - started
                        raise failure from None
                    continue
                self._record(failure)
                self.stats.seconds += time.monotonic() - started
                raise failure from None
            except psycopg.Error as exc:
                failure = _classify(exc)
                self._record(failure)
                self.stats.seconds += time.monotonic() - started
                raise failure from None
        raise QueryFailed("error", "query failed after reconnecting")  # pragma: no cover

    def _record(self, failure: QueryFailed) -> None:
        if failure.reason == "timeout":
            self.stats.timeouts += 1
        elif failure.reason == "recovery_conflict":
            self.stats.recovery_conflicts += 1

    def _reconnect(self) -> None:
        self.close()
        self.stats.reconnects += 1
        try:
            self._connect()
        except ConnectionFailed:
            raise

    def scalar(self, statement: Any, params: Any = None, *, timeout: float | None = None) -> Any:
        rows = self.query(statement, params, timeout=timeout)
        return rows[0][0] if rows else None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # pragma: no cover - closing a broken connection
                pass
            self._conn = None

    def __enter__(self) -> ReadOnlySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
