"""Rewrite a data-changing statement into a read-only query that counts the rows it would touch.

Pure (pglast, no database). Used by dry-run, which runs the rewrite on a read replica:

    >>> q = count_query_for("UPDATE orders SET status = 'x' WHERE created_at < '2020-01-01'")
    >>> q.count_sql
    "SELECT count(*) FROM orders WHERE created_at < '2020-01-01'"

- ``UPDATE t SET ... [FROM ...] WHERE ...`` and ``DELETE FROM t [USING ...] WHERE ...`` keep the same target,
  FROM/USING list, WHERE and WITH. With a FROM/USING list one target row can join several rows, but
  PostgreSQL changes it once, so the count is ``count(DISTINCT ROW(t.tableoid, t.ctid))``: exact.
- ``INSERT ... SELECT`` counts the SELECT's rows; ``INSERT ... VALUES`` needs no query (``static_count``).
  With ``ON CONFLICT`` the count is the rows offered, an upper bound (``upper_bound``).
- ``rows_sql`` is the same row source without the aggregate, for ``EXPLAIN`` when the count is too slow.

Anything else (DDL, MERGE, ``WHERE CURRENT OF``, data-modifying WITH) gives ``None``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from pglast import ast, enums, parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream

__all__ = ["CountQuery", "count_query_for", "count_query_for_node"]


@dataclass(frozen=True)
class CountQuery:
    """How to count the rows one statement would change."""

    kind: str  # "update" | "delete" | "insert"
    table: str  # target table as SQL text, quoted where needed ("s.t", "\"Odd\"")
    count_sql: str | None  # SELECT count(*) ... ; None when static_count is known
    rows_sql: str | None  # the row source without the aggregate (for EXPLAIN); None when static_count is known
    static_count: int | None = None  # INSERT ... VALUES / DEFAULT VALUES: known without a query
    upper_bound: bool = False  # INSERT ... ON CONFLICT: the count is the rows offered, not the rows written


def _count_star() -> ast.FuncCall:
    return ast.FuncCall(
        funcname=(ast.String(sval="count"),),
        agg_star=True,
        funcformat=enums.CoercionForm.COERCE_EXPLICIT_CALL,
    )


def _count_distinct_rows(name: str) -> ast.FuncCall:
    def col(field: str) -> ast.ColumnRef:
        return ast.ColumnRef(fields=(ast.String(sval=name), ast.String(sval=field)))

    row = ast.RowExpr(args=(col("tableoid"), col("ctid")), row_format=enums.CoercionForm.COERCE_EXPLICIT_CALL)
    return ast.FuncCall(
        funcname=(ast.String(sval="count"),),
        args=(row,),
        agg_distinct=True,
        funcformat=enums.CoercionForm.COERCE_EXPLICIT_CALL,
    )


def _one() -> ast.A_Const:
    return ast.A_Const(val=ast.Integer(ival=1))


def _select(target: ast.Node, from_clause: tuple, where: ast.Node | None, with_clause: ast.Node | None) -> str:
    stmt = ast.SelectStmt(
        targetList=(ast.ResTarget(val=target),),
        fromClause=from_clause,
        whereClause=where,
        withClause=with_clause,
        op=enums.SetOperation.SETOP_NONE,
        limitOption=enums.LimitOption.LIMIT_OPTION_DEFAULT,
    )
    return RawStream()(stmt)


def _table_name(rel: ast.RangeVar) -> str:
    """The target table as SQL text (quoted where needed), without ONLY or alias."""
    return _quoted_table(rel.schemaname, rel.relname)


@functools.lru_cache(maxsize=256)
def _quoted_table(schema: str | None, name: str) -> str:
    # cached: a data revision's execute holds thousands of INSERTs into one table, and printing a RangeVar costs
    # a pglast stream each time
    return RawStream()(ast.RangeVar(schemaname=schema, relname=name, inh=True, relpersistence="p"))


def _with_is_read_only(with_clause: ast.WithClause | None) -> bool:
    if with_clause is None:
        return True
    return all(isinstance(cte.ctequery, ast.SelectStmt) for cte in with_clause.ctes or ())


def _update_or_delete(stmt: ast.UpdateStmt | ast.DeleteStmt) -> CountQuery | None:
    where = stmt.whereClause
    if isinstance(where, ast.CurrentOfExpr) or not _with_is_read_only(stmt.withClause):
        return None
    rel = stmt.relation
    extra = tuple(stmt.fromClause or ()) if isinstance(stmt, ast.UpdateStmt) else tuple(stmt.usingClause or ())
    from_clause = (rel, *extra)
    if extra:
        name = rel.alias.aliasname if rel.alias else rel.relname
        counter: ast.Node = _count_distinct_rows(name)
    else:
        counter = _count_star()
    return CountQuery(
        kind="update" if isinstance(stmt, ast.UpdateStmt) else "delete",
        table=_table_name(rel),
        count_sql=_select(counter, from_clause, where, stmt.withClause),
        rows_sql=_select(_one(), from_clause, where, stmt.withClause),
    )


def _insert(stmt: ast.InsertStmt) -> CountQuery | None:
    table = _table_name(stmt.relation)
    upper_bound = stmt.onConflictClause is not None
    source = stmt.selectStmt
    if source is None:  # INSERT ... DEFAULT VALUES
        return CountQuery("insert", table, None, None, static_count=1, upper_bound=upper_bound)
    if not isinstance(source, ast.SelectStmt):
        return None
    if source.valuesLists and not source.fromClause and source.withClause is None:
        return CountQuery("insert", table, None, None, static_count=len(source.valuesLists), upper_bound=upper_bound)
    if not _with_is_read_only(stmt.withClause) or not _with_is_read_only(source.withClause):
        return None
    sub = ast.RangeSubselect(subquery=source, alias=ast.Alias(aliasname="affected"))
    return CountQuery(
        kind="insert",
        table=table,
        count_sql=_select(_count_star(), (sub,), None, stmt.withClause),
        rows_sql=RawStream()(
            ast.SelectStmt(
                targetList=(ast.ResTarget(val=_one()),),
                fromClause=(sub,),
                withClause=stmt.withClause,
                op=enums.SetOperation.SETOP_NONE,
                limitOption=enums.LimitOption.LIMIT_OPTION_DEFAULT,
            )
        ),
        upper_bound=upper_bound,
    )


def count_query_for_node(stmt: ast.Node) -> CountQuery | None:
    """The count rewrite for one parsed statement (a pglast ``RawStmt.stmt``), or None."""
    if isinstance(stmt, ast.UpdateStmt | ast.DeleteStmt):
        return _update_or_delete(stmt)
    if isinstance(stmt, ast.InsertStmt):
        return _insert(stmt)
    return None


def count_query_for(sql: str) -> CountQuery | None:
    """The count rewrite for a single SQL statement, or None (not UPDATE/DELETE/INSERT, or unparsable)."""
    try:
        statements = parse_sql(sql)
    except ParseError:
        return None
    if len(statements) != 1:
        return None
    return count_query_for_node(statements[0].stmt)
