"""Carry-over: what the old column had, given to the column that replaces it, without long locks.

A column-copy pattern (rename, type change, split, merge) replaces old columns by new ones. Everything
that hangs on an old column is read from the catalog when the plan is built (online) and re-created on
the new column in the phase where it costs no long lock:

- default: ``SET DEFAULT`` at expand, translated through ``using`` when the type changes and refused
  when the server cannot cast it; a ``nextval`` default is set in the contract swap instead, with the
  sequence's ``OWNED BY`` moved to the new column;
- comment, statistics target, storage, column options (``n_distinct``): at expand; column privileges
  are refused (grant them on the new column);
- CHECK, FOREIGN KEY from the column: ``ADD CONSTRAINT .. NOT VALID`` at expand, ``VALIDATE`` in migrate
  (after the backfill), renamed to the old name in the swap;
- index, UNIQUE: ``CREATE [UNIQUE] INDEX CONCURRENTLY`` in migrate; in the swap renamed to the old name,
  or attached with ``ADD CONSTRAINT .. UNIQUE USING INDEX``;
- FOREIGN KEY of another table to the column: ``ADD .. NOT VALID`` + ``VALIDATE`` in migrate (once the
  unique index exists); in the swap the old one is dropped and the new one renamed;
- view: dropped and re-created on the new column in the swap (same output names, owner, options,
  grants, comment).

The swap is contract's one short transaction that drops the trigger and the old columns.

Only a one-to-one replacement (rename, change_column_type) can carry: an object on a column that split or
merge replaces, a primary key, an identity or generated column, an exclusion constraint, a materialized
view, a view other objects depend on, or any other dependent object is refused at expand with the reason,
never dropped silently. An abort removes every carried object (they hang on the new columns, which it
drops; foreign keys on other tables first).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from migtui.errors import UsageError
from migtui.phases.model import Check, Step

# runs one catalog query on the target: (query, params) -> rows
Query = Callable[[str, Sequence[Any]], list[tuple]]
# tries one statement without keeping any effect: None when it works, else the server's error (one line)
Probe = Callable[[str], "str | None"]


class CarryRefused(UsageError):
    """Something on the old column cannot be carried to the new one (exit 2, nothing changed)."""


@dataclass
class Carried:
    """The carried objects' SQL, per phase."""

    expand: list[Step] = field(default_factory=list)
    migrate: list[Step] = field(default_factory=list)
    before_drop: list[str] = field(default_factory=list)  # statements of the swap, before the old columns go
    after_drop: list[str] = field(default_factory=list)  # statements of the swap, after drops and renames
    abort: list[Step] = field(default_factory=list)  # before the new columns are dropped
    checks: list[Check] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)  # one line per carried object, for the description
    collation: str | None = None  # the old column's collation when not its type's default (kept by a rename)


def _s(composable: sql.Composable) -> str:
    return composable.as_string(None)


def _temp_name(name: str, revision: str) -> str:
    """The carried object's name while the old one still exists (it takes the old name at contract)."""
    tag = hashlib.sha1(revision.encode()).hexdigest()[:6]
    return f"{name[:52]}_mg{tag}"


# -- rewriting SQL text (pglast) ---------------------------------------------------------------------------


def _walk(node: Any, visit: Callable[[Any], None]) -> None:
    from pglast import ast

    if isinstance(node, (list, tuple)):
        for item in node:
            _walk(item, visit)
        return
    if not isinstance(node, ast.Node):
        return
    visit(node)
    for name in node:
        _walk(getattr(node, name), visit)


def _rename_refs(node: Any, mapping: dict[str, str], qualifiers: set[str] | None = None) -> int:
    """Replace column references to the keys of ``mapping`` (bare, or qualified by one of ``qualifiers``)."""
    from pglast import ast

    count = 0

    def visit(n: Any) -> None:
        nonlocal count
        if isinstance(n, ast.ColumnRef):
            fields = list(n.fields)
            last = fields[-1]
            if not isinstance(last, ast.String) or last.sval not in mapping:
                return
            if len(fields) > 1:
                qualifier = fields[-2].sval if isinstance(fields[-2], ast.String) else None
                if qualifiers is None or qualifier not in qualifiers:
                    return
            fields[-1] = ast.String(sval=mapping[last.sval])
            n.fields = tuple(fields)
            count += 1
        elif isinstance(n, ast.IndexElem) and n.name in mapping:
            n.name = mapping[n.name]
            count += 1

    _walk(node, visit)
    return count


