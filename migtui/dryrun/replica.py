"""The dry-run replica: is it a replica, how far behind is it, which revision does it record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from migtui.dryrun.session import QueryFailed, ReadOnlySession
from migtui.errors import UsageError
from migtui.redact import redact_dsn


@dataclass
class Lag:
    """Replication lag of a standby, as the standby sees it (and the primary, when --dsn is given)."""

    receive_lsn: str | None = None
    replay_lsn: str | None = None
    replay_lag_bytes: int | None = None  # WAL received but not yet replayed
    seconds_since_last_replay: float | None = None  # grows while the primary is idle too: not lag by itself
    primary_lsn: str | None = None
    behind_primary_bytes: int | None = None  # primary's current WAL position minus replay position
    wal_receiver: str | None = None  # pg_stat_wal_receiver.status ("streaming"), None when not streaming


@dataclass
class Replica:
    dsn: str  # redacted
    role: str  # "replica" | "primary"
    server_version: str
    pg_version: int
    version_table: str  # qualified, as found
    current_revisions: tuple[str, ...]
    primary_revisions: tuple[str, ...] | None = None  # the primary's version table, when --dsn is given
    lag: Lag | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["current_revisions"] = list(self.current_revisions)
        if self.primary_revisions is not None:
            data["primary_revisions"] = list(self.primary_revisions)
        return data


def _version_table_name(session: ReadOnlySession, table: str, schema: str | None) -> str | None:
    """The version table as a qualified, quoted name, or None when it does not exist."""
    from psycopg import sql

    ident = sql.Identifier(schema, table) if schema else sql.Identifier(table)
    name = session.scalar(sql.SQL("SELECT to_regclass(%s)::text"), (ident.as_string(None),))
    return str(name) if name else None


def read_version_table(session: ReadOnlySession, table: str, schema: str | None) -> tuple[str, tuple[str, ...]]:
    """(qualified table name, recorded revisions). Raises UsageError when the table is missing."""
    from psycopg import sql

    name = _version_table_name(session, table, schema)
    if name is None:
        where = f"{schema}.{table}" if schema else table
        raise UsageError(
            f"no version table {where} on {redact_dsn(session.dsn)}: not an alembic-managed database "
            "(wrong database, or set version_table / version_table_schema)"
        )
    ident = sql.Identifier(schema, table) if schema else sql.Identifier(table)
    rows = session.query(sql.SQL("SELECT version_num FROM {} ORDER BY 1").format(ident))
    return name, tuple(str(r[0]) for r in rows)


def _lag(session: ReadOnlySession) -> Lag:
    from migtui.pg.server import read_replica_lag

    lag = read_replica_lag(session)
    return Lag(
        lag.receive_lsn,
        lag.replay_lsn,
        lag.replay_lag_bytes,
        lag.seconds_since_last_replay,
        wal_receiver=lag.wal_receiver,
    )


def inspect_replica(
    dsn: str,
    session: ReadOnlySession,
    *,
    allow_primary: bool,
    version_table: str,
    version_table_schema: str | None,
    primary: ReadOnlySession | None = None,
) -> Replica:
    """Check the server is what the user said it is, read its lag and its recorded revision."""
    from migtui.pg.server import read_server_facts

    facts = read_server_facts(session)
    in_recovery, version, version_num = facts.in_recovery, facts.server_version, facts.server_version_num
    if not in_recovery and not allow_primary:
        raise UsageError(
            f"{redact_dsn(dsn)} is a primary, not a read replica (pg_is_in_recovery() is false): "
            "pass --allow-primary to dry-run against it read-only"
        )
    table_name, current = read_version_table(session, version_table, version_table_schema)
    target = Replica(
        dsn=redact_dsn(dsn) or "",
        role="replica" if in_recovery else "primary",
        server_version=version,
        pg_version=version_num // 10000,
        version_table=table_name,
        current_revisions=current,
    )
    if in_recovery:
        target.lag = _lag(session)
        if target.lag.wal_receiver not in ("streaming", "unknown"):
            target.warnings.append("the replica is not streaming from its primary (no active WAL receiver)")
        if target.lag.replay_lag_bytes:
            target.warnings.append(
                f"the replica has {target.lag.replay_lag_bytes} bytes of received WAL not yet replayed"
            )
    if primary is not None and in_recovery:
        _compare_with_primary(target, session, primary, version_table, version_table_schema)
    return target


LAG_WARNING_BYTES = 16 * 1024 * 1024  # one WAL segment: less is normal on a busy primary


def _compare_with_primary(
    target: Replica, replica: ReadOnlySession, primary: ReadOnlySession, table: str, schema: str | None
) -> None:
    from migtui.pg.server import wal_distance

    try:
        lsn = primary.scalar("SELECT pg_current_wal_insert_lsn()::text")
        assert target.lag is not None
        target.lag.primary_lsn = lsn
        if target.lag.replay_lsn:
            behind = wal_distance(replica, lsn, target.lag.replay_lsn)
            target.lag.behind_primary_bytes = max(0, int(behind))
            if behind and behind > LAG_WARNING_BYTES:
                target.warnings.append(f"the replica is {int(behind)} bytes of WAL behind the primary")
        try:
            _name, revisions = read_version_table(primary, table, schema)
        except UsageError:
            revisions = ()
        target.primary_revisions = revisions
        if revisions != target.current_revisions:
            target.warnings.append(
                "the replica is behind: the primary records revision "
                f"{', '.join(revisions) or '(none)'}, the replica {', '.join(target.current_revisions) or '(none)'}"
            )
    except QueryFailed as exc:
        target.warnings.append(f"cannot compare with the primary: {exc.message}")


_ACTIVITY_SQL = """
SELECT count(DISTINCT l.pid), coalesce(max(extract(epoch FROM now() - a.xact_start)), 0)::float8
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'relation' AND l.relation = to_regclass(%s) AND l.pid <> pg_backend_pid()
"""


def table_activity(primary: ReadOnlySession, table: str) -> dict[str, float | int] | None:
    """Sessions holding a lock on ``table`` on the primary right now, and the age of the oldest one's
    transaction: an ACCESS EXCLUSIVE request queues behind them and blocks every later query on the table."""
    try:
        row = primary.query(_ACTIVITY_SQL, (table,))[0]
    except QueryFailed:
        return None
    return {"sessions": int(row[0]), "oldest_transaction_seconds": round(float(row[1]), 1)}
