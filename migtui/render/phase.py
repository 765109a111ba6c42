"""``migtui phase``'s streaming output: one text line per driver event (stderr), or one JSON object per event.

The TUI's phase job view writes the same text lines.
"""

from __future__ import annotations

import json
import sys
from typing import IO

from migtui.events import Event, EventSink


def format_seconds(value: float | None) -> str:
    if value is None:
        return "?"
    value = float(value)
    if value >= 3600:
        return f"{value / 3600:.1f}h"
    if value >= 60:
        return f"{value / 60:.1f}m"
    return f"{value:.1f}s"


def text_sink(out: IO[str] = sys.stderr) -> EventSink:
    from migtui.events import LockWait, Message, PhaseChanged, RunFinished
    from migtui.phases.events import BackfillProgress, BackfillThrottled, GateChecked, PhaseStepApplied
    from migtui.redact import redact

    def sink(event: Event) -> None:
        if isinstance(event, PhaseChanged):
            line = f"{event.revision}: {event.previous or 'new'} -> {event.phase}"
        elif isinstance(event, PhaseStepApplied):
            status = "already done" if event.skipped else f"{event.seconds:.2f}s"
            line = f"  {event.phase} step {event.index + 1}: {event.description} ({status})"
        elif isinstance(event, BackfillProgress):
            pct = 100.0 * event.rows_done / event.rows_total_estimate if event.rows_total_estimate else 100.0
            line = (
                f"  backfill {event.table}: {event.rows_done}/{event.rows_total_estimate} rows ({pct:.0f}%), "
                f"{event.rows_updated} updated, {event.rows_per_second:.0f} rows/s, ETA "
                f"{format_seconds(event.eta_seconds)}, batch {event.batch_size}"
            )
        elif isinstance(event, BackfillThrottled):
            line = (
                f"  backfill throttled: {event.reason}; sleeping {event.sleep_seconds:.2f}s, batch {event.batch_size}"
            )
        elif isinstance(event, GateChecked):
            line = f"  gate {event.gate}: {'pass' if event.passed else 'REFUSED'}: {event.evidence}"
        elif isinstance(event, LockWait):
            line = f"  lock wait: {event.detail}"
        elif isinstance(event, RunFinished):
            return
        elif isinstance(event, Message):
            line = f"{event.level if event.level != 'info' else ''}{': ' if event.level != 'info' else ''}{event.text}"
        else:  # the runner's events (the expand applies the revision through it): as `migtui up` prints them
            from migtui.redact import redact_sql
            from migtui.render.events import text_line

            text = text_line(event)
            if text is None:
                return
            line = redact_sql(text)
        print(redact(line), file=out, flush=True)

    return sink


def json_sink(out: IO[str] = sys.stdout) -> EventSink:
    from migtui.redact import redact

    def sink(event: Event) -> None:
        print(redact(json.dumps(event.to_dict(), default=str)), file=out, flush=True)

    return sink
