"""Phase state in the database: ``migtui.phase_state`` (one row per phased revision) and
``migtui.phase_writes`` (write counters kept by the dual-write triggers).

Phases of a revision::

    expanding -> expanded -> migrating -> migrated -> contracting -> contracted
         \\___________\\___________\\___________\\-> aborting -> aborted

Every transition is a compare-and-set (``UPDATE .. WHERE phase = <expected>``); a lost race raises
``PhaseConflict`` (exit 8, wrong phase) instead of doing the work twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from migtui.errors import ExitCode, MigtuiError

SCHEMA = "migtui"
STATE_TABLE = sql.Identifier(SCHEMA, "phase_state")
WRITES_TABLE = sql.Identifier(SCHEMA, "phase_writes")

EXPANDING = "expanding"
EXPANDED = "expanded"
MIGRATING = "migrating"
MIGRATED = "migrated"
CONTRACTING = "contracting"
CONTRACTED = "contracted"
ABORTING = "aborting"
ABORTED = "aborted"
ALL_PHASES = (EXPANDING, EXPANDED, MIGRATING, MIGRATED, CONTRACTING, CONTRACTED, ABORTING, ABORTED)
ABORTABLE = (EXPANDING, EXPANDED, MIGRATING, MIGRATED, ABORTING)

# which timestamp column a phase sets when entered
_PHASE_TIMESTAMP = {
    EXPANDED: "expanded_at",
    MIGRATED: "migrated_at",
    CONTRACTED: "contracted_at",
    ABORTED: "aborted_at",
}

# USAGE for every role: the dual-write triggers run as the application's role and reach the
# SECURITY DEFINER write counters here (sync_trigger.counter_sql); the tables keep owner-only privileges
DDL = """
CREATE SCHEMA IF NOT EXISTS migtui;
GRANT USAGE ON SCHEMA migtui TO PUBLIC;
CREATE TABLE IF NOT EXISTS migtui.phase_state (
    revision      text PRIMARY KEY,
    pattern       text NOT NULL,
    target        text NOT NULL,
    description   text NOT NULL DEFAULT '',
    phase         text NOT NULL,
    step          integer NOT NULL DEFAULT 0,
    cursor        jsonb,
    cursor_end    jsonb,
    rows_done     bigint NOT NULL DEFAULT 0,
    rows_updated  bigint NOT NULL DEFAULT 0,
    counters      jsonb NOT NULL DEFAULT '{}'::jsonb,
    runner        text,
    heartbeat     timestamptz,
    error         text,
    plan          jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    expanded_at   timestamptz,
    migrated_at   timestamptz,
    contracted_at timestamptz,
    aborted_at    timestamptz
);
CREATE TABLE IF NOT EXISTS migtui.phase_writes (
    revision       text NOT NULL,
    path           text NOT NULL,
    backend        integer NOT NULL,
    writes         bigint NOT NULL,
    first_write_at timestamptz NOT NULL,
    last_write_at  timestamptz NOT NULL,
    PRIMARY KEY (revision, path, backend)
);
"""


class PhaseConflict(MigtuiError):
    """Another runner moved the revision first, or it is in a phase this action cannot start from."""

    exit_code = ExitCode.WRONG_PHASE


class PhaseStateMissing(MigtuiError):
    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class PhaseState:
    revision: str
    pattern: str
    target: str
    description: str
    phase: str
    step: int
    cursor: list[Any] | None
    cursor_end: list[Any] | None
    rows_done: int
    rows_updated: int
    counters: dict[str, Any]
    runner: str | None
    heartbeat: datetime | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    expanded_at: datetime | None
    migrated_at: datetime | None
    contracted_at: datetime | None
    aborted_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out


_COLUMNS = (
    "revision, pattern, target, description, phase, step, cursor, cursor_end, rows_done, rows_updated, counters, "
    "runner, heartbeat, error, created_at, updated_at, expanded_at, migrated_at, contracted_at, aborted_at"
)


# Run after a revision's state row is deleted (alembic downgrade): drop the tables, and the schema, once no
# phased revision is left, so that an upgrade + downgrade leaves the database exactly as it was.
CLEANUP_SQL = """DO $migtui_cleanup$
BEGIN
  IF to_regclass('migtui.phase_state') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM migtui.phase_state) THEN
    DROP TABLE IF EXISTS migtui.phase_writes;
    DROP TABLE migtui.phase_state;
    IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = 'migtui'::regnamespace)
       AND NOT EXISTS (SELECT 1 FROM pg_proc WHERE pronamespace = 'migtui'::regnamespace)
       AND NOT EXISTS (SELECT 1 FROM pg_type WHERE typnamespace = 'migtui'::regnamespace) THEN
      DROP SCHEMA migtui;
    END IF;
  END IF;
