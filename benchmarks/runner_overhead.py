"""What the runner's safety costs: per-revision overhead of ``Runner.upgrade`` vs plain ``alembic upgrade``,
and how fast a timeout is enforced. Starts its own embedded PostgreSQL 16; prints figures.

    PYTHONPATH=. python benchmarks/runner_overhead.py [--revisions 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from migtui.config import Settings
from migtui.errors import MigrationTimeout
from migtui.pg import harness
from migtui.project.load import AlembicProject
from migtui.runner.job import Runner
from tests.alembic_projects import Rev, make_project


def build(root: Path, count: int) -> AlembicProject:
    revs = [
        Rev(
            f"r{i:03d}",
            f"op.create_table('t{i}', sa.Column('id', sa.Integer, primary_key=True))",
            f"op.drop_table('t{i}')",
        )
        for i in range(count)
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        return AlembicProject.load(make_project(root, revs))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--revisions", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from alembic import command

    cluster = harness.start_cluster(16)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            project = build(Path(tmp), args.revisions)
            plain, ours = [], []
            for i in range(args.repeat):
                dsn = cluster.create_database(f"plain{i}")
                cfg = project.config(dsn)
                cfg.config_file_name = None
                t0 = time.perf_counter()
                command.upgrade(cfg, "head")
                plain.append(time.perf_counter() - t0)
                dsn = cluster.create_database(f"ours{i}")
                runner = Runner(project, dsn, Settings(dsn=dsn, progress_interval=5))
                t0 = time.perf_counter()
                result = runner.upgrade()
                ours.append(time.perf_counter() - t0)
                assert len(result.applied) == args.revisions
            n = args.revisions
            p, o = statistics.median(plain), statistics.median(ours)
            print(f"PostgreSQL {cluster.pg_version}, {n} revisions (CREATE TABLE each), median of {args.repeat}:")
            print(
                f"  alembic upgrade head (one transaction, one env.py run): {p:.3f}s = {1000 * p / n:.1f} ms/revision"
            )
            print(f"  migtui Runner.upgrade (lock, one step per revision): {o:.3f}s = {1000 * o / n:.1f} ms/revision")
            print(f"  overhead: {1000 * (o - p) / n:.1f} ms/revision")

            slow = build(Path(tmp) / "slow", 0)
            (slow.script_location / "versions" / "000_s.py").write_text(
                "revision = 's1'\ndown_revision = None\nfrom alembic import op\n\n"
                "def upgrade():\n    op.execute('SELECT pg_sleep(60)')\n\ndef downgrade():\n    pass\n"
            )
            slow = AlembicProject.load(slow.script_location)
            dsn = cluster.create_database("slow")
            for timeout in (1.0, 2.0):
                runner = Runner(slow, dsn, Settings(dsn=dsn, timeout=timeout, progress_interval=0))
                t0 = time.perf_counter()
                with contextlib.suppress(MigrationTimeout):
                    runner.upgrade()
                took = time.perf_counter() - t0
                print(f"  --timeout {timeout:g}: gave up and rolled back after {took:.2f}s ({took - timeout:+.2f}s)")
    finally:
        cluster.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
