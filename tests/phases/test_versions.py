"""Versioned schemas on real PostgreSQL: an old-application and a new-application session write at the same
time through their version's views across expand, migrate and contract, and see the same data."""

from __future__ import annotations

import random
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from migtui.phases import state as st
from migtui.phases.backfill import BackfillOptions
from migtui.phases.driver import DriverOptions, PhaseDriver
from migtui.phases.gates import GateOptions
from migtui.project.load import AlembicProject
from tests.alembic_projects import Rev, make_project, render_offline
from tests.phases.test_carry import SETTINGS, snapshot

BASE_SQL = """
CREATE TABLE users (
  id bigserial PRIMARY KEY,
  full_name text NOT NULL DEFAULT 'anon',
  n int NOT NULL DEFAULT 0,
  note text
);
INSERT INTO users (full_name, n, note) SELECT 'user ' || g, g, 'seed' FROM generate_series(1, 300) g;
GRANT SELECT, UPDATE ON users TO PUBLIC;
"""

# change, (old schema, new schema), old column as the old app sees it, column as the new app sees it,
# value for the old app, value for the new app (each given a counter)
CASES = {
    "rename": (
        "phases.rename_column('users', 'full_name', 'legal_name', versions=True)",
        ("mg_b2_old", "mg_b2_new"),
        "full_name",
        "legal_name",
        lambda i: f"old {i}",
        lambda i: f"new {i}",
    ),
    "type": (
        "phases.change_column_type('users', 'n', 'bigint', rename_on_contract=True, versions=('app_v1', 'app_v2'))",
        ("app_v1", "app_v2"),
        "n",
        "n",
        lambda i: 1_000_000 + i,
        lambda i: 2_000_000 + i,
    ),
}


