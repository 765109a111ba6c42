"""Job view: run an engine job (dry-run, rollback-test) in a worker and watch its events arrive live.

The engine decides everything; this screen renders the same events the headless command prints (through
``migtui.render.events.text_line``), findings in a table, and the job's exit code and summary at the end.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, RichLog, Static

from migtui.events import Event, Finding, RunFinished
from migtui.pg.monitor import one_line
from migtui.report import Report
from migtui.tui.text import middle_ellipsis
from migtui.tui.widgets.table import MeasuredTable
from migtui.tui.worker import post_outcome

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "cyan"}
SEVERITY_GLYPH = {"error": "✗", "warning": "!", "info": "i"}  # the Migrations view's lint badges
COMPACT_BELOW = 120  # screen width under which the findings table is compact
COMPACT_REVISION_WIDTH = 22


@dataclass(frozen=True)
class JobSpec:
    name: str  # the CLI command's name: "dry-run", "rollback-test"
    title: str
    run: Callable[[Any, Callable[[Event], None]], Report]  # (settings, sink) -> the job's report
    # the headless command's own streaming text renderer: called with an output stream, returns a sink
    renderer: Callable[[IO[str]], Callable[[Event], None]] | None = None
    writes: bool = False  # changes the target (phase advance / abort): quitting waits for it
    # a job that writes is never re-run by ``r`` as is (advancing again is the next stage, never confirmed):
    # ``r`` closes the view and calls this, which asks for confirmation of what would run now
    confirm_again: Callable[[], None] | None = None


def text_renderer(spec: JobSpec):
    """The CLI's renderer for this job writing into a buffer, or None (then render.events.text_line is used)."""
    if spec.renderer is None:
        return None
    import io

    buffer = io.StringIO()
    return spec.renderer(buffer), buffer


def _dry_run(settings, sink) -> Report:
    from migtui.dryrun.job import DryRunOptions, run_dry_run

    return run_dry_run(settings, DryRunOptions(), sink)


def _dry_run_renderer(out: IO[str]) -> Callable[[Event], None]:
    from migtui.render.dryrun import TextRenderer

    return TextRenderer(out)


def _rollback_test(settings, sink) -> Report:
    import dataclasses

    from migtui.rollback.job import RollbackOptions, run_rollback_test

    # on a scratch database of an embedded server, never on the target
    return run_rollback_test(dataclasses.replace(settings, scratch_dsn=None), RollbackOptions(), sink)


JOBS: dict[str, JobSpec] = {
    "dry-run": JobSpec("dry-run", "Dry-run on the replica", _dry_run, renderer=_dry_run_renderer),
    "rollback-test": JobSpec("rollback-test", "Rollback test (embedded scratch server)", _rollback_test),
}


def event_line(event: Event) -> str | None:
    """An engine event as the job and apply views log it: the CLI's text line, a failed run as its summary."""
    from migtui.render.events import text_line

    if isinstance(event, RunFinished) and not event.ok:
        return f"{event.job}: {event.summary}"
    return text_line(event)


def finding_text(f: Finding) -> Text:
    """A finding in full: where, the phase, the message, the hint (what the findings table cuts)."""
    out = Text()
    out.append(f"{f.severity} [{f.rule}]", style=SEVERITY_STYLE.get(f.severity, ""))
    where = " ".join(x for x in (f.revision or "", f"line {f.line}" if f.line else "", f.path or "") if x)
    if where:
        out.append(f"  {where}", style="bold")
    out.append("\n\n")
    if f.phase:
        out.append(f"[{f.phase}] ", style="bold")
    out.append(f.message + "\n")
    if f.approved is not None:
        out.append(f"\napproved: {f.approved}\n", style="green")
    if f.hint:
        out.append("\nhint: ", style="bold")
        out.append(f.hint)
    out.rstrip()
    return out


class JobScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "rerun", "Run again"),
        Binding("enter", "finding_detail", "Whole finding", show=False),
        Binding("escape", "back", "Back"),
    ]

    class JobEvent(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class JobDone(Message):
        def __init__(self, exit_code: int, error: str | None, report: Report | None = None) -> None:
            super().__init__()
            self.exit_code = exit_code
            self.error = error
            self.report = report

    def __init__(self, settings, spec: JobSpec) -> None:
        super().__init__()
        self.screen_key = self.screen_id(spec)  # one open per job (MigtuiApp.open_screen)
        self.settings = settings
        self.spec = spec
        self.state = "running"
        self.summary = ""
        self.exit_code: int | None = None
        self.findings: list[Finding] = []
        self.events: list[Event] = []
        self._renderer = None
        self._ended = threading.Event()
        self._compact = False
        self.display_title = spec.title

    @staticmethod
    def screen_id(spec: JobSpec) -> str:
        return "job-" + "".join(c if c.isalnum() else "-" for c in spec.name)

    def compose(self) -> ComposeResult:
        yield Static("", id="job-header", classes="title-bar")
        yield MeasuredTable(id="job-findings", cursor_type="row", zebra_stripes=True)
        yield MeasuredTable(id="job-holds", cursor_type="row", zebra_stripes=True)
        # wrapped: an event line cut at the screen's edge would lose its end (the estimate, the lock)
        # min_width: RichLog renders at least that wide, which at 80 columns would bring a horizontal scrollbar back
        yield RichLog(id="job-log", wrap=True, markup=False, max_lines=2000, min_width=20)
        yield Footer()

    def on_mount(self) -> None:
        # under COMPACT_BELOW columns the message comes right after the revision (the rule is in the finding's
        # whole text, Enter), so it starts on screen at 80x24
        self._compact = self.app.size.width < COMPACT_BELOW
        columns = ("", "revision", "message") if self._compact else ("severity", "rule", "revision", "message")
        self.query_one("#job-findings", DataTable).add_columns(*columns)
        self.query_one("#job-findings").border_title = "Findings"
        holds = self.query_one("#job-holds", DataTable)
        holds.add_columns("revision", "lock", "on", "blocks", "taken at", "held until", "estimate")
        holds.border_title = "Lock holds (until the transaction ends)"
        holds.display = False  # a dry-run's, shown when it has any
        self.query_one("#job-log").border_title = "Events"
        self.action_rerun()

    def action_rerun(self) -> None:
        if self.state == "running" and self.events:
            self.notify("the job is still running", severity="warning")
            return
        if self.spec.writes and self.exit_code is not None:
            if self.spec.confirm_again is None:
                self.notify("this job writes: start it again from its view, with confirmation", severity="warning")
                return
            self.app.pop_screen()
            self.spec.confirm_again()
            return
        self.state, self.summary, self.exit_code = "running", "", None
        self.findings.clear()
        self.events.clear()
        self.query_one("#job-findings", DataTable).clear()
        self.query_one("#job-holds", DataTable).clear()
        self.query_one("#job-holds").display = False
        self.query_one("#job-log", RichLog).clear()
        self._renderer = text_renderer(self.spec)
        self._render_header()
        self._run()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "job-findings":
            self.action_finding_detail()

    def action_finding_detail(self) -> None:
        """Enter on a finding: its whole text (the table cuts the message at the screen's edge)."""
        table = self.query_one("#job-findings", DataTable)
        if not self.findings or not 0 <= table.cursor_row < len(self.findings):
            return
        from migtui.tui.screens.detail import DetailScreen

        f = self.findings[table.cursor_row]
        self.app.push_screen(DetailScreen(f"{f.severity} [{f.rule}] {f.revision or ''}".strip(), finding_text(f)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer shows only what the state allows: no "Run again" while the job runs ("Back" stays: it
        says why it cannot go back yet)."""
        if action == "rerun":
            return self.state != "running"
        return True

    def _sink(self, event: Event) -> None:  # job thread
        with contextlib.suppress(Exception):  # never raise into the job (the app may be gone: a crash exit)
            self.post_message(self.JobEvent(event))

    @work(thread=True, exclusive=True, group="job", exit_on_error=False)
    def _run(self) -> None:
        try:
            post_outcome(
                self.post_message,
                lambda: self.spec.run(self.settings, self._sink),
                lambda report, error, code: self.JobDone(
                    report.exit_code if report is not None else code, error, report
                ),
            )
        finally:
            self._ended.set()

    def on_job_screen_job_event(self, message: JobEvent) -> None:
        event = message.event
        self.events.append(event)
        if isinstance(event, Finding):
            self.findings.append(event)
            style = SEVERITY_STYLE.get(event.severity, "")
            message = Text((f"[{event.phase}] " if event.phase else "") + one_line(event.message, 200))
            if self._compact:
                glyph = Text(SEVERITY_GLYPH.get(event.severity, "?"), style=style)
                revision = Text(middle_ellipsis(event.revision or "", COMPACT_REVISION_WIDTH))
                self.query_one("#job-findings", DataTable).add_row(glyph, revision, message)
            else:
                self.query_one("#job-findings", DataTable).add_row(
                    Text(event.severity, style=style),
                    Text(event.rule),  # Text, not str: a str cell is read as markup ("[contract] ..." would vanish)
                    Text(event.revision or ""),
                    message,
                )
        if isinstance(event, RunFinished):
            self.summary = event.summary
        log = self.query_one("#job-log", RichLog)
        if self._renderer is not None:
            render, buffer = self._renderer
            try:
                render(event)
            except Exception:  # a renderer problem must not stop the view: fall back to the event line
                buffer.write((event_line(event) or "") + "\n")
            for line in buffer.getvalue().splitlines():
                log.write(Text(line))
            buffer.seek(0)
            buffer.truncate()
        else:
            line = event_line(event)
            if line:
                log.write(Text(line))
        self._render_header()

    def on_job_screen_job_done(self, message: JobDone) -> None:
        self.exit_code = message.exit_code
        if message.error:
            self.state, self.summary = "failed", message.error
        else:
            self.state = "done" if message.exit_code == 0 else "findings"
        self._show_holds(message.report)
        if self.spec.name == "dry-run" and message.report is not None:
            from migtui.tui.apply_holds import remember

            kept = remember(message.report)
            if kept is not None:  # (a dry-run with nothing pending keeps the last one's)
                self.app.dry_run_holds = kept
        self._render_header()

    def _show_holds(self, report: Report | None) -> None:
        """A dry-run's lock holds: which lock each revision holds, from which statement to its COMMIT, how long."""
        table = self.query_one("#job-holds", DataTable)
        revisions = getattr(report, "revisions", None) if self.spec.name == "dry-run" else None
        for rev in revisions or []:
            for hold in rev.get("lock_holds") or []:
                taken = hold["taken_by"]
                seconds = hold["estimated_seconds"]
                style = "bold red" if "reads" in hold["blocks"] and seconds >= 1 else ""
                table.add_row(
                    rev["revision"],
                    Text(hold["mode"], style=style),
                    hold["relation"],
                    ", ".join(hold["blocks"]),
                    f"line {taken['line']} {taken.get('statement') or ''}".strip() if taken.get("line") else "",
                    hold["released_by"]["statement"],
                    Text(f"~{seconds:.1f}s" if seconds >= 0.05 else "brief", style=style),
                )
        table.display = table.row_count > 0

    def _render_header(self) -> None:
        self.refresh_bindings()
        style = {"running": "bold cyan", "done": "bold green", "findings": "bold yellow", "failed": "bold red"}
        text = Text(f"{self.spec.title} · {len(self.findings)} findings · ")
        text.append(self.state.upper(), style=style.get(self.state, ""))
        if self.exit_code is not None:
            text.append(f" (exit {self.exit_code})")
        if self.summary:
            text.append(f"\n{self.summary}")
        self.query_one("#job-header", Static).update(text)

    @property
    def blocks_quit(self) -> bool:
        return self.state == "running" and self.spec.writes

    @property
    def running(self) -> bool:
        return self.state == "running"

    def cancel_for_crash(self) -> tuple[threading.Event, str, str] | None:
        """The app is going down: a job that writes cannot be interrupted mid-step (each phase step is safe to
        run again, not to cut), so the exit waits for it."""
        if not self.blocks_quit:
            return None
        return (self._ended, f"{self.spec.title} finished first", f"{self.spec.title} had not finished")

    def action_back(self) -> None:
        if self.state == "running":
            self.notify("the job is still running; it cannot be interrupted from here", severity="warning")
            return
        self.app.pop_screen()
