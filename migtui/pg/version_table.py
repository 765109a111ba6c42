"""The alembic version table: where it is, what it says, and the advisory-lock key derived from it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True)
class VersionTable:
    """alembic's version table (``alembic_version`` unless env.py configures another one)."""

    table: str = "alembic_version"
    schema: str | None = None  # None: resolved through search_path, as alembic does

    def identifier(self) -> sql.Composable:
        if self.schema:
            return sql.Identifier(self.schema, self.table)
        return sql.Identifier(self.table)


def resolved_schema(conn, table: VersionTable) -> str:
    """The schema the version table lives in (or would be created in)."""
    if table.schema:
        return table.schema
    row = conn.execute(
        sql.SQL(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass({})"
        ).format(sql.Literal(table.identifier().as_string(conn)))
    ).fetchone()
    if row:
        return str(row[0])
    return str(conn.execute("SELECT current_schema()").fetchone()[0] or "public")


def advisory_key(schema: str, table: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``schema.table`` (advisory locks are per database)."""
    digest = hashlib.sha256(f"migtui:{schema}.{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def read_current(conn, table: VersionTable) -> tuple[str, ...]:
    """Revision(s) recorded in the version table; () when the table is missing or empty (base)."""
    exists = conn.execute(
        sql.SQL("SELECT to_regclass({}) IS NOT NULL").format(sql.Literal(table.identifier().as_string(conn)))
    ).fetchone()[0]
    if not exists:
        return ()
    rows = conn.execute(sql.SQL("SELECT version_num FROM {} ORDER BY 1").format(table.identifier())).fetchall()
    return tuple(str(r[0]) for r in rows)
