"""Helpers for the common zero-downtime changes. Each returns a ``PhasedChange`` for a phased revision.

    change = phases.rename_column("accounts", "email", "email_address")

All SQL identifiers are quoted with ``psycopg.sql``; ``using`` / ``fill`` / derivation arguments are SQL
expressions written by the revision's author (like ``op.execute``) over the row's columns (bare names).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from psycopg import sql

from migtui.errors import UsageError
from migtui.phases import carry
from migtui.phases import sync_trigger as trig
from migtui.phases import versions as ver
from migtui.phases.model import Backfill, Check, PhasedChange, Plan, PlanContext, Step, SyncSpec

ColumnInfo = Callable[[str, str, str], "tuple[str, bool] | None"]  # (schema, table, column) -> (type, not null)


def split_table(name: str) -> tuple[str, str]:
    """'schema.table' or 'table' (schema public)."""
    if not name or name.count(".") > 1:
        raise UsageError(f"invalid table name {name!r}: use 'table' or 'schema.table'")
    schema, _, table = name.rpartition(".")
    return (schema or "public"), table


def _s(composable: sql.Composable) -> str:
    return composable.as_string(None)


def _table(schema: str, table: str) -> sql.Composable:
    return sql.Identifier(schema, table)


def _regclass_literal(schema: str, table: str) -> sql.Composable:
    return sql.Literal(_s(_table(schema, table)))


def _name(*parts: str) -> str:
    """An object name from parts, cut to PostgreSQL's 63-byte limit."""
    return "_".join(p for p in parts if p)[:63]


def _constraint_exists(schema: str, table: str, name: str) -> str:
    return _s(
        sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass({t}) AND conname = {n})"
        ).format(t=_regclass_literal(schema, table), n=sql.Literal(name))
    )


def _valid_index_exists(schema: str, name: str) -> str:
    return _s(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass({i}) AND indisvalid)").format(
            i=sql.Literal(_s(sql.Identifier(schema, name)))
        )
    )


def _column_missing(schema: str, table: str, column: str) -> str:
    return _s(
        sql.SQL(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass({t}) "
            "AND attname = {c} AND NOT attisdropped)"
        ).format(t=_regclass_literal(schema, table), c=sql.Literal(column))
    )


def _column_not_null(schema: str, table: str, column: str) -> str:
    return _s(
        sql.SQL(
            "SELECT coalesce((SELECT attnotnull FROM pg_attribute WHERE attrelid = to_regclass({t}) "
            "AND attname = {c} AND NOT attisdropped), true)"
        ).format(t=_regclass_literal(schema, table), c=sql.Literal(column))
    )


