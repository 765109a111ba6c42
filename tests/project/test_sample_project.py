"""The repo's own alembic project (db/migrations) on real PostgreSQL 16 and 18.

- plain ``alembic -c db/migrations/alembic.ini``: upgrade head, downgrade base, upgrade head;
- ``AlembicProject.load("db/migrations").config(dsn)``: every revision's downgrade restores the exact
  schema before it (``migtui.catalog``: columns, constraints and their validity, indexes, views,
  functions, triggers, enum types), and base leaves nothing behind but alembic_version (checked
  against pg_catalog directly too);
- the models match head (alembic autogenerate finds no difference), and not an earlier revision;
- offline ``--sql`` renders the whole chain, and that SQL run by psql builds the same schema;
- demo data loads at DEMO_STOP_REVISION and the pending revisions apply and roll back on it.
"""

from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic import command

from migtui.catalog import Snapshot, diff_snapshots, inspect_database
from migtui.demo.data import DEMO_STOP_REVISION, load_demo_data
from migtui.errors import UsageError
from migtui.pg import harness
from migtui.project.load import AlembicProject
from tests.conftest import ROOT

MIGRATIONS = ROOT / "db" / "migrations"
INI = MIGRATIONS / "alembic.ini"
URL_VARS = ("MIGTUI_DSN", "MIGTUI_DATABASE_URL", "DATABASE_URL")
PENDING_AT_DEMO_STOP = (
    "0014_orders_archived_at",
    "0015_orders_total_cents_bigint",
    "0016_orders_status_index",
    "0017_drop_users_username",
    "0018_accounts_owner_name_unique",  # phased (docs/phases.md)
    "0019_users_full_name_to_legal",  # phased
)

# Independent of migtui.catalog: every user object left in schema public, straight from pg_catalog.
LEFTOVERS = """
SELECT 'relation ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relname NOT IN ('alembic_version', 'alembic_version_pkc')
UNION ALL
SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'public' AND t.typrelid = 0 AND t.typelem = 0
UNION ALL
SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public'
UNION ALL
SELECT 'trigger ' || t.tgname FROM pg_trigger t WHERE NOT t.tgisinternal
"""


def schema(dsn: str) -> Snapshot:
    """The database's schema through migtui's one catalog inspector (alembic_version left out)."""
    return inspect_database(dsn)


def differences(expected: Snapshot, actual: Snapshot) -> list[str]:
    return [item.describe() for item in diff_snapshots(expected, actual)]


@pytest.fixture
def sample_db(pg_any):
    """(server, dbname, dsn): a new empty database on PostgreSQL 16 or 18, dropped afterwards."""
    name = "sample_" + uuid.uuid4().hex[:10]
    dsn = pg_any.create_database(name)
    yield pg_any, name, dsn
    pg_any.drop_database(name)


@pytest.fixture
def db16(pg):
    name = "sample_" + uuid.uuid4().hex[:10]
    dsn = pg.create_database(name)
    yield pg, name, dsn
    pg.drop_database(name)


@pytest.fixture
def no_url_env(monkeypatch):
    for var in URL_VARS:
        monkeypatch.delenv(var, raising=False)


def plain_alembic(*args: str, dsn: str | None, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in URL_VARS}
    if dsn is not None:
        env["DATABASE_URL"] = dsn
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(INI), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(cwd),
        timeout=120,
    )


def version(server, dbname: str) -> list[str]:
    return [row[0] for row in server.execute("SELECT version_num FROM alembic_version", dbname=dbname)]


def project_revisions() -> list[str]:
    return [rev.revision for rev in AlembicProject.load(MIGRATIONS).revisions()]


def test_chain_is_linear_descriptive_and_long_enough():
    project = AlembicProject.load(MIGRATIONS)
    revisions = project.revisions()
    assert len(revisions) >= 12
    assert revisions[0].revision == "0001_users" and not revisions[0].down_revisions
    for previous, rev in itertools.pairwise(revisions):
        assert rev.down_revisions == (previous.revision,)
        assert rev.path.name == f"{rev.revision}.py"
        assert len(rev.revision) <= 32  # alembic_version.version_num is varchar(32)
    assert project.head() == revisions[-1].revision
    ids = [r.revision for r in revisions]
    assert DEMO_STOP_REVISION in ids
    assert ids[ids.index(DEMO_STOP_REVISION) + 1 :] == list(PENDING_AT_DEMO_STOP)