def _deparse(node: Any) -> str:
    from pglast.stream import RawStream

    return RawStream()(node)


def substitute(expression: str, column: str, replacement: str) -> str:
    """``expression`` with every bare reference to ``column`` replaced by ``(replacement)``."""
    from pglast import ast, parse_sql

    stmt = parse_sql(f"SELECT {expression}")[0].stmt
    value = parse_sql(f"SELECT ({replacement})")[0].stmt.targetList[0].val
    root = stmt.targetList[0]

    def replace(node: Any) -> Any:
        if isinstance(node, ast.ColumnRef):
            fields = node.fields
            if len(fields) == 1 and isinstance(fields[0], ast.String) and fields[0].sval == column:
                return value
            return node
        if isinstance(node, (list, tuple)):
            return type(node)(replace(item) for item in node)
        if isinstance(node, ast.Node):
            for name in node:
                child = getattr(node, name)
                if isinstance(child, (ast.Node, list, tuple)):
                    setattr(node, name, replace(child))
        return node

    root.val = replace(root.val)
    return _deparse(root.val)


def rewrite_constraint(definition: str, mapping: dict[str, str]) -> str:
    """``pg_get_constraintdef`` text (CHECK, FOREIGN KEY) with the column renamed, NOT VALID added."""
    from pglast import parse_sql

    stmt = parse_sql(f"ALTER TABLE migtui_x ADD CONSTRAINT migtui_c {definition}")[0].stmt
    constraint = stmt.cmds[0].def_
    _rename_refs(constraint, mapping)  # CHECK expressions
    if constraint.fk_attrs:  # the referencing columns of a foreign key
        from pglast import ast

        constraint.fk_attrs = tuple(
            ast.String(sval=mapping.get(v.sval, v.sval)) if isinstance(v, ast.String) else v
            for v in constraint.fk_attrs
        )
    constraint.skip_validation = True
    constraint.initially_valid = False
    constraint.conname = None
    return _deparse(constraint)


def rewrite_index(definition: str, mapping: dict[str, str], name: str) -> str:
    """``pg_get_indexdef`` text built CONCURRENTLY under ``name``, on the new column."""
    from pglast import parse_sql

    stmt = parse_sql(definition)[0].stmt
    _rename_refs(stmt, mapping)
    stmt.concurrent = True
    stmt.if_not_exists = True
    stmt.idxname = name
    return _deparse(stmt)


def rewrite_view(definition: str, table: str, mapping: dict[str, str]) -> str:
    """A view's SELECT on the new column, keeping the view's output column names."""
    from pglast import ast, parse_sql

    stmt = parse_sql(definition)[0].stmt
    qualifiers = {table}

    def aliases(n: Any) -> None:
        if isinstance(n, ast.RangeVar) and n.relname == table:
            qualifiers.add(n.alias.aliasname if n.alias else table)

    _walk(stmt, aliases)
    selects = [stmt] if stmt.larg is None else [stmt.larg, stmt.rarg]
    for select in selects:
        for target in select.targetList or ():
            val = target.val
            if target.name is None and isinstance(val, ast.ColumnRef):
                last = val.fields[-1]
                if isinstance(last, ast.String) and last.sval in mapping:
                    target.name = last.sval  # the view keeps its column's name
    _rename_refs(stmt, mapping, qualifiers)
    return _deparse(stmt)


# -- reading the catalog -----------------------------------------------------------------------------------

_COLUMN = """
SELECT a.attnum, format_type(a.atttypid, a.atttypmod), a.attidentity, a.attgenerated,
       nullif(a.attstattarget, -1), col_description(a.attrelid, a.attnum),
       pg_get_expr(d.adbin, d.adrelid),
       CASE WHEN a.attcollation <> t.typcollation THEN (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.collname)
            FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace WHERE c.oid = a.attcollation) END,
       CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage END, a.attoptions, a.attacl IS NOT NULL
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped
"""

