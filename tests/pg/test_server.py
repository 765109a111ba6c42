"""migtui.pg.server: what a server is and how far a standby is behind, on a real primary and standby."""

from __future__ import annotations

from migtui.dryrun.session import ReadOnlySession
from migtui.pg.connect import connect
from migtui.pg.server import read_replica_lag, read_server_facts, wal_distance


def test_facts_and_lag_of_a_primary_and_its_standby(primary_and_replica):
    primary, replica = primary_and_replica
    with connect(primary.dsn()) as conn:
        facts = read_server_facts(conn)
    assert not facts.in_recovery
    assert facts.pg_version == 16 and facts.version.startswith("16.")
    assert facts.version == facts.server_version.split(" ")[0]
    assert facts.current_wal_lsn  # a primary's WAL position, for the overview's replica lag in bytes

    primary.execute("CREATE TABLE IF NOT EXISTS server_facts_probe AS SELECT 1 AS one")
    primary.wait_for_replay(replica)
    with connect(replica.dsn()) as conn:
        standby = read_server_facts(conn)
        assert standby.in_recovery and standby.current_wal_lsn is None
        assert standby.server_version_num == facts.server_version_num
        lag = read_replica_lag(conn)
        assert lag.wal_receiver == "streaming"
        assert lag.receive_lsn and lag.replay_lsn
        assert lag.replay_lag_bytes is not None and lag.replay_lag_bytes >= 0
        # replayed past the primary's position read before the CREATE TABLE: not behind it
        assert wal_distance(conn, facts.current_wal_lsn, lag.replay_lsn) <= 0
        assert wal_distance(conn, lag.replay_lsn, lag.replay_lsn) == 0


def test_the_same_reads_through_a_read_only_session(primary_and_replica):
    """Dry-run reads through its ReadOnlySession (one short READ ONLY transaction per query)."""
    _, replica = primary_and_replica
    with ReadOnlySession(replica.dsn()) as session:
        facts = read_server_facts(session)
        lag = read_replica_lag(session)
        assert facts.in_recovery and facts.pg_version == 16
        assert lag.replay_lsn and wal_distance(session, lag.replay_lsn, lag.replay_lsn) == 0
        assert session.stats.queries == 3
