"""Migrations view (home): revisions with state, target and replica, the selected revision's SQL and file."""

from __future__ import annotations

import threading
from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.geometry import Region
from textual.message import Message
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import DataTable, Footer, Static

from migtui.errors import MigtuiError
from migtui.tui.overview import (
    Overview,
    RevisionRow,
    ServerInfo,
    ServerPoller,
    load_overviews,
    prefetched_overview,
    render_revision_sql,
)
from migtui.tui.text import middle_ellipsis
from migtui.tui.widgets.table import MeasuredTable
from migtui.tui.worker import post_outcome

STATE_STYLE = {
    "current": ("● current", "bold green"),
    "applied": ("✓ applied", "green"),
    "pending": ("○ pending", "bold yellow"),
    "unknown": ("? unknown", "dim"),
}

COMPACT_BELOW = 120  # screen width under which the state column shows only its glyph
# the longest the work the first screen does not show (alembic's check of the revisions, the lint, the SQL
# rendering, syntax highlighting) waits for that screen to be painted with its data
FIRST_PAINT_WAIT_SECONDS = 2.0
# the revisions table takes at most this share of the screen's width, the detail pane the rest: at 80 columns
# that is 51, room for 31-character revision ids
TABLE_SHARE = 0.64
WIDE_TABLE_SHARE = 0.5  # from COMPACT_BELOW columns on, with the description column
TABLE_MIN_WIDTH = 34
HEAD_SUFFIX = " head"
BADGE_WIDTH = 4  # lint ("✗12") and lock ("SUE") badges, and their headers
CELL_PADDING = 2  # DataTable's cell padding, both sides
TABLE_CHROME = 3  # round border (2) and the vertical scrollbar (1, app.tcss)


def _lag(info: ServerInfo) -> str:
    parts = []
    if info.lag_bytes is not None:
        parts.append(f"{info.lag_bytes} B")
    if info.lag_seconds is not None:
        parts.append(f"{info.lag_seconds:.1f}s")
    return "lag " + " / ".join(parts) if parts else "lag ?"


def server_line(info: ServerInfo | None, label: str) -> Text:
    """``target  at <revision> · PG 16 user@host:port/db`` (the replica's lag after its revision): the
    revision first, so a narrow screen cuts the address, not the revision."""
    text = Text(f"{label:<8}", style="bold")
    if info is None:
        text.append("none (pass --dsn)" if label == "target" else "none", style="dim")
        return text
    if info.error:
        text.append(f"{info.dsn} · ", style="dim")
        text.append(info.error, style="bold red")
        return text
    current = ", ".join(info.current) or "base"
    text.append(f"at {current}", style="green")
    if info.in_recovery:
        text.append(f" · {_lag(info)}", style="cyan")
    text.append(f" · PG {info.version} {info.dsn}")
    return text


def phase_label(item: dict) -> Text:
    """``[expand] `` for a statement or finding of a phased revision (the phase that runs it), as the CLI's
    text shows it; empty otherwise."""
    return Text(f"[{item['phase']}] ", style="bold") if item.get("phase") else Text("")


def _finding_text(f: dict, with_phase: bool = False) -> Text:
    style = {"error": "bold red", "warning": "bold yellow"}.get(f.get("severity", ""), "cyan")
    out = Text(f"  {f.get('severity')} [{f.get('rule')}] ", style=style)
    if with_phase:  # a file-level finding: no statement line above it carries the phase
        out.append_text(phase_label(f))
    out.append(str(f.get("message", "")))
    if f.get("approved") is not None:
        out.append(f" (approved: {f['approved']})", style="green")
    out.append("\n")
    if f.get("hint"):
        out.append(f"    hint: {f['hint']}\n", style="dim")
    return out


class HeaderLine(Static):
    """The servers' line; ``drawn`` once it was drawn for a frame that is written (not in a batch update)."""

    drawn = False

    def render_lines(self, crop: Region) -> list[Strip]:
        if not self.app._batch_count:
            self.drawn = True
        return super().render_lines(crop)