# every object that depends on the column, whatever it is: what is not handled below is refused
_DEPENDENTS = """
SELECT d.classid::regclass::text, d.objid, d.deptype, pg_describe_object(d.classid, d.objid, d.objsubid)
FROM pg_depend d
WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = to_regclass(%s) AND d.refobjsubid = %s
  AND d.deptype IN ('n', 'a')
ORDER BY 4
"""

_CONSTRAINT = """
SELECT c.conname, c.contype, pg_get_constraintdef(c.oid), c.conindid, c.condeferrable, c.condeferred,
       c.conrelid::regclass::text, c.confrelid::regclass::text, c.conrelid = to_regclass(%s),
       (SELECT quote_ident(n.nspname) FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE r.oid = c.conrelid),
       (SELECT quote_ident(r.relname) FROM pg_class r WHERE r.oid = c.conrelid),
       obj_description(c.oid, 'pg_constraint')
FROM pg_constraint c WHERE c.oid = %s
"""

_INDEX = """
SELECT i.relname, pg_get_indexdef(i.oid), obj_description(i.oid, 'pg_class'),
       EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid AND c.contype IN ('p', 'u', 'x')
               AND c.conrelid = x.indrelid)
FROM pg_class i JOIN pg_index x ON x.indexrelid = i.oid WHERE i.oid = %s
"""

_VIEW_SCHEMA = """
SELECT n.nspname FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE r.oid = %s
"""

_VIEW = """
SELECT v.oid, quote_ident(n.nspname), quote_ident(v.relname), v.relkind, pg_get_viewdef(v.oid),
       pg_get_userbyid(v.relowner), coalesce(v.reloptions, '{}'), obj_description(v.oid, 'pg_class'),
       (SELECT coalesce(array_agg(format('GRANT %%s ON %%s TO %%s%%s', a.privilege_type, v.oid::regclass,
                 CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                 CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) ORDER BY 1), '{}')
        FROM aclexplode(v.relacl) a WHERE a.grantee <> v.relowner),
       EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
               WHERE d.refobjid = v.oid AND d.classid = 'pg_rewrite'::regclass AND r.ev_class <> v.oid),
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = v.oid AND (a.attacl IS NOT NULL
               OR col_description(v.oid, a.attnum) IS NOT NULL))
FROM pg_rewrite r JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace n ON n.oid = v.relnamespace
WHERE r.oid = %s
"""


@dataclass
class _Target:
    schema: str
    table: str
    old: str
    new: str  # the new column while both exist
    final: str  # the new column's name after contract
    new_type: str
    type_changes: bool
    using: str  # the forward derivation (over the old column)
    revision: str

    @property
    def regclass(self) -> str:
        return _s(sql.Identifier(self.schema, self.table))

    @property
    def t(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.table)


