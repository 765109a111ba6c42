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
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, RichLog, Static

from migtui.events import Event, Finding, RunFinished
from migtui.pg.monitor import one_line
from migtui.report import Report
from migtui.tui.text import ELLIPSIS, middle_ellipsis
from migtui.tui.widgets.table import MeasuredTable
from migtui.tui.worker import post_outcome

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "cyan"}
SEVERITY_GLYPH = {"error": "✗", "warning": "!", "info": "i"}  # the Migrations view's lint badges
COMPACT_BELOW = 120  # screen width under which the findings table is compact
COMPACT_REVISION_WIDTH = 22
# the lock-holds table's frame: its border (2) and a vertical scrollbar's room (2, when the holds outgrow its
# height); every column also has one cell of padding on each side
HOLDS_FRAME = 4
CELL_PADDING = 2
# what a hold blocks, short (under COMPACT_BELOW columns): "R W DDL"
BLOCKS_SHORT = {"reads": "R", "writes": "W", "ddl": "DDL"}


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


def end_ellipsis(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, its end cut when it must be (a statement's words, in order)."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def _fit_relation(text: str, width: int) -> str:
    # "public." is cut before anything else: "orders" says more than "pub…ders"
    if len(text) > width and text.startswith("public."):
        text = text.removeprefix("public.")
    return middle_ellipsis(text, width)


@dataclass(frozen=True)
class HoldColumn:
    header: str
    compact_header: str  # under COMPACT_BELOW columns: short, so the header does not set the width
    min_width: int
    fit: Callable[[str, int], str]  # the cell's text cut to a width


HOLD_COLUMNS = (
    HoldColumn("revision", "revision", 8, middle_ellipsis),  # ids share prefixes and differ at both ends
    HoldColumn("lock", "lock", len("AccessExclusive"), end_ellipsis),  # the mode that blocks all, whole
    HoldColumn("on", "on", 8, _fit_relation),
    HoldColumn("blocks", "blocks", 3, end_ellipsis),
    HoldColumn("taken at", "from", 6, end_ellipsis),
    HoldColumn("held until", "until", 5, end_ellipsis),
    HoldColumn("estimate", "est", 5, end_ellipsis),
)
# which cut columns get the cells left over first: the relation, the revision, the mode, the statement
HOLDS_PRIORITY = (2, 0, 1, 4, 3, 5, 6)


def hold_cells(revision: str, hold: dict[str, Any], compact: bool) -> list[str]:
    """A lock hold's cells, whole (HOLD_COLUMNS' order)."""
    taken = hold["taken_by"]
    statement = taken.get("statement") or ""
    taken_at = f"line {taken['line']} {statement}".strip() if taken.get("line") else statement
    blocks = hold["blocks"]
    seconds = hold["estimated_seconds"]
    mode = hold["mode"]
    return [
        revision,
        mode.removesuffix("Lock") if compact else mode,  # every mode ends in "Lock"
        hold["relation"],
        " ".join(BLOCKS_SHORT.get(b, b) for b in blocks) if compact else ", ".join(blocks),
        taken_at,
        hold["released_by"]["statement"],
        f"~{seconds:.1f}s" if seconds >= 0.05 else "brief",
    ]


def hold_text(revision: str, hold: dict[str, Any]) -> Text:
    """A lock hold whole: the dry-run's own line for it, and the statements that take and end it."""
    from migtui.dryrun.holds import hold_line

    out = Text()
    out.append(f"{hold['mode']} on {hold['relation']}", style="bold")
    out.append(f"  {revision}\n\n")
    out.append(hold_line(hold) + "\n")
    sql = hold["taken_by"].get("sql")
    if sql:
        out.append("\ntaken by: ", style="bold")
        out.append(sql)
    return out


def fit_widths(natural: list[int], minimum: list[int], room: int, priority: tuple[int, ...]) -> list[int]:
    """Column widths within ``room`` cells: each column's ``natural`` width when they all fit; else the widest
    ones cut to a common width (none below its ``minimum``: the sum may then exceed ``room``), and the cells
    that leaves go back to the columns in ``priority`` order."""
    if sum(natural) <= room:
        return list(natural)
    for cap in range(max(natural), -1, -1):
        widths = [max(least, min(width, cap)) for width, least in zip(natural, minimum, strict=True)]
        if sum(widths) <= room:
            break
    spare = room - sum(widths)
    for index in priority:
        give = max(0, min(spare, natural[index] - widths[index]))
        widths[index] += give
        spare -= give
    return widths


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
        self.holds: list[tuple[str, dict[str, Any]]] = []  # (revision, a dry-run's lock hold), as the table lists them
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
        self.query_one("#job-findings").border_title = "Findings"
        holds = self.query_one("#job-holds", DataTable)
        holds.border_title = "Lock holds (until the transaction ends)"
        holds.display = False  # a dry-run's, shown when it has any
        self.query_one("#job-log").border_title = "Events"
        self._lay_findings()
        self.action_rerun()

    def on_resize(self, event: events.Resize) -> None:
        # both tables' forms depend on the screen's width: compact findings, the holds' column widths
        if (event.size.width < COMPACT_BELOW) != self._compact:
            self._lay_findings()
        self._lay_holds(event.size.width)

    def _lay_findings(self) -> None:
        """The findings table's columns for the screen's width, its rows again, the selected row kept. Under
        COMPACT_BELOW columns the message comes right after the revision (the rule is in the finding's whole
        text, Enter), so it starts on screen at 80x24."""
        self._compact = self.app.size.width < COMPACT_BELOW
        table = self.query_one("#job-findings", DataTable)
        selected = table.cursor_row
        table.clear(columns=True)
        columns = ("", "revision", "message") if self._compact else ("severity", "rule", "revision", "message")
        table.add_columns(*columns)
        for finding in self.findings:
            table.add_row(*self._finding_cells(finding))
        if self.findings:
            table.move_cursor(row=min(max(selected, 0), len(self.findings) - 1), animate=False)

    def _finding_cells(self, finding: Finding) -> list[Text]:
        style = SEVERITY_STYLE.get(finding.severity, "")
        message = Text((f"[{finding.phase}] " if finding.phase else "") + one_line(finding.message, 200))
        if self._compact:
            glyph = Text(SEVERITY_GLYPH.get(finding.severity, "?"), style=style)
            return [glyph, Text(middle_ellipsis(finding.revision or "", COMPACT_REVISION_WIDTH)), message]
        return [
            Text(finding.severity, style=style),
            Text(finding.rule),  # Text, not str: a str cell is read as markup ("[contract] ..." would vanish)
            Text(finding.revision or ""),
            message,
        ]

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
        self.holds = []
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
        elif event.data_table.id == "job-holds":
            self.hold_detail()

    def hold_detail(self) -> None:
        """Enter on a lock hold: the whole of it (the table cuts its texts to keep every column on screen)."""
        table = self.query_one("#job-holds", DataTable)
        if not 0 <= table.cursor_row < len(self.holds):
            return
        from migtui.tui.screens.detail import DetailScreen

        revision, hold = self.holds[table.cursor_row]
        self.app.push_screen(DetailScreen(f"lock hold · {revision}", hold_text(revision, hold)))

    def action_finding_detail(self) -> None:
        """Enter on a finding: its whole text (the table cuts the message at the screen's edge)."""
        if self.focused is self.query_one("#job-holds"):
            self.hold_detail()
            return
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
            self.query_one("#job-findings", DataTable).add_row(*self._finding_cells(event))
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
        revisions = getattr(report, "revisions", None) if self.spec.name == "dry-run" else None
        self.holds = [(rev["revision"], hold) for rev in revisions or [] for hold in rev.get("lock_holds") or []]
        self._lay_holds(self.app.size.width)

    def _lay_holds(self, screen_width: int) -> None:
        """The holds table with every column on screen at ``screen_width`` (no horizontal scrolling): long
        texts cut (Enter shows the hold whole), the selected row kept."""
        table = self.query_one("#job-holds", DataTable)
        selected = table.cursor_row
        table.clear(columns=True)
        compact = screen_width < COMPACT_BELOW
        rows = [hold_cells(revision, hold, compact) for revision, hold in self.holds]
        headers = [column.compact_header if compact else column.header for column in HOLD_COLUMNS]
        natural = [max([len(header), *(len(row[i]) for row in rows)]) for i, header in enumerate(headers)]
        room = screen_width - HOLDS_FRAME - CELL_PADDING * len(HOLD_COLUMNS)
        widths = fit_widths(natural, [column.min_width for column in HOLD_COLUMNS], room, HOLDS_PRIORITY)
        for header, width in zip(headers, widths, strict=True):
            table.add_column(header, width=width)
        for (_revision, hold), row in zip(self.holds, rows, strict=True):
            seconds = hold["estimated_seconds"]
            style = "bold red" if "reads" in hold["blocks"] and seconds >= 1 else ""
            cells = [
                Text(column.fit(text, width)) for column, text, width in zip(HOLD_COLUMNS, row, widths, strict=True)
            ]
            if style:
                cells[1].stylize(style)
                cells[-1].stylize(style)
            table.add_row(*cells)
        if self.holds:
            table.move_cursor(row=min(max(selected, 0), len(self.holds) - 1), animate=False)
        table.display = bool(self.holds)

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
