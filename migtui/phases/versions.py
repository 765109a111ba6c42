"""Versioned schemas: both application versions live while a column copy is between expand and contract.

A column-copy revision (``rename_column``, ``change_column_type``) with ``versions=`` publishes two schemas,
each holding one view of the changed table:

- the **old** version's view shows the table as the old application knows it (the old column, not the new);
- the **new** version's view shows the shape after contract (the new column, under its final name, in the
  old column's place).

Both are plain ``SELECT col, ... FROM table`` views, so PostgreSQL makes them automatically updatable
(INSERT, UPDATE, DELETE, ``RETURNING``, ``ON CONFLICT``, the table's defaults and identity all work
through them) and no INSTEAD OF trigger is needed. An application selects its version with
``search_path = <version schema>, <table schema>``: the view hides the table, every other table resolves
as before. The dual-write trigger reads the session's ``search_path`` (``current_schemas``) to know which
version wrote, so no ``migtui.write_path`` setting is needed.

The views are ``security_invoker`` on PostgreSQL 15+ (the table's privileges are checked for the caller,
row-level security applies as on the table), and carry the table's SELECT/INSERT/UPDATE/DELETE grants
(and all four for the table's owner when another role runs expand); every grantee gets USAGE on the
version schema. Contract drops the old version's schema in its swap
transaction (the old column goes with it); the new version's schema stays, since the table then has its
shape and the new application's sessions keep their search_path. Abort drops both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from migtui.errors import UsageError
from migtui.phases.model import Step, Version
from migtui.phases.sync_trigger import object_suffix

Query = Callable[[str, Sequence[Any]], list[tuple]]

_COLUMNS = (
    "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped "
    "ORDER BY attnum"
)
# the table's grants to others than its owner (grantee 0 = PUBLIC)
_GRANTS = """
SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable
FROM pg_class c, aclexplode(c.relacl) a
WHERE c.oid = to_regclass(%s) AND a.grantee <> c.relowner
  AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
ORDER BY 1 NULLS FIRST, 2
"""
# the table's owner when it is not the role running expand (an application that owns its tables): it has
# every privilege on the table implicitly, so it gets them on the view explicitly
_OWNER = """
SELECT pg_get_userbyid(c.relowner) FROM pg_class c
WHERE c.oid = to_regclass(%s) AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
"""
_SCHEMA_COMMENT = "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s"


def default_names(revision: str) -> tuple[str, str]:
    """``mg_<revision>_old`` / ``mg_<revision>_new`` (lower-case, within the 63-byte name limit)."""
    suffix = object_suffix(revision)[:50]
    return f"mg_{suffix}_old", f"mg_{suffix}_new"


def resolve_names(versions: bool | Sequence[str], revision: str) -> tuple[str, str] | None:
    """The (old, new) schema names asked for by a pattern's ``versions=`` argument; None: not published."""
    if versions is False or versions is None:
        return None
    if versions is True:
        return default_names(revision)
    names = tuple(versions)
    if len(names) != 2 or not all(isinstance(n, str) and n for n in names) or names[0] == names[1]:
        raise UsageError(f"{revision}: versions= takes True or two distinct schema names (old, new), got {versions!r}")
    if any(len(n.encode()) > 63 for n in names):
        raise UsageError(f"{revision}: version schema names are limited to 63 bytes: {names!r}")
    return names[0], names[1]


def marker(role: str, revision: str) -> str:
    """The comment that marks a schema as migtui's: a schema without it is never reused nor dropped."""
    return f"migtui: the {role} application version of revision {revision}"


@dataclass
class Published:
    versions: list[Version] = field(default_factory=list)
    expand: list[Step] = field(default_factory=list)
    contract_first: list[str] = field(default_factory=list)  # first statements of the swap transaction
    abort: list[Step] = field(default_factory=list)


def _s(composable: sql.Composable) -> str:
    return composable.as_string(None)


def _drop(schema: str, table: str) -> list[str]:
    # RESTRICT: anything someone else put into the schema stops the drop with PostgreSQL's own message
    return [
        _s(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier(schema, table))),
        _s(sql.SQL("DROP SCHEMA IF EXISTS {}").format(sql.Identifier(schema))),
    ]


