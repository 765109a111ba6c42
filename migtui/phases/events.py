"""Events of the phases job (in addition to ``migtui.events.PhaseChanged`` / ``Message`` / ``LockWait``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from migtui.events import Event


@dataclass(frozen=True)
class PhaseStepApplied(Event):
    """A phase step ran (or was skipped because it was already done)."""

    kind: ClassVar[str] = "phase_step"
    revision: str
    phase: str  # expand | contract | abort | reverse_contract
    index: int
    description: str
    sql: str
    seconds: float
    skipped: bool = False


@dataclass(frozen=True)
class BackfillProgress(Event):
    kind: ClassVar[str] = "backfill_progress"
    revision: str
    table: str
    rows_done: int  # rows scanned by the backfill so far (all runs)
    rows_updated: int  # rows that needed the new shape and got it
    rows_total_estimate: int  # from pg_class.reltuples (at least rows_done)
    rows_per_second: float  # this run
    eta_seconds: float | None
    batch_size: int
    cursor: list | None = None


@dataclass(frozen=True)
class BackfillThrottled(Event):
    """The backfill slowed down: replication lag, sessions waiting for locks, or its own lock_timeout."""

    kind: ClassVar[str] = "backfill_throttled"
    revision: str
    reason: str
    sleep_seconds: float
    batch_size: int
    replication_lag_bytes: int = 0
    replication_lag_seconds: float = 0.0
    lock_waiters: int = 0


@dataclass(frozen=True)
class GateChecked(Event):
    kind: ClassVar[str] = "gate_checked"
    revision: str
    gate: str
    passed: bool
    evidence: str