@pytest.fixture
def vdb(pg_any):
    name = "versions_" + uuid.uuid4().hex[:12]
    dsn = pg_any.create_database(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(BASE_SQL)
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('a1')")
    yield dsn
    pg_any.drop_database(name)


def project(tmp_path: Path, change: str, base_down: str = "pass") -> Path:
    return make_project(
        tmp_path,
        [
            Rev("a1", "op.execute(" + repr(BASE_SQL) + ")", base_down),
            Rev(
                "b2",
                "phases.expand(change)",
                "phases.downgrade(change)",
                header=f"from migtui import phases\n\nchange = {change}\n",
            ),
        ],
    )


def driver(dsn: str, proj: Path) -> PhaseDriver:
    opts = DriverOptions(backfill=BackfillOptions(batch_size=50), gates=GateOptions(quiet_window=0.3), poll=0.1)
    return PhaseDriver(dsn, AlembicProject.load(proj), SETTINGS, [].append, opts)


def q(dsn: str, query: str, params=None, search_path: str | None = None):
    kwargs = {"options": f"-csearch_path={search_path}"} if search_path else {}
    with psycopg.connect(dsn, autocommit=True, **kwargs) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else cur.rowcount


class App(threading.Thread):
    """One application version: inserts, updates and reads its own rows through its search_path."""

    def __init__(self, dsn: str, search_path: str, column: str, value, expected: dict, lock: threading.Lock):
        super().__init__(daemon=True)
        self.dsn, self.search_path, self.column, self.value = dsn, search_path, column, value
        self.expected, self.lock = expected, lock
        self.stop = threading.Event()
        self.pause = threading.Event()
        self.paused = threading.Event()
        self.errors: list[str] = []
        self.ops = 0
        self.mine: list[int] = []

    def run(self) -> None:
        rnd = random.Random(hash(self.search_path))
        col = psycopg.sql.Identifier(self.column)
        with psycopg.connect(self.dsn, autocommit=True, options=f"-csearch_path={self.search_path}") as conn:
            i = 0
            while not self.stop.is_set():
                if self.pause.is_set():
                    self.paused.set()
                    time.sleep(0.01)
                    continue
                self.paused.clear()
                i += 1
                try:
                    v = self.value(i)
                    if i % 2 and self.mine:
                        row_id = rnd.choice(self.mine)
                        conn.execute(
                            psycopg.sql.SQL("UPDATE users SET {} = %s WHERE id = %s").format(col, col), (v, row_id)
                        )
                    else:
                        row_id = conn.execute(
                            psycopg.sql.SQL("INSERT INTO users ({}, note) VALUES (%s, 'app') RETURNING id").format(col),
                            (v,),
                        ).fetchone()[0]
                        self.mine.append(row_id)
                    with self.lock:
                        self.expected[row_id] = v
                    seen = conn.execute(
                        psycopg.sql.SQL("SELECT {} FROM users WHERE id = %s").format(col), (row_id,)
                    ).fetchone()[0]
                    if seen != v:
                        self.errors.append(f"row {row_id}: wrote {v!r}, read {seen!r}")
                    self.ops += 1
                except Exception as exc:  # every error is a failure of the test
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    return
                time.sleep(0.002)


# rows seen differently through the two versions, and rows missing from one of them
DIVERGING = (
    "SELECT count(*) FILTER (WHERE o.id IS NOT NULL AND n.id IS NOT NULL "
    'AND o."{old_col}"::text <> n."{new_col}"::text), '
    "count(*) FILTER (WHERE o.id IS NULL OR n.id IS NULL) "
    "FROM {old}.users o FULL JOIN {new}.users n USING (id)"
)


def both_views(dsn: str, old_schema: str, new_schema: str, old_col: str, new_col: str) -> tuple[dict, dict]:
    old = dict(q(dsn, f'SELECT id, "{old_col}" FROM users', search_path=f"{old_schema},public"))
    new = dict(q(dsn, f'SELECT id, "{new_col}" FROM users', search_path=f"{new_schema},public"))
    return old, new


@pytest.mark.parametrize("case", sorted(CASES))
def test_both_versions_write_concurrently_across_the_phases(vdb, tmp_path, case):
    change, (old_schema, new_schema), old_col, new_col, old_value, new_value = CASES[case]
    dsn = vdb
    proj = project(tmp_path, change)
    expected: dict[int, object] = dict(q(dsn, f'SELECT id, "{old_col}" FROM users'))
    lock = threading.Lock()
    # the old application runs before expand: its version schema does not exist yet, users is the table
    old_app = App(dsn, f"{old_schema},public", old_col, old_value, expected, lock)
    new_app = App(dsn, f"{new_schema},public", new_col, new_value, expected, lock)
    old_app.start()
    time.sleep(0.2)
    with driver(dsn, proj) as d:
        d.run("b2", until="expand")
        assert {v.schema for v in d.plan("b2").versions} == {old_schema, new_schema}
        new_app.start()
        time.sleep(0.5)
        d.run("b2", until="migrate")
        time.sleep(0.5)
        assert not old_app.errors and not new_app.errors, old_app.errors + new_app.errors
        # the same data through both versions while both write (one statement: one snapshot)
        assert q(dsn, DIVERGING.format(old=old_schema, new=new_schema, old_col=old_col, new_col=new_col)) == [(0, 0)]
        old_app.stop.set()
        old_app.join(10)
        # and as each application wrote it (the new application pauses for the comparison)
        new_app.pause.set()
        assert new_app.paused.wait(10)
        with lock:
            old_seen, new_seen = both_views(dsn, old_schema, new_schema, old_col, new_col)
            assert {k: str(v) for k, v in old_seen.items()} == {k: str(v) for k, v in new_seen.items()}
            assert {k: str(v) for k, v in old_seen.items()} == {k: str(v) for k, v in expected.items()}
        new_app.pause.clear()
        writes = st.write_counters(d.conn, "b2")
        assert writes.old_writes > 0 and writes.new_writes > 0, writes  # each view wrote on its own path
        time.sleep(0.5)  # the quiet window
        d.run("b2")
        assert st.get(d.conn, "b2").phase == st.CONTRACTED
        time.sleep(0.5)  # the new application goes on after contract
        new_app.stop.set()
        new_app.join(10)
    assert not old_app.errors and not new_app.errors, old_app.errors + new_app.errors
    assert old_app.ops > 20 and new_app.ops > 20, (old_app.ops, new_app.ops)
    assert q(dsn, "SELECT nspname FROM pg_namespace WHERE nspname IN (%s, %s)", (old_schema, new_schema)) == [
        (new_schema,)
    ]
    new_seen = dict(q(dsn, f'SELECT id, "{new_col}" FROM users', search_path=f"{new_schema},public"))
    table = dict(q(dsn, f'SELECT id, "{new_col}" FROM public.users'))
    assert new_seen == table
    assert {k: str(v) for k, v in new_seen.items()} == {k: str(v) for k, v in expected.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_views_are_updatable_invoker_views_with_the_tables_grants(vdb, tmp_path, case):
    change, (old_schema, new_schema), old_col, new_col, _old_value, new_value = CASES[case]
    dsn = vdb
    with driver(dsn, project(tmp_path, change)) as d:
        d.run("b2", until="expand")
        server = d.conn.info.server_version // 10000
    rows = q(
        dsn,
        "SELECT n.nspname, c.relname, array_to_string(c.reloptions, ','), "
        "has_table_privilege('public', c.oid, 'SELECT'), has_table_privilege('public', c.oid, 'UPDATE'), "
        "has_table_privilege('public', c.oid, 'INSERT'), has_schema_privilege('public', n.oid, 'USAGE') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN (%s, %s) ORDER BY 1",
        (old_schema, new_schema),
    )
    option = "security_invoker=true" if server >= 15 else ""
    assert sorted(rows) == sorted(
        [(old_schema, "users", option, True, True, False, True), (new_schema, "users", option, True, True, False, True)]
    )
    cols = {
        schema: [
            r[0]
            for r in q(
                dsn,
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) ORDER BY attnum",
                (f"{schema}.users",),
            )
        ]
        for schema in (old_schema, new_schema)
    }
    assert cols[old_schema] == ["id", "full_name", "n", "note"]
    assert cols[new_schema] == (
        ["id", "legal_name", "n", "note"] if case == "rename" else ["id", "full_name", "n", "note"]
    )
    # an insert through the new view that names none of the old columns: the table's defaults apply, the
    # old column is derived from the new one (the search_path says which version wrote)
    new_id = q(
        dsn, f'INSERT INTO users ("{new_col}") VALUES (%s) RETURNING id', (new_value(1),), f"{new_schema},public"
    )[0][0]
    assert q(dsn, f'SELECT "{old_col}"::text FROM users WHERE id = %s', (new_id,), f"{old_schema},public") == [
        (str(new_value(1)),)
    ]
    # ON CONFLICT through the new view: the conflicting row is updated, the old column follows
    q(
        dsn,
        f'INSERT INTO users (id, "{new_col}") VALUES (1, %s) '
        f'ON CONFLICT (id) DO UPDATE SET "{new_col}" = excluded."{new_col}"',
        (new_value(2),),
        f"{new_schema},public",
    )
    assert q(dsn, f'SELECT "{old_col}"::text FROM users WHERE id = 1', None, f"{old_schema},public") == [
        (str(new_value(2)),)
    ]
    old_id = q(dsn, "INSERT INTO users (note) VALUES ('defaults') RETURNING id", None, f"{old_schema},public")[0][0]
    assert q(dsn, f'SELECT "{new_col}" FROM users WHERE id = %s', (old_id,), f"{new_schema},public") == [
        ("anon",) if case == "rename" else (0,)
    ]


@pytest.mark.parametrize("until", ["expand", "migrate"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_abort_drops_both_versions_and_leaves_the_original(vdb, tmp_path, case, until):
    change, (old_schema, new_schema), *_ = CASES[case]
    dsn = vdb
    before = snapshot(dsn)
    data = q(dsn, "SELECT * FROM users ORDER BY id")
    with driver(dsn, project(tmp_path, change)) as d:
        d.run("b2", until=until)
        assert q(dsn, "SELECT count(*) FROM pg_namespace WHERE nspname IN (%s, %s)", (old_schema, new_schema)) == [(2,)]
        d.abort("b2")
    assert q(dsn, "SELECT count(*) FROM pg_namespace WHERE nspname IN (%s, %s)", (old_schema, new_schema)) == [(0,)]
    assert snapshot(dsn) == before
    assert q(dsn, "SELECT * FROM users ORDER BY id") == data


def test_a_foreign_schema_with_a_version_name_is_refused(vdb, tmp_path):
    dsn = vdb
    q(dsn, "CREATE SCHEMA app_v2")
    with driver(dsn, project(tmp_path, CASES["type"][0])) as d, pytest.raises(Exception) as info:
        d.run("b2", until="expand")
    assert "app_v2 already exists" in str(info.value)
    assert q(dsn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'app_v1'") == [(0,)]


def test_status_prints_each_version_and_its_recipe(vdb, tmp_path):
    from tests.conftest import ROOT, run_cli

    dsn = vdb
    proj = project(tmp_path, CASES["rename"][0])
    common = ["--dsn", dsn, "--migrations", str(proj)]
    env = {"PYTHONPATH": str(ROOT)}
    r = run_cli("phase", "run", "b2", "--until", "expand", *common, env=env)
    assert r.returncode == 0, r.stderr
    # the URL form the status prints connects with the version's search_path, and writes on its path
    url = dsn + ("&" if "?" in dsn else "?") + "options=-csearch_path%3Dmg_b2_new%2Cpublic"
    with psycopg.connect(url, autocommit=True, application_name="shop-v2") as conn:
        assert conn.execute("SELECT current_schemas(false)").fetchone()[0] == ["mg_b2_new", "public"]
        conn.execute("UPDATE users SET legal_name = 'x' WHERE id = 1")
        r = run_cli("phase", "status", "b2", *common, env=env)
        assert r.returncode == 0, r.stderr
        assert "version   old: schema mg_b2_old (live), 0 connected session(s) wrote on the old path" in r.stdout
        assert "version   new: schema mg_b2_new (live), 1 connected session(s) wrote on the new path (shop-v2)" in (
            r.stdout
        )
        assert (
            "search_path mg_b2_new, public: options='-csearch_path=mg_b2_new,public' "
            "or ?options=-csearch_path%3Dmg_b2_new%2Cpublic"
        ) in r.stdout
        # the TUI's Phases view renders the same entry
        from migtui.tui.screens.phases import versions_text

        r = run_cli("phase", "status", "b2", "--format", "json", *common, env=env)
        shown = versions_text(__import__("json").loads(r.stdout)["phases"][0]).plain
        assert "version   new: schema mg_b2_new (live), 1 session(s) writing: shop-v2" in shown
        assert "search_path mg_b2_old, public  options='-csearch_path=mg_b2_old,public'" in shown
    assert q(dsn, "SELECT full_name FROM users WHERE id = 1") == [("x",)]
    r = run_cli("phase", "run", "b2", "--quiet-window", "0", *common, env=env)
    assert r.returncode == 0, r.stderr
    r = run_cli("phase", "status", "b2", "--format", "json", *common, env=env)
    import json

    versions = {v["role"]: v for v in json.loads(r.stdout)["phases"][0]["versions"]}
    assert versions["old"]["present"] is False and versions["old"]["state"] == "dropped at contract"
    assert versions["new"]["present"] is True and versions["new"]["state"].startswith("kept after contract")


@pytest.mark.parametrize("end", ["contract", "abort"])
def test_drift_follows_the_version_schemas(pg, tmp_path, end):
    """The version schemas are part of the expected schema at every phase: no drift at expanded, migrated,
    contracted (old schema gone, new kept) or aborted (both gone); a view changed by hand is found."""
    from migtui.config import load_settings
    from migtui.runner.job import Runner
    from tests.drift.test_drift import _items, drift_of

    proj = AlembicProject.load(project(tmp_path / "p", CASES["rename"][0]))
    settings = load_settings({}, env={})
    name = "t_drift_versions_" + uuid.uuid4().hex[:8]
    dsn = pg.create_database(name)

    def items() -> list:
        return _items(drift_of(proj, dsn, settings, cache_dir=tmp_path, scratch_dsn=pg.dsn()))

    try:
        Runner(proj, dsn, settings).upgrade("head")
        assert items() == []
        options = DriverOptions(backfill=BackfillOptions(batch_size=500), gates=GateOptions(quiet_window=0.0))
        with PhaseDriver(dsn, proj, settings, lambda event: None, options) as d:
            d.run("b2", until="migrate")
            assert items() == []
            q(dsn, "CREATE OR REPLACE VIEW mg_b2_new.users AS SELECT id, legal_name, n, note, 1 AS extra FROM users")
            assert {i[:2] for i in items()} == {("view", "mg_b2_new.users")}
            q(dsn, "DROP VIEW mg_b2_new.users")
            q(
                dsn,
                "CREATE VIEW mg_b2_new.users WITH (security_invoker = true) "
                "AS SELECT id, legal_name, n, note FROM public.users",
            )
            q(dsn, "GRANT SELECT, UPDATE ON mg_b2_new.users TO PUBLIC")
            assert items() == []
            if end == "contract":
                d.run("b2")
            else:
                d.abort("b2")
        assert items() == []
    finally:
        pg.drop_database(name)


def test_rollback_test_drives_a_versioned_revision(pg, tmp_path):
    """rollback-test: expand -> abort -> expand leaves no version schema behind, contract keeps the new one."""
    from migtui.config import load_settings
    from migtui.render.rollback import report_text
    from migtui.rollback.job import RollbackTest

    proj = project(
        tmp_path,
        "phases.rename_column('users', 'full_name', 'legal_name', versions=('app_v1', 'app_v2'))",
        'op.execute("DROP TABLE users")',
    )
    name = "t_rb_versions_" + uuid.uuid4().hex[:8]
    dsn = pg.create_database(name)
    try:
        report = RollbackTest(AlembicProject.load(proj), dsn, load_settings({}, env={})).run()
        assert report.ok, report_text(report)
        b2 = next(r for r in report.revisions if r.revision == "b2")
        assert b2.phased == [
            "expand -> abort (downgrade) -> expand",
            "expand -> migrate -> contract (not reversible; left contracted)",
        ]
    finally:
        pg.drop_database(name)


def test_an_offline_expand_publishes_the_versions_at_migrate(vdb, tmp_path):
    """``alembic upgrade --sql`` has no catalog to list the columns: the first migrate completes the plan
    online and creates both schemas, and the trigger already knew their names."""
    dsn = vdb
    proj = project(tmp_path, "phases.rename_column('users', 'full_name', 'legal_name', type='text', versions=True)")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(render_offline(proj, "a1:b2"))
    assert q(dsn, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'mg_b2_%'") == [(0,)]
    with driver(dsn, proj) as d:
        d.run("b2", until="migrate")
        assert [v.schema for v in d.plan("b2").versions] == ["mg_b2_old", "mg_b2_new"]
    q(dsn, "INSERT INTO users (legal_name) VALUES ('via v2')", search_path="mg_b2_new,public")
    assert q(dsn, "SELECT full_name FROM users WHERE note IS NULL", search_path="mg_b2_old,public") == [("via v2",)]


def test_an_application_that_owns_its_table_can_use_both_versions(vdb, tmp_path):
    """Expand runs as another role (a superuser here) than the table's owner: the owner gets the views'
    privileges and USAGE on the schemas, so an application connecting as the owner works through both."""
    dsn = vdb
    role = "app_owner_" + uuid.uuid4().hex[:8]
    q(dsn, f"CREATE ROLE {role}")
    try:
        q(dsn, f"ALTER TABLE users OWNER TO {role}")
        with driver(dsn, project(tmp_path, CASES["rename"][0])) as d:
            d.run("b2", until="expand")
        for schema, column in (("mg_b2_old", "full_name"), ("mg_b2_new", "legal_name")):
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"SET ROLE {role}")
                conn.execute(f"SET search_path = {schema}, public")
                new_id = conn.execute(f"INSERT INTO users ({column}) VALUES ('by the owner') RETURNING id").fetchone()[
                    0
                ]
                conn.execute(f"UPDATE users SET {column} = {column} || '!' WHERE id = %s", (new_id,))
                assert conn.execute(
                    "SELECT full_name, legal_name FROM public.users WHERE id = %s", (new_id,)
                ).fetchone() == (
                    "by the owner!",
                    "by the owner!",
                )
                conn.execute("DELETE FROM users WHERE id = %s", (new_id,))
    finally:
        q(dsn, "DROP SCHEMA IF EXISTS mg_b2_old, mg_b2_new CASCADE")
        q(dsn, f"DROP OWNED BY {role}")
        q(dsn, f"DROP ROLE {role}")
