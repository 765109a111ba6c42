"""The statement-level hazards of test_hazards.py checked on a real server: what lint predicts for option lists,
inline constraints, system catalogs and unknown signatures is what PostgreSQL does (pg_locks, relfilenode)."""

from __future__ import annotations

import psycopg
import pytest

from migtui.analysis import analyze_sql
from migtui.analysis.lock_modes import stronger

SCHEMA = """
CREATE TABLE orders (id bigint PRIMARY KEY, n int);
INSERT INTO orders SELECT g, g % 7 FROM generate_series(1, 2000) g;
CREATE INDEX orders_n_idx ON orders (n);
"""


@pytest.fixture
def conn(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as connection:
        connection.execute(SCHEMA)
        yield connection


def _locks_in_transaction(conn, sql: str) -> dict[str, str]:
    """Relation locks (stronger than AccessShareLock) this session holds after ``sql``, rolled back after."""
    conn.execute("BEGIN")
    try:
        conn.execute(sql)
        rows = conn.execute(
            "SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = pg_backend_pid() AND l.mode <> 'AccessShareLock' AND c.relname NOT LIKE 'pg_%'"
        ).fetchall()
    finally:
        conn.execute("ROLLBACK")
    held: dict[str, str] = {}
    for name, mode in rows:  # a relation can be locked in several modes: the strongest counts
        key = f"public.{name}"
        held[key] = mode if key not in held else stronger(held[key], mode)
    return held


def _relfilenode(conn, name: str) -> int:
    return conn.execute("SELECT relfilenode FROM pg_class WHERE relname = %s", (name,)).fetchone()[0]


def test_reindex_concurrently_false_is_a_plain_reindex(conn):
    sql = "REINDEX (CONCURRENTLY false) INDEX orders_n_idx"
    seen = _locks_in_transaction(conn, sql)  # runs inside a transaction block: it is not concurrent
    assert seen == {"public.orders": "ShareLock", "public.orders_n_idx": "AccessExclusiveLock"}
    [st] = analyze_sql(sql)
    assert st.forms == ["reindex"] and st.lock_on("public.orders_n_idx") == "AccessExclusiveLock"


@pytest.mark.parametrize("option, rewrites", [("FULL false", False), ("FULL 0", False), ("FULL", True)])
def test_vacuum_full_option_read_by_value(conn, option, rewrites):
    before = _relfilenode(conn, "orders")
    conn.execute(f"VACUUM ({option}) orders")
    assert (_relfilenode(conn, "orders") != before) is rewrites
    [st] = analyze_sql(f"VACUUM ({option}) orders")
    assert (st.rewrites == ["public.orders"]) is rewrites


@pytest.mark.parametrize(
    "sql",
    [
        "REINDEX SYSTEM CONCURRENTLY",
        "REINDEX TABLE CONCURRENTLY pg_catalog.pg_class",
        "REINDEX (CONCURRENTLY) INDEX pg_catalog.pg_class_oid_index",
    ],
)
def test_system_catalogs_cannot_be_reindexed_concurrently(conn, sql):
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="cannot reindex system catalogs concurrently"):
        conn.execute(sql)
    [finding] = [f for st in analyze_sql(sql) for f in st.findings if f.rule == "reindex-system"]
    assert finding.severity == "error" and "fails" in finding.message


def test_reindex_schema_pg_catalog_concurrently_skips_every_catalog(conn):
    warnings: list[str] = []
    conn.add_notice_handler(lambda diag: warnings.append(diag.message_primary or ""))
    conn.execute("REINDEX SCHEMA CONCURRENTLY pg_catalog")
    assert warnings == ["cannot reindex system catalogs concurrently, skipping all"]
    [finding] = [f for st in analyze_sql("REINDEX SCHEMA CONCURRENTLY pg_catalog") for f in st.findings]
    assert finding.rule == "reindex-system" and finding.severity == "warning" and "reindexes nothing" in finding.message
    # TOAST tables of user tables are not catalogs: CONCURRENTLY works there
    conn.execute("REINDEX (CONCURRENTLY) SCHEMA pg_toast")
    assert "reindex-system" not in {
        f.rule for st in analyze_sql("REINDEX SCHEMA CONCURRENTLY pg_toast") for f in st.findings
    }


@pytest.mark.parametrize(
    "column, index",
    [("code text UNIQUE", True), ("code text CHECK (code <> '')", False), ("code text", False)],
)
def test_inline_constraint_of_add_column(conn, column, index):
    sql = f"ALTER TABLE orders ADD COLUMN {column}"
    new_index = {"public.orders_code_key": "AccessExclusiveLock"} if index else {}  # built by the statement
    assert _locks_in_transaction(conn, sql) == {"public.orders": "AccessExclusiveLock", **new_index}
    conn.execute(sql)
    indexes = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'").fetchone()[0]
    assert (indexes == 3) is index  # primary key, orders_n_idx, and the inline UNIQUE's index
    [st] = analyze_sql(sql)
    assert st.lock_on("public.orders") == "AccessExclusiveLock"
    assert (st.scans == ["public.orders"]) is (column != "code text")  # UNIQUE builds, CHECK checks every row


def test_explain_analyze_runs_the_statement(conn):
    conn.execute("EXPLAIN (ANALYZE false) UPDATE orders SET n = -1")
    assert conn.execute("SELECT count(*) FROM orders WHERE n = -1").fetchone()[0] == 0
    assert _locks_in_transaction(conn, "EXPLAIN (ANALYZE) UPDATE orders SET n = -1") == {
        "public.orders": "RowExclusiveLock",
        "public.orders_pkey": "RowExclusiveLock",
        "public.orders_n_idx": "RowExclusiveLock",
    }
    [st] = analyze_sql("EXPLAIN (ANALYZE) UPDATE orders SET n = -1")
    assert st.forms == ["update-all-rows"] and st.lock_on("public.orders") == "RowExclusiveLock"
    [st] = analyze_sql("EXPLAIN (ANALYZE false) UPDATE orders SET n = -1")
    assert st.locks == []


def test_now_with_an_argument_is_another_function(conn):
    with pytest.raises(psycopg.errors.UndefinedFunction):
        conn.execute("ALTER TABLE orders ADD COLUMN at timestamptz DEFAULT now(123)")
    [st] = analyze_sql("ALTER TABLE orders ADD COLUMN at timestamptz DEFAULT now(123)")
    assert st.forms == ["add-column-volatile-default"] and any("now(1 argument)" in a for a in st.assumptions)
