"""Benchmark: dry-run's lock hold estimates against the stall a writer really sees when each revision is applied.

    PYTHONPATH=. python benchmarks/lock_holds.py [--rows 500000] [--hz 20]

Starts an embedded PostgreSQL 16, loads ``orders`` (``--rows`` rows: bigint key, account_id, status, total_cents,
created_at, note; primary key and an account_id index) and ``accounts`` (1,000 rows), then:

1. runs ``migtui dry-run`` (``allow_primary``, the same server as scratch server, so the calibration runs on the
   hardware the revisions run on) over five pending revisions and takes, per revision, the longest
   ``lock_holds[].estimated_seconds`` of a lock that blocks writes;
2. applies the revisions one at a time (alembic, one transaction each) while a writer on another connection
   inserts into ``orders`` ``--hz`` times a second; the writer's longest single INSERT is the stall it saw.

Prints one row per revision: estimate, the writer's max stall, the revision's own wall time, and the ratio
estimate / stall (target: within 3x either way). Everything is thrown away at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from migtui.config import Settings
from migtui.dryrun.job import DryRunOptions, run_dry_run
from migtui.pg import harness
from migtui.project.load import AlembicProject
from tests.alembic_projects import Rev, make_project

BASE = Rev(
    "b0",
    "op.execute('CREATE TABLE accounts (id bigint PRIMARY KEY)')\n"
    "op.execute('CREATE TABLE orders (id bigint PRIMARY KEY, account_id bigint NOT NULL, status text, "
    "total_cents integer NOT NULL, created_at timestamptz NOT NULL, note text)')\n"
    "op.execute('CREATE INDEX ix_orders_account ON orders (account_id)')",
)
KINDS = [
    (
        "add column + backfill, one tx",
        Rev(
            "k1_backfill",
            "op.add_column('orders', sa.Column('archived_at', sa.DateTime(timezone=True)))\n"
            "op.execute(\"UPDATE orders SET archived_at = now() WHERE status IN ('shipped', 'cancelled')\")",
        ),
    ),
    (
        "CREATE INDEX (not concurrent)",
        Rev("k2_index", "op.create_index('ix_orders_created', 'orders', ['created_at'])"),
    ),
    (
        "ALTER TYPE int -> bigint (rewrite)",
        Rev("k3_rewrite", "op.execute('ALTER TABLE orders ALTER COLUMN total_cents TYPE bigint')"),
    ),
    (
        "ADD FOREIGN KEY (validating)",
        Rev("k4_fk", "op.create_foreign_key('fk_orders_account', 'orders', 'accounts', ['account_id'], ['id'])"),
    ),
    ("SET NOT NULL (scan)", Rev("k5_not_null", "op.alter_column('orders', 'status', nullable=False)")),
]


class Writer(threading.Thread):
    """INSERTs into orders at a fixed rate on its own connection; records the longest single INSERT."""

    def __init__(self, dsn: str, hz: float, first_id: int) -> None:
        super().__init__(daemon=True)
        self.dsn, self.period, self.next_id = dsn, 1.0 / hz, first_id
        self.stop = threading.Event()
        self.max_wait = 0.0
        self.writes = 0

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True, application_name="bench-writer") as conn:
            while not self.stop.is_set():
                began = time.monotonic()
                conn.execute(
                    "INSERT INTO orders (id, account_id, status, total_cents, created_at) "
                    "VALUES (%s, 1, 'new', 100, now())",
                    (self.next_id,),
                )
                took = time.monotonic() - began
                self.next_id += 1
                self.writes += 1
                self.max_wait = max(self.max_wait, took)
                time.sleep(max(0.0, self.period - took))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--hz", type=float, default=20.0)
    args = parser.parse_args()
    harness.install_signal_cleanup()
    server = harness.start_cluster(16, extra_conf="max_wal_size = 4GB\ncheckpoint_timeout = 30min\n")
    try:
        db = "bench"
        dsn = server.create_database(db)
        with tempfile.TemporaryDirectory() as tmp:
            project = AlembicProject.load(make_project(Path(tmp), [BASE, *(rev for _, rev in KINDS)]))
            from unittest import mock

            from alembic import command

            with mock.patch("logging.config.fileConfig"):
                command.upgrade(project.config(dsn), "b0")
            server.execute("INSERT INTO accounts SELECT g FROM generate_series(1, 1000) g", dbname=db)
            server.execute(
                "INSERT INTO orders SELECT g, 1 + g % 1000, (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4],"
                f" g % 100000, now() - g * interval '1 minute', NULL FROM generate_series(1, {args.rows}) g",
                dbname=db,
            )
            server.execute("VACUUM ANALYZE orders", dbname=db)
            size = server.execute("SELECT pg_total_relation_size('orders')", dbname=db)[0][0]
            print(f"orders: {args.rows:,} rows, {size / 2**20:.0f} MB with indexes; load {os.getloadavg()}")

            settings = Settings(migrations=str(project.script_location), dsn=dsn)
            started = time.monotonic()
            report = run_dry_run(settings, DryRunOptions(allow_primary=True, scratch_server=server))
            data = report.to_dict()
            print(f"dry-run: {time.monotonic() - started:.1f}s; shadow {json.dumps(data['shadow'])}")
            print(f"lock_holds of {KINDS[0][1].revision}: {json.dumps(data['revisions'][0]['lock_holds'])}")
            estimates: dict[str, tuple[float, str]] = {}
            for rev in data["revisions"]:
                holds = [h for h in rev["lock_holds"] if "writes" in h["blocks"]]
                # the longest hold; on a tie the one on orders, the table the writer writes to
                best = max(
                    holds, key=lambda h: (h["estimated_seconds"], h["relation"] == "public.orders"), default=None
                )
                estimates[rev["revision"]] = (
                    (best["estimated_seconds"], f"{best['mode']} {best['relation']}") if best else (0.0, "no hold")
                )

            results = []
            next_id = args.rows + 1
            for label, rev in KINDS:
                writer = Writer(dsn, args.hz, next_id)
                writer.start()
                time.sleep(1.0)
                began = time.monotonic()
                with mock.patch("logging.config.fileConfig"):
                    command.upgrade(project.config(dsn), rev.revision)
                applied = time.monotonic() - began
                time.sleep(1.0)
                writer.stop.set()
                writer.join()
                next_id = writer.next_id
                estimate, lock = estimates[rev.revision]
                results.append((label, lock, estimate, writer.max_wait, applied, writer.writes))
        print(f"\nload average after: {os.getloadavg()}")
        print(f"{'revision kind':<36} {'lock (estimated)':<34} {'estimate':>9} {'max stall':>10} {'applied':>8} ratio")
        for label, lock, estimate, stall, applied, _writes in results:
            ratio = estimate / stall if stall > 0 else float("inf")
            print(f"{label:<36} {lock:<34} {estimate:>8.2f}s {stall:>9.2f}s {applied:>7.2f}s {ratio:5.2f}")
    finally:
        harness.cleanup_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
