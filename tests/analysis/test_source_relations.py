"""``classify.source_relations`` stops its walk once it has found as many RangeVars as the serialized tree
names: checked against a full walk of the tree (``dict_nodes``) on queries where stopping early could lose a
relation (sub-selects after the FROM clause, a string spelled RangeVar, CTE names, duplicates)."""

from __future__ import annotations

from typing import Any

import pytest

from migtui.analysis.classify import rangevar_name, source_relations
from migtui.analysis.implicit import dict_nodes
from migtui.analysis.parse import parse_sql


def _full_walk(node: Any, exclude: set[str] | None = None) -> list[str]:
    nodes = dict_nodes(node)
    ctes = {n["CommonTableExpr"].get("ctename", "") for n in nodes if n.get("CommonTableExpr")}
    out: list[str] = []
    for n in nodes:
        rv = n.get("RangeVar")
        if rv is None or (not rv.get("schemaname") and rv.get("relname") in ctes):
            continue
        name = rangevar_name(rv)
        if name not in out and (not exclude or name not in exclude):
            out.append(name)
    return out


QUERIES = [
    "SELECT a.x FROM a",
    "SELECT x FROM a WHERE y IN (SELECT z FROM b) AND EXISTS (SELECT 1 FROM c)",
    "SELECT (SELECT max(z) FROM b) AS m, 'RangeVar' AS \"RangeVar\" FROM a",
    'SELECT "RangeVar" FROM "RangeVar" JOIN s."RangeVar" USING (k)',
    "WITH w AS (SELECT * FROM b) SELECT * FROM w JOIN a ON true, (SELECT * FROM c) sub",
    "SELECT * FROM a UNION ALL SELECT * FROM b UNION SELECT * FROM a",
    "SELECT * FROM a, LATERAL (SELECT * FROM b WHERE b.k = a.k) l WHERE a.x = (SELECT 1 FROM c LIMIT 1)",
]


@pytest.mark.parametrize("sql", QUERIES)
def test_early_stop_finds_what_a_full_walk_finds(sql: str) -> None:
    (statement,) = parse_sql(sql)
    expected = _full_walk(statement.node)
    assert expected  # every query here reads a relation
    assert source_relations(statement.node) == expected
    assert source_relations(statement.node, exclude={expected[0]}) == expected[1:]


def test_insert_select_sources() -> None:
    (statement,) = parse_sql("INSERT INTO t (name) SELECT name FROM accounts WHERE id IN (SELECT id FROM keep)")
    select = statement.node["selectStmt"]
    assert source_relations(select, exclude={"public.t"}) == _full_walk(select) == ["public.keep", "public.accounts"]
