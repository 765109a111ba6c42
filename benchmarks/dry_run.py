"""Benchmark: dry-run of a 10-statement migration against a streaming replica holding a 5M-row table.

    PYTHONPATH=. python benchmarks/dry_run.py [--rows 5000000] [--count-budget 30]

Starts an embedded PostgreSQL 16 primary and a streaming replica, loads ``--rows`` rows with generate_series,
then runs ``migtui.dryrun.job.dry_run`` once and prints: wall time (total and per phase), and the extra load the
dry-run put on the replica, from pg_stat_database / pg_stat_user_tables deltas (transactions, rows returned and
fetched, blocks read) and migtui's own query count. Everything is thrown away at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from migtui.config import Settings
from migtui.dryrun.job import DryRunOptions, run_dry_run
from migtui.events import DryRunStatement
from migtui.pg import harness
from migtui.project.load import AlembicProject
from tests.alembic_projects import Rev, make_project

BASE = Rev(
    "b0",
    "op.execute('CREATE TABLE big (id bigint PRIMARY KEY, email text, status text, amount int, note text)')",
)
# one revision, ten statements
MIGRATION = Rev(
    "ten",
    "\n".join(
        f"op.execute({sql!r})"
        for sql in [
            "ALTER TABLE big ADD COLUMN flag boolean",
            "UPDATE big SET flag = true WHERE id % 100 = 0",
            "DELETE FROM big WHERE id > 4990000",
            "CREATE INDEX ix_big_status ON big (status)",
            "ALTER TABLE big ALTER COLUMN amount TYPE bigint",
            "ALTER TABLE big ALTER COLUMN email SET NOT NULL",
            "ALTER TABLE big ADD CONSTRAINT big_email_uq UNIQUE (email)",
            "ALTER TABLE big ADD CONSTRAINT big_amount_ck CHECK (amount >= 0)",
            "CREATE TABLE big_archive (LIKE big)",
            "INSERT INTO big_archive SELECT * FROM big WHERE id % 1000 = 0",
        ]
    ),
)

_DB_STATS = (
    "SELECT xact_commit + xact_rollback, tup_returned, tup_fetched, blks_read, blks_hit"
    " FROM pg_stat_database WHERE datname = current_database()"
)
_TABLE_STATS = "SELECT coalesce(sum(seq_scan), 0), coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables"


def _replica_stats(replica, db: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(replica.dsn(db), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        xacts, returned, fetched, read, hit = conn.execute(_DB_STATS).fetchone()
        scans, scanned = conn.execute(_TABLE_STATS).fetchone()
    return {
        "transactions": xacts,
        "rows_returned": returned,
        "rows_fetched": fetched,
        "blocks_read": read,
        "blocks_hit": hit,
        "seq_scans": scans,
        "seq_rows_read": scanned,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--count-budget", type=float, default=30.0)
    args = parser.parse_args()
    harness.install_signal_cleanup()
    primary = harness.start_cluster(16, extra_conf="max_wal_size = 4GB\ncheckpoint_timeout = 30min\n")
    try:
        replica = primary.start_replica()
        db = "bench"
        dsn = primary.create_database(db)
        with tempfile.TemporaryDirectory() as tmp:
            project = AlembicProject.load(make_project(Path(tmp), [BASE, MIGRATION]))
            from unittest import mock

            from alembic import command

            with mock.patch("logging.config.fileConfig"):
                command.upgrade(project.config(dsn), "b0")
            t0 = time.monotonic()
            primary.execute(
                "INSERT INTO big SELECT g, 'user' || g || '@example.com', (ARRAY['new','active','gone'])[1 + g % 3],"
                f" (g % 10000)::int, repeat('x', 20) FROM generate_series(1, {args.rows}) g",
                dbname=db,
            )
            primary.execute("ANALYZE big", dbname=db)
            primary.wait_for_replay(replica, timeout=600)
            load_s = time.monotonic() - t0
            size = primary.execute("SELECT pg_total_relation_size('big')", dbname=db)[0][0]
            print(f"loaded {args.rows:,} rows ({size / 2**20:.0f} MB with indexes) in {load_s:.1f}s; replica caught up")
            # warm the replica's cache the way a live replica serving reads would be
            replica.execute("SELECT count(*) FROM big", dbname=db)

            before = _replica_stats(replica, db)
            statements: list[tuple[float, dict]] = []
            started = time.monotonic()

            def sink(event) -> None:
                if isinstance(event, DryRunStatement):
                    statements.append((time.monotonic() - started, event.report))

            settings = Settings(migrations=str(project.script_location), replica_dsn=replica.dsn(db), dsn=dsn)
            report = run_dry_run(settings, DryRunOptions(count_budget=args.count_budget), sink)
            wall = time.monotonic() - started
            time.sleep(1.0)  # let the replica's backends flush their statistics
            after = _replica_stats(replica, db)
        data = report.to_dict()
        shadow_s = data["shadow"]["seconds"] if data["shadow"] else 0.0
        print(
            f"dry-run wall time: {wall:.2f}s (shadow build + run + observe: {shadow_s:.2f}s,"
            f" replica analysis: {wall - shadow_s:.2f}s)"
        )
        print(f"summary: {data['summary']}")
        print(f"throughput used for estimates: {data['throughput']}")
        print("per statement (time since start, rows, estimate):")
        for at, stmt in statements:
            rows = stmt["rows"] or {}
            print(
                f"  {at:6.2f}s  {stmt['sql'][:60]:<60}  rows={rows.get('count')} exact={rows.get('exact')}"
                f"  est={stmt['estimated_seconds']}  warnings={[w['rule'] for w in stmt['warnings']]}"
            )
        print("extra load on the replica (pg_stat deltas for the database, includes the stats queries themselves):")
        for key in before:
            print(f"  {key:<15} {after[key] - before[key]:>14,}")
        print(
            f"  migtui queries  {data['load']['queries']:>14,}  ({data['load']['query_seconds']:.2f}s in queries,"
            f" {data['load']['timeouts']} timeouts)"
        )
    finally:
        harness.cleanup_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
