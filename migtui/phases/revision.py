"""What a phased revision calls from ``upgrade()`` / ``downgrade()``.

change = phases.rename_column("accounts", "email", "email_address")

def upgrade():
    phases.expand(change)      # expand only; migtui phase run|advance drives migrate and contract

def downgrade():
    phases.downgrade(change)   # abort (before contract) or the pattern's reverse (after contract)
"""

from __future__ import annotations

import sys
import time
from typing import Any

from migtui.errors import MigrationFailed, UsageError
from migtui.events import EventSink, PhaseChanged, discard
from migtui.phases import state as st
from migtui.phases.ddl import AlembicExecutor, LockPolicy
from migtui.phases.events import PhaseStepApplied
from migtui.phases.model import PhasedChange, Plan, PlanContext, Step


def _caller_revision(depth: int = 2) -> str:
    frame = sys._getframe(depth)
    revision = frame.f_globals.get("revision")
    if not isinstance(revision, str):
        raise UsageError("phases.expand()/downgrade() must be called from a revision module defining 'revision'")
    return revision


def _settings_and_sink(context) -> tuple[LockPolicy, EventSink]:
    attrs = getattr(context.config, "attributes", {}) if context.config is not None else {}
    settings = attrs.get("migtui_settings") or attrs.get("settings")
    if settings is None or not hasattr(settings, "lock_timeout"):
        from migtui.config import load_settings

        settings = load_settings({})
    sink = attrs.get("migtui_sink") or attrs.get("sink") or discard
    return LockPolicy.from_settings(settings), sink


def column_info_lookup(conn):
    """(schema, table, column) -> (format_type, attnotnull) via a psycopg connection."""

    def lookup(schema: str, table: str, column: str) -> tuple[str, bool] | None:
        from psycopg import sql

        row = conn.execute(
            "SELECT format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
            "WHERE attrelid = to_regclass(%s) AND attname = %s AND NOT attisdropped",
            (sql.Identifier(schema, table).as_string(None), column),
        ).fetchone()
        return (row[0], bool(row[1])) if row else None

    return lookup


def plan_for(change: PhasedChange, revision: str, conn=None) -> Plan:
    """The concrete plan; with a psycopg ``conn`` it is built for that server (version, column types)."""
    if conn is None:
        return change.plan(PlanContext(revision))
    pg_version = conn.info.server_version // 10000

    def query(text: str, params=()) -> list[tuple]:
        return conn.execute(text, params).fetchall()

    def probe(statement: str) -> str | None:
        from migtui.redact import error_line

        try:
            with conn.transaction(force_rollback=True):  # a savepoint inside alembic's transaction
                conn.execute(statement)
        except Exception as exc:
            return error_line(exc, driver_error=True)
        return None

    plan = change.plan(PlanContext(revision, pg_version, column_info_lookup(conn), query, probe))
    plan.catalog_read = True
    return plan


def run_steps(
    executor, revision: str, phase: str, steps: list[Step], sink: EventSink, start: int = 0, on_done=None
) -> None:
    for index, step in enumerate(steps):
        if index < start:
            continue
        t0 = time.monotonic()
        what = f"{revision} {phase} step {index + 1}/{len(steps)} ({step.description or 'SQL'})"
        ran = executor.run_step(step, what)
        if on_done is not None:  # recorded before anyone is told, so a failing listener cannot lose a done step
            on_done(index + 1)
        sink(PhaseStepApplied(revision, phase, index, step.description, step.sql, time.monotonic() - t0, not ran))


def expand(change: PhasedChange, *, revision: str | None = None) -> None:
    """Run the expand phase inside the revision's ``upgrade()`` and record the revision as phased."""
    from alembic import op

    if not isinstance(change, PhasedChange):
        raise UsageError("phases.expand() takes the change returned by a migtui.phases helper")
    revision = revision or _caller_revision()
    context = op.get_context()
    policy, sink = _settings_and_sink(context)
    executor = AlembicExecutor(policy, sink)
    if not executor.online:
        plan = plan_for(change, revision)
        op.execute(f"-- migtui phased revision {revision}: expand ({plan.pattern}: {plan.description})")
        op.execute(st.DDL.strip())
        run_steps(executor, revision, "expand", plan.expand, sink)
        op.execute(st.record_expanded_sql(revision, plan.pattern, plan.target, plan.description, plan.to_dict()))
        op.execute(f"-- migrate and contract: migtui phase run {revision}")
        return
    if executor.raw is None:
        raise UsageError("phased revisions need the psycopg (3) driver: use a postgresql+psycopg:// URL")
    conn = executor.raw
    plan = plan_for(change, revision, conn)
    previous = st.get(conn, revision)
    st.begin_expand(conn, revision, plan.pattern, plan.target, plan.description, plan.to_dict())
    run_steps(executor, revision, "expand", plan.expand, sink)
    st.transition(conn, revision, st.EXPANDING, st.EXPANDED)
    sink(PhaseChanged(revision, st.EXPANDED, previous.phase if previous else None))


def downgrade(change: PhasedChange, *, revision: str | None = None) -> None:
    """Undo the revision: abort steps before contract, the pattern's reverse after contract."""
    from alembic import op

    revision = revision or _caller_revision()
    context = op.get_context()
    policy, sink = _settings_and_sink(context)
    executor = AlembicExecutor(policy, sink)
    if not executor.online:
        plan = plan_for(change, revision)
        op.execute(f"-- migtui phased revision {revision}: abort (valid before contract)")
        run_steps(executor, revision, "abort", plan.abort, sink)
        op.execute(st.delete_sql(revision))
        op.execute(st.CLEANUP_SQL)
        return
    if executor.raw is None:
        raise UsageError("phased revisions need the psycopg (3) driver: use a postgresql+psycopg:// URL")
    conn = executor.raw
    stored = st.stored_plan(conn, revision)
    plan = Plan.from_dict(stored) if stored else plan_for(change, revision, conn)
    current = st.get(conn, revision)
    phase = current.phase if current else None
    if phase == st.CONTRACTING:
        raise MigrationFailed(
            f"revision {revision} is contracting: finish it with 'migtui phase run {revision}' before downgrading"
        )
    if phase == st.CONTRACTED:
        if plan.reverse_contract is None:
            raise MigrationFailed(
                f"revision {revision} was contracted and cannot be downgraded: {plan.irreversible_reason}"
            )
        run_steps(executor, revision, "reverse_contract", plan.reverse_contract, sink)
    elif phase != st.ABORTED:
        run_steps(executor, revision, "abort", plan.abort, sink)
    st.delete(conn, revision)
    sink(PhaseChanged(revision, "downgraded", phase))


def find_change(module: Any, revision: str) -> PhasedChange:
    """The one PhasedChange a revision module defines at module level."""
    found = [v for v in vars(module).values() if isinstance(v, PhasedChange)]
    if not found:
        raise UsageError(f"revision {revision} is not a phased revision (no migtui.phases change in its module)")
    if len(found) > 1:
        raise UsageError(f"revision {revision} defines {len(found)} phased changes; use one per revision")
    return found[0]