class MigrationsScreen(Screen):
    """Home view. Loads in a worker; never blocks rendering."""

    screen_key = "migrations-screen"  # one open at a time (MigtuiApp.open_screen)

    BINDINGS: ClassVar[list[BindingType]] = [
        # first, so the footer shows it even at 80 columns, where the view's other keys do not all fit
        Binding("question_mark,f1", "app.help", "Help"),
        Binding("r", "reload", "Reload"),
        Binding("m", "app.monitor", "Monitor"),
        Binding("a", "app.apply", "Apply"),
        Binding("u", "apply_selected", "Up to selected"),
        Binding("l", "app.lint", "Lint"),
        Binding("d", "app.job('dry-run')", "Dry-run"),
        Binding("b", "app.job('rollback-test')", "Rollback test"),
        Binding("p", "app.phases", "Phases"),
        Binding("s", "app.drift", "Drift"),
    ]

    class OverviewLoaded(Message):
        def __init__(self, overview: Overview) -> None:
            super().__init__()
            self.overview = overview

    class DetailRendered(Message):
        def __init__(self, revision: str, sql: str | None, error: str | None) -> None:
            super().__init__()
            self.revision = revision
            self.sql = sql
            self.error = error

    class LintLoaded(Message):
        def __init__(self, lint: dict | None, error: str | None) -> None:
            super().__init__()
            self.lint = lint
            self.error = error

    class ServersPolled(Message):
        def __init__(self, target: ServerInfo | None, replica: ServerInfo | None) -> None:
            super().__init__()
            self.target = target
            self.replica = replica

    def __init__(self, settings, lint: bool = True) -> None:
        super().__init__()
        self.settings = settings
        self._poller = ServerPoller(settings)
        self._polling = False
        self.servers_polls = 0  # header refreshes since the view opened
        self._revision_width = 8
        self._head_suffix = True
        self.overview: Overview | None = None
        self._rows: dict[str, RevisionRow] = {}
        self._shown: str | None = None
        self._detail: tuple[str | None, str | None] = (None, None)  # (sql, error) of the shown revision
        self.lint: dict | None = None  # revision -> RevisionLint, once the lint worker reports (never with --no-lint)
        self.lint_error: str | None = None
        self.lint_state = "pending"
        if not lint:
            self.lint_state = "off"
        # set once the revisions with their database state are on screen (docs/tui.md, "Start-up")
        self.painted = threading.Event()
        self._paint_pending = False
        self._columns_width = -1  # the screen width the columns were laid out for
        self._table: MeasuredTable | None = None
        self._header: HeaderLine | None = None

    def compose(self) -> ComposeResult:
        yield HeaderLine("loading…", id="servers", classes="title-bar")
        with Horizontal(id="migrations-body"):
            yield MeasuredTable(id="revisions", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="detail"):
                yield Static("Select a revision to see its SQL.", id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        self._table, self._header = self.query_one("#revisions", MeasuredTable), self.query_one(HeaderLine)
        self._compact = self.app.size.width < COMPACT_BELOW
        self._add_columns()
        self.query_one("#detail").border_title = "Revision"
        self.query_one("#revisions").border_title = "Revisions"
        # back from the launch's prefetch already: in the first frame, without a "loading…" frame before it
        shown = prefetched_overview(self.settings)
        if shown is not None:
            self._show_overview(shown)
        self._load(shown)
        if self.settings.dsn or self.settings.replica_dsn:
            self.set_interval(max(0.1, self.settings.monitor_interval), self._tick_servers)

    def _add_columns(self) -> None:
        table = self.query_one("#revisions", DataTable)
        table.clear(columns=True)
        # fixed: every state label is 9 cells; below COMPACT_BELOW columns only its glyph, so the revision
        # ids stay readable at 80x24 (the word is in the detail pane)
        state_width = 1 if self._compact else 9
        table.add_column("" if self._compact else "state", width=state_width)
        table.add_column("lint", width=BADGE_WIDTH)
        table.add_column("lock", width=BADGE_WIDTH)
        # explicit widths from the data: DataTable's auto-width waits for an idle pass, which a busy app may
        # not get before it paints (columns then stay as narrow as their headers)
        revisions = self.overview.revisions if self.overview is not None and not self.overview.project_error else []
        ids = max([len("revision"), *(len(r.revision) for r in revisions)])
        revision_width = max([ids, *(len(r.revision) + len(HEAD_SUFFIX) for r in revisions if r.is_head)])
        description_width = min(max([len("description"), *(len(r.description) for r in revisions)]), 200)
        # the table is as wide as its data, up to TABLE_SHARE of the screen; what does not fit there is the
        # revision id, cut in the middle (_revision_cell), never the columns before it
        fixed = state_width + 2 * BADGE_WIDTH + 3 * CELL_PADDING + TABLE_CHROME
        width = self._columns_width = self.app.size.width
        room = max(TABLE_MIN_WIDTH, int(width * TABLE_SHARE))
        if not self._compact:  # half the screen, more (up to TABLE_SHARE) when the ids and some description need it
            room = max(int(width * WIDE_TABLE_SHARE), min(fixed + revision_width + 2 * CELL_PADDING + 30, room))
        self._revision_width = max(8, min(revision_width, room - fixed - CELL_PADDING))
        # narrow, and the ids need the room: the head's id in the head's color, no " head" after it (the word
        # is in the detail pane)
        self._head_suffix = not self._compact or self._revision_width >= revision_width
        if not self._head_suffix:
            self._revision_width = max(8, min(ids, room - fixed - CELL_PADDING))
        wanted = fixed + CELL_PADDING + self._revision_width
        if not self._compact:  # the description takes what is left (cut at its end: whole in the detail pane)
            description_width = max(len("description"), min(description_width, room - wanted - CELL_PADDING))
            wanted += CELL_PADDING + description_width
        table.styles.width = max(TABLE_MIN_WIDTH, min(room, wanted))
        table.add_column("revision", width=self._revision_width)
        if not self._compact:  # narrow: the description is the detail pane's second line
            table.add_column("description", width=description_width)

    def _revision_cell(self, r: RevisionRow) -> Text:
        """The revision id in the column's width (cut in the middle if it must be), ``head`` after it, or the
        head's id in the head's color where the ids need the room."""
        if not self._head_suffix:
            return Text(middle_ellipsis(r.revision, self._revision_width), style="bold cyan" if r.is_head else "")
        suffix = len(HEAD_SUFFIX) if r.is_head else 0
        rev = Text(middle_ellipsis(r.revision, self._revision_width - suffix))
        if r.is_head:
            rev.append(HEAD_SUFFIX, style="bold cyan")
        return rev

    def _compositor_refresh(self) -> None:
        # Textual writes a frame here, unless the app is in a batch update (its start-up is one), when nothing is
        # drawn; ``call_after_refresh`` runs during that batch too, and the deferred work (alembic's import)
        # would then delay the first frame it waits for. A frame may hold only some widgets (the footer): the
        # table's rows must have been drawn for it.
        super()._compositor_refresh()
        if not self._paint_pending or self.app._batch_count or self.app.screen is not self:
            return
        table, header = self._table, self._header  # queried once, at mount: this runs for every frame
        if table is not None and header is not None and table.drew_rows and header.drawn:
            self._paint_pending = False
            self.painted.set()

    def on_resize(self, event) -> None:
        # widths depend on the screen's (the revision column's room, the state column's form); Textual sends
        # several Resize events at start-up with the same width: laying the table out again for each would
        # draw it again before the first frame
        if self.app.size.width == self._columns_width:
            return
        self._compact = event.size.width < COMPACT_BELOW
        self._add_columns()
        self._fill_table()

    # -- loading ---------------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="overview", exit_on_error=False)
    def _load(self, shown: Overview | None = None) -> None:
        posted = shown is not None
        try:
            if shown is not None:  # alembic's import (the check below) waits until the first frame is out
                self.painted.wait(FIRST_PAINT_WAIT_SECONDS)
            # fast first (unless ``shown`` is on screen already), then alembic's where it differs
            for overview in load_overviews(self.settings, shown):
                self.post_message(self.OverviewLoaded(overview))
                posted = True
                self.painted.wait(FIRST_PAINT_WAIT_SECONDS)
        except Exception as exc:  # on screen, never a "loading…" that waits for nothing (r reloads)
            if not posted:
                from migtui.pg.monitor import one_line

                line = f"cannot load the project: {exc.__class__.__name__}: {one_line(str(exc), 200)}"
                self.post_message(self.OverviewLoaded(Overview(project_error=line)))
        finally:
            # whatever stopped alembic's check, the lint still runs and says it on screen (its own project
            # error): never a "linting…" that waits for nothing
            if self.lint_state != "off":
                self._lint()

    @work(thread=True, exclusive=True, group="lint", exit_on_error=False)
    def _lint(self) -> None:
        from migtui.tui.lint_summary import lint_revisions

        post_outcome(
            self.post_message,
            lambda: lint_revisions(self.settings),
            lambda lint, error, _code: self.LintLoaded(lint, error),
            crash_prefix="lint failed: ",
        )

    def on_migrations_screen_lint_loaded(self, message: LintLoaded) -> None:
        self.lint, self.lint_error = message.lint, message.error
        self.lint_state = "error" if message.error else "done"
        self._fill_table()
        row = self.selected()
        if row is not None:
            self._show_detail(row, *self._detail)

    def _render_servers(self, target: ServerInfo | None, replica: ServerInfo | None) -> None:
        ov = self.overview
        header = Text(no_wrap=True, overflow="ellipsis")
        header.append_text(server_line(target, "target"))
        if replica is not None:
            header.append("\n")
            header.append_text(server_line(replica, "replica"))
        if ov is not None and ov.unknown_current:
            header.append(
                f"\nversion table has revisions not in the project: {', '.join(ov.unknown_current)}",
                style="bold red",
            )
        self.query_one("#servers", Static).update(header)

    # -- the header's figures, read again on the monitor interval ------------------------------------------
    def _tick_servers(self) -> None:
        # skipped while another view covers this one, while the overview loads and while a read is under way
        if self._polling or self.overview is None or self.app.screen is not self:
            return
        self._polling = True
        self._poll_servers()

    @work(thread=True, exclusive=True, group="servers", exit_on_error=False)
    def _poll_servers(self) -> None:
        try:
            target, replica = self._poller.poll()
            self.post_message(self.ServersPolled(target, replica))
        finally:
            self._polling = False

    def on_migrations_screen_servers_polled(self, message: ServersPolled) -> None:
        ov = self.overview
        if ov is None:
            return
        self.servers_polls += 1
        self._render_servers(message.target, message.replica)
        known = ov.target.current if ov.target is not None and ov.target.error is None else None
        fresh = message.target.current if message.target is not None and message.target.error is None else None
        if fresh is not None and known is not None and fresh != known:  # another deploy moved the target
            self.action_reload()

    def on_unmount(self) -> None:
        self._poller.close()

    def on_migrations_screen_overview_loaded(self, message: OverviewLoaded) -> None:
        self._show_overview(message.overview)

    def _show_overview(self, ov: Overview) -> None:
        self.overview = ov
        self._render_servers(ov.target, ov.replica)
        # painted is set by the first frame written with the header and the rows (_compositor_refresh)
        self._paint_pending = True
        self.query_one(HeaderLine).drawn = False

        self._rows = {r.revision: r for r in ov.revisions}
        if ov.project_error:
            self.query_one("#revisions", DataTable).clear()
            self.query_one("#detail-body", Static).update(Text(ov.project_error, style="bold red"))
            return
        self._fill_table()

    def _fill_table(self) -> None:
        ov = self.overview
        if ov is None or ov.project_error:
            return
        table = self.query_one("#revisions", DataTable)
        table.border_title = f"{len(ov.revisions)} revisions, {len(ov.pending)} pending"
        previous = self._shown
        self._add_columns()  # clears the rows too; widths follow the data
        for r in ov.revisions:
            label, style = STATE_STYLE.get(r.state, (r.state, ""))
            if self._compact:
                label = label.split(" ", 1)[0]
            rev = self._revision_cell(r)
            lint_badge, lock_badge = self._badges(r.revision)
            cells = [Text(label, style=style), lint_badge, lock_badge, rev]
            if not self._compact:
                cells.append(r.description)
            table.add_row(*cells, key=r.revision)
        if previous in self._rows:
            table.move_cursor(row=table.get_row_index(previous))

    def _badges(self, revision: str) -> tuple[Text, Text]:
        from migtui.tui.lint_summary import LOCK_BADGE

        if self.lint is None:
            return Text(""), Text("")
        item = self.lint.get(revision)
        if item is None:
            return Text("", style="dim"), Text("")
        counts = item.counts
        if counts["error"]:
            lint = Text(f"✗{counts['error']}", style="bold red")
        elif counts["warning"]:
            lint = Text(f"!{counts['warning']}", style="bold yellow")
        elif counts["info"]:
            lint = Text(f"i{counts['info']}", style="cyan")
        else:
            lint = Text("✓", style="green")
        strongest = item.strongest_lock
        lock = Text("")
        if strongest is not None:
            badge = LOCK_BADGE.get(strongest[0], "?")
            lock = Text(
                badge, style="bold red" if badge in ("AE", "E") else ("yellow" if badge in ("S", "SRE") else "")
            )
        return lint, lock

    # -- detail ------------------------------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "revisions" or event.row_key is None:
            return
        row = self._rows.get(str(event.row_key.value))
        if row is None:
            return
        self._shown = row.revision
        self._detail = (None, None)
        detail = self.query_one("#detail")
        room = detail.size.width - 6  # the border's corners and title padding
        title = f"Revision {row.revision}"
        # (before the first layout the pane has no width yet: the whole title, cut by the border if need be)
        detail.border_title = title if len(title) <= room or room < 8 else middle_ellipsis(row.revision, room)
        self._show_detail(row, None, None)
        self._render_sql(row)

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def _render_sql(self, row: RevisionRow) -> None:
        try:
            self.painted.wait(FIRST_PAINT_WAIT_SECONDS)
            sql = render_revision_sql(self.settings, row)
            self.post_message(self.DetailRendered(row.revision, sql, None))
        except MigtuiError as exc:
            self.post_message(self.DetailRendered(row.revision, None, exc.message))

    def on_migrations_screen_detail_rendered(self, message: DetailRendered) -> None:
        row = self._rows.get(message.revision)
        if row is not None and message.revision == self._shown:
            self._detail = (message.sql, message.error)
            self._show_detail(row, message.sql, message.error)

    def _show_detail(self, row: RevisionRow, sql: str | None, error: str | None) -> None:
        label, style = STATE_STYLE.get(row.state, (row.state, ""))
        head = Text()
        head.append(f"{row.revision}", style="bold")
        head.append(f"  {label}", style=style)
        if row.is_head:
            head.append("  head", style="bold cyan")
        head.append(f"\n{row.description}\n", style="italic")
        head.append(f"down: {', '.join(row.down_revisions) or 'base'}\nfile: {row.path.name}\n\n")
        parts: list = [head, self._lint_detail(row), Text("\nSQL (alembic offline rendering)", style="bold underline")]
        if sql is None and error is None:
            parts.append(Text(self._waiting_word("rendering…"), style="dim"))
        elif error:
            parts.append(Text(error, style="bold red"))
        else:
            parts.append(self._code(sql.strip() or "-- no SQL", "sql"))
        try:
            source = row.path.read_text(encoding="utf-8")
        except OSError as exc:
            source = f"# cannot read {row.path}: {exc}"
        parts.append(Text("\nFile", style="bold underline"))
        parts.append(self._code(source, "python"))
        self.query_one("#detail-body", Static).update(Group(*parts))

    def _code(self, code: str, lexer: str):  # type: ignore[no-untyped-def]
        """Highlighted code; plain until the first screen is painted (pygments compiles its lexer's patterns on
        first use, a tenth of a second): the rendered SQL that follows shows it highlighted."""
        if not self.painted.is_set():
            return Text(code)
        from rich.syntax import Syntax

        return Syntax(code, lexer, word_wrap=True, theme="ansi_dark")

    def _waiting_word(self, working: str) -> str:
        """``working``, or why it waits: alembic's env.py runs one at a time in this process (ENV_LOCK), so
        rendering and linting wait while a migration runs (in a worker: the screen stays live)."""
        busy = self.app.busy_screen() if self.is_attached else None
        return "waiting for the running migration (env.py runs one at a time)…" if busy is not None else working

    def _lint_detail(self, row: RevisionRow) -> Text:
        out = Text("Lint", style="bold underline")
        out.append("\n")
        if self.lint_state == "off":
            out.append("off (--no-lint); press l to lint", style="dim")
            return out
        if self.lint_state == "pending":
            out.append(self._waiting_word("linting…"), style="dim")
            return out
        if self.lint_error:
            out.append(self.lint_error, style="bold red")
            return out
        item = (self.lint or {}).get(row.revision)
        if item is None:
            out.append(
                "not linted (already applied to the target)" if row.state != "pending" else "no statements", style="dim"
            )
            return out
        for st in item.statements:
            out.append(f"line {st.get('line')}: ", style="dim")
            out.append_text(phase_label(st))
            out.append(" ".join(str(st.get("sql", "")).split())[:200] + "\n", style="italic")
            for lock in st.get("locks", ()):
                blocks = ", ".join(lock.get("blocks", ())) or "nothing"
                style = "bold red" if lock["mode"] == "AccessExclusiveLock" else "yellow"
                out.append(f"  {lock['mode']} on {lock['relation']}", style=style)
                out.append(f" (blocks {blocks})\n", style="dim")
            for what in st.get("rewrites", ()):
                out.append(f"  rewrites {what}\n", style="red")
            for what in st.get("scans", ()):
                out.append(f"  scans {what}\n", style="yellow")
            for f in st.get("findings", ()):
                out.append_text(_finding_text(f))
        file_level = [f for f in item.findings if not any(f in st.get("findings", ()) for st in item.statements)]
        for f in file_level:
            out.append_text(_finding_text(f, with_phase=True))
        if not item.findings:
            out.append("no findings\n", style="green")
        out.rstrip()
        return out

    def action_apply_selected(self) -> None:
        row = self.selected()
        if row is None or row.state != "pending":
            self.notify("select a pending revision first", severity="warning")
            return
        self.app.action_apply(row.revision)

    def selected(self) -> RevisionRow | None:
        return self._rows.get(self._shown or "")