def carry_column(
    query: Query,
    probe: Probe | None,
    *,
    schema: str,
    table: str,
    old: str,
    new: str,
    final: str,
    new_type: str,
    type_changes: bool,
    using: str,
    revision: str,
    pattern: str,
    own_schemas: tuple[str, ...] = (),
) -> Carried:
    """Everything on ``old`` re-created on ``new`` (named ``final`` after contract); CarryRefused with every
    reason when something cannot be carried."""
    target = _Target(schema, table, old, new, final, new_type, type_changes, using, revision)
    rows = query(_COLUMN, (target.regclass, old))
    if not rows:
        return Carried()
    attnum, _old_type, identity, generated, stattarget, comment, default, collation, storage, options, acl = rows[0]
    refusals: list[str] = []
    out = Carried()
    where = f"{schema}.{table}.{old}"
    if identity:
        refusals.append(f"{where} is an identity column (an identity cannot move to another column online)")
    if generated:
        refusals.append(f"{where} is a generated column")
    if default is not None and not identity and not generated:
        _carry_default(target, default, probe, out, refusals)
    if comment is not None:
        out.expand.append(
            Step(
                _s(
                    sql.SQL("COMMENT ON COLUMN {} IS {}").format(
                        sql.Identifier(schema, table, new), sql.Literal(comment)
                    )
                ),
                f"carry the comment of {old} to {new}",
            )
        )
        out.summary.append("comment")
    if acl:
        refusals.append(f"{where} has column privileges (GRANT .. ({old})): grant them on the new column instead")
    if storage is not None:
        mode = {"p": "PLAIN", "e": "EXTERNAL", "x": "EXTENDED", "m": "MAIN"}[storage]
        out.expand.append(
            Step(
                _s(
                    sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET STORAGE {}").format(
                        target.t, sql.Identifier(new), sql.SQL(mode)
                    )
                ),
                f"carry the storage {mode} of {old} to {new}",
            )
        )
        out.summary.append(f"storage {mode}")
    if options:
        out.expand.append(
            Step(
                _s(
                    sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET ({})").format(
                        target.t, sql.Identifier(new), sql.SQL(", ").join(sql.SQL(o) for o in options)
                    )
                ),
                f"carry the options {', '.join(options)} of {old} to {new}",
            )
        )
        out.summary.append(f"options {', '.join(options)}")
    if stattarget is not None:
        out.expand.append(
            Step(
                _s(
                    sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET STATISTICS {}").format(
                        target.t, sql.Identifier(new), sql.Literal(int(stattarget))
                    )
                ),
                f"carry the statistics target {stattarget} of {old} to {new}",
            )
        )
        out.summary.append(f"statistics target {stattarget}")
    handled_indexes: set[int] = set()
    constraints: list[int] = []
    indexes: list[int] = []
    views: list[int] = []
    for classid, objid, _deptype, describe in query(_DEPENDENTS, (target.regclass, attnum)):
        if classid == "pg_attrdef":
            continue  # the default, above
        if classid == "pg_constraint":
            if objid not in constraints:  # one row per column reference (key and expression)
                constraints.append(objid)
        elif classid == "pg_class":
            kind = query("SELECT relkind FROM pg_class WHERE oid = %s", (objid,))[0][0]
            if kind in ("i", "I"):
                if objid not in indexes:
                    indexes.append(objid)
            elif kind == "S" and default is not None and "nextval(" in default:
                continue  # a sequence the column owns: re-owned by the new column with the default
            else:
                refusals.append(f"{describe} depends on {where}")
        elif classid == "pg_rewrite":
            if own_schemas and query(_VIEW_SCHEMA, (objid,))[0][0] in own_schemas:
                continue  # this revision's own version views (versioned schemas), re-created by its steps
            if objid not in views:
                views.append(objid)
        else:
            refusals.append(f"{describe} depends on {where}")
    # incoming foreign keys depend on the referenced column too (refobjsubid = confkey)
    for objid in constraints:
        _carry_constraint(target, query, objid, out, refusals, handled_indexes)
    for objid in indexes:
        if objid not in handled_indexes:
            _carry_index(target, query, objid, out, refusals)
    for objid in views:
        _carry_view(target, query, objid, out, refusals)
    out.migrate = [s for s in out.migrate if not s.transactional] + [s for s in out.migrate if s.transactional]
    out.collation = collation
    if refusals:
        raise CarryRefused(
            f"{revision}: {pattern} cannot carry to {new}: " + "; ".join(refusals) + " (drop or change it in an "
            "earlier revision and re-create it on the new column after contract)"
        )
    return out


