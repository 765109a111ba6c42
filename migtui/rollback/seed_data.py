"""Seed a few generic rows into every table, and count rows and column values (rollback-test --with-data).

Generic and best effort: values follow each column's type (numbers, strings cut to their length, dates,
booleans, enum labels, uuids, json, empty arrays), single-column foreign keys take an existing parent
value, identity/generated columns and columns with a default are left to the server. A row that violates a
constraint anyway is retried with its nullable columns NULL, then skipped (each row has its own
savepoint). Counting uses ``FROM ONLY`` so inheritance and partitions are not counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROWS_PER_ROUND = 3

_COLUMNS_SQL = """
SELECT c.oid, n.nspname AS schema, c.relname AS table, c.relkind, c.relispartition,
       a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, a.atttypmod AS typmod,
       a.attnotnull AS not_null, a.atthasdef AS has_default, a.attidentity <> '' AS identity,
       a.attgenerated <> '' AS generated,
       coalesce(bt.typcategory, t.typcategory) AS category, coalesce(bt.typname, t.typname) AS base_name,
       coalesce(bt.typtype, t.typtype) AS base_typtype, coalesce(bt.oid, t.oid) AS base_oid,
       (SELECT format('%%I.%%I', fn.nspname, fc.relname) || '|' || quote_ident(fa.attname)
          FROM pg_constraint f
          JOIN pg_class fc ON fc.oid = f.confrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace
          JOIN pg_attribute fa ON fa.attrelid = f.confrelid AND fa.attnum = f.confkey[1]
         WHERE f.conrelid = c.oid AND f.contype = 'f' AND array_length(f.conkey, 1) = 1
           AND f.conkey[1] = a.attnum LIMIT 1) AS references
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
  AND NOT (c.relname = %(version_table)s AND n.nspname = coalesce(%(version_schema)s, current_schema()))
ORDER BY n.nspname, c.relname, a.attnum
"""

_FK_EDGES_SQL = """
SELECT DISTINCT conrelid, confrelid FROM pg_constraint WHERE contype = 'f' AND conrelid <> confrelid
"""


@dataclass
class _Column:
    name: str
    type: str
    typmod: int
    not_null: bool
    has_default: bool
    skip: bool  # identity / generated
    category: str
    base_name: str
    base_typtype: str
    references: str | None


@dataclass
class _Table:
    oid: int
    schema: str
    name: str
    relkind: str
    is_partition: bool
    columns: list[_Column] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"


Counts = dict[str, dict[str, Any]]  # "schema.table" -> {"rows": n, "values": {column: non-null count}}


class DataSeeder:
    def __init__(self, dsn: str, settings: Any) -> None:
        self.dsn = dsn
        self.version_table = getattr(settings, "version_table", "alembic_version")
        self.version_schema = getattr(settings, "version_table_schema", None)
        self.round = 0

    def _connect(self):
        from migtui.pg.connect import connect

        return connect(self.dsn, application_name="migtui rollback-test [data]")

    def _tables(self, conn) -> list[_Table]:
        from psycopg.rows import dict_row

        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(_COLUMNS_SQL, {"version_table": self.version_table, "version_schema": self.version_schema})
            tables: dict[int, _Table] = {}
            for r in cur.fetchall():
                table = tables.setdefault(
                    r["oid"], _Table(r["oid"], r["schema"], r["table"], r["relkind"], r["relispartition"])
                )
                table.columns.append(
                    _Column(
                        r["column"],
                        r["type"],
                        int(r["typmod"]),
                        r["not_null"],
                        r["has_default"],
                        r["identity"] or r["generated"],
                        r["category"],
                        r["base_name"],
                        r["base_typtype"],
                        r["references"],
                    )
                )
            cur.execute(_FK_EDGES_SQL)
            edges = [(int(r["conrelid"]), int(r["confrelid"])) for r in cur.fetchall()]
        # parents (referenced tables) first
        order: list[_Table] = []
        placed: set[int] = set()
        pending = dict(tables)
        while pending:
            ready = [
                t for oid, t in pending.items() if all(p in placed or p not in pending for c, p in edges if c == oid)
            ]
            if not ready:  # a cycle: take them as they are
                ready = list(pending.values())
            for t in sorted(ready, key=lambda t: t.label):
                order.append(t)
                placed.add(t.oid)
                del pending[t.oid]
        return order

    def seed(self, rows: int = ROWS_PER_ROUND) -> int:
        """Insert up to ``rows`` rows into every table; returns how many rows went in."""
        self.round += 1
        inserted = 0
        with self._connect() as conn:
            tables = self._tables(conn)
            conn.autocommit = False
            for table in tables:
                if table.relkind == "p" and not table.is_partition:
                    pass  # rows routed to partitions (fails, and is skipped, when none matches)
                for i in range(rows):
                    k = self.round * 1000 + i
                    for nullable_as_null in (False, True):
                        statement = _insert(table, k, nullable_as_null)
                        if statement is None:
                            break
                        try:
                            with conn.transaction():
                                conn.execute(statement)
                            inserted += 1
                            break
                        except Exception:
                            continue
            conn.commit()
        return inserted

    def counts(self) -> Counts:
        from psycopg import sql

        out: Counts = {}
        with self._connect() as conn:
            for table in self._tables(conn):
                if table.relkind != "r":
                    continue
                cols = [c.name for c in table.columns]
                select = sql.SQL("SELECT count(*){} FROM ONLY {}").format(
                    sql.SQL("").join(sql.SQL(", count({})").format(sql.Identifier(c)) for c in cols),
                    sql.Identifier(table.schema, table.name),
                )
                row = conn.execute(select).fetchone()
                out[table.label] = {
                    "rows": int(row[0]),
                    "values": dict(zip(cols, (int(v) for v in row[1:]), strict=True)),
                }
        return out

    @staticmethod
    def losses(before: Counts, after: Counts, new: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Warnings for rows and column values present in ``before`` and gone in ``after``.

        ``new`` names tables (``schema.table``) and columns (``schema.table.column``) the revision itself
        creates: their loss is said to be that (the downgrade drops what the upgrade added).
        """
        warnings: list[str] = []
        for table, was in sorted(before.items()):
            now = after.get(table)
            if now is None or was["rows"] == 0:
                continue  # a table that is gone is a schema difference, reported as such
            if now["rows"] < was["rows"]:
                note = " (a table this revision creates)" if table in new else ""
                warnings.append(f"table {table} lost {was['rows'] - now['rows']} of {was['rows']} rows{note}")
                continue
            for column, count in sorted(was["values"].items()):
                have = now["values"].get(column)
                if have is not None and have < count:
                    note = " (a column this revision adds)" if f"{table}.{column}" in new else ""
                    warnings.append(f"column {table}.{column} lost {count - have} of {count} values{note}")
        return warnings


