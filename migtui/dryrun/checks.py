"""Will this statement fail on the data that is there? Read-only checks, built with psycopg.sql.

``checks_for(node)`` (pure) finds what a DDL statement will validate against existing rows:

- a new UNIQUE / PRIMARY KEY constraint or unique index: duplicate keys (and NULLs for a primary key),
- ``SET NOT NULL``: NULLs,
- a new FOREIGN KEY (not ``NOT VALID``): orphan rows,
- a new CHECK (not ``NOT VALID``): rows that violate it,
- ``ADD COLUMN ... NOT NULL`` without a default: any row at all.

``Check.query(parent_key)`` builds the counting query; ``run_check`` runs it on the target.
"""

from __future__ import annotations

from dataclasses import dataclass

from pglast import ast, enums
from pglast.stream import RawStream

from migtui.dryrun.session import QueryFailed, ReadOnlySession

_C = enums.ConstrType
_AT = enums.AlterTableType


@dataclass(frozen=True)
class TableRef:
    schema: str | None
    name: str

    @classmethod
    def of(cls, rel: ast.RangeVar) -> TableRef:
        return cls(rel.schemaname or None, rel.relname)

    def ident(self):
        from psycopg import sql

        return sql.Identifier(self.schema, self.name) if self.schema else sql.Identifier(self.name)

    @property
    def text(self) -> str:
        """SQL text, quoted where needed (for to_regclass and messages)."""
        return RawStream()(ast.RangeVar(schemaname=self.schema, relname=self.name, inh=True, relpersistence="p"))


@dataclass(frozen=True)
class Check:
    rule: str  # would-fail-unique | would-fail-primary-key | would-fail-not-null | would-fail-foreign-key |
    #            would-fail-check | would-fail-add-not-null-column
    table: TableRef
    what: str  # human description of the new constraint, e.g. "UNIQUE (email)"
    columns: tuple[str, ...] = ()
    expressions: tuple[str, ...] = ()  # unique index expressions (SQL text from the migration)
    predicate: str | None = None  # partial unique index WHERE (SQL text from the migration)
    nulls_not_distinct: bool = False
    ref_table: TableRef | None = None
    ref_columns: tuple[str, ...] = ()  # empty: the referenced table's primary key
    expression: str | None = None  # CHECK expression (SQL text from the migration)

    def query(self, ref_columns: tuple[str, ...] | None = None):
        """The read-only query counting rows (or duplicate groups) that make the statement fail."""
        from psycopg import sql

        table = self.table.ident()
        if self.rule in ("would-fail-unique", "would-fail-primary-key"):
            keys = [sql.Identifier(c) for c in self.columns] + [
                sql.SQL("({})").format(sql.SQL(e)) for e in self.expressions
            ]
            # a key with a NULL is never a duplicate, unless NULLS NOT DISTINCT (a primary key's NULLs are
            # counted separately below)
            conditions = (
                []
                if self.nulls_not_distinct and self.rule == "would-fail-unique"
                else [sql.SQL("{} IS NOT NULL").format(k) for k in keys]
            )
            if self.predicate:
                conditions.append(sql.SQL("({})").format(sql.SQL(self.predicate)))
            where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
            dupes = sql.SQL(
                "SELECT count(*) FROM (SELECT 1 FROM {} AS t{} GROUP BY {} HAVING count(*) > 1) AS d"
            ).format(table, where, sql.SQL(", ").join(keys))
            if self.rule == "would-fail-unique":
                return dupes
            nulls = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(k) for k in keys)
            return sql.SQL("SELECT ({}) + (SELECT count(*) FROM {} WHERE {})").format(dupes, table, nulls)
        if self.rule == "would-fail-not-null":
            return sql.SQL("SELECT count(*) FROM {} WHERE {} IS NULL").format(table, sql.Identifier(self.columns[0]))
        if self.rule == "would-fail-check":
            return sql.SQL("SELECT count(*) FROM {} WHERE NOT ({})").format(table, sql.SQL(self.expression or "true"))
        if self.rule == "would-fail-add-not-null-column":
            return sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT 1) AS any_row").format(table)
        if self.rule == "would-fail-foreign-key":
            assert self.ref_table is not None
            refs = ref_columns or self.ref_columns
            child = [sql.SQL("c.{}").format(sql.Identifier(c)) for c in self.columns]
            parent = [sql.SQL("p.{}").format(sql.Identifier(c)) for c in refs]
            not_null = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(c) for c in child)
            match = sql.SQL(" AND ").join(sql.SQL("{} = {}").format(p, c) for p, c in zip(parent, child, strict=True))
            return sql.SQL(
                "SELECT count(*) FROM {} AS c WHERE {} AND NOT EXISTS (SELECT 1 FROM {} AS p WHERE {})"
            ).format(table, not_null, self.ref_table.ident(), match)
        raise ValueError(self.rule)

    def message(self, count: int) -> str:
        t = self.table.text
        if self.rule == "would-fail-unique":
            return f"{self.what} on {t} will fail: {count} duplicate key value(s) exist"
        if self.rule == "would-fail-primary-key":
            return f"{self.what} on {t} will fail: {count} duplicate or NULL key value(s) exist"
        if self.rule == "would-fail-not-null":
            return f"SET NOT NULL on {t}.{self.columns[0]} will fail: {count} row(s) have NULL"
        if self.rule == "would-fail-foreign-key":
            return f"{self.what} on {t} will fail: {count} row(s) reference no row in {self.ref_table.text}"
        if self.rule == "would-fail-check":
            return f"{self.what} on {t} will fail: {count} row(s) violate it"
        return f"ADD COLUMN {self.columns[0]} NOT NULL without a default on {t} will fail: the table has rows"


