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
    driver: str = ""  # up/down: the SQLAlchemy driver migtui hands env.py (``psycopg``, ``psycopg2``, ``asyncpg``)


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


class Finding(Event):
    """What any job reports about a migration: a lint rule, a dry-run check, schema drift, a rollback test.

    One type from the analysis to every renderer: ``rule`` is an id of the rule registry
    (``migtui.analysis.rules.RULES``: severity, why, hint), ``approved`` the approval's reason when a destructive
    finding was approved in the revision. ``revision``, ``path``, ``line`` and ``statement`` (0-based index in
    the revision) say where, when the job knows; a lint finding inside a file leaves the file to its
    ``LintedFile`` (``located()`` gives the copy renderers want). ``phase`` is the phase of a phased revision
    the statement runs in (``expand``, ``migrate``, ``contract``), None outside phased revisions.

    A plain class rather than a frozen dataclass: the linter builds tens of thousands of them (a frozen
    dataclass's ``__init__`` sets each field through ``object.__setattr__``), and approvals rewrite a finding's
    severity in place.
    """

    kind: ClassVar[str] = "finding"
    __setattr__ = object.__setattr__  # Event is frozen; a finding is not (see above)
    __delattr__ = object.__delattr__
    __hash__ = None  # type: ignore[assignment]  # mutable: compared by value, not hashed

    rule: str
    severity: str  # "error" | "warning" | "info"
    message: str
    hint: str
    line: int | None  # 1-based line in ``path``
    approved: str | None
    revision: str | None
    path: str | None
    statement: int | None
    phase: str | None

    def __init__(
        self,
        rule: str,
        severity: str,
        message: str,
        hint: str = "",
        line: int | None = None,
        approved: str | None = None,
        revision: str | None = None,
        path: str | None = None,
        statement: int | None = None,
        *,
        at: float | None = None,
        phase: str | None = None,
    ) -> None:
        self.rule = rule
        self.severity = severity
        self.message = message
        self.hint = hint
        self.line = line
        self.approved = approved
        self.revision = revision
        self.path = path
        self.statement = statement
        self.phase = phase
        self.at = time.time() if at is None else at  # type: ignore[misc]  # frozen on Event, not here

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.rule,
            self.severity,
            self.message,
            self.hint,
            self.line,
            self.approved,
            self.revision,
            self.path,
            self.statement,
            self.phase,
        )

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        names = ("rule", "severity", "message", "hint", "line", "approved", "revision", "path", "statement", "phase")
        return f"Finding({', '.join(f'{n}={v!r}' for n, v in zip(names, self._fields(), strict=True))})"

    def located(self, path: str | None, revision: str | None) -> Finding:
        """This finding with the file and revision it was found in (lint keeps them on the file)."""
        return Finding(
            self.rule,
            self.severity,
            self.message,
            self.hint,
            self.line,
            self.approved,
            revision,
            path,
            self.statement,
            at=self.at,
            phase=self.phase,
        )

    def report_dict(self) -> dict[str, Any]:
        """The finding inside a job's JSON report: rule, severity, message, hint, line, then approved, revision,
        path, statement and phase when known (a lint statement's findings leave the file to the report)."""
        data: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "line": self.line,
        }
        if self.approved is not None:
            data["approved"] = self.approved
        if self.revision is not None:
            data["revision"] = self.revision
        if self.path is not None:
            data["path"] = self.path
        if self.statement is not None:
            data["statement"] = self.statement
        if self.phase is not None:
            data["phase"] = self.phase
        return data

    @property
    def labelled_message(self) -> str:
        """The message with its phase in front (``[contract] ...``) for a finding in a phased revision."""
        return f"[{self.phase}] {self.message}" if self.phase else self.message

    def to_dict(self) -> dict[str, Any]:
        """The event: ``{"event": "finding", "at", "rule", "severity", "message", "revision", "path", "line",
        "hint"}``, plus ``approved``, ``statement`` and ``phase`` when set."""
        data: dict[str, Any] = {
            "event": self.kind,
            "at": self.at,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "revision": self.revision,
            "path": self.path,
            "line": self.line,
            "hint": self.hint,
        }
        if self.approved is not None:
            data["approved"] = self.approved
        if self.statement is not None:
            data["statement"] = self.statement
        if self.phase is not None:
            data["phase"] = self.phase
        return data


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
class DryRunReplica(Event):
    """dry-run checked the server it inspects: role (replica/primary), server version, recorded revision, lag,
    pending."""

    kind: ClassVar[str] = "dry_run_replica"
    replica: dict[str, Any]
    pending: tuple[str, ...] = ()


@dataclass(frozen=True)
class DryRunStatement(Event):
    """dry-run's findings for one statement of a pending revision (the JSON statement shape in ``report``)."""

    kind: ClassVar[str] = "dry_run_statement"
    revision: str
    index: int
    report: dict[str, Any] = field(default_factory=dict)