def _value(col: _Column, k: int) -> str | None:
    """A SQL expression for row ``k`` of ``col`` (server-deparsed type names only, no user input)."""
    if col.references:
        table, column = col.references.split("|", 1)
        return f"(SELECT {column} FROM {table} ORDER BY random() LIMIT 1)"
    cat = col.category
    if col.base_name == "uuid":
        expr = f"md5('{k}')::uuid"
    elif col.base_name in ("json", "jsonb"):
        expr = '\'{"k": ' + str(k) + "}'"
    elif col.base_name == "bytea":
        expr = f"decode(md5('{k}'), 'hex')"
    elif col.base_typtype == "e":
        enum = col.type
        expr = f"(enum_range(NULL::{enum}))[1 + {k} % array_length(enum_range(NULL::{enum}), 1)]"
    elif cat == "N":
        expr = f"{k % 30000}"
    elif cat == "S":
        expr = f"'v{k}'"
    elif cat == "B":
        expr = "true" if k % 2 else "false"
    elif cat == "D":
        expr = f"(timestamp '2024-01-01' + interval '1 hour' * {k})"
    elif cat == "T":
        expr = f"(interval '1 second' * {k})"
    elif cat == "A":
        expr = "'{}'"
    elif cat == "I":
        expr = f"'10.0.{k % 250}.{k % 200 + 1}'"
    else:
        return None
    return f"CAST({expr} AS {col.type})"


def _insert(table: _Table, k: int, nullable_as_null: bool):
    from psycopg import sql

    names: list[str] = []
    values: list[str] = []
    for col in table.columns:
        if col.skip:
            continue
        if col.has_default and (col.not_null or nullable_as_null):
            continue
        if nullable_as_null and not col.not_null:
            continue
        expr = _value(col, k)
        if expr is None:
            if col.not_null and not col.has_default:
                return None  # cannot make a value: no row for this table
            continue
        names.append(col.name)
        values.append(expr)
    target = sql.Identifier(table.schema, table.name)
    if not names:
        return sql.SQL("INSERT INTO {} DEFAULT VALUES").format(target)
    return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        target,
        sql.SQL(", ").join(sql.Identifier(n) for n in names),
        sql.SQL(", ").join(sql.SQL(v) for v in values),  # type: ignore[arg-type]
    )
