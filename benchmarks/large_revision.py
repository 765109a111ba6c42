"""Time and peak memory of ``migtui lint`` (and, with ``--dsn``, ``migtui dry-run``) on one large revision.

    .venv/bin/python benchmarks/large_revision.py --mb 10
    .venv/bin/python benchmarks/large_revision.py --mb 10 --dsn postgresql://app@127.0.0.1:5432/db

The revision is ``a2``: one ``op.execute`` of ``--mb`` megabytes of single-row INSERTs into ``t`` (what a data
fix-up or a seed revision looks like), after ``a1`` creates ``t``. Each command runs in its own process under
``/usr/bin/time -v``; the figures are its wall-clock seconds and maximum resident set size. With ``--dsn``
the database must be empty: the script applies a1 there (``migtui up a1``) so dry-run has a2 pending.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

REVISION = '''"""{rev}"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    {body}


def downgrade():
    {down_body}
'''


def make_project(root: Path, megabytes: float) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.alembic_projects import Rev
    from tests.alembic_projects import make_project as make

    with contextlib.redirect_stdout(io.StringIO()):  # alembic init's "Creating directory ..." lines
        location = make(
            root, [Rev("a1", "op.create_table('t', sa.Column('id', sa.BigInteger), sa.Column('v', sa.Text))")]
        )
    rows = []
    size = 0
    index = 0
    while size < megabytes * 1024 * 1024:
        row = f"INSERT INTO t (id, v) VALUES ({index}, 'value number {index} of the large revision');\n"
        rows.append(row)
        size += len(row)
        index += 1
    sql = "".join(rows)
    (location / "versions" / "001_a2.py").write_text(
        REVISION.format(
            rev="a2",
            down="a1",
            body=f"op.execute({sql!r})",
            down_body="op.execute('DELETE FROM t')",
        )
    )
    return location


def measure(*args: str) -> tuple[int, float, int]:
    """(exit code, wall seconds, max RSS in MB) of ``python -m migtui ARGS``."""
    proc = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "migtui", *args],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
    )
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    assert wall and rss, proc.stderr[-2000:]
    hours, minutes, seconds = wall.groups()
    seconds_total = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    return proc.returncode, seconds_total, int(rss.group(1)) // 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10.0, help="size of the large revision's SQL (default 10)")
    parser.add_argument("--dsn", help="an empty database: also measure dry-run (--allow-primary)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp), args.mb)
        size = (project / "versions" / "001_a2.py").stat().st_size / 1024 / 1024
        print(f"revision a2: {size:.1f} MB")
        code, wall, rss = measure("lint", str(project), "--format", "json")
        print(f"lint:    exit {code}, {wall:.1f} s, {rss} MB max RSS")
        if args.dsn:
            subprocess.run(
                [sys.executable, "-m", "migtui", "up", "a1", "--dsn", args.dsn, "--migrations", str(project)],
                cwd=str(ROOT),
                check=True,
                capture_output=True,
            )
            code, wall, rss = measure(
                "dry-run", "--dsn", args.dsn, "--allow-primary", "--migrations", str(project), "--format", "json"
            )
            print(f"dry-run: exit {code}, {wall:.1f} s, {rss} MB max RSS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
