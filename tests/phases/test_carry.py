"""Carry-over on real PostgreSQL: what the old column had is on the new one after contract, valid, and an
abort leaves the catalog exactly as it was before expand."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psycopg
import pytest

from migtui.catalog.inspect import inspect_database
from migtui.config import Settings
from migtui.errors import ExitCode, MigtuiError
from migtui.phases import state as st
from migtui.phases.backfill import BackfillOptions
from migtui.phases.driver import DriverOptions, GateRefused, PhaseDriver
from migtui.phases.gates import GateOptions
from migtui.project.load import AlembicProject
from tests.alembic_projects import Rev, make_project, render_offline

BASE_SQL = """
CREATE TABLE kinds (id int PRIMARY KEY);
INSERT INTO kinds SELECT g FROM generate_series(1, 50) g;
CREATE TABLE items (
  id bigserial PRIMARY KEY,
  code int NOT NULL DEFAULT 45 CONSTRAINT items_code_positive CHECK (code > 0)
    CONSTRAINT items_code_key UNIQUE CONSTRAINT items_code_kind_fkey REFERENCES kinds (id),
  label text DEFAULT 'abc',
  other int
);
CREATE INDEX items_code_partial ON items (code, other) WHERE code > 10;
COMMENT ON COLUMN items.code IS 'the item''s code';
ALTER TABLE items ALTER COLUMN code SET STATISTICS 500;
ALTER TABLE items ALTER COLUMN code SET (n_distinct = -1);
INSERT INTO items (code, other) SELECT g, g FROM generate_series(1, 40) g;
CREATE TABLE tags (id bigserial PRIMARY KEY, item_code int CONSTRAINT tags_item_code_fkey REFERENCES items (code));
INSERT INTO tags (item_code) SELECT g FROM generate_series(1, 40, 5) g;
CREATE VIEW items_v WITH (security_barrier) AS SELECT i.id, i.code, i.code * 2 AS doubled FROM items i WHERE i.code > 0;
COMMENT ON VIEW items_v IS 'codes';
GRANT SELECT ON items_v TO PUBLIC;
"""

SETTINGS = Settings(lock_timeout=0.5, lock_retries=3, lock_retry_delay=0.1)

PATTERNS = {
    "rename": ("phases.rename_column('items', 'code', 'item_code')", "item_code", "integer"),
    "type": ("phases.change_column_type('items', 'code', 'bigint')", "code_new", "bigint"),
    "type_renamed": (
        "phases.change_column_type('items', 'code', 'bigint', using='code + 0', rename_on_contract=True)",
        "code",
        "bigint",
    ),
}


@pytest.fixture
def carry_db(request, pg):
    """A database with the base schema (alembic at a1), on the pg_any server when the test asks for it."""
    server = request.getfixturevalue("pg_any") if "pg_any" in request.fixturenames else pg
    name = "carry_" + uuid.uuid4().hex[:12]
    dsn = server.create_database(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(BASE_SQL)
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('a1')")
    yield dsn
    server.drop_database(name)


def project(tmp_path: Path, change: str) -> Path:
    return make_project(
        tmp_path,
        [
            Rev("a1", "op.execute(" + repr(BASE_SQL) + ")", "pass"),
            Rev(
                "b2",
                "phases.expand(change)",
                "phases.downgrade(change)",
                header=f"from migtui import phases\n\nchange = {change}\n",
            ),
        ],
    )


def driver(dsn: str, proj: Path, events: list | None = None) -> PhaseDriver:
    opts = DriverOptions(backfill=BackfillOptions(batch_size=20), gates=GateOptions(quiet_window=0.2), poll=0.1)
    return PhaseDriver(dsn, AlembicProject.load(proj), SETTINGS, (events if events is not None else []).append, opts)


def q(dsn: str, query: str, params=None):
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else cur.rowcount


def snapshot(dsn: str) -> dict:
    """Every schema object but migtui's own state schema (created by expand, kept after abort)."""
    snap = inspect_database(dsn)
    return {
        key: obj.to_dict()
        for key, obj in snap.objects.items()
        if not (key[1] == "migtui" or key[1].startswith("migtui."))
    }


