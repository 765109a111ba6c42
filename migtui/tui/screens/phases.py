"""Phases view: every phased (expand -> migrate -> contract) revision with its phase, backfill progress (rows/s and
ETA from successive polls), write counters and gates with their evidence; advance / abort with confirmation.

Reads ``PhaseDriver.status()`` (the same entries as ``migtui phase status --format json``) in a worker every
2 seconds while visible. Advance and abort run the driver in the job view, streaming its events.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from migtui.pg.monitor import age_words, one_line
from migtui.tui.text import age_of
from migtui.tui.worker import post_outcome

REFRESH_SECONDS = 2.0


def phases_status(settings) -> list[dict[str, Any]]:
    from migtui.phases.job import PhaseOptions, run_phase

    return run_phase(settings, PhaseOptions("status")).entries


def _phase_job(settings, action: str, revision: str, confirm_again=None):
    from migtui.render.phase import text_sink
    from migtui.tui.screens.job import JobSpec

    def run(settings, sink):
        from migtui.phases.job import PhaseOptions, run_phase

        return run_phase(settings, PhaseOptions(action, revision), sink)

    return JobSpec(
        f"phase {action}",
        f"Phase {action} {revision}",
        run,
        renderer=text_sink,
        writes=True,
        confirm_again=confirm_again,
    )


class PhasesScreen(Screen):
    screen_key = "phases-screen"  # one open at a time (MigtuiApp.open_screen)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh"),
        Binding("v", "advance", "Advance"),
        Binding("x", "abort", "Abort"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    class StatusLoaded(Message):
        def __init__(self, entries: list[dict[str, Any]] | None, error: str | None) -> None:
            super().__init__()
            self.entries = entries
            self.error = error

    def __init__(self, settings) -> None:
        super().__init__()
        self.settings = settings
        self.entries: dict[str, dict[str, Any]] = {}
        self.rates: dict[str, tuple[float, int, float | None]] = {}  # revision -> (at, rows_done, rows/s)
        self._selected: str | None = None
        self._busy = False

    def compose(self) -> ComposeResult:
        yield Static("Phases · loading…", id="phases-header", classes="title-bar")
        with Horizontal(id="phases-body"):
            yield DataTable(id="phases", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="phase-detail"):
                yield Static("", id="phase-detail-body")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#phases", DataTable).add_columns("phase", "backfill", "gates", "revision")
        self.query_one("#phase-detail").border_title = "Phase"
        self.query_one("#phases").border_title = "Phased revisions"
        self.action_refresh()
        self.set_interval(REFRESH_SECONDS, self._tick)

    def _tick(self) -> None:
        if self.app.screen is self and not self._busy:
            self.action_refresh()

    def action_refresh(self) -> None:
        self._busy = True
        self._load()

    @work(thread=True, exclusive=True, group="phases", exit_on_error=False)
    def _load(self) -> None:
        try:
            post_outcome(
                self.post_message,
                lambda: phases_status(self.settings),
                lambda entries, error, _code: self.StatusLoaded(entries, error),
            )
        finally:
            self._busy = False

    def on_phases_screen_status_loaded(self, message: StatusLoaded) -> None:
        header = self.query_one("#phases-header", Static)
        if message.error:
            header.update(Text(f"Phases · {message.error}", style="bold red"))
            return
        entries = message.entries or []
        now = time.monotonic()
        for e in entries:
            state = e.get("state") or {}
            done = int(state.get("rows_done") or 0)
            previous = self.rates.get(e["revision"])
            rate = previous[2] if previous else None
            if previous and now > previous[0] and done != previous[1]:
                rate = (done - previous[1]) / (now - previous[0])
            self.rates[e["revision"]] = (now, done, rate)
        self.entries = {e["revision"]: e for e in entries}
        header.update(Text(f"Phases · {len(entries)} phased revision(s) · refresh every {REFRESH_SECONDS:g}s"))
        table = self.query_one("#phases", DataTable)
        table.clear()
        for e in entries:
            state = e.get("state") or {}
            gates = e.get("gates") or []
            refused = sum(1 for g in gates if not g.get("passed"))
            gate_text = Text(f"{len(gates) - refused}/{len(gates)}", style="bold red" if refused else "green")
            table.add_row(e.get("phase") or "-", _backfill_short(state), gate_text, e["revision"], key=e["revision"])
        if not entries:
            self.query_one("#phase-detail-body", Static).update(
                Text("no phased revisions in this database", style="dim")
            )
        if self._selected in self.entries:
            table.move_cursor(row=table.get_row_index(self._selected))
            self._show(self._selected)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None:
            return
        self._selected = str(event.row_key.value)
        self._show(self._selected)

    def _show(self, revision: str) -> None:
        e = self.entries.get(revision)
        if e is None:
            return
        state = e.get("state") or {}
        out = Text()
        out.append(f"{revision}", style="bold")
        out.append(f"  {e.get('pattern', state.get('pattern', ''))} {state.get('target', '')}\n")
        if e.get("description"):
            out.append(f"{e['description']}\n", style="italic")
        out.append(f"\nphase     {e.get('phase') or '-'}", style="bold")
        if state:
            updated = age_of(state.get("updated_at"))
            when = f"{age_words(updated)} ago" if updated is not None else "?"
            out.append(f"  (updated {when}, runner {state.get('runner') or '-'})")
        out.append("\n")
        if state.get("cursor_end") is not None or state.get("rows_done"):
            out.append_text(_backfill_long(state, self.rates.get(revision, (0, 0, None))[2]))
        writes = e.get("writes") or {}
        if writes:
            out.append(f"writes    old path {writes.get('old_writes', 0)}, new path {writes.get('new_writes', 0)}")
            if writes.get("seconds_since_old_write") is not None:
                out.append(f", last old-path write {age_words(writes['seconds_since_old_write'])} ago")
            out.append("\n")
        out.append_text(versions_text(e))
        if state.get("error"):
            out.append(f"error     {state['error']}\n", style="bold red")
        if e.get("plan_error"):
            out.append(f"plan      {e['plan_error']}\n", style="bold red")
        for gate in e.get("gates", []):
            passed = gate.get("passed")
            out.append("gate      ")
            out.append("pass    " if passed else "REFUSED ", style="green" if passed else "bold red")
            out.append(f"{gate.get('gate')}: {gate.get('evidence')}\n")
        if e.get("next"):
            out.append(f"\nnext      {e['next']} (v to advance, x to abort)", style="cyan")
        self.query_one("#phase-detail-body", Static).update(out)

    # -- actions ---------------------------------------------------------------------------------------
    class ConfirmFacts(Message):
        """The revision's state read again just before asking (the table may be 2 s old)."""

        def __init__(self, action: str, revision: str, facts: dict[str, Any] | None, error: str | None) -> None:
            super().__init__()
            self.action = action
            self.revision = revision
            self.facts = facts
            self.error = error

    def _confirm_then(self, action: str) -> None:
        revision = self._selected
        if revision is None or revision not in self.entries:
            self.notify("select a phased revision first", severity="warning")
            return
        self.confirm_action(action, revision)

    def confirm_action(self, action: str, revision: str) -> None:
        """Read the revision's state now, then ask (typed for contract and abort); run only on yes."""
        if self.app.refuse_if_busy(f"{action} {revision}"):
            return
        self._read_facts(action, revision)

    @work(thread=True, exclusive=True, group="phase-confirm", exit_on_error=False)
    def _read_facts(self, action: str, revision: str) -> None:
        post_outcome(
            self.post_message,
            lambda: confirmation_facts(self.settings, revision),
            lambda facts, error, _code: self.ConfirmFacts(action, revision, facts, error),
        )

    def on_phases_screen_confirm_facts(self, message: ConfirmFacts) -> None:
        from migtui.tui.screens.apply import ConfirmScreen

        action, revision = message.action, message.revision
        if message.error or message.facts is None:
            self.notify(f"cannot {action} {revision}: {message.error}", severity="error")
            return
        if self.app.refuse_if_busy(f"{action} {revision}"):
            return
        title, body, typed, reasons = confirmation_text(action, revision, message.facts)

        def go(yes: bool | None) -> None:
            if yes:
                spec = _phase_job(self.settings, action, revision, lambda: self.confirm_action(action, revision))
                self.app.open_screen(JobScreen.screen_id(spec), lambda: JobScreen(self.settings, spec))

        from migtui.tui.screens.job import JobScreen

        self.app.push_screen(ConfirmScreen(title, body, typed=typed, verb=action.capitalize(), reasons=reasons), go)

    def action_advance(self) -> None:
        self._confirm_then("advance")

    def action_abort(self) -> None:
        self._confirm_then("abort")


