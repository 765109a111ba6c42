"""Phased revisions seen from outside ``migtui.phases``: read where each stands, and replay its later phases.

A phased revision's ``upgrade()`` runs only its expand; migrate and contract are driven by ``migtui phase``,
which stores the revision's plan (every step's SQL) in ``migtui.phase_state`` at expand. Jobs that rebuild a
database from the migrations (drift's expected schema, rollback-test) replay the recorded phases from that
stored plan, on a scratch database: plain SQL, so they need not import the phases engine (jobs do not import
each other).
"""

from __future__ import annotations

from typing import Any

from migtui.errors import MigtuiError
from migtui.redact import error_line

# migtui's own bookkeeping of phased revisions: data about a database, not part of its schema
PHASE_SCHEMA = "migtui"
PHASE_STATE_TABLES = ((PHASE_SCHEMA, "phase_state"), (PHASE_SCHEMA, "phase_writes"))

# (revision, phase, step, plan) as recorded in migtui.phase_state
RecordedPhase = tuple[str, str, int, dict[str, Any]]

# what each phase has run beyond expand: phase -> (migrate steps, contract steps); "step": as many as the
# stored step count of the phase in progress says
_DONE = {
    "migrating": ("step", None),
    "migrated": ("all", None),
    "contracting": ("all", "step"),
    "contracted": ("all", "all"),
}


def has_phase_state(conn) -> bool:
    return bool(conn.execute("SELECT to_regclass('migtui.phase_state') IS NOT NULL").fetchone()[0])


def read_phases(conn) -> tuple[RecordedPhase, ...]:
    """The recorded phase of each phased revision, in expand order (none when phases never ran there)."""
    from migtui.pg.queries import load_query

    if not has_phase_state(conn):
        return ()
    rows = conn.execute(load_query("migtui.pg.queries", "phase_states")).fetchall()
    return tuple((str(r[0]), str(r[1]), int(r[2]), r[3] if isinstance(r[3], dict) else {}) for r in rows)


def replay(conn, revision: str, phase: str, step: int, plan: dict[str, Any], *, what: str) -> bool:
    """On an autocommit connection to a database where ``revision`` is expanded, run what ``phase`` has run
    beyond expand (the backfill, in one statement, then the stored migrate and contract steps). Returns
    whether anything ran. MigtuiError (one line, ``what`` first) when a step fails."""
    todo = _DONE.get(phase)
    if todo is None:
        return False
    if plan.get("backfill") and (phase != "migrating" or step > 0):
        _backfill(conn, revision, plan["backfill"], what)
    for part, how in zip(("migrate", "contract"), todo, strict=True):
        if how is None:
            continue
        steps = list(plan.get(part) or [])
        for item in steps[:step] if how == "step" else steps:
            _run_step(conn, revision, part, item, what)
    return True


def record_phase(conn, revision: str, phase: str) -> None:
    """Set the recorded phase of ``revision`` (after ``replay``), so its ``downgrade()`` picks the reverse
    that phase needs (abort before contract, the reverse of contract after it)."""
    conn.execute(
        "UPDATE migtui.phase_state SET phase = %s, step = 0, updated_at = now() WHERE revision = %s",
        (phase, revision),
    )


def _backfill(conn, revision: str, backfill: dict[str, Any], what: str) -> None:
    """The migrate phase's backfill in one statement: a scratch database holds only the rows its migrations
    (or a test's seed) inserted, and a carried constraint validated after the backfill needs them done."""
    from psycopg import sql

    try:
        with conn.transaction():
            conn.execute("SELECT set_config('migtui.write_path', 'backfill', true)")
            conn.execute(
                sql.SQL("UPDATE {} SET {} = {} WHERE {}").format(
                    sql.Identifier(backfill["schema"], backfill["table"]),
                    sql.Identifier(backfill["touch_column"]),
                    sql.Identifier(backfill["touch_column"]),
                    sql.SQL(backfill["needs_update"]),
                )
            )
    except Exception as exc:
        raise MigtuiError(f"{what}: the backfill of {revision} failed: {error_line(exc, driver_error=True)}") from None


def _run_step(conn, revision: str, part: str, item: dict[str, Any], what: str) -> None:
    """One stored step (``migtui.phases.model.Step`` as a dict): skipped when its ``skip_if`` holds."""
    try:
        if item.get("skip_if") and conn.execute(item["skip_if"]).fetchone()[0]:
            return
        if not item.get("transactional", True):
            if item.get("cleanup"):
                conn.execute(item["cleanup"])
            conn.execute(item["sql"])
            return
        with conn.transaction():
            conn.execute(item["sql"])
    except Exception as exc:
        raise MigtuiError(
            f"{what}: {revision} {part} step {item.get('description') or 'SQL'} failed: "
            f"{error_line(exc, driver_error=True)}"
        ) from None