def refuse_non_copy(
    query: Query, *, schema: str, table: str, columns: Sequence[str], pattern: str, revision: str
) -> None:
    """split/merge: the new columns are no copy of the old ones, so nothing on the old ones can move over."""
    refusals = []
    regclass = _s(sql.Identifier(schema, table))
    for column in columns:
        rows = query(_COLUMN, (regclass, column))
        if not rows:
            continue
        attnum, _type, identity, generated, stattarget, comment, default, _collation, storage, options, acl = rows[0]
        where = f"{schema}.{table}.{column}"
        for what, present in (
            ("a default", default is not None),
            ("a storage setting", storage is not None),
            ("column options", bool(options)),
            ("column privileges", bool(acl)),
            ("a comment", comment is not None),
            ("a statistics target", stattarget is not None),
            ("identity", bool(identity)),
            ("a generation expression", bool(generated)),
        ):
            if present:
                refusals.append(f"{where} has {what}")
        for classid, _objid, _deptype, describe in query(_DEPENDENTS, (regclass, attnum)):
            if classid != "pg_attrdef":
                refusals.append(f"{describe} depends on {where}")
    if refusals:
        raise CarryRefused(
            f"{revision}: {pattern} replaces {', '.join(columns)} by columns of another shape, so what hangs on "
            "them cannot be carried: " + "; ".join(dict.fromkeys(refusals)) + " (drop it in an earlier revision "
            "and re-create it on the new columns after contract)"
        )


def _carry_default(target: _Target, default: str, probe: Probe | None, out: Carried, refusals: list[str]) -> None:
    expr = default
    if target.type_changes:
        try:
            translated = substitute(target.using, target.old, default)
        except Exception as exc:  # pglast cannot read the author's expression
            refusals.append(f"the default {default} of {target.old} cannot be translated through {target.using}: {exc}")
            return
        expr = f"CAST(({translated}) AS {target.new_type})"
        if probe is not None:
            error = probe(f"EXPLAIN (COSTS OFF) SELECT {expr}")
            if error is not None:
                refusals.append(
                    f"the default {default} of {target.old} cannot be carried to {target.new} as "
                    f"{target.new_type}: {error}"
                )
                return
    set_default = _s(
        sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}").format(
            target.t, sql.Identifier(target.new if "nextval(" not in default else target.final), sql.SQL(expr)
        )
    )
    if "nextval(" in default:
        # a sequence default is set in the swap: both defaults at once would draw two values per insert, and the
        # sequence owned by the old column must be owned by the new one before the old column (and it) is dropped
        out.after_drop.append(set_default)
        seqs = _owned_sequences(default)
        for seq in seqs:
            out.before_drop.append(
                _s(
                    sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(
                        sql.SQL(seq), sql.Identifier(target.schema, target.table, target.new)
                    )
                )
            )
        out.summary.append(f"default {default} (at contract)")
        return
    out.expand.append(Step(set_default, f"carry the default {default} of {target.old} to {target.new}"))
    out.summary.append(f"default {default}")


def _owned_sequences(default: str) -> list[str]:
    """The sequences a ``nextval('...'::regclass)`` default names, as SQL text naming them."""
    from pglast import ast, parse_sql

    found: list[str] = []
    stmt = parse_sql(f"SELECT {default}")[0].stmt

    def visit(n: Any) -> None:
        if isinstance(n, ast.FuncCall) and n.funcname[-1].sval == "nextval" and n.args:
            arg = n.args[0]
            while isinstance(arg, ast.TypeCast):
                arg = arg.arg
            if isinstance(arg, ast.A_Const) and isinstance(arg.val, ast.String):
                found.append(arg.val.sval)

    _walk(stmt, visit)
    return found


