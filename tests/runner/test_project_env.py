"""Projects whose env.py is not alembic's stock one: its own engine from its own setting, an async env.py on
asyncpg, an env.py that only runs on a connection its caller hands it (dagster's). Each runs unmodified under
``up`` and ``down`` with migtui's guarantees: the session named and under lock_timeout, the per-revision
timeout, statement events, the advisory lock released; and each keeps its driver (a revision relying on it,
``exec_driver_sql`` with ``%I``, works)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import psycopg
import pytest

from migtui.errors import MigrationFailed, MigrationTimeout, ProjectError, UsageError
from migtui.events import Message, RunStarted, StatementStarted
from migtui.pg.dsn import sqlalchemy_url, with_database
from migtui.project.load import AlembicProject
from migtui.runner.job import Runner
from tests.alembic_projects import Rev, make_project
from tests.runner.test_runner import CREATE_T, Recorder, advisory_locks_held, scalar, settings_for

# format('%I.%I') as the driver sees it: asyncpg takes it as is; psycopg 3 and (under SQLAlchemy 2, which
# passes an empty parameter dict) psycopg2 need '%%I'. The revision records which driver ran it.
SEEN = """
bind = op.get_bind()
pct = '%' if bind.dialect.driver == 'asyncpg' else '%%'
bind.exec_driver_sql(
    "CREATE TABLE seen AS SELECT format('" + pct + "I." + pct + "I', 'public', 't') AS name, "
    "'" + bind.dialect.driver + "'::text AS driver, application_name AS app, current_setting('lock_timeout') AS lt "
    "FROM pg_stat_activity WHERE pid = pg_backend_pid()"
)
"""
REVISIONS = [
    Rev("a1", CREATE_T, "op.drop_table('t')"),
    Rev("a2", SEEN, "op.drop_table('seen')"),
    Rev("a3", "op.add_column('t', sa.Column('w', sa.Integer))", "op.drop_column('t', 'w')"),
    Rev("a4", "op.create_table('half', sa.Column('id', sa.Integer))\nop.execute('SELECT pg_sleep(30)')"),
]

OWN_ENGINE_ENV = """
import os

import sqlalchemy as sa
from alembic import context


