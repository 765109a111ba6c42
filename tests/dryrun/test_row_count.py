"""The pure pglast rewrite of UPDATE/DELETE/INSERT into a counting SELECT (no database)."""

from __future__ import annotations

import pytest
from pglast import parse_sql

from migtui.analysis.row_count import count_query_for


def test_update_keeps_where():
    q = count_query_for("UPDATE orders SET status = 'x' WHERE created_at < '2020-01-01' AND id % 2 = 0")
    assert q is not None and q.kind == "update" and q.table == "orders"
    assert q.count_sql == "SELECT count(*) FROM orders WHERE created_at < '2020-01-01' AND id % 2 = 0"
    assert q.rows_sql == "SELECT 1 FROM orders WHERE created_at < '2020-01-01' AND id % 2 = 0"


def test_update_without_where_counts_the_table():
    q = count_query_for("update public.t set a = 1")
    assert q.count_sql == "SELECT count(*) FROM public.t"
    assert q.table == "public.t"


def test_update_from_counts_each_target_row_once():
    q = count_query_for("UPDATE ONLY s.t AS a SET v = u.v FROM u WHERE a.id = u.id AND u.k > 3 RETURNING a.id")
    assert q.count_sql == (
        "SELECT count(DISTINCT ROW(a.tableoid, a.ctid)) FROM ONLY s.t AS a, u WHERE a.id = u.id AND u.k > 3"
    )


def test_delete_using_and_with():
    q = count_query_for("WITH old AS (SELECT id FROM archive) DELETE FROM events e USING old WHERE e.id = old.id")
    assert q.kind == "delete"
    assert q.count_sql == (
        "WITH old AS (SELECT id FROM archive) "
        "SELECT count(DISTINCT ROW(e.tableoid, e.ctid)) FROM events AS e, old WHERE e.id = old.id"
    )


def test_delete_plain():
    q = count_query_for("DELETE FROM t WHERE flag IS NULL")
    assert q.count_sql == "SELECT count(*) FROM t WHERE flag IS NULL"


def test_insert_select():
    q = count_query_for("INSERT INTO t (a) SELECT x FROM y WHERE z > 1 UNION ALL SELECT 1")
    assert q.kind == "insert" and not q.upper_bound
    assert q.count_sql == "SELECT count(*) FROM (SELECT x FROM y WHERE z > 1 UNION ALL SELECT 1) AS affected"
    assert q.rows_sql == "SELECT 1 FROM (SELECT x FROM y WHERE z > 1 UNION ALL SELECT 1) AS affected"


def test_insert_values_is_static():
    q = count_query_for("INSERT INTO t (a) VALUES (1), (2), (3)")
    assert q.static_count == 3 and q.count_sql is None
    assert count_query_for("INSERT INTO t DEFAULT VALUES").static_count == 1


def test_insert_on_conflict_is_an_upper_bound():
    q = count_query_for("INSERT INTO t SELECT * FROM s ON CONFLICT DO NOTHING")
    assert q.upper_bound


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE t ADD COLUMN c int",
        "SELECT 1",
        "UPDATE t SET a = 1 WHERE CURRENT OF c",
        "WITH d AS (DELETE FROM x RETURNING *) UPDATE t SET a = 1 FROM d WHERE t.id = d.id",
        "UPDATE t SET a = 1; DELETE FROM t",
        "not sql at all",
    ],
)
def test_not_countable(sql):
    assert count_query_for(sql) is None


def test_rewrites_parse_back():
    for sql in ("UPDATE t SET a = b WHERE c IN (SELECT d FROM e)", 'DELETE FROM "Odd Name" WHERE x'):
        q = count_query_for(sql)
        parse_sql(q.count_sql)
        parse_sql(q.rows_sql)
    assert '"Odd Name"' in count_query_for('DELETE FROM "Odd Name" WHERE x').count_sql


def test_lock_differences_compare_per_table_strongest_mode():
    from migtui.dryrun.static import lock_differences

    model = [{"relation": "public.t", "mode": "ShareLock"}, {"relation": "public.p", "mode": "ShareRowExclusiveLock"}]
    observed = [
        {"relation": "t", "kind": "table", "mode": "ShareLock", "created": False},
        {
            "relation": "t_pkey",
            "kind": "index",
            "mode": "AccessShareLock",
            "created": False,
        },  # indexes the model does not name
        {"relation": "p", "kind": "table", "mode": "AccessShareLock", "created": False},
        {"relation": "p", "kind": "table", "mode": "AccessExclusiveLock", "created": False},
        {"relation": "other", "kind": "table", "mode": "RowShareLock", "created": False},
    ]
    assert lock_differences(model, observed) == [
        {"relation": "other", "model": None, "observed": "RowShareLock"},
        {"relation": "p", "model": "ShareRowExclusiveLock", "observed": "AccessExclusiveLock"},
    ]
    assert lock_differences(model, None) == []


def test_lock_differences_skip_created_relations_and_can_compare_one_table():
    from migtui.dryrun.static import lock_differences

    observed = [
        {"relation": "v", "kind": "view", "mode": "AccessExclusiveLock", "created": True},
        {"relation": "orders", "kind": "table", "mode": "RowExclusiveLock", "created": False},
    ]
    model = [
        {"relation": "public.orders", "mode": "RowExclusiveLock"},
        {"relation": "public.users", "mode": "RowShareLock"},  # an FK check: only when rows change
    ]
    assert lock_differences(model, observed, only="orders") == []
    assert lock_differences(model, observed) == [{"relation": "users", "model": "RowShareLock", "observed": None}]