def _carry_constraint(
    target: _Target, query: Query, objid: int, out: Carried, refusals: list[str], handled_indexes: set[int]
) -> None:
    rows = query(_CONSTRAINT, (target.regclass, objid))
    if not rows:
        return
    name, contype, definition, conindid, deferrable, deferred, conrel, _confrel, on_target, rschema, rtable, _c = rows[
        0
    ]
    if contype == "n":
        return  # PostgreSQL 18's NOT NULL constraint: the pattern's NOT NULL steps carry it
    mapping = {target.old: target.new}
    temp = _temp_name(name, target.revision)
    t = target.t
    if not on_target:
        if contype != "f":
            refusals.append(f"constraint {name} on {conrel} depends on {target.old}")
            return
        # a foreign key of another table referencing the column: re-pointed at the new column once its unique
        # index exists (migrate), the old one dropped in the swap
        other = sql.SQL("{}.{}").format(sql.SQL(rschema), sql.SQL(rtable))
        from pglast import ast, parse_sql

        stmt = parse_sql(f"ALTER TABLE migtui_x ADD CONSTRAINT migtui_c {definition}")[0].stmt
        con = stmt.cmds[0].def_
        con.pk_attrs = tuple(
            ast.String(sval=target.new if v.sval == target.old else v.sval) for v in con.pk_attrs or ()
        )
        con.skip_validation = True
        con.initially_valid = False
        con.conname = None
        new_def = _deparse(con)
        out.migrate.append(
            Step(
                _s(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(other, sql.Identifier(temp), sql.SQL(new_def))
                ),
                f"foreign key {name} of {conrel} on {target.new} (NOT VALID: no scan)",
                skip_if=_constraint_exists_on(other, temp),
            )
        )
        out.migrate.append(
            Step(
                _s(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(other, sql.Identifier(temp))),
                f"validate {temp} (SHARE UPDATE EXCLUSIVE: writes continue)",
            )
        )
        out.before_drop.append(
            _s(sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(other, sql.Identifier(name)))
        )
        out.after_drop.append(
            _s(
                sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                    other, sql.Identifier(temp), sql.Identifier(name)
                )
            )
        )
        out.abort.append(
            Step(
                _s(sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(other, sql.Identifier(temp))),
                f"drop the carried foreign key {temp} of {conrel}",
            )
        )
        out.checks.append(_constraint_check(other, temp))
        out.summary.append(f"foreign key {name} of {conrel}")
        return
    if contype in ("c", "f"):
        try:
            new_def = rewrite_constraint(definition, mapping)
        except Exception as exc:
            refusals.append(f"constraint {name} ({definition}) cannot be rewritten: {exc}")
            return
        kind = "CHECK" if contype == "c" else "foreign key"
        out.expand.append(
            Step(
                _s(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(t, sql.Identifier(temp), sql.SQL(new_def))),
                f"carry {kind} {name} to {target.new} as {temp} (NOT VALID: no scan)",
                skip_if=_constraint_exists_on(t, temp),
            )
        )
        out.migrate.append(
            Step(
                _s(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(t, sql.Identifier(temp))),
                f"validate {temp} (SHARE UPDATE EXCLUSIVE: writes continue)",
            )
        )
        out.after_drop.append(
            _s(
                sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                    t, sql.Identifier(temp), sql.Identifier(name)
                )
            )
        )
        out.checks.append(_constraint_check(t, temp))
        out.summary.append(f"{kind} {name}")
        return
    if contype == "u":
        handled_indexes.add(conindid)
        index = query(_INDEX, (conindid,))[0]
        try:
            create = rewrite_index(index[1], mapping, temp)
        except Exception as exc:
            refusals.append(f"the index of constraint {name} cannot be rewritten: {exc}")
            return
        _index_steps(target, create, temp, out, unique_constraint=name)
        deferral = (
            (" DEFERRABLE INITIALLY DEFERRED" if deferred else " DEFERRABLE INITIALLY IMMEDIATE") if deferrable else ""
        )
        out.after_drop.append(
            _s(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {}{}").format(
                    t, sql.Identifier(name), sql.Identifier(temp), sql.SQL(deferral)
                )
            )
        )
        out.summary.append(f"UNIQUE {name}")
        return
    what = {"p": "the primary key", "x": "the exclusion constraint", "t": "the constraint trigger"}.get(contype, "")
    refusals.append(f"{what or 'constraint'} {name} is on {target.old}")


def _index_steps(target: _Target, create: str, temp: str, out: Carried, unique_constraint: str | None = None) -> None:
    drop = _s(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(target.schema, temp)))
    out.migrate.append(
        Step(
            create,
            f"build {temp} on {target.new} CONCURRENTLY (writes continue)",
            transactional=False,
            skip_if=_s(
                sql.SQL(
                    "SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass({}) AND indisvalid)"
                ).format(sql.Literal(_s(sql.Identifier(target.schema, temp))))
            ),
            cleanup=drop,
        )
    )
    out.checks.append(
        Check(
            "carried_valid",
            _s(
                sql.SQL(
                    "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass({}) "
                    "AND indisvalid) THEN 0 ELSE 1 END"
                ).format(sql.Literal(_s(sql.Identifier(target.schema, temp))))
            ),
            f"index {temp}",
        )
    )