def _names(nodes) -> tuple[str, ...]:
    return tuple(n.sval for n in nodes or ())


def _constraint_checks(table: TableRef, con: ast.Constraint, column: str | None = None) -> list[Check]:
    keys = _names(con.keys) or ((column,) if column else ())
    if con.contype in (_C.CONSTR_UNIQUE, _C.CONSTR_PRIMARY) and not con.indexname:
        primary = con.contype == _C.CONSTR_PRIMARY
        word = "PRIMARY KEY" if primary else "UNIQUE"
        return [
            Check(
                "would-fail-primary-key" if primary else "would-fail-unique",
                table,
                f"{word} ({', '.join(keys)})",
                columns=keys,
                nulls_not_distinct=bool(con.nulls_not_distinct),
            )
        ]
    if con.contype == _C.CONSTR_FOREIGN and not con.skip_validation:
        fk = _names(con.fk_attrs) or ((column,) if column else ())
        return [
            Check(
                "would-fail-foreign-key",
                table,
                f"FOREIGN KEY ({', '.join(fk)})",
                columns=fk,
                ref_table=TableRef.of(con.pktable),
                ref_columns=_names(con.pk_attrs),
            )
        ]
    if con.contype == _C.CONSTR_CHECK and not con.skip_validation and con.raw_expr is not None:
        expr = RawStream()(con.raw_expr)
        return [Check("would-fail-check", table, f"CHECK ({expr})", expression=expr)]
    return []


