"""Apply view: confirm, then run the runner in a worker and show per-revision / per-statement progress from its
events, elapsed time against the timeout, and the live monitor panel on the target. ``c`` cancels.

A server that stops answering (SIGSTOP, a network partition) blocks the runner's thread for good: the runner's
watchdogs (``UpOptions.on_stall``) report it here as STALLED with one line and an exit code (3: the revision's
timeout passed and the server has not answered since; 6: one of the run's own queries went unanswered), and
quitting ends migtui with that code without waiting for the thread (``MigtuiApp.run_async``).

Planning (the version table, the lint, the pre-flight's pg_locks / pg_stat_activity reads) is bounded too:
each of its reads gets the server's statement timeout and, on the client, the connect timeout plus that
statement timeout (``planning_bound``), since a stopped server enforces nothing; the lint, which may compute a
while, is watched by new connections instead (``watched``). A locked version table ends planning FAILED with
the server's line; a server that stopped answering ends it FAILED with one line and, as for STALLED, ``q``
ends migtui at once with exit 6 (the other views' reads of that server would hold a normal exit). Nothing is
confirmed or applied; the read's daemon thread is left to end whenever the server answers.

Cancel goes through the job (``UpOptions.cancel``): the runner cancels the running statement, the revision's
transaction rolls back, no further revision starts and the advisory lock is released. Nothing here decides what
to run: the runner does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, TypeVar

from rich.console import Group
from rich.padding import Padding
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, RichLog, Static

from migtui.errors import ConnectionFailed, ExitCode, MigtuiError
from migtui.events import (
    Event,
    LockWait,
    Progress,
    RevisionFailed,
    RevisionFinished,
    RevisionStarted,
    StatementStarted,
)
from migtui.pg.monitor import age_words, one_line
from migtui.redact import redact_dsn
from migtui.report import Cancel
from migtui.tui.screens.job import event_line
from migtui.tui.widgets.monitor_panel import MonitorPanel
from migtui.tui.worker import post_outcome

if TYPE_CHECKING:
    from migtui.runner.job import RunReport

TUI_PROGRESS_INTERVAL = 1.0  # runner progress events while the apply view watches
TARGET_TABLE_TX_SECONDS = 5.0  # apply view: transactions this old holding locks on the plan's tables


PLANNING_STATEMENT_SECONDS = 5.0  # planning's own reads: the server's statement_timeout on them
PLANNING_APPLICATION_NAME = "migtui apply (planning)"

T = TypeVar("T")


class PlanningStalled(ConnectionFailed):
    """A planning read got no answer within its bound: planning ends (never a confirmation on a guess)."""


def connect_timeout_of(dsn: str | None) -> float:
    """The connect timeout ``migtui.pg.connect.connect`` gives libpq for ``dsn``: the DSN's, else
    PGCONNECT_TIMEOUT, else DEFAULT_CONNECT_TIMEOUT, at least libpq's floor of 2 s. A 0 (libpq: wait forever)
    counts as DEFAULT_CONNECT_TIMEOUT here: planning must end."""
    import os

    from migtui.pg.connect import DEFAULT_CONNECT_TIMEOUT
    from migtui.pg.dsn import libpq_dsn

    given: object = None
    try:
        from psycopg.conninfo import conninfo_to_dict

        given = conninfo_to_dict(libpq_dsn(dsn or "")).get("connect_timeout")
    except Exception:  # an unreadable DSN fails on connect, with its own line
        given = None
    if given is None:
        given = os.environ.get("PGCONNECT_TIMEOUT")
    try:
        seconds = float(str(given)) if given is not None else float(DEFAULT_CONNECT_TIMEOUT)
    except ValueError:
        seconds = float(DEFAULT_CONNECT_TIMEOUT)
    if seconds <= 0:
        seconds = float(DEFAULT_CONNECT_TIMEOUT)
    return max(2.0, seconds)


def planning_bound(dsn: str | None, statement_seconds: float | None = None) -> float:
    """How long one planning read may go unanswered: connecting, then its statement timeout."""
    return connect_timeout_of(dsn) + (PLANNING_STATEMENT_SECONDS if statement_seconds is None else statement_seconds)


class _Background:
    """``work()`` in a daemon thread of its own: blocked on a server that stopped answering, the thread is left
    behind (it ends when the server answers or the connection drops) and holds neither the caller nor the
    process's exit."""

    def __init__(self, work: Callable[[], object], name: str) -> None:
        self.work = work
        self.outcome: dict[str, object] = {}
        self.done = threading.Event()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        try:
            self.outcome["value"] = self.work()
        except BaseException as exc:  # handed to the caller
            self.outcome["error"] = exc
        finally:
            self.done.set()

    def result(self):
        if "error" in self.outcome:
            raise self.outcome["error"]  # type: ignore[misc]
        return self.outcome["value"]