def _carry_index(target: _Target, query: Query, objid: int, out: Carried, refusals: list[str]) -> None:
    rows = query(_INDEX, (objid,))
    if not rows:
        return
    name, definition, comment, backs_constraint = rows[0]
    if backs_constraint:
        return  # a constraint's index: carried with the constraint (or refused with it)
    temp = _temp_name(name, target.revision)
    try:
        create = rewrite_index(definition, {target.old: target.new}, temp)
    except Exception as exc:
        refusals.append(f"index {name} cannot be rewritten: {exc}")
        return
    _index_steps(target, create, temp, out)
    out.after_drop.append(
        _s(sql.SQL("ALTER INDEX {} RENAME TO {}").format(sql.Identifier(target.schema, temp), sql.Identifier(name)))
    )
    if comment is not None:
        out.after_drop.append(
            _s(sql.SQL("COMMENT ON INDEX {} IS {}").format(sql.Identifier(target.schema, name), sql.Literal(comment)))
        )
    out.summary.append(f"index {name}")


def _carry_view(target: _Target, query: Query, objid: int, out: Carried, refusals: list[str]) -> None:
    rows = query(_VIEW, (objid,))
    if not rows:
        return
    _oid, vschema, vname, relkind, definition, owner, options, comment, grants, has_dependents, column_extras = rows[0]
    qualified = sql.SQL("{}.{}").format(sql.SQL(vschema), sql.SQL(vname))
    label = f"{vschema}.{vname}"
    if relkind != "v":
        refusals.append(f"materialized view {label} uses {target.old} (re-create it after contract)")
        return
    if has_dependents:
        refusals.append(f"view {label} uses {target.old} and other views or rules depend on it")
        return
    if column_extras:
        refusals.append(f"view {label} has column comments or column privileges")
        return
    try:
        body = rewrite_view(definition, target.table, {target.old: target.final})
    except Exception as exc:
        refusals.append(f"view {label} cannot be rewritten: {exc}")
        return
    with_options = (
        sql.SQL(" WITH ({})").format(sql.SQL(", ").join(sql.SQL(o) for o in options)) if options else sql.SQL("")
    )
    out.before_drop.append(_s(sql.SQL("DROP VIEW {}").format(qualified)))
    out.after_drop.append(_s(sql.SQL("CREATE VIEW {}{} AS {}").format(qualified, with_options, sql.SQL(body))))
    out.after_drop.append(_s(sql.SQL("ALTER VIEW {} OWNER TO {}").format(qualified, sql.Identifier(owner))))
    if comment is not None:
        out.after_drop.append(_s(sql.SQL("COMMENT ON VIEW {} IS {}").format(qualified, sql.Literal(comment))))
    out.after_drop.extend(grants)
    out.summary.append(f"view {label}")


def _constraint_exists_on(table: sql.Composable, name: str) -> str:
    return _s(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass({}) AND conname = {})").format(
            sql.Literal(_s(table)), sql.Literal(name)
        )
    )


def _constraint_check(table: sql.Composable, name: str) -> Check:
    return Check(
        "carried_valid",
        _s(
            sql.SQL(
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass({}) "
                "AND conname = {} AND convalidated) THEN 0 ELSE 1 END"
            ).format(sql.Literal(_s(table)), sql.Literal(name))
        ),
        f"constraint {name}",
    )


def merged_check(checks: list[Check]) -> Check | None:
    """One ``carried_valid`` gate over every carried index and constraint: missing or not valid ones count."""
    if not checks:
        return None
    names = ", ".join(c.description for c in checks)
    total = " + ".join(f"({c.sql})" for c in checks)
    return Check(
        "carried_valid",
        f"SELECT {total}",
        f"of the carried objects missing or not valid yet ({names}; built and validated in migrate)",
        ok=f"{len(checks)} carried object(s) present and valid: {names}",
    )
