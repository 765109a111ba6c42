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
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from migtui.errors import MigtuiError
from migtui.tui.overview import Overview, RevisionRow, ServerInfo, load_overviews, render_revision_sql
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


def _lag(info: ServerInfo) -> str:
    parts = []
    if info.lag_bytes is not None:
        parts.append(f"{info.lag_bytes} B")
    if info.lag_seconds is not None:
        parts.append(f"{info.lag_seconds:.1f}s")
    return "lag " + " / ".join(parts) if parts else "lag ?"


def server_line(info: ServerInfo | None, label: str) -> Text:
    text = Text(f"{label:<8}", style="bold")
    if info is None:
        text.append("none (pass --dsn)" if label == "target" else "none", style="dim")
        return text
    if info.error:
        text.append(f"{info.dsn} · ", style="dim")
        text.append(info.error, style="bold red")
        return text
    text.append(f"PG {info.version} {info.dsn}")
    if info.in_recovery:
        text.append(f" · {_lag(info)}", style="cyan")
    current = ", ".join(info.current) or "base"
    text.append(f" · at {current}", style="green")
    return text


def _finding_text(f: dict) -> Text:
    style = {"error": "bold red", "warning": "bold yellow"}.get(f.get("severity", ""), "cyan")
    out = Text(f"  {f.get('severity')} [{f.get('rule')}] ", style=style)
    out.append(str(f.get("message", "")))
    if f.get("approved") is not None:
        out.append(f" (approved: {f['approved']})", style="green")
    out.append("\n")
    if f.get("hint"):
        out.append(f"    hint: {f['hint']}\n", style="dim")
    return out


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

    def __init__(self, settings, lint: bool = True) -> None:
        super().__init__()
        self.settings = settings
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

    def compose(self) -> ComposeResult:
        yield Static("loading…", id="servers", classes="title-bar")
        with Horizontal(id="migrations-body"):
            yield DataTable(id="revisions", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="detail"):
                yield Static("Select a revision to see its SQL.", id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        self._compact = self.app.size.width < COMPACT_BELOW
        self._add_columns()
        self.query_one("#detail").border_title = "Revision"
        self.query_one("#revisions").border_title = "Revisions"
        self.action_reload()

    def _add_columns(self) -> None:
        table = self.query_one("#revisions", DataTable)
        table.clear(columns=True)
        # fixed: every state label is 9 cells; below COMPACT_BELOW columns only its glyph, so the revision
        # ids stay readable at 80x24 (the word is in the detail pane)
        table.add_column("" if self._compact else "state", width=1 if self._compact else 9)
        table.add_column("lint", width=4)
        table.add_column("lock", width=4)
        # explicit widths from the data: DataTable's auto-width waits for an idle pass, which a busy app may
        # not get before it paints (columns then stay as narrow as their headers)
        revisions = self.overview.revisions if self.overview is not None and not self.overview.project_error else []
        revision_width = max([len("revision"), *(len(r.revision) + (5 if r.is_head else 0) for r in revisions)])
        description_width = max([len("description"), *(len(r.description) for r in revisions)])
        table.add_column("revision", width=revision_width)
        table.add_column("description", width=min(description_width, 200))

    def on_resize(self, event) -> None:
        compact = event.size.width < COMPACT_BELOW
        if compact != self._compact:
            self._compact = compact
            self._add_columns()
            self._fill_table()

    # -- loading ---------------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="overview", exit_on_error=False)
    def _load(self) -> None:
        for overview in load_overviews(self.settings):  # fast first, then alembic's where it differs
            self.post_message(self.OverviewLoaded(overview))
            self.painted.wait(FIRST_PAINT_WAIT_SECONDS)
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

    def on_migrations_screen_overview_loaded(self, message: OverviewLoaded) -> None:
        ov = self.overview = message.overview
        header = Text(no_wrap=True, overflow="ellipsis")
        header.append_text(server_line(ov.target, "target"))
        if ov.replica is not None:
            header.append("\n")
            header.append_text(server_line(ov.replica, "replica"))
        if ov.unknown_current:
            header.append(
                f"\nversion table has revisions not in the project: {', '.join(ov.unknown_current)}",
                style="bold red",
            )
        self.query_one("#servers", Static).update(header)
        self.call_after_refresh(self.painted.set)

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
            rev = Text(r.revision)
            if r.is_head:
                rev.append(" head", style="bold cyan")
            lint_badge, lock_badge = self._badges(r.revision)
            table.add_row(Text(label, style=style), lint_badge, lock_badge, rev, r.description, key=r.revision)
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
        self.query_one("#detail").border_title = f"Revision {row.revision}"
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
            parts.append(Text("rendering…", style="dim"))
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

    def _lint_detail(self, row: RevisionRow) -> Text:
        out = Text("Lint", style="bold underline")
        out.append("\n")
        if self.lint_state == "off":
            out.append("off (--no-lint); press l to lint", style="dim")
            return out
        if self.lint_state == "pending":
            out.append("linting…", style="dim")
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
            out.append_text(_finding_text(f))
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
