"""The deploy advisory lock: session-level, taken by polling ``pg_try_advisory_lock``.

Polling instead of a blocking ``pg_advisory_lock``: a blocked advisory-lock waiter is a lock-queue entry
that ``CREATE INDEX CONCURRENTLY`` in another deploy waits for (it waits out every transaction with an older
snapshot), which deadlocks the two runs. A polling waiter holds no snapshot between attempts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from migtui.errors import Interrupted, LockNotAcquired
from migtui.events import EventSink, LockWait, discard
from migtui.pg.queries import QUERIES, load_query


@dataclass(frozen=True)
class LockHolder:
    pid: int
    application_name: str
    since: str  # when the holding session connected (a session-level lock is taken right after connecting)
    state: str


def _split_key(key: int) -> tuple[int, int]:
    """pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits)."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF


def lock_holders(conn, key: int) -> list[LockHolder]:
    """Sessions in this database holding advisory lock ``key`` (normally one)."""
    classid, objid = _split_key(key)
    rows = conn.execute(load_query(QUERIES, "advisory_lock_holders"), (classid, objid)).fetchall()
    return [LockHolder(int(r[0]), r[1], r[2], r[3]) for r in rows]


def try_lock(conn, key: int) -> bool:
    return bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])


def unlock(conn, key: int) -> bool:
    return bool(conn.execute("SELECT pg_advisory_unlock(%s)", (key,)).fetchone()[0])


def acquire(
    conn,
    key: int,
    *,
    wait: float,
    sink: EventSink = discard,
    report_every: float = 5.0,
    poll: float = 0.25,
    cancelled: Callable[[], bool] | None = None,
) -> float:
    """Take advisory lock ``key`` on ``conn`` (autocommit), polling for up to ``wait`` seconds.

    Emits a LockWait event naming the holder when we first find it taken and every ``report_every`` seconds.
    Returns the seconds waited. Raises LockNotAcquired (exit 4) when the wait runs out, Interrupted (130)
    when ``cancelled()`` turns true.
    """
    started = time.monotonic()
    next_report = started
    while True:
        if cancelled is not None and cancelled():
            raise Interrupted("cancelled while waiting for the deploy advisory lock")
        if try_lock(conn, key):
            return time.monotonic() - started
        now = time.monotonic()
        waited = now - started
        if now >= next_report or waited >= wait:
            holders = lock_holders(conn, key)
            holder = holders[0] if holders else None
            who = (
                f"pid {holder.pid} ({holder.application_name or 'no application_name'}), connected {holder.since}"
                if holder
                else "a session that just released it"
            )
            if waited >= wait:
                raise LockNotAcquired(
                    f"another migration run holds the deploy advisory lock: {who}; gave up after {waited:.1f}s "
                    "(--advisory-lock-wait)"
                )
            sink(
                LockWait(
                    what="advisory",
                    holder_pid=holder.pid if holder else None,
                    holder_application=holder.application_name if holder else None,
                    holder_since=holder.since if holder else None,
                    detail=f"deploy advisory lock held by {who}; waiting up to {wait:g}s",
                    waited_seconds=round(waited, 2),
                )
            )
            next_report = now + max(report_every, poll)
        time.sleep(min(poll * random.uniform(0.6, 1.4), max(0.01, wait - waited)))