CARRIED_SQL = """
SELECT 'default', pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
  WHERE d.adrelid = 'items'::regclass AND d.adnum = (SELECT attnum FROM pg_attribute
    WHERE attrelid = 'items'::regclass AND attname = %(col)s)
UNION ALL SELECT 'constraint ' || conname || ' ' || convalidated, pg_get_constraintdef(oid) FROM pg_constraint
  WHERE conrelid IN ('items'::regclass, 'tags'::regclass) AND contype <> 'p'
UNION ALL SELECT 'index ' || i.relname || ' ' || x.indisvalid, pg_get_indexdef(i.oid) FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = 'items'::regclass AND NOT x.indisprimary
UNION ALL SELECT 'comment', col_description('items'::regclass, (SELECT attnum FROM pg_attribute
    WHERE attrelid = 'items'::regclass AND attname = %(col)s))
UNION ALL SELECT 'stats', attstattarget::text FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = %(col)s
UNION ALL SELECT 'options', array_to_string(attoptions, ',') FROM pg_attribute
  WHERE attrelid = 'items'::regclass AND attname = %(col)s
UNION ALL SELECT 'type', format_type(atttypid, atttypmod) || ' ' || attnotnull FROM pg_attribute
  WHERE attrelid = 'items'::regclass AND attname = %(col)s
UNION ALL SELECT 'view', pg_get_viewdef('items_v'::regclass)
UNION ALL SELECT 'view options', array_to_string(reloptions, ',') || ' ' || obj_description(oid, 'pg_class')
  || ' ' || has_table_privilege('public', oid, 'SELECT')::text FROM pg_class WHERE oid = 'items_v'::regclass
ORDER BY 1, 2
"""


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_contract_carries_everything_to_the_new_column(carry_db, tmp_path, pattern, pg_any):
    change, final, new_type = PATTERNS[pattern]
    dsn = carry_db
    proj = project(tmp_path, change)
    events: list = []
    with driver(dsn, proj, events) as d:
        d.run("b2", until="expand")
        status = d.status("b2")[0]
        carried_gate = next(g for g in status["gates"] if g["gate"] == "carried_valid")
        assert not carried_gate["passed"]  # built and validated in migrate
        d.run("b2", until="migrate")
        # writes of both versions during the phase satisfy the carried constraints
        q(dsn, "INSERT INTO items (other) VALUES (1000)")  # the default 45
        time.sleep(0.3)
        status = d.status("b2")[0]
        assert all(g["passed"] for g in status["gates"]), status["gates"]
        d.run("b2")
        assert st.get(d.conn, "b2").phase == st.CONTRACTED
    rows = dict(q(dsn, CARRIED_SQL, {"col": final}))
    assert rows["type"] == f"{new_type} true"
    assert rows["default"] in ("45", "(45 + 0)", "((45 + 0))::bigint", "45::bigint", "(45)::bigint")
    assert rows["comment"] == "the item's code"
    assert rows["stats"] == "500"
    assert rows["options"] == "n_distinct=-1"
    assert rows["constraint items_code_positive true"] == f"CHECK (({final} > 0))"
    assert rows["constraint items_code_kind_fkey true"] == f"FOREIGN KEY ({final}) REFERENCES kinds(id)"
    assert rows["constraint items_code_key true"] == f"UNIQUE ({final})"
    assert rows["constraint tags_item_code_fkey true"] == f"FOREIGN KEY (item_code) REFERENCES items({final})"
    assert rows["index items_code_partial true"] == (
        f"CREATE INDEX items_code_partial ON public.items USING btree ({final}, other) WHERE ({final} > 10)"
    )
    assert rows["index items_code_key true"].startswith("CREATE UNIQUE INDEX items_code_key")
    assert final in rows["view"] and ("code_new" in rows["view"]) == (final == "code_new")
    assert q(
        dsn,
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items_v'::regclass "
        "AND attname = 'code'",
    ) == [(new_type,)]
    assert rows["view options"] == "security_barrier=true codes true"
    # every name is the old one: nothing temporary left
    assert not [k for k in rows if "_mg" in k]
    # the view keeps its output columns, the constraints work
    assert [
        r[0] for r in q(dsn, "SELECT attname FROM pg_attribute WHERE attrelid = 'items_v'::regclass ORDER BY attnum")
    ] == [
        "id",
        "code",
        "doubled",
    ]
    with pytest.raises(psycopg.errors.CheckViolation):
        q(dsn, f"INSERT INTO items ({final}) VALUES (-1)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        q(dsn, f"INSERT INTO items ({final}) VALUES (3)")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        q(dsn, "INSERT INTO tags (item_code) VALUES (999)")
    assert q(dsn, f"SELECT {final} FROM items WHERE other = 1000") == [(45,)]


@pytest.mark.parametrize("until", ["expand", "migrate"])
@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_abort_leaves_the_catalog_exactly_as_before(carry_db, tmp_path, pattern, until, pg_any):
    dsn = carry_db
    before = snapshot(dsn)
    proj = project(tmp_path, PATTERNS[pattern][0])
    with driver(dsn, proj) as d:
        d.run("b2", until=until)
        assert snapshot(dsn) != before
        d.abort("b2")
    assert snapshot(dsn) == before


def test_a_default_that_cannot_be_cast_is_refused_at_expand(carry_db, tmp_path):
    dsn = carry_db
    before = snapshot(dsn)
    proj = project(tmp_path, "phases.change_column_type('items', 'label', 'int')")
    with driver(dsn, proj) as d, pytest.raises(MigtuiError) as info:
        d.run("b2", until="expand")
    assert info.value.exit_code == ExitCode.USAGE
    assert "default 'abc'::text of label cannot be carried to label_new as int" in info.value.message
    assert "invalid input syntax for type integer" in info.value.message
    assert snapshot(dsn) == before
    assert q(dsn, "SELECT version_num FROM alembic_version") == [("a1",)]


NON_COPIES = {
    "split": "phases.split_column('items', 'code', {'code_a': ('int', 'code / 2'), 'code_b': ('int', 'code % 2')}, "
    "merge_back='code_a * 2 + code_b')",
    "merge": "phases.merge_columns('items', ['code', 'other'], ('code_other', 'text', \"code || '/' || other\"), "
    "{'code': \"split_part(code_other, '/', 1)::int\", 'other': \"split_part(code_other, '/', 2)::int\"})",
}


@pytest.mark.parametrize("pattern", sorted(NON_COPIES))
def test_split_and_merge_refuse_what_they_cannot_carry(carry_db, tmp_path, pattern):
    dsn = carry_db
    before = snapshot(dsn)
    proj = project(tmp_path, NON_COPIES[pattern])
    with driver(dsn, proj) as d, pytest.raises(MigtuiError) as info:
        d.run("b2", until="expand")
    message = info.value.message
    assert info.value.exit_code == ExitCode.USAGE
    for part in ("has a default", "has a comment", "items_code_positive", "items_code_partial", "items_v"):
        assert part in message, message
    assert snapshot(dsn) == before


def test_carried_gate_refuses_an_invalid_carried_index(carry_db, tmp_path):
    dsn = carry_db
    proj = project(tmp_path, PATTERNS["rename"][0])
    with driver(dsn, proj) as d:
        d.run("b2", until="migrate")
        temp = q(dsn, "SELECT relname FROM pg_class WHERE relname LIKE 'items_code_partial_mg%'")[0][0]
        q(dsn, f"DROP INDEX {temp}")
        time.sleep(0.3)
        with pytest.raises(GateRefused) as info:
            d.run("b2")
        assert "carried_valid" in info.value.message and temp in info.value.message
        assert st.get(d.conn, "b2").phase == st.MIGRATED


def test_an_expand_rendered_offline_is_completed_with_the_catalog_at_migrate(carry_db, tmp_path):
    """``alembic upgrade --sql`` has no catalog, so its plan carries nothing: migrate completes it (the carried
    objects are added) before contract can drop the old column."""
    dsn = carry_db
    proj = project(tmp_path, "phases.rename_column('items', 'code', 'item_code', type='integer')")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(render_offline(proj, "a1:b2"))
    assert q(dsn, "SELECT phase, plan->>'catalog_read' FROM migtui.phase_state") == [("expanded", "false")]
    events: list = []
    with driver(dsn, proj, events) as d:
        d.run("b2", until="migrate")
        assert q(dsn, "SELECT plan->>'catalog_read' FROM migtui.phase_state") == [("true",)]
        time.sleep(0.3)
        d.run("b2")
    assert any("rendered offline" in getattr(e, "text", "") for e in events)
    rows = dict(q(dsn, CARRIED_SQL, {"col": "item_code"}))
    assert rows["default"] == "45"
    assert rows["constraint items_code_positive true"] == "CHECK ((item_code > 0))"
    assert rows["constraint tags_item_code_fkey true"] == "FOREIGN KEY (item_code) REFERENCES items(item_code)"
    assert rows["index items_code_partial true"].endswith("(item_code, other) WHERE (item_code > 10)")


def test_column_privileges_are_refused(carry_db, tmp_path):
    dsn = carry_db
    q(dsn, "GRANT SELECT (label) ON items TO PUBLIC")
    before = snapshot(dsn)
    proj = project(tmp_path, "phases.change_column_type('items', 'label', 'varchar(10)')")
    with driver(dsn, proj) as d, pytest.raises(MigtuiError) as info:
        d.run("b2", until="expand")
    assert "public.items.label has column privileges" in info.value.message
    assert snapshot(dsn) == before


def test_a_sequence_default_moves_with_its_sequence(carry_db, tmp_path):
    """A serial column: its nextval default is set in the swap and the sequence it owns is owned by the new
    column before the old one (which would take the sequence with it) is dropped."""
    dsn = carry_db
    q(dsn, "ALTER TABLE items ADD COLUMN seq_no serial")
    proj = project(tmp_path, "phases.rename_column('items', 'seq_no', 'seq')")
    with driver(dsn, proj) as d:
        d.run("b2", until="migrate")
        time.sleep(0.3)
        d.run("b2")
    assert q(
        dsn,
        "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'items'::regclass "
        "AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'seq')",
    ) == [("nextval('items_seq_no_seq'::regclass)",)]
    assert q(dsn, "SELECT pg_get_serial_sequence('items', 'seq')") == [("public.items_seq_no_seq",)]
    (value,) = q(dsn, "INSERT INTO items (code) VALUES (44) RETURNING seq")[0]
    assert value == 41  # the sequence went on where the old column left it