def publish(
    query: Query,
    *,
    revision: str,
    schema: str,
    table: str,
    old: str,
    new: str,
    final: str,
    names: tuple[str, str],
    pg_version: int,
) -> Published:
    """Steps that publish the old and the new version of ``schema.table`` (read from the catalog)."""
    regclass = _s(sql.Identifier(schema, table))
    for role, name in zip(("old", "new"), names, strict=True):
        rows = query(_SCHEMA_COMMENT, (name,))
        if rows and rows[0][0] != marker(role, revision):
            raise UsageError(
                f"{revision}: schema {name} already exists and is not migtui's {role} version schema of this "
                "revision: choose other names with versions=(old, new)"
            )
        if name == schema:
            raise UsageError(f"{revision}: a version schema cannot be the table's own schema {schema}")
    columns = [r[0] for r in query(_COLUMNS, (regclass,))]
    if old not in columns:
        return Published()
    old_cols = [sql.Identifier(c) for c in columns if c != new]
    new_cols: list[sql.Composable] = []
    for c in columns:
        if c == new:
            continue
        if c == old:
            new_cols.append(
                sql.Identifier(new)
                if new == final
                else sql.SQL("{} AS {}").format(sql.Identifier(new), sql.Identifier(final))
            )
        else:
            new_cols.append(sql.Identifier(c))
    grants = list(query(_GRANTS, (regclass,)))
    for (owner,) in query(_OWNER, (regclass,)):
        grants += [(owner, privilege, False) for privilege in ("DELETE", "INSERT", "SELECT", "UPDATE")]
    options = sql.SQL(" WITH (security_invoker = true)") if pg_version >= 15 else sql.SQL("")
    out = Published()
    for role, name, cols in (("old", names[0], old_cols), ("new", names[1], new_cols)):
        view = sql.Identifier(name, table)
        statements = [
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(name)),
            sql.SQL("COMMENT ON SCHEMA {} IS {}").format(sql.Identifier(name), sql.Literal(marker(role, revision))),
            sql.SQL("CREATE OR REPLACE VIEW {}{} AS SELECT {} FROM {}").format(
                view, options, sql.SQL(", ").join(cols), sql.Identifier(schema, table)
            ),
        ]
        grantees: list[str | None] = []
        for grantee, privilege, grantable in grants:
            to = sql.SQL("PUBLIC") if grantee is None else sql.Identifier(grantee)
            statements.append(
                sql.SQL("GRANT {} ON {} TO {}{}").format(
                    sql.SQL(privilege), view, to, sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL("")
                )
            )
            if grantee not in grantees:
                grantees.append(grantee)
        for grantee in grantees:
            to = sql.SQL("PUBLIC") if grantee is None else sql.Identifier(grantee)
            statements.append(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(name), to))
        out.expand.append(
            Step(
                _s(sql.SQL(";\n").join(statements)),
                f"publish the {role} version: schema {name} with a view of {schema}.{table}",
            )
        )
        out.versions.append(Version(role, name, schema, (table,)))
    out.contract_first = _drop(names[0], table)
    out.abort.append(
        Step(";\n".join(_drop(names[1], table) + _drop(names[0], table)), "drop the version schemas and their views")
    )
    return out


# connected sessions that wrote on a path since expand: pg_stat_activity does not show a session's
# search_path, but the dual-write trigger records the backend of every write with its path
_WRITERS = """
SELECT a.pid, coalesce(nullif(a.application_name, ''), '-'), w.writes
FROM migtui.phase_writes w
JOIN pg_stat_activity a ON a.pid = w.backend AND a.backend_start <= w.first_write_at
WHERE w.revision = %s AND w.path = %s
ORDER BY a.pid
"""


def status(conn: Any, revision: str, versions: Sequence[Version], phase: str | None) -> list[dict[str, Any]]:
    """Each published version: its schema, whether it exists, the recipe to use it, and the connected
    sessions that wrote on its path (what can be detected: a session that only reads is not seen)."""
    out = []
    for version in versions:
        present = bool(conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (version.schema,)).fetchall())
        writers = conn.execute(_WRITERS, (revision, version.role)).fetchall()
        if present:
            note = "kept after contract: the table has this shape now" if phase == "contracted" else "live"
        else:
            note = {"contracted": "dropped at contract", "aborted": "dropped at abort"}.get(phase or "", "absent")
        out.append(
            {
                "role": version.role,
                "schema": version.schema,
                "present": present,
                "state": note,
                "search_path": version.search_path,
                "connection_option": version.connection_option,
                "url_option": version.url_option,
                "writing_sessions": [{"pid": p, "application_name": a, "writes": n} for p, a, n in writers],
            }
        )
    return out
