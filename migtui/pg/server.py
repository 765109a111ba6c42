"""What a server is and, for a standby, how far behind it is: read by the TUI's overview and dry-run's target.

Each function takes an open psycopg connection, or a session whose ``query(statement, params)`` returns the
rows (dry-run's read-only session, which runs every query in its own short read-only transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from migtui.pg.queries import QUERIES, load_query

if TYPE_CHECKING:
    import psycopg


class QuerySession(Protocol):
    """Runs one statement and returns its rows (dry-run's ReadOnlySession)."""

    def query(self, statement: Any, params: Any = None) -> list[tuple]: ...


@dataclass(frozen=True)
class ServerFacts:
    server_version: str  # as the server spells it, e.g. "16.4 (Debian 16.4-1)"
    server_version_num: int
    in_recovery: bool  # a standby
    current_wal_lsn: str | None  # a primary's current WAL write position; None on a standby

    @property
    def version(self) -> str:
        """The version number alone, e.g. ``16.4``."""
        return self.server_version.split(" ")[0]

    @property
    def pg_version(self) -> int:
        return self.server_version_num // 10000


@dataclass(frozen=True)
class ReplicaLag:
    """A standby's replication state, as the standby sees it."""

    receive_lsn: str | None
    replay_lsn: str | None
    replay_lag_bytes: int | None  # WAL received but not yet replayed
    seconds_since_last_replay: float | None  # grows while the primary is idle too: not lag by itself
    # pg_stat_wal_receiver.status ("streaming"), None when not streaming, "unknown" when a receiver runs but
    # this role may not read its status (no pg_read_all_stats)
    wal_receiver: str | None


def _rows(conn: psycopg.Connection | QuerySession, statement: str, params: Any = None) -> list[tuple]:
    import psycopg

    if isinstance(conn, psycopg.Connection):
        return conn.execute(statement, params).fetchall()
    return conn.query(statement, params)


def read_server_facts(conn: psycopg.Connection | QuerySession) -> ServerFacts:
    """Version, standby or not, and a primary's current WAL position."""
    version, version_num, in_recovery, wal_lsn = _rows(conn, load_query(QUERIES, "server_facts"))[0]
    return ServerFacts(str(version), int(version_num), bool(in_recovery), wal_lsn)


def read_replica_lag(conn: psycopg.Connection | QuerySession) -> ReplicaLag:
    """A standby's received/replayed WAL positions, the bytes between them, and its WAL receiver's status."""
    receive, replay, replay_bytes, seconds, receiver = _rows(conn, load_query(QUERIES, "replica_lag"))[0]
    return ReplicaLag(receive, replay, None if replay_bytes is None else max(0, int(replay_bytes)), seconds, receiver)


def wal_distance(conn: psycopg.Connection | QuerySession, ahead_lsn: str, behind_lsn: str) -> int:
    """Bytes of WAL from ``behind_lsn`` to ``ahead_lsn`` (negative when it is not behind)."""
    return int(_rows(conn, load_query(QUERIES, "wal_distance"), (ahead_lsn, behind_lsn))[0][0])
