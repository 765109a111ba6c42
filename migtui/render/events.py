"""Render engine events for the headless CLI: one text line or one JSON object per event.

    sink = event_printer("text")        # or "json" (one JSON object per line, JSON Lines)
    run_up(settings, UpOptions("head"), sink)

Used by every command that streams events (up, down, and other jobs). The printer is thread-safe (the
runner's watchdog thread emits Progress/LockWait) and flushes each line. Passwords are masked in every
line: DSNs, ``password=`` pairs and ``PASSWORD '...'`` literals in SQL.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from migtui.events import (
    Event,
    EventSink,
    Finding,
    LockWait,
    Message,
    PhaseChanged,
    Progress,
    RevisionFailed,
    RevisionFinished,
    RevisionStarted,
    RunFinished,
    RunStarted,
    StatementStarted,
)
from migtui.redact import redact_sql

SQL_PREVIEW_CHARS = 160


def _one_line(sql: str, limit: int = SQL_PREVIEW_CHARS) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:g}s"


def text_line(event: Event) -> str | None:
    """A human line for ``event`` (None: nothing to print for it in text mode)."""
    if isinstance(event, RunStarted):
        if not event.revisions:
            return None
        verb = "apply" if event.job == "up" else "revert"
        return f"{event.job}: {len(event.revisions)} revision(s) to {verb}: {', '.join(event.revisions)}"
    if isinstance(event, RevisionStarted):
        attempt = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        desc = f" {event.description}" if event.description else ""
        return f"{'→' if event.direction == 'up' else '←'} {event.revision}{desc}{attempt}"
    if isinstance(event, StatementStarted):
        mode = "" if event.transactional else " [autocommit]"
        return f"  [{event.index}]{mode} {_one_line(event.sql)}"
    if isinstance(event, Progress):
        parts = [f"  … {event.revision} {event.elapsed:.1f}s/{_seconds(event.timeout)}"]
        if event.state:
            parts.append(event.state)
        if event.wait_event:
            parts.append(f"wait={event.wait_event}")
        if event.statement:
            parts.append(f"sql: {_one_line(event.statement, 80)}")
        if event.waiting_for:
            parts.append(f"waiting for {_one_line(event.waiting_for, 200)}")
        if event.progress:
            parts.append(event.progress)
        return " | ".join(parts)
    if isinstance(event, LockWait):
        return f"  waiting ({event.what} lock, {event.waited_seconds:.1f}s): {event.detail}"
    if isinstance(event, RevisionFinished):
        return f"✓ {event.revision} {event.direction} in {event.seconds:.2f}s"
    if isinstance(event, RevisionFailed):
        rolled = "rolled back" if event.rolled_back else "NOT fully rolled back"
        return f"✗ {event.revision} {event.direction} failed after {event.seconds:.2f}s ({rolled}): {event.error}"
    if isinstance(event, Message):
        prefix = "" if event.level == "info" else f"{event.level}: "
        return f"{prefix}{event.text}"
    if isinstance(event, RunFinished):
        # a failed run is reported once, by the CLI's "migtui: error: ..." line
        return f"{event.job}: {event.summary}" if event.ok else None
    if isinstance(event, Finding):
        where = f" {event.revision}" if event.revision else (f" {event.path}" if event.path else "")
        return f"{event.severity} [{event.rule}]{where}: {event.message}"
    if isinstance(event, PhaseChanged):
        return f"{event.revision}: phase {event.previous or '-'} → {event.phase}"
    data = event.to_dict()
    kind = data.pop("event")
    data.pop("at", None)
    return f"{kind}: " + ", ".join(f"{k}={v}" for k, v in data.items())


def json_line(event: Event) -> str:
    """``event`` as one JSON object: ``{"event": <kind>, "at": <unix time>, ...fields}``."""
    data: dict[str, Any] = event.to_dict()
    for key, value in data.items():
        if isinstance(value, str):
            data[key] = redact_sql(value)
    return json.dumps(data, default=str, ensure_ascii=False)


def is_progress(event: Event) -> bool:
    """Whether ``event`` only tells how the run is going (``--quiet`` leaves these out): starts, statements,
    progress samples, lock waits and informational messages. Results, failures, warnings and findings are not."""
    if isinstance(event, Message):
        return event.level == "info"
    return isinstance(event, RunStarted | RevisionStarted | StatementStarted | Progress | LockWait)


def event_printer(fmt: str = "text", stream: TextIO | None = None, *, quiet: bool = False) -> EventSink:
    """An EventSink that prints each event as a text line or a JSON line; thread-safe, flushed per line.
    ``quiet``: only results, failures, warnings and findings (``is_progress`` events are dropped)."""
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown event format {fmt!r}")
    lock = threading.Lock()
    # bound now: while a project's own code runs, sys.stdout is standard error (project.load.no_logging_config)
    out = stream or sys.stdout

    def sink(event: Event) -> None:
        if quiet and is_progress(event):
            return
        line = json_line(event) if fmt == "json" else text_line(event)
        if line is None:
            return
        if fmt == "text":
            line = redact_sql(line)
        with lock:
            out.write(line + "\n")
            out.flush()

    return sink
