"""Snapshot one database's schema through catalog queries (the one inspector for rollback-test and drift).

Every value is what the server itself normalizes: ``format_type``, ``pg_get_constraintdef``,
``pg_get_indexdef``, ``pg_get_viewdef``, ``pg_get_triggerdef``, ``pg_get_expr``, function identity
arguments, role names. Names, never OIDs. Not part of a snapshot: column order (attnum), statistics,
relfilenodes, sequence state, system schemas, objects owned by an extension (only the extension itself),
implementation details that would double-report (the index behind a PK/UNIQUE/EXCLUDE constraint, an
identity column's sequence, PostgreSQL 18's NOT NULL constraint rows, the copies of a partitioned table's
indexes, constraints and triggers on its partitions) and the alembic version table.

Queries run in one REPEATABLE READ read-only transaction with ``search_path = pg_catalog`` so every
deparsed name outside pg_catalog is schema-qualified the same way on both sides of a comparison. They live in
``migtui/catalog/queries/*.sql``. Grants are a sorted list like ``PUBLIC USAGE`` / ``reader SELECT WITH GRANT
OPTION``, with the object's owner spelled ``OWNER`` so a change of owner is one difference (``owner``), not two;
an object never granted or revoked (NULL ACL) shows the default ACL for its type and owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from migtui.catalog.model import CatalogObject, Key, Snapshot
from migtui.errors import MigtuiError
from migtui.pg.queries import load_query

_QUERIES = "migtui.catalog.queries"

# -- value vocabularies (one spelling in text, JSON and docs) ------------------------------------------

_RELKIND_TABLE = {"r": "table", "p": "partitioned table", "f": "foreign table"}
_PERSISTENCE = {"p": "permanent", "u": "unlogged", "t": "temporary"}
_REPLICA_IDENTITY = {"d": "default", "n": "nothing", "f": "full", "i": "index"}
_IDENTITY = {"a": "always", "d": "by default"}
_GENERATED = {"s": "stored", "v": "virtual"}
_STORAGE = {"p": "plain", "e": "external", "m": "main", "x": "extended"}
_COMPRESSION = {"p": "pglz", "l": "lz4"}
_CONSTRAINT_TYPE = {
    "p": "primary key",
    "f": "foreign key",
    "u": "unique",
    "c": "check",
    "x": "exclusion",
    "t": "constraint trigger",
}
_FUNCTION_KIND = {"f": "function", "p": "procedure", "a": "aggregate", "w": "window"}
_VOLATILITY = {"i": "immutable", "s": "stable", "v": "volatile"}
_PARALLEL = {"s": "safe", "r": "restricted", "u": "unsafe"}
_TRIGGER_ENABLED = {"O": "enabled", "D": "disabled", "R": "replica", "A": "always"}
_POLICY_COMMAND = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
_COLLATION_PROVIDER = {"c": "libc", "i": "icu", "b": "builtin", "d": "default"}

_INT_LIMITS = {
    "smallint": (-32768, 32767),
    "integer": (-2147483648, 2147483647),
    "bigint": (-9223372036854775808, 9223372036854775807),
}


def _q(*parts: str) -> str:
    """A display name: parts joined by dots (unquoted; names are compared, not executed)."""
    return ".".join(parts)


def _sequence_options(row: dict[str, Any], type_name: str, *, omit_defaults: bool) -> dict[str, Any]:
    low, high = _INT_LIMITS.get(type_name, (None, None))
    inc = int(row["seqincrement"])
    default_min = 1 if inc > 0 else low
    default_max = high if inc > 0 else -1
    default_start = int(row["seqmin"]) if inc > 0 else int(row["seqmax"])
    options = {
        "start": int(row["seqstart"]),
        "increment": inc,
        "minvalue": int(row["seqmin"]),
        "maxvalue": int(row["seqmax"]),
        "cache": int(row["seqcache"]),
        "cycle": bool(row["seqcycle"]),
    }
    if omit_defaults:
        defaults = {
            "start": default_start,
            "increment": 1,
            "minvalue": default_min,
            "maxvalue": default_max,
            "cache": 1,
            "cycle": False,
        }
        options = {k: v for k, v in options.items() if defaults[k] != v}
    return options


def _strip_suffix(text: str, suffix: str, present: bool) -> str:
    if present and text.endswith(suffix):
        return text[: -len(suffix)]
    return text


# -- the inspector -------------------------------------------------------------------------------------


def inspect_database(
    target: Any,
    *,
    version_table: str | None = "alembic_version",
    version_table_schema: str | None = None,
    exclude_tables: Iterable[tuple[str | None, str]] = (),
) -> Snapshot:
    """Snapshot every schema object of one database.

    ``target`` is a DSN or an open psycopg connection. The alembic version table (``version_table`` in
    ``version_table_schema``, default: the connection's current schema) and ``exclude_tables``
    (``(schema or None, name)`` pairs) are left out, with their columns, constraints, indexes, triggers and
    policies.
    """
    if isinstance(target, str):
        from migtui.pg.connect import connect

        with connect(target, application_name="migtui-catalog") as conn:
            return _inspect(conn, version_table, version_table_schema, exclude_tables)
    return _inspect(target, version_table, version_table_schema, exclude_tables)


def _inspect(
    conn: Any,
    version_table: str | None,
    version_table_schema: str | None,
    exclude_tables: Iterable[tuple[str | None, str]],
) -> Snapshot:
    import psycopg
    from psycopg.pq import TransactionStatus

    status = conn.info.transaction_status
    if status == TransactionStatus.INTRANS:
        # the caller's open transaction: read inside it (it sees its own changes), in a savepoint that is
        # rolled back so the caller's search_path and work are untouched
        snap: Snapshot | None = None
        with conn.transaction():
            snap = _read(conn, version_table, version_table_schema, exclude_tables)
            raise psycopg.Rollback()
        assert snap is not None
        return snap
    if status != TransactionStatus.IDLE:
        raise MigtuiError("cannot read the catalog: the connection is busy or in a failed transaction")
    previous_autocommit = conn.autocommit
    conn.autocommit = False
    try:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _read(conn, version_table, version_table_schema, exclude_tables)
    finally:
        conn.rollback()
        conn.autocommit = previous_autocommit


def _read(
    conn: Any,
    version_table: str | None,
    version_table_schema: str | None,
    exclude_tables: Iterable[tuple[str | None, str]],
) -> Snapshot:
    """Every catalog query, inside a transaction the caller provides."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        version_num = int(conn.info.server_version)
        excluded: list[int] = []
        wanted = list(exclude_tables)
        if version_table:
            wanted.append((version_table_schema, version_table))
        for schema, name in wanted:  # current_schema() of the caller's search_path, as alembic sees it
            cur.execute(load_query(_QUERIES, "excluded_tables"), {"schema": schema, "name": name})
            excluded.extend(int(r["oid"]) for r in cur.fetchall())
        cur.execute("SET LOCAL search_path = pg_catalog")
        snap = Snapshot(version_num)
        params = {"excluded": excluded}

        def rows(name: str) -> list[dict[str, Any]]:
            cur.execute(load_query(_QUERIES, name), params)
            return cur.fetchall()

        pg13 = version_num < 140000  # no column compression, no SQL-standard function bodies
        _add(snap, _SCHEMA, rows("schemas"))
        _add(snap, _EXTENSION, rows("extensions"))
        _add(snap, _COLLATION, rows("collations"))
        _types(snap, rows("types"))
        _relations(snap, rows("relations"))
        _columns(snap, rows("columns_pg13" if pg13 else "columns"))
        _constraints(snap, rows("constraints"))
        _add(snap, _INDEX, rows("indexes"))
        _functions(snap, rows("functions_pg13" if pg13 else "functions"))
        _add(snap, _TRIGGER, rows("triggers"))
        _add(snap, _EVENT_TRIGGER, rows("event_triggers"))
        _add(snap, _POLICY, rows("policies"))
        _add(snap, _RULE, rows("rules"))
        _add(snap, _STATISTICS, rows("statistics"))
        _default_privileges(snap, rows("default_privileges"))
    return snap


# -- rows to objects -----------------------------------------------------------------------------------

# a column, or columns whose values joined by dots make a qualified name
Source = str | tuple[str, ...]


def _value(row: Mapping[str, Any], source: Source) -> Any:
    if isinstance(source, str):
        return row[source]
    return _q(*(row[column] for column in source))


@dataclass(frozen=True)
class _Shape:
    """How a query's rows become objects of one kind when each attribute is a column's value, or a code
    spelled through a vocabulary. Kinds whose attributes need more (tables, sequences, columns, constraints,
    functions, default privileges) have their own function below."""

    kind: str
    name: Source
    attributes: tuple[str, ...]  # in the order reports list them
    sources: Mapping[str, Source] = field(default_factory=dict)  # attribute -> column, where the names differ
    vocabularies: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    parent_kind: str | None = None  # "relation": the row's relkind says (view, materialized view, else table)
    parent: Source = ()

    def object(self, row: Mapping[str, Any]) -> CatalogObject:
        attributes: dict[str, Any] = {}
        for attribute in self.attributes:
            value = _value(row, self.sources.get(attribute, attribute))
            vocabulary = self.vocabularies.get(attribute)
            attributes[attribute] = vocabulary.get(value, value) if vocabulary else value
        parent: Key | None = None
        if self.parent_kind == "relation":
            parent = (_RELATION_KIND.get(row["relkind"], "table"), _value(row, self.parent))
        elif self.parent_kind:
            parent = (self.parent_kind, _value(row, self.parent))
        return CatalogObject(self.kind, _value(row, self.name), attributes, parent)


def _add(snap: Snapshot, shape: _Shape, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        snap.add(shape.object(r))


_RELATION_KIND = {"v": "view", "m": "materialized view"}
_OWNED = ("owner", "grants", "comment")
_IN_SCHEMA: dict[str, Any] = {"parent_kind": "schema", "parent": "schema"}

_SCHEMA = _Shape("schema", "name", _OWNED)
_EXTENSION = _Shape("extension", "name", ("version", "schema", "comment"))
_COLLATION = _Shape(
    "collation",
    ("schema", "name"),
    ("provider", "deterministic", "lc_collate", "lc_ctype", "locale", "rules", "owner", "comment"),
    vocabularies={"provider": _COLLATION_PROVIDER},
    **_IN_SCHEMA,
)
_TYPES = {  # by typtype
    "e": _Shape("enum", ("schema", "name"), ("values", *_OWNED), {"values": "enum_values"}, **_IN_SCHEMA),
    "d": _Shape(
        "domain",
        ("schema", "name"),
        ("base_type", "not_null", "default", "collation", *_OWNED),
        {"default": "default_expr"},
        **_IN_SCHEMA,
    ),
    "c": _Shape("composite type", ("schema", "name"), ("fields", *_OWNED), **_IN_SCHEMA),
    "r": _Shape(
        "range type",
        ("schema", "name"),
        ("subtype", "subtype_opclass", "collation", "canonical", "subtype_diff", *_OWNED),
        {"collation": "range_collation"},
        **_IN_SCHEMA,
    ),
}
_VIEWS = {  # by relkind
    "v": _Shape(
        "view", ("schema", "name"), ("definition", "options", *_OWNED), {"options": "reloptions"}, **_IN_SCHEMA
    ),
    "m": _Shape(
        "materialized view",
        ("schema", "name"),
        ("definition", "options", "access_method", "tablespace", "populated", *_OWNED),
        {"options": "reloptions", "populated": "relispopulated"},
        **_IN_SCHEMA,
    ),
}
_INDEX = _Shape(
    "index",
    ("schema", "name"),
    (
        "table",
        "unique",
        "method",
        "columns",
        "include",
        "predicate",
        "nulls_not_distinct",
        "reloptions",
        "tablespace",
        "valid",
        "comment",
    ),
    {"table": ("table_schema", "relname"), "unique": "is_unique"},
    parent_kind="relation",
    parent=("table_schema", "relname"),
)
_TRIGGER = _Shape(
    "trigger",
    ("schema", "relname", "name"),
    ("definition", "enabled", "comment"),
    vocabularies={"enabled": _TRIGGER_ENABLED},
    parent_kind="relation",
    parent=("schema", "relname"),
)
_EVENT_TRIGGER = _Shape(
    "event trigger",
    "name",
    ("event", "function", "tags", "enabled", "owner", "comment"),
    vocabularies={"enabled": _TRIGGER_ENABLED},
)
_POLICY = _Shape(
    "policy",
    ("schema", "relname", "name"),
    ("command", "permissive", "roles", "using", "with_check", "comment"),
    {"using": "using_expr"},
    {"command": _POLICY_COMMAND},
    parent_kind="table",
    parent=("schema", "relname"),
)
_RULE = _Shape(
    "rule",
    ("schema", "relname", "name"),
    ("definition", "enabled", "comment"),
    vocabularies={"enabled": _TRIGGER_ENABLED},
    parent_kind="relation",
    parent=("schema", "relname"),
)
_STATISTICS = _Shape(
    "statistics",
    ("schema", "name"),
    ("definition", "target", "owner", "comment"),
    parent_kind="table",
    parent=("table_schema", "relname"),
)
_DEFAULT_ACL_OBJTYPE = {"r": "tables", "S": "sequences", "f": "functions", "T": "types", "n": "schemas"}


def _types(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        shape = _TYPES.get(r["typtype"])
        if shape is not None:
            snap.add(shape.object(r))


def _relations(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        name = _q(r["schema"], r["name"])
        parent = ("schema", r["schema"])
        common = {"owner": r["owner"], "grants": r["grants"], "comment": r["comment"]}
        kind = r["relkind"]
        if kind in _RELKIND_TABLE:
            attrs: dict[str, Any] = {
                "table_kind": _RELKIND_TABLE[kind],
                "persistence": _PERSISTENCE.get(r["relpersistence"], r["relpersistence"]),
                "partition_key": r["partition_key"],
                "partition_of": f"{r['partition_of']} {r['partition_bound']}" if r["partition_of"] else None,
                "inherits": r["inherits"] or [],
                "of_type": r["of_type"],
                "reloptions": r["reloptions"],
                "access_method": r["access_method"],
                "tablespace": r["tablespace"],
                "row_security": r["relrowsecurity"],
                "force_row_security": r["relforcerowsecurity"],
                "replica_identity": _REPLICA_IDENTITY.get(r["relreplident"], r["relreplident"])
                + (f" ({r['replica_identity_index']})" if r["replica_identity_index"] else ""),
                **common,
            }
            if kind == "f":
                attrs["foreign_server"] = r["foreign_server"]
                attrs["foreign_options"] = r["foreign_options"]
            snap.add(CatalogObject("table", name, attrs, parent))
        elif kind in _VIEWS:
            snap.add(_VIEWS[kind].object(r))
        elif kind == "S":
            owner_dep = r["sequence_owner"] or ""
            if owner_dep.startswith("i:"):
                continue  # an identity column's sequence: part of the column's "identity" attribute
            type_name = _format_int_type(r["seqtypid"])
            owned_by = owner_dep[2:] or None
            attrs = {
                "data_type": type_name,
                "persistence": _PERSISTENCE.get(r["relpersistence"], r["relpersistence"]),
                **_sequence_options(r, type_name, omit_defaults=False),
                "owned_by": owned_by,
                **common,
            }
            if owned_by:
                # an owned sequence always has its table's owner (PostgreSQL refuses anything else), and
                # goes with its table: it is the table's part, not a separate difference
                del attrs["owner"]
                parent = ("table", owned_by.rsplit(".", 1)[0])
            snap.add(CatalogObject("sequence", name, attrs, parent))


def _format_int_type(oid: int | None) -> str:
    return {21: "smallint", 23: "integer", 20: "bigint"}.get(int(oid or 0), str(oid))


def _columns(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        table = _q(r["schema"], r["relname"])
        identity = None
        if r["attidentity"]:
            identity = "GENERATED " + _IDENTITY.get(r["attidentity"], r["attidentity"]).upper() + " AS IDENTITY"
            if r["seqtypid"] is not None:
                type_name = _format_int_type(r["seqtypid"])
                options = _sequence_options(r, type_name, omit_defaults=True)
                if options:
                    identity += (
                        " ("
                        + " ".join(
                            (k.upper() if v else "NO " + k.upper()) if isinstance(v, bool) else f"{k.upper()} {v}"
                            for k, v in options.items()
                        )
                        + ")"
                    )
        generated = None
        if r["attgenerated"]:
            generated = f"{r['expr']} {_GENERATED.get(r['attgenerated'], r['attgenerated']).upper()}"
        snap.add(
            CatalogObject(
                "column",
                _q(table, r["name"]),
                {
                    "type": r["type"],
                    "not_null": r["not_null"],
                    "default": None if r["attgenerated"] else r["expr"],
                    "identity": identity,
                    "generated": generated,
                    "collation": r["collation"],
                    "storage": _STORAGE.get(r["storage"], r["storage"]) if r["storage"] else None,
                    "compression": _COMPRESSION.get(r["compression"], r["compression"]) if r["compression"] else None,
                    "grants": r["grants"],
                    "comment": r["comment"],
                },
                parent=("table", table),
            )
        )


def _constraints(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        if r["relname"] is not None:
            owner_name = _q(r["schema"], r["relname"])
            parent = ("table", owner_name)
        else:
            owner_name = _q(r["schema"], r["domain"])
            parent = ("domain", owner_name)
        definition: str = r["definition"]
        # deferrability, enforcement and validity are their own attributes: strip their suffixes
        definition = _strip_suffix(definition, " NOT VALID", not r["convalidated"])
        definition = _strip_suffix(definition, " NOT ENFORCED", not r["enforced"])
        definition = _strip_suffix(definition, " INITIALLY DEFERRED", r["condeferred"])
        definition = _strip_suffix(definition, " DEFERRABLE", r["condeferrable"])
        attrs: dict[str, Any] = {
            "constraint_type": _CONSTRAINT_TYPE.get(r["contype"], r["contype"]),
            "definition": definition,
        }
        if r["contype"] == "f":
            on_delete = on_update = "NO ACTION"
            if r["confdeltype"] != "a":
                cut = definition.rfind(" ON DELETE ")
                if cut >= 0:
                    on_delete = definition[cut + len(" ON DELETE ") :]
                    definition = definition[:cut]
            if r["confupdtype"] != "a":
                cut = definition.rfind(" ON UPDATE ")
                if cut >= 0:
                    on_update = definition[cut + len(" ON UPDATE ") :]
                    definition = definition[:cut]
            attrs["definition"] = definition
            attrs["on_update"] = on_update
            attrs["on_delete"] = on_delete
        attrs.update(
            {
                "deferrable": (
                    "NOT DEFERRABLE"
                    if not r["condeferrable"]
                    else "DEFERRABLE INITIALLY DEFERRED"
                    if r["condeferred"]
                    else "DEFERRABLE INITIALLY IMMEDIATE"
                ),
                # NOT ENFORCED (PostgreSQL 18) implies not validated: one attribute for both
                "validity": "NOT ENFORCED" if not r["enforced"] else ("valid" if r["convalidated"] else "NOT VALID"),
                "comment": r["comment"],
            }
        )
        snap.add(CatalogObject("constraint", _q(owner_name, r["name"]), attrs, parent))


def _functions(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        name = f"{_q(r['schema'], r['name'])}({r['identity']})"
        attrs: dict[str, Any] = {
            "function_kind": _FUNCTION_KIND.get(r["prokind"], r["prokind"]),
            "arguments": r["arguments"],
            "returns": r["returns"],
            "language": r["language"],
            "body": r["body"],
            "volatility": _VOLATILITY.get(r["provolatile"], r["provolatile"]),
            "security": "definer" if r["prosecdef"] else "invoker",
            "strict": r["proisstrict"],
            "leakproof": r["proleakproof"],
            "parallel": _PARALLEL.get(r["proparallel"], r["proparallel"]),
            "cost": float(r["procost"]),
            "rows": float(r["prorows"]),
            "config": r["config"],
            "object_file": r["probin"],
        }
        if r["prokind"] == "a":
            attrs["aggregate"] = {
                "sfunc": r["agg_transfn"],
                "stype": r["agg_stype"],
                "finalfunc": r["agg_finalfn"],
                "combinefunc": r["agg_combinefn"],
                "initcond": r["agg_initcond"],
            }
        attrs.update({"owner": r["owner"], "grants": r["grants"], "comment": r["comment"]})
        snap.add(CatalogObject("function", name, attrs, parent=("schema", r["schema"])))


def _default_privileges(snap: Snapshot, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        on = _DEFAULT_ACL_OBJTYPE.get(r["objtype"], r["objtype"])
        where = f" in schema {r['schema']}" if r["schema"] else ""
        parent = ("schema", r["schema"]) if r["schema"] else None
        snap.add(
            CatalogObject("default privileges", f"for {r['role']}{where} on {on}", {"grants": r["grants"]}, parent)
        )