END
$migtui_cleanup$"""


def record_expanded_sql(revision: str, pattern: str, target: str, description: str, plan: dict[str, Any]) -> str:
    """The state row of an expanded revision as one statement (offline ``--sql`` rendering)."""
    return (
        sql.SQL(
            "INSERT INTO {} (revision, pattern, target, description, phase, plan, expanded_at) "
            "VALUES ({}, {}, {}, {}, 'expanded', {}::jsonb, now()) ON CONFLICT (revision) DO UPDATE SET "
            "phase = 'expanded', plan = excluded.plan, step = 0, cursor = NULL, cursor_end = NULL, rows_done = 0, "
            "rows_updated = 0, error = NULL, expanded_at = now(), aborted_at = NULL, updated_at = now()"
        )
        .format(
            STATE_TABLE,
            sql.Literal(revision),
            sql.Literal(pattern),
            sql.Literal(target),
            sql.Literal(description),
            sql.Literal(json.dumps(plan)),
        )
        .as_string(None)
    )


def delete_sql(revision: str) -> str:
    return sql.SQL("DELETE FROM {} WHERE revision = {}").format(STATE_TABLE, sql.Literal(revision)).as_string(None)


def ensure_tables(conn) -> None:
    """Create the migtui schema and tables if missing (idempotent; safe inside a transaction)."""
    exists = conn.execute(
        "SELECT to_regclass('migtui.phase_state') IS NOT NULL AND to_regclass('migtui.phase_writes') IS NOT NULL"
    ).fetchone()[0]
    if not exists:
        conn.execute(DDL)


def tables_exist(conn) -> bool:
    return bool(conn.execute("SELECT to_regclass('migtui.phase_state') IS NOT NULL").fetchone()[0])


def _row_to_state(row: tuple) -> PhaseState:
    return PhaseState(*row)


def get(conn, revision: str) -> PhaseState | None:
    if not tables_exist(conn):
        return None
    row = conn.execute(
        sql.SQL("SELECT " + _COLUMNS + " FROM {} WHERE revision = %s").format(STATE_TABLE), (revision,)
    ).fetchone()
    return _row_to_state(row) if row else None


def require(conn, revision: str) -> PhaseState:
    state = get(conn, revision)
    if state is None:
        raise PhaseStateMissing(
            f"revision {revision} has no phase state: apply it first (migtui up, or migtui phase run {revision})"
        )
    return state


def stored_plan(conn, revision: str) -> dict[str, Any] | None:
    """The plan recorded at expand (JSON), or None."""
    if not tables_exist(conn):
        return None
    row = conn.execute(sql.SQL("SELECT plan FROM {} WHERE revision = %s").format(STATE_TABLE), (revision,)).fetchone()
    return row[0] if row and row[0] else None


def store_plan(conn, revision: str, plan: dict[str, Any]) -> None:
    """Replace the stored plan (a plan rendered offline, completed online with the catalog)."""
    conn.execute(
        sql.SQL("UPDATE {} SET plan = %s, updated_at = now() WHERE revision = %s").format(STATE_TABLE),
        (json.dumps(plan), revision),
    )


def all_states(conn) -> list[PhaseState]:
    if not tables_exist(conn):
        return []
    rows = conn.execute(sql.SQL("SELECT " + _COLUMNS + " FROM {} ORDER BY created_at").format(STATE_TABLE)).fetchall()
    return [_row_to_state(r) for r in rows]


def begin_expand(conn, revision: str, pattern: str, target: str, description: str, plan: dict[str, Any]) -> PhaseState:
    """Insert (or reset) the state row in phase ``expanding``. Re-expanding is allowed from expanding/aborted."""
    ensure_tables(conn)
    current = get(conn, revision)
    if current is not None and current.phase not in (EXPANDING, ABORTED, EXPANDED):
        raise PhaseConflict(f"revision {revision} is already in phase {current.phase}; cannot expand it again")
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (revision, pattern, target, description, phase, plan) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (revision) DO UPDATE SET pattern = excluded.pattern, target = excluded.target, "
            "description = excluded.description, phase = excluded.phase, plan = excluded.plan, step = 0, "
            "cursor = NULL, cursor_end = NULL, rows_done = 0, rows_updated = 0, error = NULL, aborted_at = NULL, "
            "updated_at = now()"
        ).format(STATE_TABLE),
        (revision, pattern, target, description, EXPANDING, json.dumps(plan)),
    )
    conn.execute(sql.SQL("DELETE FROM {} WHERE revision = %s").format(WRITES_TABLE), (revision,))
    return require(conn, revision)


def transition(conn, revision: str, expected: str | tuple[str, ...], new: str, runner: str | None = None) -> PhaseState:
    """Compare-and-set the phase: ``expected`` -> ``new``. Raises PhaseConflict if the row moved."""
    expected_tuple = (expected,) if isinstance(expected, str) else tuple(expected)
    sets = [sql.SQL("phase = %(new)s"), sql.SQL("step = 0"), sql.SQL("updated_at = now()"), sql.SQL("error = NULL")]
    if new in _PHASE_TIMESTAMP:
        sets.append(sql.SQL("{} = now()").format(sql.Identifier(_PHASE_TIMESTAMP[new])))
    if runner is not None:
        sets += [sql.SQL("runner = %(runner)s"), sql.SQL("heartbeat = now()")]
    row = conn.execute(
        sql.SQL("UPDATE {} SET {} WHERE revision = %(rev)s AND phase = ANY(%(expected)s) RETURNING phase").format(
            STATE_TABLE, sql.SQL(", ").join(sets)
        ),
        {"new": new, "runner": runner, "rev": revision, "expected": list(expected_tuple)},
    ).fetchone()
    if row is None:
        current = get(conn, revision)
        if current is None:
            raise PhaseStateMissing(f"revision {revision} has no phase state")
        raise PhaseConflict(
            f"revision {revision} is in phase {current.phase}, not {' or '.join(expected_tuple)}"
            + (f" (runner {current.runner})" if current.runner else "")
        )
    return require(conn, revision)


def set_step(conn, revision: str, phase: str, step: int) -> None:
    cur = conn.execute(
        sql.SQL(
            "UPDATE {} SET step = %s, updated_at = now(), heartbeat = now() WHERE revision = %s AND phase = %s"
        ).format(STATE_TABLE),
        (step, revision, phase),
    )
    if cur.rowcount != 1:
        raise PhaseConflict(f"revision {revision} left phase {phase} while a step ran")


def record_error(conn, revision: str, error: str) -> None:
    conn.execute(
        sql.SQL("UPDATE {} SET error = %s, updated_at = now() WHERE revision = %s").format(STATE_TABLE),
        (error, revision),
    )


def delete(conn, revision: str) -> None:
    """Forget a revision (its downgrade ran); drops the migtui tables when no phased revision is left."""
    if tables_exist(conn):
        conn.execute(sql.SQL("DELETE FROM {} WHERE revision = %s").format(STATE_TABLE), (revision,))
        conn.execute(sql.SQL("DELETE FROM {} WHERE revision = %s").format(WRITES_TABLE), (revision,))
        conn.execute(CLEANUP_SQL)


@dataclass(frozen=True)
class WriteCounters:
    """Writes seen by the dual-write trigger since expand, per path."""

    old_writes: int
    new_writes: int
    last_old_write: datetime | None
    last_new_write: datetime | None
    seconds_since_old_write: float | None  # by the database clock

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_writes": self.old_writes,
            "new_writes": self.new_writes,
            "last_old_write": self.last_old_write.isoformat() if self.last_old_write else None,
            "last_new_write": self.last_new_write.isoformat() if self.last_new_write else None,
            "seconds_since_old_write": self.seconds_since_old_write,
        }


def write_counters(conn, revision: str) -> WriteCounters:
    if not tables_exist(conn):
        return WriteCounters(0, 0, None, None, None)
    row = conn.execute(
        sql.SQL(
            "SELECT coalesce(sum(writes) FILTER (WHERE path = 'old'), 0)::bigint, "
            "coalesce(sum(writes) FILTER (WHERE path = 'new'), 0)::bigint, "
            "max(last_write_at) FILTER (WHERE path = 'old'), max(last_write_at) FILTER (WHERE path = 'new'), "
            "extract(epoch FROM clock_timestamp() - max(last_write_at) FILTER (WHERE path = 'old'))::float8 "
            "FROM {} WHERE revision = %s"
        ).format(WRITES_TABLE),
        (revision,),
    ).fetchone()
    return WriteCounters(int(row[0]), int(row[1]), row[2], row[3], row[4])