def not_null_steps(schema: str, table: str, column: str, revision: str, pg_version: int) -> tuple[list[Step], str]:
    """Steps that make ``column`` NOT NULL without a long lock, and the constraint name they use.

    PostgreSQL >= 18: ``ADD CONSTRAINT .. NOT NULL .. NOT VALID`` then ``VALIDATE``.
    PostgreSQL 12-17: ``CHECK (c IS NOT NULL) NOT VALID`` -> ``VALIDATE`` -> ``SET NOT NULL`` (uses the
    valid CHECK instead of scanning) -> drop the CHECK.
    """
    t = _table(schema, table)
    c = sql.Identifier(column)
    name = _name(table, column, "not_null", trig.object_suffix(revision)[:12])
    n = sql.Identifier(name)
    if pg_version >= 18:
        return [
            Step(
                _s(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} NOT NULL {} NOT VALID").format(t, n, c)),
                f"add NOT NULL constraint on {column} (NOT VALID: no scan)",
                skip_if=_column_not_null_or_constraint(schema, table, column, name),
            ),
            Step(
                _s(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(t, n)),
                f"validate NOT NULL on {column} (SHARE UPDATE EXCLUSIVE: writes continue)",
                skip_if=_constraint_missing(schema, table, name),
            ),
        ], name
    return [
        Step(
            _s(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID").format(t, n, c)),
            f"add CHECK ({column} IS NOT NULL) NOT VALID (no scan)",
            skip_if=_column_not_null_or_constraint(schema, table, column, name),
        ),
        Step(
            _s(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(t, n)),
            "validate the CHECK (SHARE UPDATE EXCLUSIVE: writes continue)",
            skip_if=_constraint_missing(schema, table, name),
        ),
        Step(
            _s(sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL").format(t, c)),
            f"SET NOT NULL on {column} (proved by the valid CHECK: no scan)",
            skip_if=_column_not_null(schema, table, column),
        ),
        Step(
            _s(sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(t, n)),
            "drop the helper CHECK",
        ),
    ], name


def _column_not_null_or_constraint(schema: str, table: str, column: str, name: str) -> str:
    return _s(
        sql.SQL("SELECT ({}) OR ({})").format(
            sql.SQL(_column_not_null(schema, table, column)), sql.SQL(_constraint_exists(schema, table, name))
        )
    )


def _constraint_missing(schema: str, table: str, name: str) -> str:
    return _s(sql.SQL("SELECT NOT ({})").format(sql.SQL(_constraint_exists(schema, table, name))))


@dataclass
class NewColumn:
    name: str
    type: str | None  # None: the type of the old column it replaces (looked up at plan time)
    derive: str  # SQL expression over the row giving this column from the old shape
    not_null: bool | None = None  # None: copy from the old column's NOT NULL


@dataclass
class ColumnSync(PhasedChange):
    """Old columns are replaced by new ones; a trigger keeps both in sync while both exist.

    expand: add the new (nullable) columns, install the dual-write trigger.
    migrate: backfill every row whose new columns differ from their derivation.
    contract: NOT NULL on new columns where wanted, drop the trigger and the old columns, optional renames.
    abort: drop the trigger and the new columns (the old columns were kept current by the trigger).
    """

    table: str
    old_columns: Sequence[str]
    new_columns: Sequence[NewColumn]
    backward: dict[str, str]  # old column -> SQL expression over the new shape
    pattern: str = "column_sync"
    description: str = ""
    drop_old: bool = True
    renames: dict[str, str] = field(default_factory=dict)  # new column -> final name, done at contract
    reverse_contract_steps: Callable[[str, str], list[Step]] | None = None
    old_application: Sequence[str] = ()
    carries: bool = False  # a one-to-one copy (rename, type change): what the old column has moves over
    versions: bool | Sequence[str] = False  # publish versioned schemas: True (derived names) or (old, new)

    def plan(self, context: PlanContext) -> Plan:
        schema, table = split_table(self.table)
        t = _table(schema, table)
        rev = context.revision
        names = ver.resolve_names(self.versions, rev)
        sync = SyncSpec(
            schema=schema,
            table=table,
            old_columns=tuple(self.old_columns),
            new_columns=tuple(c.name for c in self.new_columns),
            forward={c.name: c.derive for c in self.new_columns},
            backward=dict(self.backward),
            version_paths={names[0]: "old", names[1]: "new"} if names else {},
        )
        carried = self._carried(schema, table, context, names or ())
        published = ver.Published()
        if names and context.query is not None:
            new = self.new_columns[0].name
            published = ver.publish(
                context.query,
                revision=rev,
                schema=schema,
                table=table,
                old=self.old_columns[0],
                new=new,
                final=self.renames.get(new, new),
                names=names,
                pg_version=context.pg_version,
            )
        column_defs = []
        for col in self.new_columns:
            typ = col.type
            if typ is None:
                info = context.column_info(schema, table, self.old_columns[0]) if context.column_info else None
                typ = info[0] if info else "text /* migtui: the old column's type, resolved online */"
                if carried.collation:
                    typ += f" COLLATE {carried.collation}"
            column_defs.append(sql.SQL("ADD COLUMN IF NOT EXISTS {} {}").format(sql.Identifier(col.name), sql.SQL(typ)))
        new_ids = [sql.Identifier(c.name) for c in self.new_columns]
        derived = [sql.SQL("({})").format(sql.SQL(c.derive)) for c in self.new_columns]
        needs_update = _s(
            sql.SQL("ROW({}) IS DISTINCT FROM ROW({})").format(sql.SQL(", ").join(new_ids), sql.SQL(", ").join(derived))
        )
        expand = [
            Step(
                _s(sql.SQL("ALTER TABLE {} {}").format(t, sql.SQL(", ").join(column_defs))),
                "add the new columns (nullable, no default: no rewrite)",
            ),
            *carried.expand,
            Step(trig.function_sql(rev, sync), "create the dual-write function"),
            Step(trig.create_trigger_sql(rev, sync), "install the dual-write trigger (old <-> new)"),
            *published.expand,
        ]
        checks = [
            Check(
                "backfill_verified",
                _s(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(t, sql.SQL(needs_update))),
                f"rows where {', '.join(c.name for c in self.new_columns)} differ from the derivation of "
                f"{', '.join(self.old_columns) or 'the old shape'}",
            )
        ]
        carried_gate = carry.merged_check(carried.checks)
        if carried_gate is not None:
            checks.append(carried_gate)
        contract: list[Step] = []
        for col in self.new_columns:
            want = col.not_null
            if want is None and self.old_columns and context.column_info:
                info = context.column_info(schema, table, self.old_columns[0])
                want = bool(info and info[1])
            if want:
                contract += not_null_steps(schema, table, col.name, rev, context.pg_version)[0]
        drops = [sql.SQL(statement) for statement in published.contract_first]
        drops.append(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(sql.Identifier(trig.trigger_name(rev)), t))
        drops += [sql.SQL(statement) for statement in carried.before_drop]
        if self.drop_old and self.old_columns:
            drops.append(
                sql.SQL("ALTER TABLE {} {}").format(
                    t,
                    sql.SQL(", ").join(
                        sql.SQL("DROP COLUMN IF EXISTS {}").format(sql.Identifier(c)) for c in self.old_columns
                    ),
                )
            )
        for new, final in self.renames.items():
            drops.append(
                sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(t, sql.Identifier(new), sql.Identifier(final))
            )
        drops += [sql.SQL(statement) for statement in carried.after_drop]
        what = "drop the trigger" + (
            f", drop {', '.join(self.old_columns)}" if self.drop_old and self.old_columns else ""
        )
        if self.renames:
            what += ", rename " + ", ".join(f"{a} -> {b}" for a, b in self.renames.items())
        if carried.before_drop or carried.after_drop:
            what += ", move the carried objects to the new column"
        if published.contract_first:
            what = f"drop the old version's schema {names[0]}, " + what
        contract.append(
            Step(
                _s(sql.SQL(";\n").join(drops)),
                what + " (one short ACCESS EXCLUSIVE transaction)",
                skip_if=_s(sql.SQL("SELECT NOT ({})").format(sql.SQL(trig.trigger_exists_sql(rev, sync)))),
            )
        )
        contract.append(Step(trig.drop_function_sql(rev), "drop the dual-write function"))
        abort = [
            *published.abort,
            *carried.abort,
            Step(
                _s(
                    sql.SQL("{};\nALTER TABLE {} {}").format(
                        sql.SQL(trig.drop_trigger_sql(rev, sync)),
                        t,
                        sql.SQL(", ").join(sql.SQL("DROP COLUMN IF EXISTS {}").format(i) for i in new_ids),
                    )
                ),
                "drop the trigger and the new columns",
            ),
            Step(trig.drop_function_sql(rev), "drop the dual-write function"),
        ]
        reverse = self.reverse_contract_steps(schema, table) if self.reverse_contract_steps else None
        return Plan(
            revision=rev,
            pattern=self.pattern,
            target=f"{schema}.{table}",
            description=self.description + (f" (carries {', '.join(carried.summary)})" if carried.summary else ""),
            expand=expand,
            backfill=Backfill(schema, table, self.new_columns[0].name, needs_update),
            migrate=carried.migrate,
            checks=checks,
            sync=sync,
            contract=contract,
            abort=abort,
            reverse_contract=reverse,
            irreversible_reason=""
            if reverse is not None
            else f"{self.pattern}: the old column(s) {', '.join(self.old_columns)} were dropped at contract",
            old_application=tuple(self.old_application),
            versions=published.versions,
        )

    def _carried(
        self, schema: str, table: str, context: PlanContext, version_schemas: Sequence[str] = ()
    ) -> carry.Carried:
        """What the old column has, to re-create on its copy (online only: offline there is no catalog)."""
        if context.query is None or not self.drop_old or not self.old_columns:
            return carry.Carried()
        if not self.carries or len(self.old_columns) != 1 or len(self.new_columns) != 1:
            carry.refuse_non_copy(
                context.query,
                schema=schema,
                table=table,
                columns=self.old_columns,
                pattern=self.pattern,
                revision=context.revision,
            )
            return carry.Carried()
        old = self.old_columns[0]
        col = self.new_columns[0]
        info = context.column_info(schema, table, old) if context.column_info else None
        if info is None:
            return carry.Carried()
        return carry.carry_column(
            context.query,
            context.probe,
            schema=schema,
            table=table,
            old=old,
            new=col.name,
            final=self.renames.get(col.name, col.name),
            new_type=col.type or info[0],
            type_changes=self.pattern == "change_column_type",
            using=col.derive,
            revision=context.revision,
            pattern=self.pattern,
            own_schemas=tuple(version_schemas),
        )


def add_not_null_column(
    table: str, column: str, type: str, fill: str, *, old_application: Sequence[str] = ()
) -> ColumnSync:
    """Add ``column type NOT NULL`` whose value for existing rows and old-application writes is ``fill``.

    ``fill`` may be any expression over the row (``lower(email)``, ``now()``, ``0``).
    """
    schema, tbl = split_table(table)

    def reverse(schema: str, tbl: str) -> list[Step]:
        return [
            Step(
                _s(
                    sql.SQL("ALTER TABLE {} DROP COLUMN IF EXISTS {}").format(
                        _table(schema, tbl), sql.Identifier(column)
                    )
                ),
                f"drop {column}",
            )
        ]

    return ColumnSync(
        table=table,
        old_columns=(),
        new_columns=[
            NewColumn(column, type, _s(sql.SQL("coalesce({}, {})").format(sql.Identifier(column), sql.SQL(fill))), True)
        ],
        backward={},
        pattern="add_not_null_column",
        description=f"add {column} {type} NOT NULL to {schema}.{tbl} (existing rows and old writes: {fill})",
        drop_old=False,
        reverse_contract_steps=reverse,
        old_application=old_application,
    )


def rename_column(
    table: str,
    column: str,
    new_name: str,
    *,
    type: str | None = None,
    old_application: Sequence[str] = (),
    versions: bool | Sequence[str] = False,
) -> ColumnSync:
    """Rename ``column`` to ``new_name``: a synced copy, so old and new application versions both work.

    ``versions=True`` (or ``(old_schema, new_schema)``) publishes a schema per application version
    (``migtui.phases.versions``): each version sets its ``search_path`` and needs no other change.
    """
    return ColumnSync(
        table=table,
        old_columns=(column,),
        new_columns=[NewColumn(new_name, type, _s(sql.Identifier(column)))],
        backward={column: _s(sql.Identifier(new_name))},
        pattern="rename_column",
        description=f"rename {table}.{column} to {new_name}",
        old_application=old_application,
        carries=True,
        versions=versions,
    )


def change_column_type(
    table: str,
    column: str,
    new_type: str,
    *,
    new_column: str | None = None,
    using: str | None = None,
    reverse_using: str | None = None,
    old_type: str | None = None,
    rename_on_contract: bool = False,
    old_application: Sequence[str] = (),
    versions: bool | Sequence[str] = False,
) -> ColumnSync:
    """Change the type of ``column`` through a synced copy ``new_column`` (default ``<column>_new``).

    ``using`` derives the new value (default ``column::new_type``); ``reverse_using`` derives the old value
    from the new one for new-application writes (default ``new_column::old_type``). With
    ``rename_on_contract`` the copy takes the old name at contract (the new application must then be
    deployed with the old name: only do this if it reads the column by either name). ``versions=`` as for
    ``rename_column``: the new version's view shows the copy under its final name.
    """
    new_column = new_column or f"{column}_new"
    back = reverse_using
    if back is None:
        back = (
            _s(sql.SQL("{}::{}").format(sql.Identifier(new_column), sql.SQL(old_type)))
            if old_type
            else _s(sql.Identifier(new_column))  # assignment cast to the old column's type
        )
    return ColumnSync(
        table=table,
        old_columns=(column,),
        new_columns=[
            NewColumn(
                new_column, new_type, using or _s(sql.SQL("{}::{}").format(sql.Identifier(column), sql.SQL(new_type)))
            )
        ],
        backward={column: back},
        pattern="change_column_type",
        description=f"change {table}.{column} to {new_type} (as {new_column})",
        renames={new_column: column} if rename_on_contract else {},
        old_application=old_application,
        carries=True,
        versions=versions,
    )


def split_column(
    table: str,
    column: str,
    into: dict[str, tuple[str, str]],
    merge_back: str,
    *,
    old_application: Sequence[str] = (),
) -> ColumnSync:
    """Split ``column`` into several: ``into = {name: (type, expression over the old column)}``;
    ``merge_back`` rebuilds the old column from the new ones (for new-application writes)."""
    return ColumnSync(
        table=table,
        old_columns=(column,),
        new_columns=[NewColumn(name, typ, expr, False) for name, (typ, expr) in into.items()],
        backward={column: merge_back},
        pattern="split_column",
        description=f"split {table}.{column} into {', '.join(into)}",
        old_application=old_application,
    )


def merge_columns(
    table: str,
    columns: Sequence[str],
    into: tuple[str, str, str],
    split_back: dict[str, str],
    *,
    old_application: Sequence[str] = (),
) -> ColumnSync:
    """Merge ``columns`` into one: ``into = (name, type, expression over the old columns)``;
    ``split_back = {old column: expression over the new column}`` for new-application writes."""
    name, typ, expr = into
    return ColumnSync(
        table=table,
        old_columns=tuple(columns),
        new_columns=[NewColumn(name, typ, expr, False)],
        backward=dict(split_back),
        pattern="merge_columns",
        description=f"merge {table}.{', '.join(columns)} into {name}",
        old_application=old_application,
    )


@dataclass
class SetNotNull(PhasedChange):
    table: str
    column: str
    fill: str | None = None
    old_application: Sequence[str] = ()
    pattern: str = "set_not_null"

    def plan(self, context: PlanContext) -> Plan:
        schema, table = split_table(self.table)
        t = _table(schema, table)
        c = sql.Identifier(self.column)
        rev = context.revision
        steps, name = not_null_steps(schema, table, self.column, rev, context.pg_version)
        expand = [steps[0]]
        contract = steps[1:]
        abort = [
            Step(
                _s(sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(t, sql.Identifier(name))),
                "drop the NOT VALID constraint",
            )
        ]
        sync = None
        backfill = None
        if self.fill is not None:
            sync = SyncSpec(
                schema,
                table,
                (),
                (self.column,),
                {self.column: _s(sql.SQL("coalesce({}, {})").format(c, sql.SQL(self.fill)))},
                {},
            )
            # the trigger goes in before the constraint so old-application NULL writes are filled, not refused
            expand = [
                Step(trig.function_sql(rev, sync), "create the fill function"),
                Step(
                    trig.create_trigger_sql(rev, sync),
                    f"install the trigger filling NULL {self.column} with {self.fill}",
                ),
                *expand,
            ]
            backfill = Backfill(schema, table, self.column, _s(sql.SQL("{} IS NULL").format(c)))
            tail = [
                Step(trig.drop_trigger_sql(rev, sync), "drop the fill trigger"),
                Step(trig.drop_function_sql(rev), "drop the fill function"),
            ]
            contract = contract + tail
            abort = abort + tail
        checks = [
            Check(
                "backfill_verified",
                _s(sql.SQL("SELECT count(*) FROM {} WHERE {} IS NULL").format(t, c)),
                f"rows where {self.column} IS NULL",
            )
        ]
        reverse = [
            Step(
                _s(sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL").format(t, c)),
                f"{self.column} nullable again",
            )
        ]
        return Plan(
            revision=rev,
            pattern=self.pattern,
            target=f"{schema}.{table}",
            description=f"make {schema}.{table}.{self.column} NOT NULL"
            + (f" (NULLs become {self.fill})" if self.fill else ""),
            expand=expand,
            backfill=backfill,
            checks=checks,
            sync=sync,
            contract=contract,
            abort=abort,
            reverse_contract=reverse,
            old_application=tuple(self.old_application),
        )


def set_not_null(
    table: str, column: str, *, fill: str | None = None, old_application: Sequence[str] = ()
) -> SetNotNull:
    """Make ``column`` NOT NULL; with ``fill``, existing NULLs and old-application NULL writes get ``fill``."""
    return SetNotNull(table, column, fill, old_application)


@dataclass
class AddUniqueConstraint(PhasedChange):
    table: str
    columns: Sequence[str]
    name: str | None = None
    old_application: Sequence[str] = ()
    pattern: str = "add_unique_constraint"

    def plan(self, context: PlanContext) -> Plan:
        schema, table = split_table(self.table)
        t = _table(schema, table)
        name = self.name or _name(table, *self.columns, "key")
        idx = sql.Identifier(schema, name)
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in self.columns)
        drop_index = _s(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(idx))
        expand = [
            Step(
                _s(
                    sql.SQL("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({})").format(
                        sql.Identifier(name), t, cols
                    )
                ),
                f"build the unique index {name} CONCURRENTLY (writes continue)",
                transactional=False,
                skip_if=_valid_index_exists(schema, name),
                cleanup=drop_index,
            )
        ]
        contract = [
            Step(
                _s(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {}").format(
                        t, sql.Identifier(name), sql.Identifier(name)
                    )
                ),
                f"attach {name} as a UNIQUE constraint (no scan)",
                skip_if=_constraint_exists(schema, table, name),
            )
        ]
        checks = [
            Check(
                "index_valid",
                _s(
                    sql.SQL("SELECT CASE WHEN ({}) THEN 0 ELSE 1 END").format(
                        sql.SQL(_valid_index_exists(schema, name))
                    )
                ),
                f"unique index {name} missing or INVALID",
                ok=f"unique index {name} exists and is valid",
            )
        ]
        abort = [Step(drop_index, f"drop the index {name}", transactional=False)]
        reverse = [
            Step(
                _s(sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(t, sql.Identifier(name))),
                f"drop the constraint {name} (and its index)",
            )
        ]
        return Plan(
            revision=context.revision,
            pattern=self.pattern,
            target=f"{schema}.{table}",
            description=f"add UNIQUE ({', '.join(self.columns)}) to {schema}.{table} as {name}",
            expand=expand,
            checks=checks,
            contract=contract,
            abort=abort,
            reverse_contract=reverse,
            old_application=tuple(self.old_application),
        )


def add_unique_constraint(
    table: str, columns: Sequence[str], *, name: str | None = None, old_application: Sequence[str] = ()
) -> AddUniqueConstraint:
    """UNIQUE (columns): a unique index built CONCURRENTLY at expand, attached with USING INDEX at contract."""
    return AddUniqueConstraint(table, tuple(columns), name, old_application)


@dataclass
class AddForeignKey(PhasedChange):
    table: str
    columns: Sequence[str]
    references: str
    ref_columns: Sequence[str]
    name: str | None = None
    index: bool = True
    on_delete: str | None = None
    old_application: Sequence[str] = ()
    pattern: str = "add_foreign_key"

    def plan(self, context: PlanContext) -> Plan:
        schema, table = split_table(self.table)
        rschema, rtable = split_table(self.references)
        t = _table(schema, table)
        name = self.name or _name(table, *self.columns, "fkey")
        idx_name = _name(table, *self.columns, "idx")
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in self.columns)
        rcols = sql.SQL(", ").join(sql.Identifier(c) for c in self.ref_columns)
        on_delete = sql.SQL(" ON DELETE {}").format(sql.SQL(self.on_delete)) if self.on_delete else sql.SQL("")
        drop_index = _s(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(schema, idx_name)))
        expand: list[Step] = []
        abort: list[Step] = [
            Step(
                _s(sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(t, sql.Identifier(name))),
                f"drop the foreign key {name}",
            )
        ]
        if self.index:
            expand.append(
                Step(
                    _s(
                        sql.SQL("CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({})").format(
                            sql.Identifier(idx_name), t, cols
                        )
                    ),
                    f"index the referencing columns CONCURRENTLY ({idx_name})",
                    transactional=False,
                    skip_if=_valid_index_exists(schema, idx_name),
                    cleanup=drop_index,
                )
            )
            abort.append(Step(drop_index, f"drop the index {idx_name}", transactional=False))
        expand.append(
            Step(
                _s(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}){} NOT VALID").format(
                        t, sql.Identifier(name), cols, _table(rschema, rtable), rcols, on_delete
                    )
                ),
                f"add the foreign key {name} NOT VALID (new writes checked, no scan)",
                skip_if=_constraint_exists(schema, table, name),
            )
        )
        join = sql.SQL(" AND ").join(
            sql.SQL("r.{} = t.{}").format(sql.Identifier(rc), sql.Identifier(c))
            for c, rc in zip(self.columns, self.ref_columns, strict=True)
        )
        not_null = sql.SQL(" AND ").join(sql.SQL("t.{} IS NOT NULL").format(sql.Identifier(c)) for c in self.columns)
        checks = [
            Check(
                "no_orphans",
                _s(
                    sql.SQL(
                        "SELECT count(*) FROM {} AS t WHERE {} AND NOT EXISTS (SELECT 1 FROM {} AS r WHERE {})"
                    ).format(t, not_null, _table(rschema, rtable), join)
                ),
                f"rows of {schema}.{table} whose {', '.join(self.columns)} match no {rschema}.{rtable} row",
            )
        ]
        contract = [
            Step(
                _s(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(t, sql.Identifier(name))),
                f"validate {name} (SHARE UPDATE EXCLUSIVE: writes continue)",
            )
        ]
        reverse = [abort[0]] + (
            [Step(drop_index, f"drop the index {idx_name}", transactional=False)] if self.index else []
        )
        return Plan(
            revision=context.revision,
            pattern=self.pattern,
            target=f"{schema}.{table}",
            description=f"add FOREIGN KEY {schema}.{table} ({', '.join(self.columns)}) -> {rschema}.{rtable}",
            expand=expand,
            checks=checks,
            contract=contract,
            abort=abort,
            reverse_contract=reverse,
            old_application=tuple(self.old_application),
        )


