"""A real lock queue on a real server, for the monitor and TUI tests.

with blocked_chain(dsn) as chain:   # holders A and D, DDL B waits for both, reader C queued behind B
    chain.holders, chain.ddl_pid, chain.reader_pid
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field

import psycopg


@dataclass
class BlockedChain:
    holders: list[int] = field(default_factory=list)
    ddl_pid: int = 0
    reader_pid: int = 0
    errors: list[str] = field(default_factory=list)


def _pid(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def wait_until(predicate, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


@contextlib.contextmanager
def blocked_chain(dsn: str, table: str = "monitored", with_reader: bool = True):
    """Two sessions hold ACCESS SHARE on ``table`` in open transactions; a third runs ALTER TABLE (waits for
    both); a fourth (optional) SELECTs and queues behind the ALTER. Everything is cancelled on exit."""
    setup = psycopg.connect(dsn, autocommit=True)
    setup.execute(f"CREATE TABLE IF NOT EXISTS {table} (id int primary key)")
    chain = BlockedChain()
    holders = [psycopg.connect(dsn, application_name="test-holder") for _ in range(2)]
    ddl = psycopg.connect(dsn, autocommit=True, application_name="test-ddl")
    reader = psycopg.connect(dsn, autocommit=True, application_name="test-reader") if with_reader else None
    threads: list[threading.Thread] = []

    def run(conn: psycopg.Connection, sql: str) -> None:
        try:
            conn.execute(sql)
        except psycopg.Error as exc:
            chain.errors.append(str(exc).splitlines()[0])

    try:
        for h in holders:
            h.execute(f"SELECT count(*) FROM {table}")
            chain.holders.append(_pid(h))
        chain.ddl_pid = _pid(ddl)
        t = threading.Thread(target=run, args=(ddl, f"ALTER TABLE {table} ADD COLUMN extra int"), daemon=True)
        t.start()
        threads.append(t)

        def waiting(pid: int) -> bool:
            rows = setup.execute(
                "SELECT cardinality(pg_blocking_pids(%s)) FROM pg_stat_activity WHERE pid = %s", (pid, pid)
            ).fetchall()
            return bool(rows and rows[0][0])

        assert wait_until(lambda: waiting(chain.ddl_pid)), "ALTER TABLE never blocked"
        if reader is not None:
            chain.reader_pid = _pid(reader)
            t = threading.Thread(target=run, args=(reader, f"SELECT count(*) FROM {table}"), daemon=True)
            t.start()
            threads.append(t)
            assert wait_until(lambda: waiting(chain.reader_pid)), "reader never queued"
        yield chain
    finally:
        for pid in (chain.reader_pid, chain.ddl_pid):
            if pid:
                setup.execute("SELECT pg_cancel_backend(%s)", (pid,))
        for h in holders:
            with contextlib.suppress(psycopg.Error):
                h.rollback()
        for t in threads:
            t.join(10)
        for conn in (*holders, ddl, reader):
            if conn is not None:
                conn.close()
        setup.execute(f"DROP TABLE IF EXISTS {table}")
        setup.close()