def confirmation_facts(settings, revision: str) -> dict[str, Any]:
    """What the confirmation of a phase action shows, read now: the revision's status entry and, for its
    contract and abort, the statements those run (the plan stored at expand)."""
    from migtui.phases.driver import PhaseDriver
    from migtui.project.load import load_project

    with PhaseDriver(settings.dsn, load_project(settings), settings, lambda _event: None) as driver:
        (entry,) = driver.status(revision)
        plan = driver.plan(revision)
    return {
        "entry": entry,
        "contract": [step.description or step.sql for step in plan.contract],
        "abort": [step.description or step.sql for step in plan.abort],
        "irreversible": plan.irreversible_reason or ("" if plan.reverse_contract is not None else "no reverse"),
    }


def confirmation_text(action: str, revision: str, facts: dict[str, Any]) -> tuple[str, str, str | None, list[str]]:
    """Title, body, the name to type (None: ``y`` is enough) and the reasons typing is asked, for a phase
    action. Typed: what drops or undoes (contract, whichever key leads to it; abort)."""
    entry = facts["entry"]
    phase = entry.get("phase") or "-"
    state = entry.get("state") or {}
    body = [f"revision {revision}: phase {phase}"]
    reasons: list[str] = []
    typed = None
    if action == "advance":
        stage = entry.get("next") or "-"
        body.append(f"next stage: {stage}")
        if stage == "contract":
            typed = revision
            reasons.append("contract is irreversible: it drops the old shape")
            reasons += [f"  {one_line(step, 100)}" for step in facts.get("contract", [])]
            for gate in [g for g in entry.get("gates") or [] if not g.get("passed")]:
                reasons.append(f"  gate REFUSED {gate.get('gate')}: {one_line(str(gate.get('evidence')), 80)}")
    else:
        typed = revision
        written = int(state.get("rows_updated") or 0)
        reasons.append("abort undoes the expand: it drops what the expand added; the old path stays")
        reasons += [f"  {one_line(step, 100)}" for step in facts.get("abort", [])]
        if written:
            reasons.append(f"the backfill has written {written} row(s): they go with the new shape")
    title = f"Phase {action} {revision}" + (f" → {entry.get('next')}" if action == "advance" else "") + "?"
    return title, "\n".join(body), typed, reasons


