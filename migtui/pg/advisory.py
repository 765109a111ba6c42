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


# -- the scope of a deploy: (database, version table) --------------------------------------------------------
# Advisory locks live in one database; the deploy key is derived from the schema-qualified version table
# (``version_table.advisory_key``). The sessions a deploy runs revisions in carry the same scope at the end of
# their application_name (``migtui up a2 @1f2e3d4c``), so the sweep for sessions left behind by a dead runner
# matches only the sessions of its own version table: a deploy of another version table in the same database
# (schema- or table-per-tenant) is never touched.

ORPHAN_STATEMENT = (
    "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND application_name ~ %s"
)


def scope_tag(key: int) -> str:
    """The 8-hex-digit tag of a deploy key, as it ends the application_name of that deploy's sessions."""
    return f"{(key & 0xFFFFFFFFFFFFFFFF) >> 32:08x}"


def orphan_pattern(tag: str) -> str:
    """The regex for the migration sessions ("migtui up <rev> @tag", "migtui down <rev> @tag") of one scope;
    migtui's own helper sessions ("[lock]", "[watch]") never match."""
    return rf"^migtui (up|down) [^\[].* @{tag}$"


def migration_sessions(conn, key: int) -> list[tuple[int, str]]:
    """(pid, application_name) of the sessions running revisions for deploy scope ``key``, other than ours."""
    rows = conn.execute(ORPHAN_STATEMENT, (orphan_pattern(scope_tag(key)),)).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]


# -- the phase driver's per-revision lock -------------------------------------------------------------------
# ``migtui phase run/advance/abort`` holds a two-key session lock (PHASE_LOCK_CLASS, hashtext(revision)) for as
# long as it drives a revision. A deploy refuses to apply or revert a revision a driver holds, and a driver
# refuses to start while a deploy of its version table runs, so the two never change one revision at once.

PHASE_LOCK_CLASS = 0x6D706873  # 'mphs'


@dataclass(frozen=True)
class PhaseHolder:
    revision: str
    pid: int
    application_name: str
    since: str  # when the holding session connected ('' when another role's session hides it)


def phase_lock_holders(conn, revisions: list[str] | tuple[str, ...], *, ignore_pids: frozenset[int] = frozenset()):
    """Phase drivers holding the lock of any of ``revisions`` in this database (except ``ignore_pids``)."""
    if not revisions:
        return []
    rows = conn.execute(load_query(QUERIES, "phase_lock_holders"), (list(revisions), PHASE_LOCK_CLASS)).fetchall()
    return [PhaseHolder(str(r[0]), int(r[1]), r[2], r[3]) for r in rows if int(r[1]) not in ignore_pids]


def held_by_other(conn, key: int) -> list[LockHolder]:
    """Sessions other than ``conn``'s holding the deploy lock ``key``."""
    own = conn.info.backend_pid
    return [h for h in lock_holders(conn, key) if h.pid != own]