def bounded(what: str, work: Callable[[], T], seconds: float) -> T:
    """``work()``'s result, or PlanningStalled when it has not returned within ``seconds``."""
    job = _Background(work, "migtui-planning-read")
    if not job.done.wait(seconds):
        raise PlanningStalled(
            f"planning stopped: no answer from the server for {seconds:g}s while {what} (connect timeout + "
            "statement timeout); nothing was applied"
        )
    return job.result()


def watched(what: str, work: Callable[[], T], dsn: str | None) -> T:
    """``work()``'s result, however long it computes, as long as the server answers: each ``planning_bound``
    it runs, a new connection must get an answer to ``SELECT 1`` within that bound, else PlanningStalled
    (``work``'s own reads wait on that server). For the lint: its parsing may take a while on a large project,
    and its catalog reads have no bound of their own."""
    job = _Background(work, "migtui-planning-work")
    bound = planning_bound(dsn)
    while not job.done.wait(bound):
        if not dsn:
            continue
        probe = _Background(lambda: _probe(dsn, what), "migtui-planning-probe")
        if not probe.done.wait(bound):
            raise PlanningStalled(
                f"planning stopped: the server did not answer a new connection within {bound:g}s while {what}; "
                "nothing was applied"
            )
        probe.result()
    return job.result()


def _probe(dsn: str, what: str) -> None:
    """The server answers a new connection (``migtui.pg.liveness.probe``, the command line's watchdog's own)."""
    from migtui.pg.dsn import libpq_dsn
    from migtui.pg.liveness import probe

    answered = threading.Event()
    probe(libpq_dsn(dsn), answered)
    if not answered.is_set():
        raise PlanningStalled(
            f"planning stopped: the server did not answer a new connection while {what}; nothing was applied"
        )


def read_version_for_planning(settings) -> tuple[str, ...]:
    """The version table's revision(s), under the planning statement timeout (a lock on the version table, a
    server that stopped answering: the read ends, with one line)."""
    import psycopg

    from migtui.pg.connect import connect, describe_error
    from migtui.pg.version_table import VersionTable, read_current

    milliseconds = max(1, int(PLANNING_STATEMENT_SECONDS * 1000))
    with connect(settings.dsn, application_name=PLANNING_APPLICATION_NAME) as conn:
        try:
            # set_config, not the connection's options: the DSN's own options (search_path) stay as they are
            conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(milliseconds),))
            return read_current(conn, VersionTable(settings.version_table, settings.version_table_schema))
        except psycopg.Error as exc:
            raise ConnectionFailed(f"cannot read the version table: {describe_error(exc)}") from None


def start_apply(app, target: str = "head") -> None:
    app.action_apply(target)


