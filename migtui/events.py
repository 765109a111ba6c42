"""Typed engine events.

Every job (lint, dry-run, rollback-test, drift, apply/down, phases) reports what it does by calling an
``EventSink`` with these events. The headless CLI renders them (text / JSON lines), the TUI posts them as
Textual messages. Neither front end holds logic the other lacks.

Events are plain frozen dataclasses; ``to_dict()`` gives the JSON shape (``{"event": <kind>, ...}``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    at: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {"event": self.kind, **data}


EventSink = Callable[[Event], None]


def discard(_event: Event) -> None:
    """An EventSink that drops everything."""


@dataclass(frozen=True)
class Message(Event):
    """Free-form information for the operator (level: info | warning | error)."""

    kind: ClassVar[str] = "message"
    text: str
    level: str = "info"


@dataclass(frozen=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    job: str  # "up", "down", "dry-run", "rollback-test", "drift", "lint", "phase"
    target: str  # redacted DSN or path
    revisions: tuple[str, ...] = ()


@dataclass(frozen=True)
class LockWait(Event):
    """We are waiting for a lock: the deploy advisory lock, or a relation lock held by another session."""

    kind: ClassVar[str] = "lock_wait"
    what: str  # "advisory" | "relation"
    holder_pid: int | None = None
    holder_application: str | None = None
    holder_since: str | None = None
    detail: str = ""
    waited_seconds: float = 0.0


@dataclass(frozen=True)
class RevisionStarted(Event):
    kind: ClassVar[str] = "revision_started"
    revision: str
    direction: str  # "up" | "down"
    description: str = ""
    attempt: int = 1


@dataclass(frozen=True)
class StatementStarted(Event):
    kind: ClassVar[str] = "statement_started"
    revision: str
    index: int
    sql: str
    transactional: bool = True


@dataclass(frozen=True)
class Progress(Event):
    """Periodic progress while a revision runs (from pg_stat_activity, pg_locks, pg_stat_progress_*)."""

    kind: ClassVar[str] = "progress"
    revision: str
    elapsed: float
    timeout: float | None
    statement: str = ""
    state: str = ""
    wait_event: str = ""
    waiting_for: str = ""  # e.g. "AccessExclusiveLock on public.orders held by pid 123"
    progress: str = ""  # e.g. "create index: building index 45% (blocks 450/1000)"


@dataclass(frozen=True)
class RevisionFinished(Event):
    kind: ClassVar[str] = "revision_finished"
    revision: str
    direction: str
    seconds: float


@dataclass(frozen=True)
class RevisionFailed(Event):
    kind: ClassVar[str] = "revision_failed"
    revision: str
    direction: str
    error: str
    seconds: float = 0.0
    rolled_back: bool = True


@dataclass(frozen=True)
class Finding(Event):
    """A lint / dry-run / rollback-test / drift finding."""

    kind: ClassVar[str] = "finding"
    rule: str
    severity: str  # "error" | "warning" | "info"
    message: str
    revision: str | None = None
    path: str | None = None
    line: int | None = None
    hint: str = ""


@dataclass(frozen=True)
class PhaseChanged(Event):
    kind: ClassVar[str] = "phase_changed"
    revision: str
    phase: str
    previous: str | None = None


@dataclass(frozen=True)
class RunFinished(Event):
    kind: ClassVar[str] = "run_finished"
    job: str
    ok: bool
    exit_code: int
    summary: str = ""


@dataclass(frozen=True)
class DryRunTarget(Event):
    """dry-run checked its target: role (replica/primary), server version, recorded revision, lag, pending."""

    kind: ClassVar[str] = "dry_run_target"
    target: dict[str, Any]
    pending: tuple[str, ...] = ()


@dataclass(frozen=True)
class DryRunStatement(Event):
    """dry-run's findings for one statement of a pending revision (the JSON statement shape in ``report``)."""

    kind: ClassVar[str] = "dry_run_statement"
    revision: str
    index: int
    report: dict[str, Any] = field(default_factory=dict)
