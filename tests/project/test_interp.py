"""The ``python`` setting: a project's alembic work in its own interpreter (a venv with SQLAlchemy 1.4).

The venv is built once from the package registry (SQLAlchemy < 2, alembic, psycopg2-binary) and kept in
``$MIGTUI_TEST_CACHE`` (default ``~/.cache/migtui-tests``) across sessions; the tests skip, saying why, when the
registry cannot be reached. Every revision here fails under migtui's own SQLAlchemy 2 (an assertion on the
version, or ``connection.execute(str)``, removed in 2.0), so a pass proves it ran in the project's interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.alembic_projects import Rev, make_project
from tests.conftest import run_main

SA14 = "import sqlalchemy\nassert sqlalchemy.__version__.startswith('1.'), sqlalchemy.__version__\n"
CREATE_T = "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))"
REQUIREMENTS = ("sqlalchemy>=1.4,<2", "alembic>=1.13", "psycopg2-binary")


@pytest.fixture(scope="session")
def old_python() -> str:
    """A venv's interpreter with SQLAlchemy 1.4 (built once, cached across sessions)."""
    cache = Path(os.environ.get("MIGTUI_TEST_CACHE") or Path.home() / ".cache" / "migtui-tests")
    venv = cache / "venv-sqlalchemy14"
    python = venv / "bin" / "python"
    ready = venv / ".ready"
    if not ready.exists():
        cache.mkdir(parents=True, exist_ok=True)
        made = subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], capture_output=True, text=True)
        if made.returncode:
            pytest.skip(f"cannot create a venv: {made.stderr.strip().splitlines()[-1:]}")
        installed = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if installed.returncode:
            last = (installed.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"package registry unreachable, cannot build the SQLAlchemy 1.4 venv: {last}")
        ready.write_text("\n".join(REQUIREMENTS) + "\n")
    return str(python)


def _project(tmp_path: Path) -> Path:
    return make_project(
        tmp_path / "proj",
        [
            Rev("o1", SA14 + CREATE_T, "op.drop_table('t')"),
            # reads the database: no offline SQL; connection.execute(str) is SQLAlchemy 1.4 only
            Rev(
                "o2",
                "if op.get_context().as_sql:\n    raise RuntimeError('needs the database')\n"
                "n = op.get_bind().execute('SELECT count(*) FROM t').scalar()\n"
                "op.add_column('t', sa.Column('name', sa.String(20), server_default=str(n)))",
                "op.drop_column('t', 'name')",
            ),
        ],
    )


def test_config_reports_the_interpreter_and_its_versions(tmp_path, old_python):
    project = _project(tmp_path)
    result = run_main("config", "--migrations", str(project), "--python", old_python, "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["interpreter"]["in_process"] is False
    assert data["interpreter"]["sqlalchemy"].startswith("1.4")
    assert data["settings"]["python"] == old_python
    assert data["settings"]["driver"] == "psycopg2"  # SQLAlchemy 1.4 has no psycopg 3 dialect
    text = run_main("config", "--migrations", str(project), "--python", old_python)
    assert "SQLAlchemy 1.4" in text.stdout


def test_lint_renders_offline_and_online_in_the_projects_interpreter(tmp_path, old_python, pg):
    project = _project(tmp_path)
    args = ("lint", "--migrations", str(project), "--python", old_python, "--format", "json")
    result = run_main(*args, "--scratch-dsn", pg.dsn("postgres"))
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    text = json.dumps(report)
    assert "unanalyzable-revision" not in text
    assert "CREATE TABLE t" in text  # o1, offline
    assert "ALTER TABLE t ADD COLUMN name VARCHAR(20) DEFAULT '0'" in text  # o2, online (it read count(*) = 0)


def test_up_and_down_run_in_the_projects_interpreter(tmp_path, old_python, fresh_db):
    project = _project(tmp_path)
    common = ("--migrations", str(project), "--python", old_python, "--dsn", fresh_db)
    up = run_main("up", *common)
    assert up.returncode == 0, up.stderr
    assert "ALTER TABLE t ADD COLUMN name" in up.stdout  # the statements streamed back as events
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("o2",)]
        default = conn.execute("SELECT column_default FROM information_schema.columns WHERE column_name = 'name'")
        assert default.fetchone()[0].startswith("'0'")  # o2 read count(*) on the target, through psycopg2
    down = run_main("down", *common, "o1")
    assert down.returncode == 0, down.stderr
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("o1",)]