def test_plain_alembic_upgrade_downgrade_upgrade(sample_db, tmp_path):
    """What a developer runs: URL from $DATABASE_URL (plain postgresql://), from any working directory."""
    server, name, dsn = sample_db
    assert dsn.startswith("postgresql://")
    empty = schema(dsn)
    head = project_revisions()[-1]

    up = plain_alembic("upgrade", "head", dsn=dsn, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert version(server, name) == [head]
    at_head = schema(dsn)
    assert set(at_head.names("table")) == {
        "public.users",
        "public.accounts",
        "public.orders",
        "public.order_items",
        "migtui.phase_state",  # 0018/0019 are phased revisions, expanded at head (docs/phases.md)
        "migtui.phase_writes",
    }
    assert at_head.names("view") == ["public.account_order_totals"]
    assert at_head.get("enum", "public.order_status").attributes["values"] == [
        "pending",
        "paid",
        "shipped",
        "cancelled",
        "refunded",
    ]
    assert at_head.names("function") == [
        "migtui.count_0019_users_full_name_to_legal(write_path text)",
        "migtui.sync_0019_users_full_name_to_legal()",
        "public.set_updated_at()",
    ]
    assert len(at_head.names("trigger")) == 4  # 3 updated_at triggers + 0019's dual-write trigger
    assert "public.ix_orders_account_id_created_at" in at_head.names("index")

    down = plain_alembic("downgrade", "base", dsn=dsn, cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert version(server, name) == []
    assert differences(empty, schema(dsn)) == []
    assert server.execute(LEFTOVERS, dbname=name) == []  # no table, type, function, view or trigger left

    again = plain_alembic("upgrade", "head", dsn=dsn, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert version(server, name) == [head]
    assert differences(at_head, schema(dsn)) == []


def test_every_downgrade_restores_the_schema_before_its_upgrade(sample_db, no_url_env, monkeypatch):
    """Through migtui's AlembicProject config: up one, down one, the catalog is exactly as before."""
    server, name, dsn = sample_db
    monkeypatch.chdir(ROOT)
    cfg = AlembicProject.load("db/migrations").config(dsn)
    empty = schema(dsn)
    before = empty
    for rev in project_revisions():
        command.upgrade(cfg, rev)
        after = schema(dsn)
        assert differences(before, after), f"{rev} changed nothing"
        command.downgrade(cfg, "-1")
        assert differences(before, schema(dsn)) == [], f"downgrade of {rev} is not the inverse of its upgrade"
        command.upgrade(cfg, rev)
        assert differences(after, schema(dsn)) == [], f"{rev} applied twice differs"
        before = after
    command.downgrade(cfg, "base")
    assert differences(empty, schema(dsn)) == []
    assert server.execute(LEFTOVERS, dbname=name) == []


def _compare_models(dsn: str) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from backend.shared.db.models import Base
    from migtui.pg.dsn import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(dsn))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_models_match_head_and_only_head(db16, no_url_env):
    _server, _name, dsn = db16
    cfg = AlembicProject.load(MIGRATIONS).config(dsn)
    command.upgrade(cfg, DEMO_STOP_REVISION)
    early = _compare_models(dsn)
    assert early, "comparison is blind: models should differ from a database short of head"
    command.upgrade(cfg, "head")
    assert _compare_models(dsn) == []


def _render_offline(range_: str, direction: str) -> str:
    cfg = AlembicProject.load(MIGRATIONS).config()  # no URL at all: env.py renders PostgreSQL SQL
    cfg.output_buffer = io.StringIO()
    getattr(command, direction)(cfg, range_, sql=True)
    return cfg.output_buffer.getvalue()


def _psql(server) -> str:
    binaries = server.binaries if isinstance(server, harness.Cluster) else harness.find_binaries()
    return binaries.tool("psql")


def test_offline_sql_renders_the_whole_chain_and_builds_the_same_schema(db16, no_url_env, tmp_path):
    server, name, dsn = db16
    sql_up = _render_offline("base:head", "upgrade")
    for rev in project_revisions():
        assert f"INTO alembic_version (version_num) VALUES ('{rev}')" in sql_up or f"SET version_num='{rev}'" in sql_up
    assert "CREATE TYPE order_status AS ENUM" in sql_up
    assert "CREATE INDEX CONCURRENTLY ix_orders_account_id_created_at" in sql_up
    assert "CREATE FUNCTION set_updated_at()" in sql_up
    assert "CREATE VIEW account_order_totals" in sql_up
    assert "UPDATE users SET display_name" in sql_up
    assert "ALTER TABLE orders ALTER COLUMN total_cents TYPE bigint" in sql_up
    assert "CREATE INDEX ix_orders_status_created_at ON orders (status, created_at)" in sql_up
    sql_down = _render_offline("head:base", "downgrade")
    assert "DROP TYPE order_status" in sql_down and "DROP FUNCTION set_updated_at()" in sql_down

    # A DBA could hand the rendered script to psql: it must build exactly what online migration builds.
    script = tmp_path / "upgrade.sql"
    script.write_text(sql_up)
    psql = subprocess.run(
        [_psql(server), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert psql.returncode == 0, psql.stderr
    offline_schema = schema(dsn)
    online = server.create_database(name + "_online")
    try:
        command.upgrade(AlembicProject.load(MIGRATIONS).config(online), "head")
        assert differences(schema(server.dsn(name + "_online")), offline_schema) == []
    finally:
        server.drop_database(name + "_online")


def test_demo_data_loads_at_stop_revision_and_pending_revisions_apply(db16, no_url_env):
    server, name, dsn = db16
    with pytest.raises(UsageError, match="revision"):
        load_demo_data(dsn, scale=1000)  # empty database: no tables yet
    cfg = AlembicProject.load(MIGRATIONS).config(dsn)
    command.upgrade(cfg, DEMO_STOP_REVISION)
    schema_before = schema(dsn)
    counts = load_demo_data(dsn, scale=2000)
    assert differences(schema_before, schema(dsn)) == []  # indexes rebuilt as they were, all valid

    real = {t: server.execute(f"SELECT count(*) FROM {t}", dbname=name)[0][0] for t in counts}
    assert counts == real
    assert counts["orders"] == 2000 and counts["users"] == 200 and counts["accounts"] == 50
    assert counts["orders"] < counts["order_items"] < 2 * counts["orders"]
    assert max(counts, key=counts.get) == "order_items"
    # consistent: totals are the sum of the lines, foreign keys hold, the sequences continue after the ids
    (mismatched,) = server.execute(
        """SELECT count(*) FROM orders o WHERE o.total_cents <>
           (SELECT sum(quantity * unit_price_cents) FROM order_items i WHERE i.order_id = o.id)""",
        dbname=name,
    )[0]
    assert mismatched == 0
    (orphans,) = server.execute(
        """SELECT (SELECT count(*) FROM orders o
                   WHERE NOT EXISTS (SELECT FROM accounts a WHERE a.id = o.account_id))
                + (SELECT count(*) FROM orders o
                   WHERE NOT EXISTS (SELECT FROM users u WHERE u.id = o.user_id))
                + (SELECT count(*) FROM accounts a
                   WHERE NOT EXISTS (SELECT FROM users u WHERE u.id = a.owner_id))""",
        dbname=name,
    )[0]
    assert orphans == 0
    new_id = server.execute(
        "INSERT INTO users (email, full_name, display_name) VALUES ('n@x.test', 'N', 'n') RETURNING id",
        dbname=name,
    )[0][0]
    assert new_id == counts["users"] + 1
    # the rows that make pending revisions interesting
    near_limit = server.execute("SELECT count(*) FROM orders WHERE total_cents > 2000000000", dbname=name)[0][0]
    assert near_limit == 5
    statuses = dict(server.execute("SELECT status::text, count(*) FROM orders GROUP BY 1", dbname=name))
    assert set(statuses) == {"pending", "paid", "shipped", "cancelled", "refunded"}
    assert statuses["shipped"] > counts["orders"] / 2
    analyzed = server.execute(
        "SELECT count(*) FROM pg_stat_user_tables "
        "WHERE relname IN ('users', 'accounts', 'orders', 'order_items') AND last_analyze IS NOT NULL",
        dbname=name,
    )[0][0]
    assert analyzed == 4

    with pytest.raises(UsageError, match="already has rows"):
        load_demo_data(dsn, scale=1000)
    assert server.execute("SELECT count(*) FROM orders", dbname=name)[0][0] == counts["orders"]

    to_archive = server.execute(
        "SELECT count(*) FROM orders WHERE status IN ('shipped', 'cancelled', 'refunded') "
        "AND created_at < now() - interval '1 year'",
        dbname=name,
    )[0][0]
    assert to_archive > counts["orders"] / 4
    command.upgrade(cfg, "head")
    archived = server.execute("SELECT count(*) FROM orders WHERE archived_at IS NOT NULL", dbname=name)[0][0]
    assert archived == to_archive
    command.downgrade(cfg, DEMO_STOP_REVISION)
    assert version(server, name) == [DEMO_STOP_REVISION]
    assert server.execute("SELECT count(*) FROM orders", dbname=name)[0][0] == counts["orders"]


def test_display_name_backfill_runs_in_batches_and_fills_every_row(db16, no_url_env):
    """0011 on 25,000 existing users (batches of 10,000 ids, ids with gaps), resumed after a kill."""
    server, name, dsn = db16
    cfg = AlembicProject.load(MIGRATIONS).config(dsn)
    command.upgrade(cfg, "0010_account_order_totals_view")
    server.execute(
        """INSERT INTO users (id, email, username, full_name)
           SELECT g, 'u' || g || '@example.com', CASE WHEN g % 4 = 0 THEN NULL ELSE 'name' || g END, 'U'
           FROM generate_series(1, 25000) AS g WHERE g % 7 <> 0""",
        dbname=name,
    )
    # as a run killed mid-backfill leaves it: the column committed, the first batch filled, no version bump
    server.execute("ALTER TABLE users ADD COLUMN display_name text", dbname=name)
    server.execute("UPDATE users SET display_name = 'kept' WHERE id < 10001", dbname=name)
    command.upgrade(cfg, "0011_users_display_name")
    kept = server.execute("SELECT count(*) FROM users WHERE display_name = 'kept'", dbname=name)[0][0]
    assert kept == 10000 - 10000 // 7  # the re-run did not touch rows already filled
    server.execute(
        "UPDATE users SET display_name = coalesce(username, split_part(email, '@', 1)) WHERE id < 10001", dbname=name
    )
    rows = dict(
        server.execute(
            """SELECT CASE WHEN display_name IS NULL THEN 'null'
                           WHEN display_name = coalesce(username, split_part(email, '@', 1)) THEN 'ok'
                           ELSE 'wrong' END, count(*)
               FROM users GROUP BY 1""",
            dbname=name,
        )
    )
    assert rows == {"ok": 25000 - 25000 // 7}
    # ids 10001-25000 were filled in two batches, each committed on its own (+1 for the fix-up of the rest)
    batches = server.execute("SELECT count(DISTINCT xmin::text) FROM users", dbname=name)[0][0]
    assert batches == 3
    command.upgrade(cfg, "head")  # SET NOT NULL through the validated check succeeds on the filled column
    nullable = server.execute(
        "SELECT is_nullable FROM information_schema.columns "
        "WHERE table_name = 'users' AND column_name = 'display_name'",
        dbname=name,
    )
    assert nullable == [("NO",)]


def test_demo_data_module_needs_only_psycopg():
    code = (
        "import sys, migtui.demo.data as d; "
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'textual') if m in sys.modules)); "
        "print(d.SAMPLE_MIGRATIONS)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    heavy, path = proc.stdout.splitlines()
    assert heavy == "[]"
    assert Path(path) == MIGRATIONS


def test_demo_data_loads_without_superuser(pg, no_url_env):
    """A plain database owner cannot skip foreign-key triggers: the loader falls back and still loads."""
    if not isinstance(pg, harness.Cluster):
        pytest.skip("needs a server where the test can create roles")
    role = "demo_owner_" + uuid.uuid4().hex[:8]
    dbname = "sample_" + uuid.uuid4().hex[:10]
    pg.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        pg.execute(f'CREATE DATABASE "{dbname}" OWNER "{role}"')
        dsn = pg.dsn(dbname, user=role)
        pg.execute(f'ALTER SCHEMA public OWNER TO "{role}"', dbname=dbname)
        command.upgrade(AlembicProject.load(MIGRATIONS).config(dsn), DEMO_STOP_REVISION)
        counts = load_demo_data(dsn, scale=500)
        assert counts["orders"] == 500
        assert pg.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", params=(role,)) == [(False,)]
    finally:
        pg.drop_database(dbname)
        pg.execute(f'DROP ROLE IF EXISTS "{role}"')
