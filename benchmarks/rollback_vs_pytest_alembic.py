"""Broken downgrades caught: migtui rollback-test vs pytest-alembic, on the same projects, same server.

For every broken-downgrade case of tests/rollback/test_rollback.py (a stock ``alembic init`` project with the
shared setup revision plus the broken one), run:

- ``migtui rollback-test`` (the engine, on a fresh database);
- pytest-alembic's default ``test_up_down_consistency`` (plus ``test_upgrade``), and its experimental
  ``test_downgrade_leaves_no_trace``, through pytest, each on a fresh database.

Prints one line per case (caught / missed / error) and the totals with wall time. Needs the dev extra
(pytest-alembic). Run from the repository root:

    PYTHONPATH=. python benchmarks/rollback_vs_pytest_alembic.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from migtui.config import load_settings  # noqa: E402
from migtui.pg import harness  # noqa: E402
from migtui.pg.dsn import sqlalchemy_url  # noqa: E402
from migtui.project.load import AlembicProject  # noqa: E402
from migtui.rollback.job import RollbackTest  # noqa: E402
from tests.alembic_projects import Rev, make_project  # noqa: E402
from tests.rollback.test_rollback import CHAIN  # noqa: E402

CONFTEST = """
import pytest
from pytest_alembic.config import Config
from sqlalchemy import create_engine

@pytest.fixture
def alembic_config():
    return Config(config_options={{"file": {ini!r}, "script_location": {script!r}, "sqlalchemy.url": {url!r}}})

@pytest.fixture
def alembic_engine():
    return create_engine({url!r})
"""

VERBOSE = "-v" in sys.argv
DEFAULT_TESTS = "from pytest_alembic.tests import test_single_head_revision, test_upgrade, test_up_down_consistency\n"
EXPERIMENTAL_TESTS = "from pytest_alembic.tests.experimental import test_downgrade_leaves_no_trace\n"


ENV_CONNECTION_HOOK = """
    connection = config.attributes.get("connection")
    if connection is not None:  # pytest-alembic's documented env.py hook (its experimental test needs it)
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
"""


def with_connection_hook(project_dir: Path) -> Path:
    """A copy of the project whose env.py uses a connection passed in config.attributes."""
    copy_root = project_dir.parent.parent / (project_dir.parent.name + "_hooked")
    shutil.copytree(project_dir.parent, copy_root)
    env = copy_root / project_dir.name / "env.py"
    text = env.read_text()
    marker = 'def run_migrations_online() -> None:\n    """Run migrations in \'online\' mode.'
    head, tail = text.split(marker, 1)
    doc_end = tail.index('"""') + 3
    env.write_text(head + marker + tail[:doc_end] + "\n" + ENV_CONNECTION_HOOK + tail[doc_end:])
    return copy_root / project_dir.name


def run_pytest_alembic(cluster, project_dir: Path, tests: str, work: Path) -> str:
    """'caught' (a test failed), 'missed' (all passed) or 'error: ...' (could not run)."""
    name = "pa_" + uuid.uuid4().hex[:10]
    dsn = cluster.create_database(name)
    try:
        work.mkdir(parents=True, exist_ok=True)
        ini = project_dir.parent / "alembic.ini"
        (work / "conftest.py").write_text(
            CONFTEST.format(ini=str(ini), script=str(project_dir), url=sqlalchemy_url(dsn))
        )
        (work / "test_migrations.py").write_text(tests)
        report = work / "report.xml"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", str(work)],
            capture_output=True,
            text=True,
            cwd=str(work),
            timeout=300,
        )
        if VERBOSE:
            print(done.stdout[-3000:])
        if not report.exists():
            return "error: pytest did not run"
        suite = ET.parse(report).getroot().find("testsuite")
        errors = [c for c in suite.iter("testcase") if c.find("error") is not None]
        failures = [c for c in suite.iter("testcase") if c.find("failure") is not None]
        if failures:
            return "caught"
        if errors:
            message = (errors[0].find("error").get("message") or "").splitlines()[0][:80]
            return f"error: {message}"
        return "missed"
    finally:
        cluster.drop_database(name)


def main() -> int:
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    cases = [c for c in CHAIN[1:] if c[3] is not None and (not only or c[0] in only)]
    setup = CHAIN[0]
    cluster = harness.start_cluster(16)
    totals = {"migtui": 0, "pytest-alembic": 0, "pytest-alembic experimental": 0}
    usable: dict[str, bool] = {}
    seconds = dict.fromkeys(totals, 0.0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            good = next(c for c in CHAIN if c[0] == "good_column")
            base_dir = make_project(Path(tmp) / "baseline", [Rev(*setup[:3]), Rev(*good[:3])])
            baseline = (
                run_pytest_alembic(cluster, base_dir, DEFAULT_TESTS, Path(tmp) / "baseline_default"),
                run_pytest_alembic(
                    cluster, with_connection_hook(base_dir), EXPERIMENTAL_TESTS, Path(tmp) / "baseline_exp"
                ),
            )
            print(f"baseline on a correct project (must be 'missed'): {baseline[0]} / {baseline[1]}")
            usable = {"pytest-alembic": baseline[0] == "missed", "pytest-alembic experimental": baseline[1] == "missed"}
            for key, ok in usable.items():
                if not ok:
                    print(f"  {key}: fails on a correct project too, so its results below do not count")
            print()
            print(f"{'case':<26} {'migtui':<8} {'pytest-alembic':<16} pytest-alembic experimental")
            for name, up, down, _expected in cases:
                root = Path(tmp) / name
                project_dir = make_project(root, [Rev(setup[0], setup[1], setup[2]), Rev(name, up, down)])
                db = "mt_" + uuid.uuid4().hex[:10]
                dsn = cluster.create_database(db)
                t = time.perf_counter()
                try:
                    report = RollbackTest(AlembicProject.load(project_dir), dsn, load_settings({})).run()
                finally:
                    cluster.drop_database(db)
                seconds["migtui"] += time.perf_counter() - t
                ours = "caught" if [r.revision for r in report.failed] == [name] else "missed"
                t = time.perf_counter()
                default = run_pytest_alembic(cluster, project_dir, DEFAULT_TESTS, root / "pa_default")
                seconds["pytest-alembic"] += time.perf_counter() - t
                t = time.perf_counter()
                experimental = run_pytest_alembic(
                    cluster, with_connection_hook(project_dir), EXPERIMENTAL_TESTS, root / "pa_exp"
                )
                seconds["pytest-alembic experimental"] += time.perf_counter() - t
                for key, value in (
                    ("migtui", ours),
                    ("pytest-alembic", default),
                    ("pytest-alembic experimental", experimental),
                ):
                    totals[key] += value == "caught" and usable.get(key, True)
                print(f"{name:<26} {ours:<8} {default:<16} {experimental}", flush=True)
    finally:
        cluster.cleanup()
    print()
    for key, caught in totals.items():
        note = "" if usable.get(key, True) else "  (not usable: fails on a correct project)"
        print(f"{key:<28} caught {caught} of {len(cases)}  ({seconds[key]:.1f}s){note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