class ConfirmScreen(ModalScreen[bool]):
    """Confirm something that writes. With ``typed`` set, the operator must type it (irreversible, or error
    findings); ``reasons`` (why typing is asked) and ``holds`` (lines with whether each is urgent: the apply's
    write-blocking lock holds) stay on screen above the input at any size, ``body`` scrolls."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("y", "confirm", "Confirm", show=False),
    ]

    quit_confirmation = False  # the app's "quit while a run is active?" (asked once)
    compact = False  # one-line input and buttons (a dialog with more to show at 80x24)

    def __init__(
        self,
        title: str,
        body: str,
        typed: str | None = None,
        *,
        verb: str = "Apply",
        reasons: list[str] | None = None,
        holds: list[tuple[str, bool]] | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.typed = typed
        self.verb = verb
        self.reasons = reasons or []
        self.holds = holds or []
        self.compact = self.compact or bool(self.holds and typed)  # one-line input and buttons: room for both

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(Text(self.title_text, style="bold"))
            with VerticalScroll(id="confirm-scroll"):
                yield Static(Text(self.body), id="confirm-body")  # Text: no markup in SQL or rule ids
            if self.holds:
                held = Text()  # one line each, cut at the edge (app.tcss): the body has them whole
                for number, (line, urgent) in enumerate(self.holds):
                    held.append(("\n" if number else "") + line, style="bold yellow" if urgent else "")
                yield Static(held, id="confirm-holds")
            if self.reasons:
                yield Static(Text("\n".join(self.reasons), style="bold red"), id="confirm-reasons")
            yield from self.compose_extra()
            if self.typed:
                yield Label(Text(f"Type {self.typed!r} to {self.verb.lower()}:"), id="confirm-prompt")
                yield Input(placeholder=self.typed, id="confirm-input", compact=self.compact)
                yield Static("", id="confirm-feedback")
            with Horizontal(id="confirm-buttons"):
                yield Button(
                    f"{self.verb} (y)" if not self.typed else self.verb,
                    variant="warning",
                    id="confirm-yes",
                    compact=self.compact,
                )
                yield from self.compose_buttons()
                yield Button("Cancel (esc)", id="confirm-no", compact=self.compact)

    def compose_extra(self) -> ComposeResult:
        """Widgets between the reasons and the typed input (a subclass's)."""
        yield from ()

    def compose_buttons(self) -> ComposeResult:
        """Buttons between the confirm and cancel buttons (a subclass's)."""
        yield from ()

    def drop_typed(self) -> None:
        """The reason for typing is gone: ``y`` confirms again."""
        self.typed = None
        for selector in ("#confirm-prompt", "#confirm-input", "#confirm-feedback"):
            for widget in self.query(selector):
                widget.display = False
        self.query_one("#confirm-yes", Button).label = f"{self.verb} (y)"

    def on_mount(self) -> None:
        # typing goes to the input when a typed confirmation is needed; otherwise "y" / enter confirm
        found = self.query("#confirm-input" if self.typed else "#confirm-yes")
        if found:  # absent when the dialog was closed before it mounted
            found.first().focus()
        self.call_after_refresh(self._fit_body)

    def on_resize(self) -> None:
        for scroll in self.query("#confirm-scroll"):
            scroll.styles.max_height = None  # app.tcss's again, then fitted
        self.call_after_refresh(self._fit_body)

    def _fit_body(self) -> None:
        """The scrolled body gives up rows until the dialog fits the screen: what stays on screen (holds,
        reasons, the typed input, the buttons) is what the operator must see to answer."""
        boxes, scrolls = self.query("#confirm-box"), self.query("#confirm-scroll")
        if not boxes or not scrolls:
            return
        excess = boxes.first().outer_size.height - self.size.height
        if excess > 0:
            scroll = scrolls.first()
            scroll.styles.max_height = max(2, scroll.outer_size.height - excess)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm-yes":
            self.action_confirm()
        elif event.button.id == "confirm-no":
            self.dismiss(False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_confirm()

    def action_confirm(self) -> None:
        if self.typed:
            value = self.query_one("#confirm-input", Input).value.strip()
            if value != self.typed:
                shown = f"{value!r} is not {self.typed!r}" if value else f"nothing typed: type {self.typed!r}"
                self.query_one("#confirm-feedback", Static).update(Text(shown, style="bold red"))
                return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class ApplyScreen(Screen):
    screen_key = "apply-screen"  # one open at a time (MigtuiApp.open_screen)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cancel_run", "Cancel run"),
        Binding("R", "retry", "Retry"),
        Binding("C", "session('cancel')", "Cancel query"),
        Binding("K", "session('terminate')", "Terminate"),
        Binding("i", "details", "Details"),
        Binding("escape", "back", "Back"),
        Binding("1", "tab('tab-sessions')", "Sessions", show=False),
        Binding("2", "tab('tab-locks')", "Locks", show=False),
        Binding("3", "tab('tab-long')", "Long tx", show=False),
        Binding("4", "tab('tab-progress')", "Progress", show=False),
    ]

    class Planned(Message):
        def __init__(
            self,
            current: tuple[str, ...],
            plan: list[str],
            error: str | None,
            exit_code: int = 0,
            stalled: bool = False,  # the error is a server that stopped answering
        ) -> None:
            super().__init__()
            self.current = current
            self.plan = plan
            self.error = error
            self.exit_code = exit_code
            self.stalled = stalled

    class RunnerEvent(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class Stalled(Message):
        def __init__(self, exit_code: int, line: str) -> None:
            super().__init__()
            self.exit_code = exit_code
            self.line = line

    class RunDone(Message):
        def __init__(self, ok: bool, summary: str, exit_code: int) -> None:
            super().__init__()
            self.ok = ok
            self.summary = summary
            self.exit_code = exit_code

    def __init__(self, settings, target: str = "head") -> None:
        super().__init__()
        self.settings = dataclasses.replace(
            settings, progress_interval=min(settings.progress_interval or TUI_PROGRESS_INTERVAL, TUI_PROGRESS_INTERVAL)
        )
        self.target = target
        self.plan: list[str] = []
        self.status: dict[str, str] = {}  # revision -> "pending" | "running" | "done" | "failed"
        self.seconds: dict[str, float] = {}
        self.running_revision: str | None = None
        self.revision_started: float | None = None
        self.first_started: dict[str, float] = {}  # revision -> when its first attempt started
        self.statement: str = ""
        self.statement_index: int | None = None
        self.waiting_for: str = ""
        self.progress_text: str = ""
        # planning | confirm | running | cancelling | stalled | done | failed | cancelled
        self.state = "planning"
        self.planning_stalled = False  # planning ended FAILED: its server stopped answering
        self.summary = ""
        self.exit_code: int | None = None
        self._cancel = Cancel()
        self._ended = threading.Event()  # set when the run worker returns (the revision committed or rolled back)
        self.events: list[Event] = []
        self.risks: list[str] = []
        self.in_the_way: list[str] = []  # pre-flight: sessions holding locks on the plan's tables, long transactions
        self.in_the_way_sessions: list = []  # the same, as migtui.pg.sessions.SessionFacts (empty: it could not run)
        self.target_relations: set[str] = set()
        self.lint: dict | None = None  # the planning's lint, per revision (None: it could not run)
        self.holds = None  # migtui.tui.apply_holds.PlanHolds of the plan

    def compose(self) -> ComposeResult:
        yield Static(
            Text(f"Apply · {redact_dsn(self.settings.dsn)} · planning…"),
            id="apply-header",
            classes="title-bar",
        )
        with VerticalScroll(id="apply-progress"):
            yield Static("", id="apply-revisions")
        # wrapped: a runner event cut at the screen's edge would lose what it waits for
        yield RichLog(id="apply-log", wrap=True, markup=False, max_lines=500, min_width=20)
        yield MonitorPanel(
            self.settings.dsn, self.settings.monitor_interval, watched_relations=None, id="apply-monitor"
        )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#apply-progress").border_title = "Revisions"
        self.query_one("#apply-log").border_title = "Runner events"
        self.set_interval(0.25, self._render_progress)
        self._plan()

    # -- plan + confirm ----------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="apply-plan", exit_on_error=False)
    def _plan(self) -> None:
        from migtui.project.load import load_project
        from migtui.project.status import plan_revisions

        try:
            current = bounded(
                "reading the version table",
                lambda: read_version_for_planning(self.settings),
                planning_bound(self.settings.dsn),
            )
            plan = plan_revisions(load_project(self.settings), "up", self.target, current)
            self.risks = self._risks(plan)
            if plan:
                from migtui.tui.apply_holds import plan_holds

                self.holds = plan_holds(plan, self.lint, getattr(self.app, "dry_run_holds", None))
            self.in_the_way = self._preflight() if plan else []
            self.post_message(self.Planned(current, plan, None))
        except MigtuiError as exc:
            stalled = isinstance(exc, PlanningStalled)
            self.post_message(self.Planned((), [], exc.message, int(exc.exit_code), stalled=stalled))
        except Exception as exc:  # on screen, never a "planning…" that waits for nothing
            line = f"planning failed: {exc.__class__.__name__}: {one_line(str(exc), 200)}"
            self.post_message(self.Planned((), [], line, int(ExitCode.INTERNAL)))

    def _preflight(self) -> list[str]:
        """Sessions in the plan's way: holding or waiting for locks on its tables, or in a long transaction
        (the DDL would queue behind them and every reader and writer of the table behind the DDL)."""
        from migtui.pg.monitor import DEFAULT_LONG_TRANSACTION_SECONDS
        from migtui.pg.sessions import STATEMENT_TIMEOUT_SECONDS, preflight

        try:
            found = bounded(
                "reading pg_locks and pg_stat_activity (pre-flight)",
                lambda: preflight(self.settings.dsn, self.target_relations, DEFAULT_LONG_TRANSACTION_SECONDS),
                planning_bound(self.settings.dsn, max(PLANNING_STATEMENT_SECONDS, STATEMENT_TIMEOUT_SECONDS)),
            )
        except PlanningStalled:
            raise
        except MigtuiError as exc:
            return [f"pre-flight could not run: {exc.message}"]
        self.in_the_way_sessions = found
        lines = []
        for s in found:
            held = f": {', '.join(s.locks)}" if s.locks else ""
            lines.append(f"{s.describe()}{held}")
        return lines

    def _risks(self, plan: list[str]) -> list[str]:
        """Lines about error / destructive findings in ``plan`` (they require a typed confirmation)."""
        if not plan:
            return []
        from migtui.tui.lint_summary import lint_revisions

        try:
            lint = watched("linting the pending revisions", lambda: lint_revisions(self.settings), self.settings.dsn)
        except PlanningStalled:
            raise
        except Exception as exc:  # cannot tell what the plan does: make the operator type it
            return [f"lint could not run ({one_line(str(exc), 120)}): confirm by typing"]
        self.lint = lint
        lines = []
        # the tables the plan locks: the monitor's "Long tx" tab then lists transactions holding locks on them
        self.target_relations = {
            lock["relation"]
            for rev in plan
            if rev in lint
            for st in lint[rev].statements
            for lock in st.get("locks", ())
        }
        for rev in plan:
            item = lint.get(rev)
            if item is None or not item.needs_typed_confirmation:
                continue
            for f in item.findings:
                if f.get("approved") is None and (f["severity"] == "error" or f in item.destructive):
                    lines.append(f"{rev}: {f['severity']} [{f['rule']}] {one_line(str(f['message']), 90)}")
        return lines

    def on_apply_screen_planned(self, message: Planned) -> None:
        if self not in self.app.screen_stack:  # closed while planning: nothing to confirm
            return
        if message.error:
            self._finish(False, message.error, message.exit_code or int(ExitCode.USAGE))
            if message.stalled:
                # reads of the app's other views wait on that server too, in threads the process's exit would
                # join: q ends the process at once, with this line and exit 6, as from a STALLED run
                self.planning_stalled = True
                self._render_header()
                stalled = getattr(self.app, "run_stalled", None)
                if stalled is not None:
                    stalled(self.exit_code, message.error)
            return
        self.plan = message.plan
        self.status = {rev: "pending" for rev in self.plan}
        if self.target_relations:
            panel = self.query_one(MonitorPanel)
            panel.watched_relations = self.target_relations
            panel.long_transaction = TARGET_TABLE_TX_SECONDS
        if not self.plan:
            self._finish(True, f"nothing to apply: already at {', '.join(message.current) or 'base'}", 0)
            return
        self.state = "confirm"
        body = (
            f"target: {redact_dsn(self.settings.dsn)}\n"
            f"now at: {', '.join(message.current) or 'base'}\n"
            f"apply {len(self.plan)} revision(s), one transaction each:\n  "
            + "\n  ".join(self.plan)
            + f"\n\ntimeout {self.settings.timeout:g}s per revision · lock_timeout {self.settings.lock_timeout:g}s"
            f" × {self.settings.lock_retries} retries"
        )
        holds: list[tuple[str, bool]] = []
        if self.holds is not None:
            from migtui.tui.apply_holds import body_lines, on_screen

            body += "\n\n" + "\n".join(body_lines(self.holds))
            # the fixed part shares 24 rows with the reasons and the typed input
            holds = on_screen(self.holds, 2 if self.in_the_way_sessions else 4 if not self.risks else 3)
        typed = None
        reasons: list[str] = []
        if self.risks:
            from migtui.pg.dsn import database_name

            typed = database_name(self.settings.dsn) or "apply"
            reasons = ["error / destructive findings:", *self.risks[:4]]
            if len(self.risks) > 4:
                reasons.append(f"… and {len(self.risks) - 4} more (lint view: l)")
        if self.in_the_way_sessions:  # wait, terminate or proceed (typed), in the pre-flight dialog
            from migtui.pg.dsn import database_name
            from migtui.pg.monitor import DEFAULT_LONG_TRANSACTION_SECONDS
            from migtui.tui.screens.preflight import PreflightScreen

            self.app.push_screen(
                PreflightScreen(
                    f"Upgrade to {self.target}?",
                    body,
                    database_name(self.settings.dsn) or "apply",
                    reasons=reasons,
                    holds=holds,
                    risky=bool(self.risks),
                    sessions=self.in_the_way_sessions,
                    dsn=self.settings.dsn,
                    relations=self.target_relations,
                    long_seconds=DEFAULT_LONG_TRANSACTION_SECONDS,
                    recheck_seconds=max(0.5, 2 * self.settings.monitor_interval),
                ),
                self._confirmed,
            )
            self._render_header()
            return
        if self.in_the_way:  # the pre-flight could not run
            from migtui.pg.dsn import database_name

            typed = typed or database_name(self.settings.dsn) or "apply"
            reasons += ["sessions in the way (wait: esc, retry later; terminate: K in the Monitor view):"]
            reasons += [f"  {one_line(line, 110)}" for line in self.in_the_way[:3]]
            if len(self.in_the_way) > 3:
                reasons.append(f"  … and {len(self.in_the_way) - 3} more")
        self.app.push_screen(
            ConfirmScreen(f"Upgrade to {self.target}?", body, typed=typed, reasons=reasons, holds=holds),
            self._confirmed,
        )
        self._render_header()

    def _confirmed(self, yes: bool | None) -> None:
        if self not in self.app.screen_stack:
            return
        if not yes:
            self.state = "cancelled"
            self.summary = "not applied (cancelled at confirmation)"
            self._render_header()
            self.app.pop_screen()
            return
        self.state = "running"
        self._render_header()
        self._run()

    # -- run -----------------------------------------------------------------------------------------------
    def _sink(self, event: Event) -> None:  # runner thread(s)
        # never raise into the runner: after the app is gone (a crash exit) posting fails, and a raising sink
        # would stop the runner's watcher before it cancels the statement it was asked to cancel
        with contextlib.suppress(Exception):
            self.post_message(self.RunnerEvent(event))

    @work(thread=True, exclusive=True, group="apply-run", exit_on_error=False)
    def _run(self) -> None:
        from migtui.runner.job import UpOptions, run_up

        try:
            post_outcome(
                self.post_message,
                lambda: run_up(
                    self.settings, UpOptions(self.target, cancel=self._cancel, on_stall=self._stalled), self._sink
                ),
                self._run_done,
            )
        finally:
            self._ended.set()

    def _stalled(self, exit_code: int, line: str) -> None:  # a watchdog thread of the runner
        with contextlib.suppress(Exception):
            self.post_message(self.Stalled(exit_code, line))

    def _run_done(self, report: RunReport | None, error: str | None, exit_code: int) -> Message:
        if report is None:
            return self.RunDone(False, error or "", exit_code)
        done = f"applied {len(report.applied)} revision(s) in {report.seconds:.2f}s"
        if report.already_current:
            done = "nothing to apply (another deploy already did it)"
        return self.RunDone(True, done, 0)

    def on_apply_screen_runner_event(self, message: RunnerEvent) -> None:
        event = message.event
        self.events.append(event)
        if isinstance(event, RevisionStarted):
            self.running_revision = event.revision
            self.status[event.revision] = "running"
            # a lock retry starts the revision again: elapsed stays against the timeout of the whole revision
            self.revision_started = self.first_started.setdefault(event.revision, time.monotonic())
            self.statement, self.statement_index, self.waiting_for, self.progress_text = "", None, "", ""
        elif isinstance(event, StatementStarted):
            self.statement, self.statement_index = event.sql, event.index
            self.waiting_for = ""
        elif isinstance(event, Progress):
            self.waiting_for = f"waiting for {event.waiting_for}" if event.waiting_for else ""
            self.progress_text = event.progress
            if event.statement:
                self.statement = event.statement
        elif isinstance(event, LockWait):
            # the runner's detail is a sentence of its own ("<revision> waits for ... held by pid ...")
            self.waiting_for = event.detail or f"waiting for {event.what} lock held by pid {event.holder_pid}"
        elif isinstance(event, RevisionFinished):
            self.status[event.revision] = "done"
            self.seconds[event.revision] = event.seconds
            self.running_revision = None
        elif isinstance(event, RevisionFailed):
            self.status[event.revision] = "failed"
            self.seconds[event.revision] = event.seconds
            self.running_revision = None
        line = event_line(event)
        if line:
            self.query_one("#apply-log", RichLog).write(line)
        self._render_progress()

    def on_apply_screen_stalled(self, message: Stalled) -> None:
        if self.state not in ("running", "cancelling"):  # the run ended meanwhile: its outcome stands
            return
        self.state = "stalled"
        self.summary = message.line
        self.exit_code = message.exit_code
        self.query_one("#apply-log", RichLog).write(Text(f"stalled: {message.line}", style="bold red"))
        self._render_header()
        self._render_progress()
        stalled = getattr(self.app, "run_stalled", None)
        if stalled is not None:
            stalled(message.exit_code, message.line)

    def on_apply_screen_run_done(self, message: RunDone) -> None:
        cancelled = self._cancel.cancelled and not message.ok
        self._finish(
            message.ok,
            ("cancelled by operator: " if cancelled else "") + message.summary,
            message.exit_code,
            cancelled=cancelled,
        )

    def _finish(self, ok: bool, summary: str, exit_code: int, cancelled: bool = False) -> None:
        self.state = "done" if ok else ("cancelled" if cancelled else "failed")
        self.summary = summary
        self.exit_code = exit_code
        self.running_revision = None
        self._render_header()
        self._render_progress()
        for screen in self.app.screen_stack:
            reload = getattr(screen, "action_reload", None)
            if reload is not None and screen is not self:
                reload()
        run_ended = getattr(self.app, "run_ended", None)
        if run_ended is not None:
            run_ended()

    # -- cancel ----------------------------------------------------------------------------------------------
    def action_cancel_run(self) -> None:
        if self.state == "stalled":
            self.notify("the server does not answer: nothing can be cancelled there; q quits", severity="warning")
            return
        if self.state != "running":
            self.notify("nothing is running", severity="warning")
            return
        self.state = "cancelling"
        self._render_header()
        self._cancel.cancel()  # the runner stops its statement; it may take a moment to roll back

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer shows only what the state allows: cancel while running, retry after a failure."""
        if action == "cancel_run":
            return self.state == "running"
        if action == "retry":
            return self.state in ("failed", "cancelled")
        return True

    def action_session(self, action: str) -> None:
        from migtui.tui.session_actions import act_on_selected

        act_on_selected(self, self.query_one(MonitorPanel), action)

    def action_retry(self) -> None:
        """From FAILED or CANCELLED: plan again and ask again (the database may have moved meanwhile)."""
        if self.state not in ("failed", "cancelled"):
            self.notify("retry is for a failed or cancelled apply", severity="warning")
            return
        if self.app.refuse_if_busy("retry"):
            return
        if self.planning_stalled:  # planning again: q is an ordinary quit unless the server is still silent
            self.planning_stalled = False
            self.app.run_ended()
        self.state, self.summary, self.exit_code = "planning", "", None
        self.status, self.seconds, self.events, self.first_started = {}, {}, [], {}
        self.in_the_way, self.in_the_way_sessions = [], []
        self._cancel, self._ended = Cancel(), threading.Event()
        self.query_one("#apply-log", RichLog).clear()
        self._render_header()
        self._render_progress()
        self._plan()

    @property
    def blocks_quit(self) -> bool:
        # stalled too: the run may still end if the server comes back, and no other write may start meanwhile
        return self.state in ("running", "cancelling", "stalled")

    display_title = "Apply"

    @property
    def running(self) -> bool:
        """Planning, confirming or running: opening Apply again shows this one instead of replacing it."""
        return self.state in ("planning", "confirm", "running", "cancelling", "stalled")

    def cancel_for_crash(self) -> tuple[threading.Event, str, str] | None:
        """The app is going down: cancel the run (the revision's transaction rolls back) and say what to wait
        for. None when nothing runs."""
        if not self.blocks_quit or self.state == "stalled":  # a stalled run's thread waits on a silent server
            return None
        self._cancel.cancel()
        return (
            self._ended,
            "the running migration was cancelled and rolled back",
            "the running migration was cancelled but had not ended",
        )

    def action_back(self) -> None:
        if self.state == "stalled":
            self.notify(f"the server stopped answering: q quits migtui (exit {self.exit_code})", severity="warning")
            return
        if self.state in ("running", "cancelling"):
            self.notify("a run is in progress: press c to cancel it first", severity="warning")
            return
        self.app.pop_screen()

    # -- rendering -------------------------------------------------------------------------------------------
    def _render_header(self) -> None:
        self.refresh_bindings()
        styles = {
            "planning": "dim",
            "confirm": "yellow",
            "running": "bold cyan",
            "cancelling": "bold yellow",
            "stalled": "bold red",
            "done": "bold green",
            "failed": "bold red",
            "cancelled": "bold yellow",
        }
        text = Text(f"Apply to {self.target} · {redact_dsn(self.settings.dsn)}\n")
        text.append(self.state.upper(), style=styles.get(self.state, ""))
        if self.state == "stalled" or self.planning_stalled:
            text.append(f" · q quits with exit {self.exit_code}", style="bold")
        if self.summary:
            text.append(f" · {self.summary}")
        elif self.plan:
            text.append(f" · {len(self.plan)} revision(s)")
        self.query_one("#apply-header", Static).update(text)

    def _render_progress(self) -> None:
        """One line per revision (cut at the edge: the id comes first); the running revision's statement, what
        it waits for and its progress wrap under it (``i`` shows them whole)."""
        parts: list[Text | Padding] = []
        marks = {
            "pending": ("○", "dim"),
            "running": ("▶", "bold cyan"),
            "done": ("✓", "green"),
            "failed": ("✗", "bold red"),
        }
        for rev in self.plan:
            state = self.status.get(rev, "pending")
            mark, style = marks[state]
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{mark} {rev}", style=style)
            if rev in self.seconds:
                line.append(f" {self.seconds[rev]:.2f}s", style="dim")
            parts.append(line)
            if state == "running" and self.revision_started is not None:
                elapsed = time.monotonic() - self.revision_started
                timeout = self.settings.timeout
                line.append(f"  elapsed {age_words(elapsed)} / timeout {age_words(timeout) if timeout else 'none'} ")
                if timeout:
                    filled = min(20, int(20 * elapsed / timeout))
                    line.append("█" * filled + "░" * (20 - filled), style="red" if elapsed > timeout * 0.8 else "cyan")
                # indented as a block: a wrapped line stays under its revision
                if self.statement:
                    index = f"[{self.statement_index}] " if self.statement_index is not None else ""
                    parts.append(Padding(Text(f"{index}{one_line(self.statement, 300)}", style="italic"), (0, 0, 0, 4)))
                if self.waiting_for:
                    parts.append(Padding(Text(self.waiting_for, style="bold yellow"), (0, 0, 0, 4)))
                if self.progress_text:
                    parts.append(Padding(Text(self.progress_text, style="cyan"), (0, 0, 0, 4)))
        self.query_one("#apply-revisions", Static).update(Group(*parts))

    def details_text(self) -> Text:
        """Everything the progress pane may cut: the running statement whole, what it waits for, its progress,
        the outcome."""
        out = Text()
        out.append(f"{self.state.upper()}", style="bold")
        if self.summary:
            out.append(f" · {self.summary}")
        out.append("\n")
        for rev in self.plan:
            out.append(f"\n{rev}: {self.status.get(rev, 'pending')}")
            if rev in self.seconds:
                out.append(f" ({self.seconds[rev]:.2f}s)")
        if self.running_revision:
            out.append(f"\n\nrunning {self.running_revision}", style="bold")
            if self.revision_started is not None:
                out.append(
                    f"\nelapsed {age_words(time.monotonic() - self.revision_started)}"
                    f" of the revision's timeout {age_words(self.settings.timeout)}"
                )
            if self.statement:
                index = f" [{self.statement_index}]" if self.statement_index is not None else ""
                out.append(f"\n\nstatement{index}:\n", style="bold")
                out.append(self.statement.strip())
            if self.waiting_for:
                out.append(f"\n\n{self.waiting_for}", style="yellow")
            if self.progress_text:
                out.append(f"\n\nprogress: {self.progress_text}", style="cyan")
        return out

    def action_details(self) -> None:
        from migtui.tui.screens.detail import DetailScreen

        self.app.push_screen(DetailScreen(f"Apply to {self.target}", self.details_text()))

    def action_tab(self, tab_id: str) -> None:
        from textual.widgets import TabbedContent

        self.query_one(MonitorPanel).query_one(TabbedContent).active = tab_id
