"""Lock holds in the apply confirmation: per pending revision, each write-blocking lock from the statement that
takes it to the end of its transaction, what it blocks, and how long, before the operator says yes.

Headless (no textual). Two sources, per revision: the session's last dry-run (``DryRunHolds``, kept by the
dry-run view), whose ``lock_holds`` carry ``estimated_seconds`` from the replica's row counts and the rates
measured on the scratch server; else the static analysis the apply planning already ran (lint's statements, their
modelled locks and transaction boundaries, through the dry-run's own ``lock_holds``), with no estimate. A
dry-run is reused for a revision only when it reached it and the revision's file is unchanged since.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

NO_ESTIMATE = "no estimate: run the dry-run (d) for one"
# statements ``migtui phase run`` runs later: a deploy applies only a phased revision's expand
LATER_PHASES = ("migrate", "contract")


def file_digest(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


@dataclass(frozen=True)
class DryRunHolds:
    """What the apply confirmation reuses of a dry-run report: its revisions and their files' digests then."""

    revisions: dict[str, dict[str, Any]]  # revision -> its report (lock_holds, statements, path, reached, error)
    digests: dict[str, str | None]
    finished: float  # time.time()
    rates: str  # "measured" (on the scratch server) | "default"


def remember(report: Any) -> DryRunHolds | None:
    """The part of a dry-run report (``DryRunReport``) the apply confirmation needs; None without revisions."""
    revisions = {rev["revision"]: rev for rev in getattr(report, "revisions", None) or []}
    if not revisions:
        return None
    rates = ((getattr(report, "shadow", None) or {}).get("rates") or {}).get("source") or "default"
    digests = {rev: file_digest(data.get("path")) for rev, data in revisions.items()}
    return DryRunHolds(revisions, digests, time.time(), rates)


@dataclass
class PlannedHold:
    revision: str
    hold: dict[str, Any]  # migtui.dryrun.holds.lock_holds' shape
    estimated: bool  # from the dry-run (estimated_seconds is meaningful)


@dataclass
class PlanHolds:
    holds: list[PlannedHold] = field(default_factory=list)
    static_why: dict[str, str] = field(default_factory=dict)  # revision -> why its holds carry no estimate
    dry_run: DryRunHolds | None = None
    unknown: list[str] = field(default_factory=list)  # revisions with no analysis at all (lint failed)

    @property
    def any_estimated(self) -> bool:
        return any(h.estimated for h in self.holds)

    @property
    def any_static(self) -> bool:
        return any(not h.estimated for h in self.holds)


def _dry_run_reason(revision: str, path: str | None, dry: DryRunHolds | None) -> str | None:
    """Why the dry-run's holds of ``revision`` cannot be used (None: they can)."""
    if dry is None:
        return "no dry-run in this session"
    data = dry.revisions.get(revision)
    if data is None:
        return "the session's dry-run did not include it"
    if not data.get("reached", True) or data.get("error"):
        return "the session's dry-run did not complete it"
    if dry.digests.get(revision) is None or file_digest(path or data.get("path")) != dry.digests.get(revision):
        return "its file changed since the session's dry-run"
    return None


def _later(statements: list[dict[str, Any]]) -> set[int]:
    return {st["index"] for st in statements if st.get("phase") in LATER_PHASES}


def plan_holds(plan: list[str], lint: dict[str, Any] | None, dry: DryRunHolds | None) -> PlanHolds:
    """The lock holds of ``plan``'s revisions: the dry-run's (with estimates) where it covers the revision as
    it is now, else from lint's statements (``RevisionLint`` per revision) without an estimate."""
    from migtui.dryrun.holds import lock_holds

    out = PlanHolds(dry_run=dry)
    for rev in plan:
        item = (lint or {}).get(rev)
        why = _dry_run_reason(rev, getattr(item, "path", None), dry)
        if why is None and dry is not None:
            data = dry.revisions[rev]
            later = _later(data.get("statements") or [])
            for hold in data.get("lock_holds") or []:
                if hold["taken_by"].get("index") not in later:
                    out.holds.append(PlannedHold(rev, hold, True))
            continue
        if item is None:
            out.unknown.append(rev)
            continue
        statements = [st for st in item.statements if st.get("phase") not in LATER_PHASES]
        for hold in lock_holds(statements, [None] * len(statements)):
            out.holds.append(PlannedHold(rev, hold, False))
        out.static_why[rev] = why or ""
    # what the operator must see first: read-blocking holds, then the longest
    out.holds.sort(key=lambda h: ("reads" not in h.hold["blocks"], -_seconds(h)))
    return out


