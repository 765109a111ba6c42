"""Gates before contract, each with its evidence.

- ``backfill_complete``: the migrate phase finished (the stored cursor reached its upper bound).
- one gate per verification check of the plan, e.g. ``backfill_verified``: no row where the new shape
  differs from the derivation of the old one; ``index_valid``; ``no_orphans``; ``carried_valid``: every
  index and constraint carried to the new column exists and is valid.
- ``old_writes_quiet`` (plans with a dual-write trigger): no old-path write for ``quiet_window`` seconds,
  as counted by the trigger.
- ``no_old_sessions``: no session whose ``application_name`` matches the old application's patterns.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from migtui.events import EventSink, discard
from migtui.phases import state as st
from migtui.phases.events import GateChecked
from migtui.phases.model import Plan


@dataclass(frozen=True)
class GateOptions:
    quiet_window: float = 60.0  # seconds without old-path writes before contract
    old_application: tuple[str, ...] = ()  # application_name LIKE patterns (adds to the plan's)


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed: bool
    evidence: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_backfill_complete(state: st.PhaseState, plan: Plan) -> GateResult:
    done = state.phase in (st.MIGRATED, st.CONTRACTING, st.CONTRACTED)
    if plan.backfill is None:
        evidence = (
            "migrate finished (the change needs no backfill)"
            if done
            else f"phase is {state.phase}: migrate has not run yet (the change needs no backfill)"
        )
        return GateResult("backfill_complete", done, evidence)
    evidence = (
        f"backfill finished: {state.rows_done} rows scanned, {state.rows_updated} updated"
        if done
        else f"phase is {state.phase}: {state.rows_done} rows scanned so far, "
        f"cursor {state.cursor} of {state.cursor_end}"
    )
    return GateResult(
        "backfill_complete",
        done,
        evidence,
        {"rows_done": state.rows_done, "rows_updated": state.rows_updated, "cursor": state.cursor},
    )


def run_checks(conn, plan: Plan) -> list[GateResult]:
    out = []
    for check in plan.checks:
        t0 = time.monotonic()
        bad = int(conn.execute(check.sql).fetchone()[0])
        took = time.monotonic() - t0
        text = check.ok if bad == 0 and check.ok else f"{bad} {check.description}"
        out.append(
            GateResult(
                check.name,
                bad == 0,
                f"{text} (checked in {took:.2f}s)",
                {"offending_rows": bad, "seconds": round(took, 3)},
            )
        )
    return out


def check_old_writes_quiet(conn, plan: Plan, options: GateOptions) -> GateResult:
    counters = st.write_counters(conn, plan.revision)
    data = counters.to_dict() | {"quiet_window": options.quiet_window}
    if counters.old_writes == 0:
        return GateResult(
            "old_writes_quiet", True, f"no old-path writes since expand ({counters.new_writes} new-path writes)", data
        )
    since = counters.seconds_since_old_write or 0.0
    passed = since >= options.quiet_window
    return GateResult(
        "old_writes_quiet",
        passed,
        f"last old-path write {since:.1f}s ago (window {options.quiet_window:g}s); "
        f"{counters.old_writes} old-path and {counters.new_writes} new-path writes since expand",
        data,
    )


def check_no_old_sessions(conn, plan: Plan, options: GateOptions) -> GateResult:
    patterns = list(dict.fromkeys([*plan.old_application, *options.old_application]))
    if not patterns:
        return GateResult(
            "no_old_sessions",
            True,
            "not configured: no old application_name pattern (old_application= in the revision or --old-app)",
            {"patterns": []},
        )
    rows = conn.execute(
        "SELECT pid, application_name, backend_start FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE ANY(%s) "
        "ORDER BY backend_start",
        (patterns,),
    ).fetchall()
    sessions = [
        {"pid": r[0], "application_name": r[1], "backend_start": r[2].isoformat() if r[2] else None} for r in rows
    ]
    if not rows:
        return GateResult(
            "no_old_sessions", True, f"no session matches {', '.join(patterns)}", {"patterns": patterns, "sessions": []}
        )
    names = ", ".join(sorted({r[1] for r in rows}))
    return GateResult(
        "no_old_sessions",
        False,
        f"{len(rows)} session(s) of the old application still connected ({names})",
        {"patterns": patterns, "sessions": sessions},
    )


def contract_gates(
    conn, plan: Plan, state: st.PhaseState, options: GateOptions, sink: EventSink = discard
) -> list[GateResult]:
    """Every gate contract needs, evaluated now, each reported as a GateChecked event."""
    results = [check_backfill_complete(state, plan), *run_checks(conn, plan)]
    if plan.sync is not None:
        results.append(check_old_writes_quiet(conn, plan, options))
    results.append(check_no_old_sessions(conn, plan, options))
    for result in results:
        sink(GateChecked(plan.revision, result.gate, result.passed, result.evidence))
    return results
