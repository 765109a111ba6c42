"""backend/shared/db: settings, the alembic env.py's URL handling, and the deploy-time migrate entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command

from backend.shared.db.settings import (
    DatabaseSettings,
    DatabaseUrlMissing,
    database_url_from_env,
    load_database_settings,
    sqlalchemy_url_from_env,
    to_sqlalchemy_url,
)
from migtui.errors import ExitCode, UsageError
from migtui.pg import harness
from migtui.project.load import AlembicProject
from tests.conftest import ROOT

INI = ROOT / "db" / "migrations" / "alembic.ini"
URL_VARS = ("MIGTUI_DSN", "MIGTUI_DATABASE_URL", "DATABASE_URL")
SECRET = "s3cret-pw"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in URL_VARS and not k.startswith("MIGTUI_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def closed_port_url() -> str:
    return f"postgresql://postgres:{SECRET}@127.0.0.1:{harness.free_port()}/nowhere"


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=str(cwd), timeout=180)


def assert_one_line_error(proc: subprocess.CompletedProcess, *expected: str) -> str:
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    assert SECRET not in output
    errors = [line for line in output.splitlines() if "error" in line.lower() or "FAILED" in line]
    assert len(errors) == 1, output
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


# -- settings ---------------------------------------------------------------------------------------------


def test_migtui_database_url_wins_over_database_url():
    env = {"DATABASE_URL": "postgresql://a@h1/app", "MIGTUI_DATABASE_URL": "postgresql://b@h2/app"}
    assert database_url_from_env(env) == "postgresql://b@h2/app"
    assert database_url_from_env({"DATABASE_URL": "postgresql://a@h1/app", "MIGTUI_DATABASE_URL": ""}) == (
        "postgresql://a@h1/app"
    )
    assert load_database_settings(env).source == "$MIGTUI_DATABASE_URL"


def test_migtui_dsn_wins_over_its_old_name():
    env = {"DATABASE_URL": "postgresql://a@h1/app", "MIGTUI_DATABASE_URL": "postgresql://b@h2/app"}
    env["MIGTUI_DSN"] = "postgresql://c@h3/app"
    assert database_url_from_env(env) == "postgresql://c@h3/app"
    assert load_database_settings(env).source == "$MIGTUI_DSN"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/app", "postgresql+psycopg://u:p@db:5432/app"),
        ("postgres://u@db/app", "postgresql+psycopg://u@db/app"),
        ("postgresql+psycopg2://u@db/app", "postgresql+psycopg://u@db/app"),
        ("host=db port=5433 dbname=app user=u", "postgresql+psycopg://u@db:5433/app"),
    ],
)
def test_plain_urls_become_psycopg3_sqlalchemy_urls(given, expected):
    assert to_sqlalchemy_url(given) == expected
    assert sqlalchemy_url_from_env({"DATABASE_URL": given}) == expected


def test_repr_and_str_never_show_the_password():
    settings = DatabaseSettings.from_env({"DATABASE_URL": f"postgresql://app:{SECRET}@db/app"})
    for text in (repr(settings), str(settings), f"{settings}"):
        assert SECRET not in text
        assert "app:***@db/app" in text
    assert settings.sqlalchemy_url == f"postgresql+psycopg://app:{SECRET}@db/app"  # the real one still works


def test_missing_and_foreign_urls_are_clear_usage_errors():
    with pytest.raises(DatabaseUrlMissing) as missing:
        database_url_from_env({})
    assert missing.value.exit_code == ExitCode.USAGE
    assert "MIGTUI_DSN or DATABASE_URL" in missing.value.message
    with pytest.raises(UsageError) as foreign:
        to_sqlalchemy_url(f"mysql://root:{SECRET}@db/app")
    assert SECRET not in foreign.value.message and "postgresql://" in foreign.value.message


# -- env.py ---------------------------------------------------------------------------------------------


def test_plain_alembic_without_url_fails_with_one_line(tmp_path):
    proc = run([sys.executable, "-m", "alembic", "-c", str(INI), "upgrade", "head"], clean_env(), tmp_path)
    assert proc.returncode != 0
    assert_one_line_error(proc, "no database URL", "MIGTUI_DSN or DATABASE_URL")


def test_plain_alembic_unreachable_server_fails_with_one_redacted_line(tmp_path):
    env = clean_env(DATABASE_URL=closed_port_url())
    proc = run([sys.executable, "-m", "alembic", "-c", str(INI), "current"], env, tmp_path)
    assert proc.returncode != 0
    assert_one_line_error(proc, "cannot connect to database")


def test_offline_rendering_needs_no_url(tmp_path):
    proc = run(
        [sys.executable, "-m", "alembic", "-c", str(INI), "upgrade", "0001_users:0003_orders", "--sql"],
        clean_env(),
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "CREATE TABLE orders" in proc.stdout and "CREATE TABLE users" not in proc.stdout


def test_config_url_wins_over_environment(fresh_db, pg, monkeypatch):
    """migtui sets sqlalchemy.url on the Config; a stale $DATABASE_URL must not redirect the migration."""
    monkeypatch.setenv("DATABASE_URL", closed_port_url())
    monkeypatch.setenv("MIGTUI_DATABASE_URL", closed_port_url())
    command.upgrade(AlembicProject.load(INI).config(fresh_db), "0002_accounts")
    dbname = fresh_db.rsplit("/", 1)[1]
    assert pg.execute("SELECT version_num FROM alembic_version", dbname=dbname) == [("0002_accounts",)]


def test_connection_handed_over_in_config_attributes_is_used(fresh_db, pg, monkeypatch):
    from sqlalchemy import create_engine

    from migtui.pg.dsn import sqlalchemy_url

    for var in URL_VARS:
        monkeypatch.delenv(var, raising=False)
    engine = create_engine(sqlalchemy_url(fresh_db))
    try:
        with engine.begin() as conn:
            cfg = AlembicProject.load(INI).config()  # no URL at all: only the connection
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003_orders")
    finally:
        engine.dispose()
    dbname = fresh_db.rsplit("/", 1)[1]
    assert pg.execute("SELECT version_num FROM alembic_version", dbname=dbname) == [("0003_orders",)]
    assert pg.execute("SELECT to_regclass('orders') IS NOT NULL", dbname=dbname) == [(True,)]


# -- python -m backend.shared.db.migrate ------------------------------------------------------------------

MIGRATE = [sys.executable, "-m", "backend.shared.db.migrate"]


def test_migrate_without_url_exits_2_with_one_line(tmp_path):
    proc = run(MIGRATE, clean_env(), tmp_path)
    assert proc.returncode == ExitCode.USAGE
    assert_one_line_error(proc, "migrate: error: no database URL")


def test_migrate_rejects_a_foreign_url_without_showing_the_password(tmp_path):
    proc = run(MIGRATE, clean_env(DATABASE_URL=f"mysql://root:{SECRET}@db/app"), tmp_path)
    assert proc.returncode == ExitCode.USAGE
    assert_one_line_error(proc, "migrate: error:", "postgresql://")


def test_migrate_applies_to_head_under_the_runner_and_is_idempotent(fresh_db, pg, tmp_path):
    dbname = fresh_db.rsplit("/", 1)[1]
    head = AlembicProject.load(INI).head()
    first = run(MIGRATE, clean_env(DATABASE_URL=fresh_db), tmp_path)  # from another directory, plain URL
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert pg.execute("SELECT version_num FROM alembic_version", dbname=dbname) == [(head,)]
    again = run([*MIGRATE, "--format", "json"], clean_env(MIGTUI_DSN=fresh_db), tmp_path)
    assert again.returncode == 0, again.stderr
    events = [json.loads(line) for line in again.stdout.splitlines()]
    assert events and all("event" in e for e in events)
    assert events[-1]["event"] == "run_finished" and events[-1]["ok"] is True
    assert not any(e["event"] == "revision_started" for e in events)  # nothing left to apply
    assert pg.execute("SELECT version_num FROM alembic_version", dbname=dbname) == [(head,)]
    # the runner released its advisory lock
    assert pg.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", dbname=dbname) == [(0,)]


def test_concurrent_migrate_processes_apply_each_revision_once(fresh_db, pg, tmp_path):
    dbname = fresh_db.rsplit("/", 1)[1]
    env = clean_env(DATABASE_URL=fresh_db)
    procs = [
        subprocess.Popen(MIGRATE, env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=180), p.stderr.read()) for p in procs]
    for code, stderr in results:
        assert code in (0, ExitCode.LOCK_NOT_ACQUIRED), stderr
        assert "Traceback" not in stderr
    head = AlembicProject.load(INI).head()
    assert pg.execute("SELECT version_num FROM alembic_version", dbname=dbname) == [(head,)]


def test_migrate_unreachable_database_exits_6(tmp_path):
    proc = run(MIGRATE, clean_env(DATABASE_URL=closed_port_url()), tmp_path)
    assert proc.returncode == ExitCode.CONNECTION, proc.stderr
    assert_one_line_error(proc, "migrate: error:")


# -- the models on a database at head ------------------------------------------------------------------------


def test_models_work_against_the_migrated_schema(fresh_db, pg, monkeypatch):
    """Write through the ORM: defaults, the enum, the updated_at trigger, the view and ON DELETE CASCADE."""
    from sqlalchemy import create_engine, select, text
    from sqlalchemy.orm import Session

    from backend.shared.db.models import Account, Order, OrderItem, OrderStatus, User
    from migtui.pg.dsn import sqlalchemy_url

    for var in URL_VARS:
        monkeypatch.delenv(var, raising=False)
    command.upgrade(AlembicProject.load(INI).config(fresh_db), "head")
    engine = create_engine(sqlalchemy_url(fresh_db))
    try:
        with Session(engine) as session:
            ada = User(email="ada@example.com", full_name="Ada Lovelace", display_name="ada")
            account = Account(name="Analytical Engines", owner=ada)
            order = Order(account=account, user=ada, total_cents=2 * 1250)
            order.items = [OrderItem(sku="SKU-00001", quantity=2, unit_price_cents=1250)]
            session.add(order)
            session.commit()
            assert order.status is OrderStatus.PENDING and order.currency == "USD"  # server defaults
            created = order.updated_at
            order.status = OrderStatus.PAID
            session.commit()
            assert order.updated_at > created  # the trigger from 0007 moved updated_at
            totals = session.execute(text("SELECT order_count, total_cents FROM account_order_totals")).one()
            assert tuple(totals) == (1, 2500)
            session.execute(text("DELETE FROM orders"))
            session.commit()
            assert session.scalars(select(OrderItem)).all() == []  # ON DELETE CASCADE
    finally:
        engine.dispose()


def test_migrate_unknown_target_exits_2_and_changes_nothing(fresh_db, pg, tmp_path):
    proc = run([*MIGRATE, "--to", "0099_nope"], clean_env(DATABASE_URL=fresh_db), tmp_path)
    assert proc.returncode == ExitCode.USAGE
    assert_one_line_error(proc, "migrate: error:", "0099_nope")
    dbname = fresh_db.rsplit("/", 1)[1]
    assert pg.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'", dbname=dbname
    ) == [(0,)]