def _seconds(h: PlannedHold) -> float:
    return float(h.hold.get("estimated_seconds") or 0.0) if h.estimated else 0.0


def estimate_text(h: PlannedHold) -> str:
    if not h.estimated:
        return "no estimate"
    seconds = _seconds(h)
    text = f"~{seconds:.1f}s" if seconds >= 0.05 else "<0.1s"
    return text if h.hold.get("estimate_complete", True) else text + "+"


def _waits(hold: dict[str, Any]) -> str:
    return "reads and writes wait" if "reads" in hold["blocks"] else "writes wait"


def _short(relation: str) -> str:
    return relation[7:] if relation.startswith("public.") else relation


def header(holds: PlanHolds) -> str:
    """The line above the holds: where the estimates come from, or how to get one."""
    what = "Lock holds"  # short: at 80 columns the line ends at 64
    if not holds.any_static:
        when = time.strftime("%H:%M:%S", time.localtime(holds.dry_run.finished)) if holds.dry_run else "?"
        return f"{what} · estimates from the dry-run at {when}"
    if holds.any_estimated:
        return f"{what} · some without an estimate: run the dry-run (d) again"
    return f"{what} · {NO_ESTIMATE}"


def short_line(h: PlannedHold, mixed: bool = False, revision_width: int = 14) -> str:
    """One hold in a line of the dialog's fixed part (cut at its edge: the scrolled list has it whole). Without
    any estimate the header says so once; ``mixed``: some holds have one, so each says which it is."""
    rev = h.revision if len(h.revision) <= revision_width else h.revision[: revision_width - 1] + "…"
    estimate = f"{estimate_text(h)}  " if h.estimated or mixed else ""
    return f"  {rev}  {estimate}{h.hold['mode']} on {_short(h.hold['relation'])}: {_waits(h.hold)}"


def on_screen(holds: PlanHolds, lines: int) -> list[tuple[str, bool]]:
    """At most ``lines`` lines for the fixed part: the header, then the holds most in the way; the last line
    says how many more the scrolled list has. Each with whether it is urgent (reads wait, or a second or more)."""
    if not holds.holds or lines < 1:
        return []
    mixed = holds.any_estimated and holds.any_static
    shown = holds.holds if len(holds.holds) <= lines - 1 else holds.holds[: max(lines - 2, 0)]
    out = [(header(holds), False)]
    for h in shown:
        out.append((short_line(h, mixed), "reads" in h.hold["blocks"] or _seconds(h) >= 1.0))
    rest = len(holds.holds) - len(shown)
    if rest:
        out.append((f"  … and {rest} more in the list above (scroll)", False))
    return out[:lines]


def body_lines(holds: PlanHolds) -> list[str]:
    """Every hold whole, for the scrolled body: the lock, what it blocks, from which statement to which, the
    estimate or why there is none."""
    if not holds.holds and not holds.unknown:
        return ["lock holds: no statement takes a lock that blocks writes"]
    count = len(holds.holds)
    out = [f"{count} lock hold{'s' if count != 1 else ''}, each until its transaction ends (the revision's COMMIT):"]
    for h in holds.holds:
        hold, taken, end = h.hold, h.hold["taken_by"], h.hold["released_by"]
        where = f"line {taken['line']}" if taken.get("line") else f"statement {(taken.get('index') or 0) + 1}"
        through = hold.get("through", 1)
        if h.estimated:
            estimate = estimate_text(h)
            if not hold.get("estimate_complete", True):
                estimate += " (some statements unestimated)"
        else:
            why = holds.static_why.get(h.revision)
            estimate = NO_ESTIMATE + (f" ({why})" if why else "")
        out.append(
            f"  {h.revision}: {hold['mode']} on {hold['relation']} blocks {', '.join(hold['blocks'])}; from "
            f"{where} ({taken.get('sql') or taken.get('statement') or 'statement'}) until {end['statement']} "
            f"({end['why']}), through {through} statement{'s' if through != 1 else ''}: {estimate}"
        )
    if holds.unknown:
        out.append(f"  not analysed (lint could not run): {', '.join(holds.unknown)}")
    if holds.any_estimated and holds.dry_run is not None:
        how = "rates measured on the scratch server" if holds.dry_run.rates == "measured" else "default rates"
        out.append(f"  estimates: the dry-run's, from the replica's row counts and {how}")
    return out