def add_foreign_key(
    table: str,
    columns: Sequence[str],
    references: str,
    ref_columns: Sequence[str],
    *,
    name: str | None = None,
    index: bool = True,
    on_delete: str | None = None,
    old_application: Sequence[str] = (),
) -> AddForeignKey:
    """FOREIGN KEY NOT VALID at expand (plus a CONCURRENT index), VALIDATE at contract."""
    return AddForeignKey(table, tuple(columns), references, tuple(ref_columns), name, index, on_delete, old_application)


def _as_steps(items: Sequence[str | Step]) -> list[Step]:
    out = []
    for item in items:
        if isinstance(item, Step):
            out.append(item)
        else:
            text = item.strip()
            concurrently = " concurrently " in f" {text.lower()} "
            out.append(Step(text, "raw SQL", transactional=not concurrently))
    return out


@dataclass
class RawSteps(PhasedChange):
    """Raw SQL per phase, for what the helpers do not cover."""

    expand: Sequence[str | Step]
    contract: Sequence[str | Step]
    abort: Sequence[str | Step]
    checks: Sequence[Check] = ()
    backfill: Backfill | None = None
    reverse_contract: Sequence[str | Step] | None = None
    description: str = "raw SQL steps"
    old_application: Sequence[str] = ()
    pattern: str = "raw_sql"

    def plan(self, context: PlanContext) -> Plan:
        return Plan(
            revision=context.revision,
            pattern=self.pattern,
            target="",
            description=self.description,
            expand=_as_steps(self.expand),
            backfill=self.backfill,
            checks=list(self.checks),
            contract=_as_steps(self.contract),
            abort=_as_steps(self.abort),
            reverse_contract=_as_steps(self.reverse_contract) if self.reverse_contract is not None else None,
            irreversible_reason="raw_sql: no reverse_contract given",
            old_application=tuple(self.old_application),
        )


def raw_sql(
    *,
    expand: Sequence[str | Step],
    contract: Sequence[str | Step],
    abort: Sequence[str | Step],
    checks: Sequence[Check] = (),
    reverse_contract: Sequence[str | Step] | None = None,
    description: str = "raw SQL steps",
    old_application: Sequence[str] = (),
) -> RawSteps:
    """Raw SQL steps per phase (statements containing CONCURRENTLY run outside a transaction)."""
    return RawSteps(expand, contract, abort, checks, None, reverse_contract, description, old_application)