def run():
    engine = sa.create_engine(os.environ["APP_DATABASE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()


run()
"""

CALLER_CONNECTION_ENV = """
from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise Exception("No connection set in alembic config")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
"""


def _set_ini_url(root: Path, url: str) -> None:
    ini = root / "alembic.ini"
    lines = [
        f"sqlalchemy.url = {url}" if line.startswith("sqlalchemy.url") else line
        for line in ini.read_text().splitlines()
    ]
    ini.write_text("\n".join(lines) + "\n")


def build(kind: str, root: Path, dsn: str, monkeypatch, revisions=REVISIONS) -> AlembicProject:
    script = make_project(root, revisions)
    if kind == "own-engine":  # ignores sqlalchemy.url: its own engine (psycopg2) from its own setting
        (script / "env.py").write_text(OWN_ENGINE_ENV)
        monkeypatch.setenv("APP_DATABASE_URL", sqlalchemy_url(dsn, "psycopg2"))
    elif kind == "async":  # alembic's own async template, the driver named in alembic.ini
        import alembic

        template = Path(alembic.__file__).parent / "templates" / "async" / "env.py"
        (script / "env.py").write_text(template.read_text())
        _set_ini_url(root, "postgresql+asyncpg://app@localhost/app")
    elif kind == "caller-connection":  # refuses to run without config.attributes["connection"] (dagster)
        (script / "env.py").write_text(CALLER_CONNECTION_ENV)
        _set_ini_url(root, "postgresql+psycopg2://app@localhost/app")
    else:
        raise AssertionError(kind)
    return AlembicProject.load(root / "alembic.ini")


KINDS = ["own-engine", "async", "caller-connection"]
HANDED = {"own-engine": "psycopg", "async": "asyncpg", "caller-connection": "psycopg2"}  # sqlalchemy.url's
USED = {"own-engine": "psycopg2", "async": "asyncpg", "caller-connection": "psycopg2"}  # env.py's connection


@pytest.mark.parametrize("kind", KINDS)
def test_up_and_down_through_the_projects_env_and_driver(kind, tmp_path, fresh_db, monkeypatch):
    project = build(kind, tmp_path, fresh_db, monkeypatch)
    sink = Recorder()
    runner = Runner(project, fresh_db, settings_for(fresh_db, lock_timeout=1.5), sink)
    assert runner.upgrade("a3").applied == ["a1", "a2", "a3"]
    assert runner.current() == ("a3",)
    # the driver's own paramstyle reached the server unchanged, on a session migtui named and time-limited
    seen = scalar(fresh_db, "SELECT name || ' ' || driver || ' ' || app || ' ' || lt FROM seen")
    # the deploy's scope tag follows the revision id (the orphan sweep matches on it)
    assert re.fullmatch(rf"public\.t {USED[kind]} migtui up a2 @\w+ 1500ms", seen), seen
    assert [s.revision for s in sink.of(StatementStarted)] == ["a1", "a2", "a3"]
    assert sink.of(RunStarted)[0].driver == HANDED[kind]
    said = [m.text for m in sink.of(Message) if "own engine" in m.text]
    if kind == "own-engine":  # env.py's engine is not the URL migtui handed it: said once per run
        assert len(said) == 1 and "own engine (postgresql+psycopg2)" in said[0], said
    else:
        assert said == []
    assert advisory_locks_held(fresh_db) == 0

    assert runner.downgrade("base").applied == ["a3", "a2", "a1"]
    assert runner.current() == ()
    assert scalar(fresh_db, "SELECT to_regclass('t') IS NULL AND to_regclass('seen') IS NULL") is True


@pytest.mark.parametrize("kind", KINDS)
def test_lock_timeout_and_timeout_hold_under_the_projects_env(kind, tmp_path, fresh_db, monkeypatch):
    project = build(kind, tmp_path, fresh_db, monkeypatch)
    Runner(project, fresh_db, settings_for(fresh_db)).upgrade("a2")

    # a reader holds t: a3's ALTER gives up per lock_timeout (retried once) instead of queueing behind it
    holder = psycopg.connect(fresh_db)
    holder.execute("LOCK TABLE t IN ACCESS SHARE MODE")
    settings = settings_for(fresh_db, lock_timeout=0.3, lock_retries=1, lock_retry_delay=0.1)
    started = time.monotonic()
    try:
        with pytest.raises(MigrationFailed, match="lock_timeout"):
            Runner(project, fresh_db, settings).upgrade("a3")
    finally:
        holder.close()
    assert time.monotonic() - started < 10
    assert Runner(project, fresh_db, settings).current() == ("a2",)

    # a4 sleeps past the per-revision timeout: cancelled on env.py's own session, rolled back
    sink = Recorder()
    runner = Runner(project, fresh_db, settings_for(fresh_db, timeout=1.5), sink)
    started = time.monotonic()
    with pytest.raises(MigrationTimeout, match="a4"):
        runner.upgrade()
    assert time.monotonic() - started < 8
    assert runner.current() == ("a3",)
    assert scalar(fresh_db, "SELECT to_regclass('half') IS NULL") is True
    assert advisory_locks_held(fresh_db) == 0


def test_env_connecting_elsewhere_is_refused_before_anything_runs(tmp_path, fresh_db, monkeypatch):
    project = build("own-engine", tmp_path, fresh_db, monkeypatch)
    monkeypatch.setenv("APP_DATABASE_URL", sqlalchemy_url(with_database(fresh_db, "postgres"), "psycopg2"))
    with pytest.raises(ProjectError, match="not the target") as info:
        Runner(project, fresh_db, settings_for(fresh_db)).upgrade()
    assert info.value.exit_code == 7
    assert Runner(project, fresh_db, settings_for(fresh_db)).current() == ()
    assert scalar(with_database(fresh_db, "postgres"), "SELECT to_regclass('t') IS NULL") is True
    assert advisory_locks_held(fresh_db) == 0


def test_env_on_sqlite_is_refused(tmp_path, fresh_db, monkeypatch):
    project = build("own-engine", tmp_path, fresh_db, monkeypatch)
    monkeypatch.setenv("APP_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    with pytest.raises(ProjectError, match=r"sqlite.*not PostgreSQL") as info:
        Runner(project, fresh_db, settings_for(fresh_db)).upgrade()
    assert info.value.exit_code == 7
    assert Runner(project, fresh_db, settings_for(fresh_db)).current() == ()


def test_driver_not_installed_is_one_line(tmp_path, fresh_db, monkeypatch):
    build("caller-connection", tmp_path, fresh_db, monkeypatch)
    _set_ini_url(tmp_path, "postgresql+pg8000://app@localhost/app")
    with pytest.raises(UsageError, match="driver pg8000, which is not installed beside migtui: pip install pg8000"):
        Runner(AlembicProject.load(tmp_path / "alembic.ini"), fresh_db, settings_for(fresh_db)).upgrade()


def test_config_reports_the_driver_handed_to_env(tmp_path, monkeypatch, capsys):
    import json

    from migtui.cli.main import main

    build("async", tmp_path, "postgresql://app@localhost/app", monkeypatch, revisions=REVISIONS[:1])
    capsys.readouterr()  # alembic init's own output
    assert main(["config", "--format", "json", "--migrations", str(tmp_path / "alembic.ini")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"]["driver"] == "asyncpg" and out["sources"]["driver"] == "alembic.ini sqlalchemy.url"
    assert main(["config", "--format", "json", "--migrations", str(tmp_path / "migrations")]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["driver"] == "psycopg"  # no alembic.ini there


@pytest.mark.parametrize("kind", ["caller-connection", "async"])
def test_statement_capture_on_the_projects_driver(kind, tmp_path, fresh_db, monkeypatch):
    """What dry-run's shadow and lint's online rendering record: the statements as the server ran them."""
    from migtui.project.capture import ShadowRevision, capture_statements
    from migtui.runner.step import run_revision_step

    revisions = [
        Rev("a1", CREATE_T + "\nop.get_bind().execute(sa.text('INSERT INTO t (v) VALUES (:v)').bindparams(v=\"it's\"))")
    ]
    project = build(kind, tmp_path, fresh_db, monkeypatch, revisions=revisions)
    captured = [ShadowRevision("a1")]
    with capture_statements(captured):
        run_revision_step(project, fresh_db, settings_for(fresh_db), "a1", "up")
    sqls = [s.sql for s in captured[0].statements]
    assert sqls[0].startswith("CREATE TABLE t") and "INSERT INTO t (v)" in sqls[1]
    # psycopg2 inlines its parameters like psycopg 3; asyncpg binds server-side, so its $1 stays as sent
    assert sqls[1].endswith("VALUES ('it''s')" if kind != "async" else "VALUES ($1::VARCHAR)"), sqls[1]
    assert scalar(fresh_db, "SELECT v FROM t") == "it's"


def test_env_raising_is_a_project_error_naming_env_py(tmp_path, fresh_db, monkeypatch):
    project = build("own-engine", tmp_path, fresh_db, monkeypatch)
    monkeypatch.delenv("APP_DATABASE_URL")
    with pytest.raises(ProjectError, match=r"env\.py:\d+ failed before revision a1 ran: KeyError: 'APP_DATABASE_URL'"):
        Runner(project, fresh_db, settings_for(fresh_db)).upgrade()
    assert Runner(project, fresh_db, settings_for(fresh_db)).current() == ()
    assert advisory_locks_held(fresh_db) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_rollback_test_and_drift_through_the_projects_env(kind, tmp_path, pg, fresh_db, monkeypatch):
    """rollback-test and drift build their own databases: an env.py that connects where migtui says runs
    there; one with its own fixed setting (``own-engine``) is refused there in one line, never run elsewhere."""
    import dataclasses

    from migtui.drift.job import DriftOptions, run_drift
    from migtui.rollback.job import RollbackOptions, run_rollback_test
    from tests.conftest import new_database

    project = build(kind, tmp_path, fresh_db, monkeypatch, revisions=REVISIONS[:3])
    name, scratch = new_database(pg)
    try:
        settings = dataclasses.replace(settings_for(fresh_db), scratch_dsn=scratch, migrations=str(project.ini_path))
        if kind == "own-engine":  # the test cannot run at all: the project's error, exit 7
            with pytest.raises(ProjectError, match=r"rollback-test cannot run: env.py connected to .*not the target"):
                run_rollback_test(settings, RollbackOptions())
            return
        report = run_rollback_test(settings, RollbackOptions())
        assert report.exit_code == 0, report.summary
        assert [r["status"] for r in report.to_dict()["revisions"]] == ["passed"] * 3

        Runner(project, fresh_db, settings).upgrade()
        drift = run_drift(dataclasses.replace(settings, scratch_dsn=pg.dsn()), DriftOptions(use_cache=False))
        assert drift.exit_code == 0 and drift.differences == []
    finally:
        pg.drop_database(name)


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_stops_the_revision_on_env_pys_session(kind, tmp_path, fresh_db, monkeypatch):
    """What the TUI's abort does, on the session env.py opened (its own engine, asyncpg, the handed one)."""
    from migtui.errors import Interrupted
    from tests.runner.test_runner import _run_in_thread

    project = build(kind, tmp_path, fresh_db, monkeypatch)
    runner = Runner(project, fresh_db, settings_for(fresh_db))
    runner.upgrade("a3")
    thread, outcome = _run_in_thread(runner.upgrade)
    deadline = time.monotonic() + 20
    active = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'migtui up a4 @%' AND state = 'active'"
    while scalar(fresh_db, active) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cancelled_at = time.monotonic()
    runner.cancel()
    thread.join(timeout=10)
    assert time.monotonic() - cancelled_at < 3
    assert len(outcome) == 1 and isinstance(outcome[0], Interrupted), outcome
    assert runner.current() == ("a3",)
    assert scalar(fresh_db, "SELECT to_regclass('half') IS NULL") is True
    assert advisory_locks_held(fresh_db) == 0


def test_driver_setting_overrides_alembic_ini(tmp_path, fresh_db, monkeypatch):
    project = build("caller-connection", tmp_path, fresh_db, monkeypatch, revisions=REVISIONS[:2])  # psycopg2
    sink = Recorder()
    Runner(project, fresh_db, settings_for(fresh_db, driver="psycopg"), sink).upgrade()
    assert sink.of(RunStarted)[0].driver == "psycopg"
    assert scalar(fresh_db, "SELECT driver FROM seen") == "psycopg"


@pytest.mark.parametrize("kind", ["async", "caller-connection"])
def test_dry_run_shadow_through_the_projects_env(kind, tmp_path, pg, fresh_db, monkeypatch):
    """The shadow runs the pending revisions through env.py on its copy of the schema, on the project's driver."""
    from migtui.dryrun.job import DryRunOptions, run_dry_run
    from tests.alembic_projects import project_settings

    project = build(kind, tmp_path, fresh_db, monkeypatch, revisions=REVISIONS[:3])
    Runner(project, fresh_db, settings_for(fresh_db)).upgrade("a1")
    report = run_dry_run(
        project_settings(project.ini_path, replica_dsn=fresh_db),
        DryRunOptions(allow_primary=True, scratch_server=pg),
    )
    revisions = {r["revision"]: r for r in report.to_dict()["revisions"]}
    assert list(revisions) == ["a2", "a3"]
    # as the server ran it (psycopg2 was sent '%%I' and an empty parameter dict)
    assert revisions["a2"]["statements"][0]["sql"].startswith("CREATE TABLE seen AS SELECT format('%I.%I'")
    assert "ADD COLUMN w INTEGER" in revisions["a3"]["statements"][0]["sql"]
    assert not any(s.get("error") for r in revisions.values() for s in r["statements"])


def test_libpq_options_become_session_settings_for_any_driver():
    """The dry-run shadow's statement_timeout travels in libpq ``options``; asyncpg gets it as SQL instead."""
    from migtui.runner.step import dsn_settings

    dsn = "postgresql://u@h/db?options=-c%20statement_timeout%3D5000%20-c%20search_path%3Dapp&application_name=x"
    assert dsn_settings(dsn) == [("statement_timeout", "5000"), ("search_path", "app")]
    assert dsn_settings("postgresql://u@h/db") == []
    url = AlembicProject.load(Path(__file__).parents[2] / "db" / "migrations").config(dsn, driver="asyncpg")
    assert url.get_main_option("sqlalchemy.url") == "postgresql+asyncpg://u@h/db"


THREADED_ENV = """
import threading

import sqlalchemy as sa
from alembic import context

errors = []


def run():
    try:
        engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url"), poolclass=sa.pool.NullPool)
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=None)
            with context.begin_transaction():
                context.run_migrations()
    except BaseException as exc:
        errors.append(exc)


worker = threading.Thread(target=run)
worker.start()
worker.join()
if errors:
    raise errors[0]
"""


def test_env_running_revisions_on_another_thread_is_refused(tmp_path, fresh_db):
    """Its session would run without lock_timeout and outside the watchdog: refused before the revision runs."""
    script = make_project(tmp_path, REVISIONS[:1])
    (script / "env.py").write_text(THREADED_ENV)
    project = AlembicProject.load(script)
    with pytest.raises(ProjectError, match="connection migtui cannot watch") as info:
        Runner(project, fresh_db, settings_for(fresh_db)).upgrade()
    assert info.value.exit_code == 7
    assert Runner(project, fresh_db, settings_for(fresh_db)).current() == ()
    assert scalar(fresh_db, "SELECT to_regclass('t') IS NULL") is True