def checks_for(node: ast.Node) -> list[Check]:
    """Every data-dependent failure condition of one parsed statement (pure)."""
    out: list[Check] = []
    if isinstance(node, ast.AlterTableStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
        table = TableRef.of(node.relation)
        for cmd in node.cmds or ():
            if cmd.subtype == _AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
                out += _constraint_checks(table, cmd.def_)
            elif cmd.subtype == _AT.AT_SetNotNull:
                out.append(Check("would-fail-not-null", table, f"SET NOT NULL ({cmd.name})", columns=(cmd.name,)))
            elif cmd.subtype == _AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                col = cmd.def_
                types = {c.contype for c in col.constraints or ()}
                fills = {_C.CONSTR_DEFAULT, _C.CONSTR_GENERATED, _C.CONSTR_IDENTITY}
                if (_C.CONSTR_NOTNULL in types or col.is_not_null) and not types & fills:
                    out.append(
                        Check(
                            "would-fail-add-not-null-column",
                            table,
                            f"ADD COLUMN {col.colname} NOT NULL",
                            columns=(col.colname,),
                        )
                    )
    elif isinstance(node, ast.IndexStmt) and node.unique:
        table = TableRef.of(node.relation)
        cols = tuple(e.name for e in node.indexParams or () if e.name)
        exprs = tuple(RawStream()(e.expr) for e in node.indexParams or () if not e.name and e.expr is not None)
        pred = RawStream()(node.whereClause) if node.whereClause is not None else None
        label = ", ".join([*cols, *exprs])
        out.append(
            Check(
                "would-fail-unique",
                table,
                f"UNIQUE INDEX ({label})",
                columns=cols,
                expressions=exprs,
                predicate=pred,
                nulls_not_distinct=bool(node.nulls_not_distinct),
            )
        )
    return out


def not_valid_constraints(node: ast.Node) -> dict[tuple[str, str], Check]:
    """Constraints a statement adds ``NOT VALID`` (FOREIGN KEY, CHECK), by (table, name): a later
    ``VALIDATE CONSTRAINT`` checks the rows then (pure)."""
    out: dict[tuple[str, str], Check] = {}
    if not isinstance(node, ast.AlterTableStmt):
        return out
    table = TableRef.of(node.relation)
    for cmd in node.cmds or ():
        con = cmd.def_ if cmd.subtype == _AT.AT_AddConstraint else None
        if isinstance(con, ast.Constraint) and con.skip_validation and con.conname:
            validating = ast.Constraint(**{**_fields(con), "skip_validation": False})
            for check in _constraint_checks(table, validating):
                out[(table.text, con.conname)] = _as_validation(check, con.conname)
    return out


def validated_constraints(node: ast.Node) -> list[tuple[TableRef, str]]:
    """(table, constraint name) of each ``ALTER TABLE ... VALIDATE CONSTRAINT`` in a statement (pure)."""
    if not isinstance(node, ast.AlterTableStmt):
        return []
    table = TableRef.of(node.relation)
    return [(table, cmd.name) for cmd in node.cmds or () if cmd.subtype == _AT.AT_ValidateConstraint]


def _fields(node: ast.Node) -> dict:
    return {name: getattr(node, name) for name in node.__slots__ if getattr(node, name, None) is not None}


def _as_validation(check: Check, name: str) -> Check:
    from dataclasses import replace

    return replace(check, what=f"VALIDATE CONSTRAINT {name} ({check.what})")


_CONSTRAINT_SQL = """
SELECT con.contype::text,
       pg_get_expr(con.conbin, con.conrelid),
       con.confrelid::regclass::text,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)
  FROM pg_constraint con
 WHERE con.conrelid = to_regclass(%s) AND con.conname = %s AND NOT con.convalidated
"""


def validation_from_catalog(session: ReadOnlySession, table: TableRef, name: str, *, timeout: float) -> Check | None:
    """The check for ``VALIDATE CONSTRAINT name`` of a NOT VALID constraint the target already has."""
    from pglast import parse_sql

    try:
        rows = session.query(_CONSTRAINT_SQL, (table.text, name), timeout=timeout)
    except QueryFailed:
        return None
    if not rows:
        return None
    contype, expr, ref, cols, ref_cols = rows[0]
    if contype == "c" and expr:
        return Check("would-fail-check", table, f"VALIDATE CONSTRAINT {name} (CHECK ({expr}))", expression=expr)
    if contype == "f" and ref:
        ref_rel = parse_sql(f"SELECT 1 FROM {ref}")[0].stmt.fromClause[0]
        return Check(
            "would-fail-foreign-key",
            table,
            f"VALIDATE CONSTRAINT {name} (FOREIGN KEY ({', '.join(cols)}))",
            columns=tuple(cols),
            ref_table=TableRef.of(ref_rel),
            ref_columns=tuple(ref_cols),
        )
    return None


_PK_SQL = """
SELECT array_agg(a.attname::text ORDER BY k.ord)
  FROM pg_constraint con
  CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
 WHERE con.conrelid = to_regclass(%s) AND con.contype = 'p'
"""


@dataclass
class CheckResult:
    check: Check
    count: int | None  # rows / duplicate groups that make it fail; None when it could not be checked
    failure: QueryFailed | None = None

    @property
    def fails(self) -> bool:
        return bool(self.count)


def run_check(session: ReadOnlySession, check: Check, *, timeout: float) -> CheckResult:
    """Run one check on the target (read-only, under ``timeout`` seconds)."""
    try:
        ref_columns: tuple[str, ...] | None = None
        if check.rule == "would-fail-foreign-key" and not check.ref_columns:
            assert check.ref_table is not None
            found = session.scalar(_PK_SQL, (check.ref_table.text,), timeout=timeout)
            if not found:
                return CheckResult(check, None, QueryFailed("missing", f"{check.ref_table.text} has no primary key"))
            ref_columns = tuple(found)
        count = session.scalar(check.query(ref_columns), timeout=timeout)
        return CheckResult(check, int(count or 0))
    except QueryFailed as exc:
        return CheckResult(check, None, exc)
