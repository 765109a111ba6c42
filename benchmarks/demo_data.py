"""Benchmark: how long the demo data takes to load, and what the pending sample revisions cost on it.

    PYTHONPATH=. python benchmarks/demo_data.py [--scale 1000000] [--repeat 1] [--pg 16]

Starts its own embedded PostgreSQL (fsync off, as the demo), upgrades a fresh database to
DEMO_STOP_REVISION, loads the demo data, and prints: rows per table, the load time, the database size,
then the time of each pending revision and of the downgrade back to DEMO_STOP_REVISION. With --repeat N the
load is measured N times (a fresh database each time) and the best and median are printed. The machine's
load average is printed too: on a shared 2-core machine, times move with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=1_000_000, help="orders to load (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=1, help="load this many times (fresh database each)")
    parser.add_argument("--pg", type=int, default=16, help="PostgreSQL major (embedded: 16 or 18)")
    args = parser.parse_args()

    from alembic import command

    from migtui.demo.data import DEMO_STOP_REVISION, SAMPLE_MIGRATIONS, load_demo_data
    from migtui.pg import harness
    from migtui.project.load import AlembicProject

    project = AlembicProject.load(SAMPLE_MIGRATIONS)
    pending = [r.revision for r in project.revisions()]
    pending = pending[pending.index(DEMO_STOP_REVISION) + 1 :]
    cluster = harness.start_cluster(args.pg)
    try:
        print(f"PostgreSQL {cluster.pg_version}, scale {args.scale:,} orders, load average {os.getloadavg()[0]:.1f}")
        loads: list[float] = []
        dsn = ""
        for attempt in range(args.repeat):
            name = f"demo_bench_{attempt}"
            dsn = cluster.create_database(name)
            cfg = project.config(dsn)
            started = time.perf_counter()
            command.upgrade(cfg, DEMO_STOP_REVISION)
            upgrade_seconds = time.perf_counter() - started
            started = time.perf_counter()
            counts = load_demo_data(dsn, args.scale)
            loads.append(time.perf_counter() - started)
            if attempt == 0:
                print(f"upgrade to {DEMO_STOP_REVISION}: {upgrade_seconds:.2f} s")
                for table, count in counts.items():
                    print(f"  {table:12} {count:>12,} rows")
            size = cluster.execute("SELECT pg_size_pretty(pg_database_size(current_database()))", dbname=name)[0][0]
            print(f"load {attempt + 1}: {loads[-1]:.2f} s, database {size}, load average {os.getloadavg()[0]:.1f}")
            if attempt < args.repeat - 1:
                cluster.drop_database(name)
        if args.repeat > 1:
            print(f"load: best {min(loads):.2f} s, median {statistics.median(loads):.2f} s over {args.repeat} runs")
        cfg = project.config(dsn)
        for revision in pending:
            started = time.perf_counter()
            command.upgrade(cfg, revision)
            print(f"up {revision}: {time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        command.downgrade(cfg, DEMO_STOP_REVISION)
        print(f"down to {DEMO_STOP_REVISION}: {time.perf_counter() - started:.2f} s")
    finally:
        cluster.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
