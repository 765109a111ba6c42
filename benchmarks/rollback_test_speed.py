"""How fast rollback-test runs many revisions: N revisions (tables, columns, indexes, a view, a function),
one embedded server, one database. Prints total, per-revision median/max and where the time goes.

    PYTHONPATH=. python benchmarks/rollback_test_speed.py [N]      # default 100
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from migtui.config import load_settings  # noqa: E402
from migtui.pg import harness  # noqa: E402
from migtui.project.load import AlembicProject  # noqa: E402
from migtui.rollback.job import Checkpoint, RollbackTest  # noqa: E402
from tests.alembic_projects import Rev, make_project  # noqa: E402


def revisions(n: int) -> list[Rev]:
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            up = (
                f"op.create_table('t{i}', sa.Column('id', sa.Integer, primary_key=True), "
                f"sa.Column('v', sa.Text, nullable=False, server_default='x'))"
            )
            down = f"op.drop_table('t{i}')"
        elif kind == 1:
            up = f"op.add_column('t{i - 1}', sa.Column('n', sa.Integer))"
            down = f"op.drop_column('t{i - 1}', 'n')"
        elif kind == 2:
            up = f"op.create_index('t{i - 2}_n', 't{i - 2}', ['n', 'v'], postgresql_where=sa.text('n > 0'))"
            down = f"op.drop_index('t{i - 2}_n', table_name='t{i - 2}')"
        else:
            up = (
                f"op.execute('CREATE VIEW v{i} AS SELECT id, n FROM t{i - 3} WHERE n > 1')\n"
                f"op.execute(\"CREATE FUNCTION f{i}(x int) RETURNS int LANGUAGE sql AS 'SELECT x + {i}'\")"
            )
            down = f"op.execute('DROP VIEW v{i}')\nop.execute('DROP FUNCTION f{i}(int)')"
        out.append(Rev(f"r{i:04d}", up, down))
    return out


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory() as tmp:
        project_dir = make_project(Path(tmp), revisions(n))
        t = time.perf_counter()
        cluster = harness.start_cluster(16)
        started = time.perf_counter() - t
        try:
            dsn = cluster.create_database("bench")
            checkpoint = Checkpoint(cluster, "bench")  # as the CLI runs it: a clone to go back to
            report = RollbackTest(AlembicProject.load(project_dir), dsn, load_settings({}), checkpoint=checkpoint).run()
        finally:
            cluster.cleanup()
    totals = [r.seconds["total"] for r in report.revisions]
    steps = sum(r.seconds.get(k, 0.0) for r in report.revisions for k in ("upgrade", "downgrade", "re_upgrade"))
    snaps = sum(r.seconds.get("snapshots", 0.0) for r in report.revisions)
    restores = sum(r.seconds.get("restore", 0.0) for r in report.revisions)
    print(f"revisions: {n} ({sum(r.ok for r in report.revisions)} passed)")
    print(f"server start: {started:.2f}s")
    print(f"rollback test: {report.seconds:.2f}s total, {report.seconds / n * 1000:.0f} ms per revision")
    print(f"per revision: median {statistics.median(totals) * 1000:.0f} ms, max {max(totals) * 1000:.0f} ms")
    print(f"time in up/down/up steps: {steps:.2f}s; in catalog snapshots: {snaps:.2f}s; put back: {restores:.2f}s")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