def _backfill_short(state: dict[str, Any]) -> str:
    end, cursor = state.get("cursor_end"), state.get("cursor")
    if end:
        try:
            return f"{min(100.0, 100.0 * float(cursor or 0) / float(end)):.0f}%"
        except (TypeError, ValueError):
            return "?"
    return "-" if not state.get("rows_done") else f"{state['rows_done']} rows"


def _backfill_long(state: dict[str, Any], rate: float | None) -> Text:
    out = Text("backfill  ")
    end, cursor = state.get("cursor_end"), state.get("cursor")
    fraction = None
    try:
        if end:
            fraction = min(1.0, float(cursor or 0) / float(end))
    except (TypeError, ValueError):
        fraction = None
    if fraction is not None:
        filled = int(fraction * 24)
        out.append("█" * filled + "░" * (24 - filled), style="cyan")
        out.append(f" {fraction * 100:.0f}%")
    out.append(
        f"\n          {state.get('rows_done', 0)} rows scanned, {state.get('rows_updated', 0)} updated, "
        f"cursor {cursor} of {end}"
    )
    if rate:
        out.append(f"\n          {rate:,.0f} rows/s")
        try:
            if end and fraction is not None and fraction < 1 and rate > 0:
                rows_done = float(state.get("rows_done") or 0)
                remaining = rows_done / fraction - rows_done if fraction > 0 else None
                if remaining is not None:
                    out.append(f", ETA {age_words(remaining / rate)} (estimate from the cursor position)")
        except (TypeError, ValueError, ZeroDivisionError):
            pass
    out.append("\n")
    return out


def versions_text(entry: dict) -> Text:
    """The published application versions (versioned schemas): schema, state, recipe, and the connected
    sessions that wrote on each version's path (a session's search_path is not visible in pg_stat_activity)."""
    out = Text()
    for version in entry.get("versions") or []:
        writers = version.get("writing_sessions") or []
        out.append(f"version   {version['role']}: ", style="bold")
        out.append(f"schema {version['schema']} ({version['state']})", style="" if version["present"] else "dim")
        names = sorted({w["application_name"] for w in writers})
        out.append(f", {len(writers)} session(s) writing" + (f": {', '.join(names)}" if names else "") + "\n")
        if version["present"]:
            out.append(f"          search_path {version['search_path']}  options='{version['connection_option']}'\n")
    return out