def test_timeout_kills_a_revision_stuck_in_python_and_lock_timeout_retries(tmp_path, old_python, fresh_db):
    project = make_project(
        tmp_path / "proj",
        [
            Rev("s1", SA14 + CREATE_T),
            Rev("s2", "import time\ntime.sleep(60)"),
        ],
    )
    common = ("--migrations", str(project), "--python", old_python, "--dsn", fresh_db)
    assert run_main("up", *common, "s1").returncode == 0
    started = time.monotonic()
    stuck = run_main("up", *common, "--timeout", "1")
    assert stuck.returncode == 3, stuck.stderr
    assert time.monotonic() - started < 15
    assert "ran past its timeout of 1s" in stuck.stderr
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("s1",)]
        left = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'migtui%'").fetchone()
        assert left == (0,)
    versions = project / "versions"
    (versions / "001_s2.py").write_text(
        (versions / "001_s2.py").read_text().replace("time.sleep(60)", "op.add_column('t', sa.Column('x', sa.Integer))")
    )
    with psycopg.connect(fresh_db) as holder:
        holder.execute("LOCK TABLE t IN ACCESS SHARE MODE")
        blocked = run_main("up", *common, "--lock-timeout", "0.2", "--lock-retries", "1", "--lock-retry-delay", "0.1")
    assert blocked.returncode == 5, blocked.stderr
    assert "gave up after 2 attempt(s): lock_timeout 0.2s exceeded" in blocked.stderr
    assert "retry 1/1" in blocked.stdout


def test_bad_interpreters_and_a_broken_revision_are_one_line_each(tmp_path, old_python):
    project = _project(tmp_path)
    missing = run_main("status", "--migrations", str(project), "--python", str(tmp_path / "nope" / "python"))
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "not found" in missing.stderr
    # an interpreter without alembic (a bare venv)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    bare = run_main("lint", "--migrations", str(project), "--python", str(tmp_path / "bare" / "bin" / "python"))
    assert bare.returncode == 2
    assert "has no alembic" in bare.stderr and bare.stderr.strip().count("\n") == 0
    broken = make_project(tmp_path / "broken", [Rev("x1", "pass", header="import no_such_application_module")])
    failed = run_main("lint", "--migrations", str(broken), "--python", old_python)
    assert failed.returncode == 7, failed.stderr
    assert "000_x1.py:7" in failed.stderr and "no_such_application_module" in failed.stderr


def test_the_child_ends_when_migtui_is_killed_and_the_revision_rolls_back(tmp_path, old_python, fresh_db):
    project = make_project(tmp_path / "proj", [Rev("k1", SA14 + CREATE_T + "\nop.execute('SELECT pg_sleep(60)')")])
    env = {**os.environ, "MIGTUI_PYTHON": old_python, "MIGTUI_MIGRATIONS": str(project)}
    migtui = subprocess.Popen(
        [sys.executable, "-m", "migtui", "up", "--dsn", fresh_db, "--timeout", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            sleeping = (
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()"
            )
            deadline = time.monotonic() + 30
            while conn.execute(sleeping).fetchone() != (1,):
                assert time.monotonic() < deadline and migtui.poll() is None, (
                    migtui.stderr.read() if migtui.stderr else ""
                )
                time.sleep(0.1)
            migtui.kill()  # SIGKILL: no clean-up in migtui's process
            migtui.wait()
            deadline = time.monotonic() + 10
            while conn.execute(sleeping).fetchone() != (0,):
                assert time.monotonic() < deadline, "the revision's session outlived migtui"
                time.sleep(0.2)
            assert conn.execute("SELECT to_regclass('alembic_version'), to_regclass('t')").fetchone() == (None, None)
    finally:
        if migtui.poll() is None:
            migtui.kill()
        migtui.wait()


LEAK = """
import builtins
engine = sa.create_engine(op.get_bind().engine.url)
kept = engine.connect()
kept.execute(sa.text('SELECT * FROM t'))  # AccessShareLock on t, held: the transaction stays open
builtins.migtui_test_kept = kept
"""


def test_a_session_the_project_keeps_open_ends_with_its_interpreter(tmp_path, old_python, fresh_db):
    project = make_project(
        tmp_path / "proj",
        [
            Rev("l1", SA14 + CREATE_T),
            Rev("l2", LEAK),
            Rev("l3", "op.add_column('t', sa.Column('x', sa.Integer))"),  # needs AccessExclusiveLock on t
        ],
    )
    common = ("--migrations", str(project), "--python", old_python, "--dsn", fresh_db)
    up = run_main("up", *common, "--lock-timeout", "1", "--lock-retries", "0")
    assert up.returncode == 0, up.stderr
    assert "l2: the project's code kept a database session open after the revision" in up.stdout
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("l3",)]


def test_dsn_env_gives_the_projects_own_setting_the_database_of_each_step(tmp_path, old_python, fresh_db):
    own_engine = (
        "import os\n"
        "engine = sa.create_engine(os.environ['APP_DATABASE_URL'], poolclass=sa.pool.NullPool)\n"
        "with engine.begin() as conn:\n"
        "    conn.execute('CREATE TABLE made_by_the_app (id int)')\n"
    )
    project = make_project(tmp_path / "proj", [Rev("e1", SA14 + own_engine)])
    common = ("--migrations", str(project), "--python", old_python, "--dsn", fresh_db)
    without = run_main("up", *common)
    assert without.returncode == 5 and "KeyError" in without.stderr
    up = run_main("up", *common, env={"MIGTUI_DSN_ENV": "APP_DATABASE_URL"})
    assert up.returncode == 0, up.stderr
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT to_regclass('made_by_the_app')::text").fetchone() == ("made_by_the_app",)
