"""rollback-test on real PostgreSQL with stock ``alembic init`` projects.

One long chain mixes correct revisions (including a CONCURRENTLY index in ``autocommit_block()``) with
downgrades broken in every way a reviewer has seen; the run must fail at exactly the broken revisions, each
with the difference named. Broken chains that cannot go on (upgrade raises, re-upgrade fails) get their own
small projects.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET

import pytest

from migtui.config import load_settings
from migtui.project.load import AlembicProject
from migtui.render.rollback import report_junit, report_text
from migtui.rollback.job import FAILED, NOOP_DOWNGRADE, PASSED, SKIPPED, Checkpoint, RollbackTest
from tests.alembic_projects import Rev, make_project
from tests.conftest import run_cli, run_main

ROLE = "rollback_test_reader"

BASE_UP = f"""
op.execute('''
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN CREATE ROLE {ROLE}; END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE SEQUENCE counter INCREMENT 5;
CREATE TABLE parent (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name varchar(50) NOT NULL);
CREATE TABLE child (
    id serial PRIMARY KEY,
    parent_id int CONSTRAINT child_parent_fk REFERENCES parent(id) ON DELETE CASCADE,
    qty int NOT NULL DEFAULT 0 CONSTRAINT child_qty_check CHECK (qty >= 0),
    a int, b int, code text, note text, m mood
);
CREATE INDEX child_a_active ON child (a) WHERE a > 0;
CREATE INDEX child_a_b ON child (a, b);
CREATE UNIQUE INDEX child_code ON child (code);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $f$BEGIN NEW.note := 'touched'; RETURN NEW; END$f$;
CREATE TRIGGER child_touch BEFORE INSERT ON child FOR EACH ROW EXECUTE FUNCTION touch();
CREATE FUNCTION price(q int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT q * 2';
CREATE VIEW big_children AS SELECT id, qty FROM child WHERE qty > 10;
COMMENT ON TABLE child IS 'children';
GRANT SELECT ON child TO {ROLE};
''')
"""
BASE_DOWN = """
op.execute('''
DROP VIEW big_children; DROP TABLE child; DROP TABLE parent; DROP FUNCTION price(int); DROP FUNCTION touch();
DROP SEQUENCE counter; DROP TYPE mood;
''')
"""


def sql(text: str) -> str:
    return f"op.execute({text!r})"


# revision -> (upgrade, downgrade, expected: None (passes) or (phase, kind, object, attribute))
CHAIN: list[tuple[str, str, str, tuple[str, str, str, str | None] | None]] = [
    ("setup", BASE_UP, BASE_DOWN, None),
    (
        "good_column",
        "op.add_column('child', sa.Column('extra', sa.Integer, server_default='7'))",
        "op.drop_column('child', 'extra')",
        None,
    ),
    (
        "good_concurrently",
        "with op.get_context().autocommit_block():\n"
        "    op.create_index('child_b', 'child', ['b'], postgresql_concurrently=True)",
        "with op.get_context().autocommit_block():\n"
        "    op.drop_index('child_b', table_name='child', postgresql_concurrently=True)",
        None,
    ),
    (
        "wrong_default",
        "op.alter_column('child', 'qty', server_default='1')",
        "op.alter_column('child', 'qty', server_default='2')",
        ("schema after downgrade", "column", "public.child.qty", "default"),
    ),
    (
        "lost_not_null",
        "op.alter_column('parent', 'name', nullable=True)",
        "pass",
        ("no-op downgrade", "column", "public.parent.name", "not_null"),
    ),
    (
        "fk_without_cascade",
        "op.drop_constraint('child_parent_fk', 'child')\n"
        "op.create_foreign_key('child_parent_fk', 'child', 'parent', ['parent_id'], ['id'], ondelete='SET NULL')",
        "op.drop_constraint('child_parent_fk', 'child')\n"
        "op.create_foreign_key('child_parent_fk', 'child', 'parent', ['parent_id'], ['id'])",
        ("schema after downgrade", "constraint", "public.child.child_parent_fk", "on_delete"),
    ),
    (
        "index_lost_predicate",
        "op.drop_index('child_a_active', table_name='child')",
        "op.create_index('child_a_active', 'child', ['a'])",
        ("schema after downgrade", "index", "public.child_a_active", "predicate"),
    ),
    (
        "index_column_order",
        "op.drop_index('child_a_b', table_name='child')",
        "op.create_index('child_a_b', 'child', ['b', 'a'])",
        ("schema after downgrade", "index", "public.child_a_b", "columns"),
    ),
    (
        "index_not_unique",
        "op.drop_index('child_code', table_name='child')",
        "op.create_index('child_code', 'child', ['code'])",
        ("schema after downgrade", "index", "public.child_code", "unique"),
    ),
    (
        "check_text_differs",
        "op.drop_constraint('child_qty_check', 'child')",
        "op.create_check_constraint('child_qty_check', 'child', 'qty > 0')",
        ("schema after downgrade", "constraint", "public.child.child_qty_check", "definition"),
    ),
    (
        "enum_value_order",
        sql(
            "ALTER TYPE mood RENAME TO mood_old; CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'meh'); "
            "ALTER TABLE child ALTER m TYPE mood USING m::text::mood; DROP TYPE mood_old"
        ),
        sql(
            "ALTER TYPE mood RENAME TO mood_old; CREATE TYPE mood AS ENUM ('ok', 'sad', 'happy'); "
            "ALTER TABLE child ALTER m TYPE mood USING m::text::mood; DROP TYPE mood_old"
        ),
        ("schema after downgrade", "enum", "public.mood", "values"),
    ),
    (
        "trigger_left_disabled",
        sql(
            "ALTER TABLE child DISABLE TRIGGER child_touch; UPDATE child SET qty = qty; "
            "ALTER TABLE child ENABLE TRIGGER child_touch; ALTER TABLE child ADD COLUMN flag boolean"
        ),
        sql("ALTER TABLE child DISABLE TRIGGER child_touch; ALTER TABLE child DROP COLUMN flag"),
        ("schema after downgrade", "trigger", "public.child.child_touch", "enabled"),
    ),
    (
        "function_body_changed",
        sql("CREATE OR REPLACE FUNCTION price(q int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT q * 3'"),
        sql("CREATE OR REPLACE FUNCTION price(q int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT q *2'"),
        ("schema after downgrade", "function", "public.price(q integer)", "body"),
    ),
    (
        "view_definition_differs",
        sql("CREATE OR REPLACE VIEW big_children AS SELECT id, qty, a FROM child WHERE qty > 10"),
        sql("DROP VIEW big_children; CREATE VIEW big_children AS SELECT id, qty FROM child WHERE qty >= 10"),
        ("schema after downgrade", "view", "public.big_children", "definition"),
    ),
    (
        "sequence_parameters",
        sql("ALTER SEQUENCE counter INCREMENT 10"),
        sql("ALTER SEQUENCE counter INCREMENT 1"),
        ("schema after downgrade", "sequence", "public.counter", "increment"),
    ),
    (
        "identity_lost",
        sql("ALTER TABLE parent ALTER id DROP IDENTITY IF EXISTS"),
        "pass",
        ("no-op downgrade", "column", "public.parent.id", "identity"),
    ),
    (
        "comment_lost",
        sql("COMMENT ON TABLE child IS 'kids'"),
        sql("COMMENT ON TABLE child IS NULL"),
        ("schema after downgrade", "table", "public.child", "comment"),
    ),
    (
        "grant_lost",
        sql(f"REVOKE SELECT ON child FROM {ROLE}"),
        "pass",
        ("no-op downgrade", "table", "public.child", "grants"),
    ),
    (
        "column_type_differs",
        "op.alter_column('parent', 'name', type_=sa.String(100))",
        "op.alter_column('parent', 'name', type_=sa.String(60))",
        ("schema after downgrade", "column", "public.parent.name", "type"),
    ),
    (
        "leaves_object_behind",
        sql(
            "CREATE TABLE audit (id int); CREATE OR REPLACE FUNCTION audit_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'"
        ),
        sql("DROP TABLE audit"),
        ("schema after downgrade", "function", "public.audit_fn()", None),
    ),
    (
        "downgrade_raises",
        "op.add_column('child', sa.Column('tmp', sa.Integer))",
        "raise RuntimeError('downgrade not supported')",
        ("downgrade", None, None, None),
    ),
    (
        "reupgrade_differs",
        sql("ALTER TABLE child ADD COLUMN IF NOT EXISTS level int DEFAULT 1"),
        sql("ALTER TABLE child ALTER level DROP DEFAULT"),
        ("schema after re-upgrade", "column", "public.child.level", "default"),
    ),
    (
        "good_table_with_enum",
        "op.create_table('tagged', sa.Column('id', sa.Integer, primary_key=True),"
        " sa.Column('kind', sa.Enum('x', 'y', name='tag_kind')))",
        "op.drop_table('tagged')\nop.execute('DROP TYPE tag_kind')",
        None,
    ),
]


def _settings():
    return load_settings({})


def _new_db(server) -> tuple[str, str]:
    name = "t_rb_" + uuid.uuid4().hex[:10]
    return name, server.create_database(name)


@pytest.fixture(scope="module")
def chain_report(pg, tmp_path_factory):
    """The long chain, run once through the engine on a fresh database (put back from its template clone
    after each failing revision, as run_rollback_test does)."""
    root = tmp_path_factory.mktemp("chain")
    project_dir = make_project(root, [Rev(name, up, down) for name, up, down, _ in CHAIN])
    name, dsn = _new_db(pg)
    checkpoint = Checkpoint(pg, name)
    try:
        report = RollbackTest(AlembicProject.load(project_dir), dsn, _settings(), checkpoint=checkpoint).run()
    finally:
        pg.drop_database(name)
        pg.drop_database(checkpoint.clone)
    return project_dir, report


def test_chain_fails_at_exactly_the_broken_revisions(chain_report):
    _, report = chain_report
    broken = [name for name, _, _, expected in CHAIN if expected is not None]
    assert [r.revision for r in report.failed] == broken
    assert [r.revision for r in report.revisions if r.status == PASSED] == [
        name for name, _, _, expected in CHAIN if expected is None
    ]
    assert report.exit_code == 1


@pytest.mark.parametrize("case", [c for c in CHAIN if c[3] is not None], ids=lambda c: c[0])
def test_broken_downgrade_names_the_difference(chain_report, case):
    name, _, _, (phase, kind, obj, attribute) = case
    _, report = chain_report
    result = next(r for r in report.revisions if r.revision == name)
    if phase == "no-op downgrade":
        assert result.status == NOOP_DOWNGRADE and result.failures == []
        items = result.downgrade_differences
        assert [(d.kind, d.object, d.attribute) for d in items] == [(kind, obj, attribute)]
        return
    assert result.status == FAILED
    assert phase in result.failures
    if phase == "downgrade":
        assert result.error and "downgrade not supported" in result.error
        return
    items = result.downgrade_differences if phase == "schema after downgrade" else result.reupgrade_differences
    assert (kind, obj, attribute) in [(d.kind, d.object, d.attribute) for d in items]
    if phase == "schema after downgrade":
        assert len(items) == 1, [d.describe() for d in items]  # exactly the broken attribute, nothing else


def test_text_and_junit_reports_name_revision_and_difference(chain_report):
    _, report = chain_report
    text = report_text(report)
    assert "FAIL wrong_default" in text
    assert "column public.child.qty: default: expected '0', actual '2'" in text
    assert "PASS good_concurrently" in text
    root = ET.fromstring(report_junit(report))
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(CHAIN)
    failed = {c.get("name").split()[0] for c in cases if c.find("failure") is not None}
    assert failed == {name for name, _, _, expected in CHAIN if expected is not None}
    assert root.find("./testsuite").get("failures") == str(len(failed))


def _small_project(tmp_path, revisions):
    return make_project(tmp_path, [Rev(*r) for r in revisions])


def test_reupgrade_failure_stops_a_run_without_a_clone(pg, tmp_path):
    """The classic: drop_table() leaves the enum type behind; upgrading again then fails. In a database the
    job was given (no template clone to go back to) the run cannot go on."""
    project_dir = _small_project(
        tmp_path,
        [
            ("t1", "op.create_table('a', sa.Column('id', sa.Integer, primary_key=True))", "op.drop_table('a')"),
            (
                "t2",
                "op.create_table('b', sa.Column('id', sa.Integer, primary_key=True),"
                " sa.Column('k', sa.Enum('x', 'y', name='b_kind')))",
                "op.drop_table('b')",
            ),
            ("t3", "op.add_column('a', sa.Column('c', sa.Integer))", "op.drop_column('a', 'c')"),
        ],
    )
    name, dsn = _new_db(pg)
    try:
        report = RollbackTest(AlembicProject.load(project_dir), dsn, _settings()).run()
    finally:
        pg.drop_database(name)
    t1, t2, t3 = report.revisions
    assert (t1.status, t2.status, t3.status) == (PASSED, FAILED, SKIPPED)
    assert t2.failures == ["schema after downgrade", "re-upgrade"]
    assert [(d.kind, d.object, d.change) for d in t2.downgrade_differences] == [("enum", "public.b_kind", "added")]
    assert "b_kind" in t2.error and "already exists" in t2.error
    assert "not run" in t3.note


def _server_databases(server) -> set[str]:
    return {row[0] for row in server.execute("SELECT datname FROM pg_database")}


def test_whole_history_in_one_run_and_fail_fast(pg, tmp_path):
    """Every kind of failure, then good revisions: all are tested in one run (the database is put back from
    the clone taken after each upgrade); --fail-fast stops at the first failure. The test's databases are
    created on the --scratch-dsn server and dropped."""
    project_dir = _small_project(
        tmp_path,
        [
            ("h1", "op.create_table('a', sa.Column('id', sa.Integer, primary_key=True))", "op.drop_table('a')"),
            (
                "h2",
                "op.create_table('b', sa.Column('id', sa.Integer, primary_key=True),"
                " sa.Column('k', sa.Enum('x', 'y', name='b_kind')))",
                "op.drop_table('b')",
            ),
            ("h3", "op.add_column('a', sa.Column('c', sa.Integer))", "pass"),
            ("h4", "op.add_column('a', sa.Column('d', sa.Integer))", "raise RuntimeError('no way back')"),
            ("h5", "op.add_column('b', sa.Column('e', sa.Integer))", "op.drop_column('b', 'e')"),
            ("h6", "op.create_index('a_c', 'a', ['c', 'd'])", "op.drop_index('a_c', table_name='a')"),
        ],
    )
    before = _server_databases(pg)
    done = run_main("rollback-test", "--migrations", str(project_dir), "--scratch-dsn", pg.dsn(), "--format", "json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    statuses = {r["revision"]: r["status"] for r in data["revisions"]}
    assert statuses == {
        "h1": "passed",
        "h2": "failed",
        "h3": "no-op downgrade",
        "h4": "failed",
        "h5": "passed",
        "h6": "passed",
    }
    assert data["failed"] == ["h2", "h3", "h4"] and data["noop_downgrades"] == ["h3"]
    h2 = data["revisions"][1]
    assert h2["failures"] == ["schema after downgrade", "re-upgrade"]
    assert _server_databases(pg) == before  # the scratch database and its clone are gone

    allowed = run_main(
        "rollback-test", "--migrations", str(project_dir), "--scratch-dsn", pg.dsn(), "--allow-noop-downgrades"
    )
    assert allowed.returncode == 1  # h2 and h4 still fail
    assert "NOOP h3" in allowed.stdout and "FAIL h4" in allowed.stdout and "PASS h6" in allowed.stdout
    assert "3 passed, 2 failed (h2, h4), 1 no-op downgrade(s)" in allowed.stdout

    fast = run_main("rollback-test", "--migrations", str(project_dir), "--scratch-dsn", pg.dsn(), "--fail-fast")
    assert fast.returncode == 1
    assert "FAIL h2" in fast.stdout and "SKIP h3" in fast.stdout and "--fail-fast" in fast.stdout
    assert _server_databases(pg) == before


def test_upgrade_failure_is_reported_and_stops(pg, tmp_path):
    project_dir = _small_project(
        tmp_path,
        [
            ("u1", "op.execute('SELECT 1/0')", "pass"),
            ("u2", "op.add_column('x', sa.Column('c', sa.Integer))", "pass"),
        ],
    )
    name, dsn = _new_db(pg)
    try:
        report = RollbackTest(AlembicProject.load(project_dir), dsn, _settings()).run()
    finally:
        pg.drop_database(name)
    assert [r.status for r in report.revisions] == [FAILED, SKIPPED]
    assert report.revisions[0].failures == ["upgrade"]
    assert "division by zero" in report.revisions[0].error


def test_revision_without_downgrade_function_is_named_and_the_run_goes_on(pg, tmp_path):
    """A revision module with upgrade() only (OpenStack's policy): one clear failure, the next revision tested
    on the schema the upgrade left."""
    project_dir = _small_project(
        tmp_path,
        [
            ("n1", "op.create_table('a', sa.Column('id', sa.Integer, primary_key=True))", "op.drop_table('a')"),
            ("n2", "op.add_column('a', sa.Column('c', sa.Integer))", "op.drop_column('a', 'c')"),
            ("n3", "op.add_column('a', sa.Column('d', sa.Integer))", "op.drop_column('a', 'd')"),
        ],
    )
    n2 = next(project_dir.glob("versions/*n2*.py"))
    text = n2.read_text()
    n2.write_text(text[: text.index("def downgrade")])
    name, dsn = _new_db(pg)
    try:
        report = RollbackTest(AlembicProject.load(project_dir), dsn, _settings()).run()
    finally:
        pg.drop_database(name)
    assert [r.status for r in report.revisions] == [PASSED, FAILED, PASSED]
    assert report.revisions[1].failures == ["downgrade"]
    assert report.revisions[1].error == "revision n2 defines no downgrade(): it cannot be rolled back"


GOOD = [
    (
        "g1",
        "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True), sa.Column('v', sa.Text))",
        "op.drop_table('t')",
    ),
    ("g2", "op.add_column('t', sa.Column('w', sa.Integer, nullable=True))", "op.drop_column('t', 'w')"),
    ("g3", "op.alter_column('t', 'v', new_column_name='v2')", "op.alter_column('t', 'v2', new_column_name='v')"),
]


def test_cli_json_and_exit_codes(pg, tmp_path):
    project_dir = _small_project(tmp_path / "good", GOOD)
    name, dsn = _new_db(pg)  # --scratch-dsn names a server: the test runs in a database of its own on it
    try:
        done = run_cli("rollback-test", "--migrations", str(project_dir), "--scratch-dsn", dsn, "--format", "json")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert data["ok"] is True and data["failed"] == [] and data["passed"] == 3
        assert [r["revision"] for r in data["revisions"]] == ["g1", "g2", "g3"]
        assert all(r["seconds"]["total"] > 0 for r in data["revisions"])
        # the database the DSN names was only connected to, never migrated
        assert pg.execute("SELECT to_regclass('alembic_version')", dbname=name) == [(None,)]

        # so a second run starts from scratch again; --force is still accepted (scripts pass it)
        again = run_cli("rollback-test", "--migrations", str(project_dir), "--scratch-dsn", dsn, "--force")
        assert again.returncode == 0, again.stderr
        assert again.stdout.count("PASS") == 3
    finally:
        pg.drop_database(name)


def test_cli_text_names_broken_revision_and_redacts_password(pg, tmp_path):
    revisions = [
        *GOOD,
        ("bad", "op.alter_column('t', 'w', server_default='5')", "pass"),
    ]
    project_dir = _small_project(tmp_path, revisions)
    name, dsn = _new_db(pg)
    secret_dsn = dsn.replace("postgres@", "postgres:s3cr3t-pw@", 1)
    try:
        junit = tmp_path / "report.xml"
        done = run_cli(
            "rollback-test",
            "--migrations",
            str(project_dir),
            "--scratch-dsn",
            secret_dsn,
            "--format",
            "junit",
            "--output",
            str(junit),
        )
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""  # --output: the report goes to the file only
        assert "column public.t.w: default: expected none, actual '5'" in junit.read_text()
        assert "s3cr3t-pw" not in done.stdout + done.stderr + junit.read_text()
        root = ET.fromstring(junit.read_text())
        assert [c.get("name") for c in root.iter("testcase")] == ["g1", "g2", "g3", "bad"]
    finally:
        pg.drop_database(name)


def test_cli_bad_inputs(tmp_path, pg):
    missing = run_main("rollback-test", "--migrations", str(tmp_path / "nope"), "--scratch-dsn", pg.dsn())
    assert missing.returncode == 2 and "migrations not found" in missing.stderr
    project_dir = _small_project(tmp_path / "p", GOOD)
    unreachable = run_main(
        "rollback-test", "--migrations", str(project_dir), "--scratch-dsn", "postgresql://u:pw@127.0.0.1:1/db"
    )
    assert unreachable.returncode == 6, unreachable.stderr
    assert "pw@" not in unreachable.stderr and "Traceback" not in unreachable.stderr
    bad_format = run_main("rollback-test", "--migrations", str(project_dir), "--format", "xml")
    assert bad_format.returncode == 2
    bad_exclude = run_main("rollback-test", "--migrations", str(project_dir), "--exclude", "ownr")
    assert bad_exclude.returncode == 2 and "unknown name to exclude: 'ownr'" in bad_exclude.stderr
    bad_output = run_main("rollback-test", "--migrations", str(project_dir), "--output", str(tmp_path / "no/r.xml"))
    assert bad_output.returncode == 2 and "no such directory" in bad_output.stderr


def test_repository_migrations_pass(pg):
    """The repo's own db/migrations (sample project, incl. CONCURRENTLY and NOT VALID steps) round-trip."""
    from tests.conftest import ROOT

    name, dsn = _new_db(pg)
    try:
        report = RollbackTest(AlembicProject.load(ROOT / "db" / "migrations"), dsn, _settings()).run()
    finally:
        pg.drop_database(name)
    assert report.ok, report_text(report)
    assert len(report.revisions) >= 10 and all(r.status == PASSED for r in report.revisions)


@pytest.mark.db
def test_cli_embedded_server_by_default(tmp_path):
    """No --dsn: an embedded server is started for the run and removed afterwards."""
    project_dir = _small_project(tmp_path, GOOD[:2])
    done = run_cli("rollback-test", "--migrations", str(project_dir), timeout=180)
    assert done.returncode == 0, done.stderr
    assert "embedded PostgreSQL 16" in done.stdout and "2 passed, 0 failed" in done.stdout


def test_with_data_warns_about_destroyed_rows_and_values(pg, tmp_path):
    project_dir = _small_project(
        tmp_path,
        [
            *GOOD[:1],
            # a downgrade that "restores" a column by dropping and re-adding it: values are gone
            (
                "recreate",
                "op.add_column('t', sa.Column('n', sa.Integer))",
                "op.drop_column('t', 'n')\nop.drop_column('t', 'v')\nop.add_column('t', sa.Column('v', sa.Text))",
            ),
        ],
    )
    name, dsn = _new_db(pg)
    try:
        report = RollbackTest(AlembicProject.load(project_dir), dsn, _settings(), with_data=True).run()
    finally:
        pg.drop_database(name)
    g1, recreate = report.revisions
    assert g1.status == PASSED and recreate.status == PASSED  # same schema: not a failure, a warning
    # dropping the table the revision created destroys its rows: said so
    assert g1.data_warnings == ["table public.t lost 3 of 3 rows (a table this revision creates)"]
    # re-creating a column that existed before destroys its values: a real loss
    lost_v = [w for w in recreate.data_warnings if w.startswith("column public.t.v lost")]
    assert lost_v and "this revision" not in lost_v[0]
    assert "warning: column public.t.v lost" in report_text(report)


def test_branches_and_merge_points(pg, tmp_path):
    """Two branches and a merge revision: each step is one revision, in a valid order."""
    project_dir = make_project(
        tmp_path,
        [
            Rev("m0", "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))", "op.drop_table('t')"),
            Rev("m1", "op.add_column('t', sa.Column('a', sa.Integer))", "op.drop_column('t', 'a')", down="m0"),
            Rev("m2", "op.add_column('t', sa.Column('b', sa.Integer))", "op.drop_column('t', 'b')", down="m0"),
            Rev("m3", "pass", "pass", down=("m1", "m2")),
            Rev("m4", "op.add_column('t', sa.Column('c', sa.Integer))", "pass", down="m3"),
        ],
    )
    name, dsn = _new_db(pg)
    try:
        report = RollbackTest(AlembicProject.load(project_dir), dsn, _settings()).run()
    finally:
        pg.drop_database(name)
    statuses = {r.revision: r.status for r in report.revisions}
    assert statuses == {"m0": PASSED, "m1": PASSED, "m2": PASSED, "m3": PASSED, "m4": NOOP_DOWNGRADE}
    assert report.revisions[0].revision == "m0" and report.revisions[-1].revision == "m4"


def test_exclude_and_step_timeout(pg, tmp_path):
    """--exclude leaves a category out; a downgrade that hangs is cancelled by the per-step timeout."""
    project_dir = _small_project(
        tmp_path,
        [
            GOOD[0],
            ("comment", "op.execute(\"COMMENT ON TABLE t IS 'x'\")", "pass"),
            ("hangs", "op.add_column('t', sa.Column('z', sa.Integer))", "op.execute('SELECT pg_sleep(30)')"),
        ],
    )
    name, dsn = _new_db(pg)
    try:
        done = run_cli(
            "rollback-test",
            "--migrations",
            str(project_dir),
            "--scratch-dsn",
            dsn,
            "--exclude",
            "comment",
            "--timeout",
            "1",
            "--format",
            "json",
        )
    finally:
        pg.drop_database(name)
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["failed"] == ["hangs"]
    hangs = data["revisions"][-1]
    assert hangs["failures"] == ["downgrade"] and "timeout" in hangs["error"].lower()
    assert hangs["seconds"]["total"] < 15
