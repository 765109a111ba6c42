"""Migrations view (home): revisions with state, target and replica, the selected revision's SQL and file."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from migtui.errors import MigtuiError
from migtui.tui.overview import Overview, RevisionRow, ServerInfo, load_overview, render_revision_sql

STATE_STYLE = {
    "current": ("● current", "bold green"),
    "applied": ("✓ applied", "green"),
    "pending": ("○ pending", "bold yellow"),
    "unknown": ("? unknown", "dim"),
}


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


class MigrationsScreen(Screen):
    """Home view. Loads in a worker; never blocks rendering."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Reload"),
        Binding("m", "app.monitor", "Monitor"),
        Binding("a", "app.apply", "Apply"),
        Binding("u", "apply_selected", "Up to selected"),
        Binding("l", "app.lint", "Lint"),
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

    def __init__(self, settings) -> None:
        super().__init__(id="migrations-screen")
        self.settings = settings
        self.overview: Overview | None = None
        self._rows: dict[str, RevisionRow] = {}
        self._shown: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("loading…", id="servers", classes="title-bar")
        with Horizontal(id="migrations-body"):
            yield DataTable(id="revisions", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="detail"):
                yield Static("Select a revision to see its SQL.", id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#revisions", DataTable)
        table.add_column("state", width=9)  # fixed: every state label is 9 cells
        table.add_columns("revision", "description")
        self.query_one("#detail").border_title = "Revision"
        self.query_one("#revisions").border_title = "Revisions"
        self.action_reload()

    # -- loading ---------------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="overview", exit_on_error=False)
    def _load(self) -> None:
        self.post_message(self.OverviewLoaded(load_overview(self.settings)))

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

        table = self.query_one("#revisions", DataTable)
        table.border_title = f"{len(ov.revisions)} revisions, {len(ov.pending)} pending"
        previous = self._shown
        table.clear()
        self._rows = {r.revision: r for r in ov.revisions}
        if ov.project_error:
            self.query_one("#detail-body", Static).update(Text(ov.project_error, style="bold red"))
            return
        for r in ov.revisions:
            label, style = STATE_STYLE.get(r.state, (r.state, ""))
            rev = Text(r.revision)
            if r.is_head:
                rev.append(" head", style="bold cyan")
            table.add_row(Text(label, style=style), rev, r.description, key=r.revision)
        if previous in self._rows:
            table.move_cursor(row=table.get_row_index(previous))

    # -- detail ------------------------------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "revisions" or event.row_key is None:
            return
        row = self._rows.get(str(event.row_key.value))
        if row is None:
            return
        self._shown = row.revision
        self.query_one("#detail").border_title = f"Revision {row.revision}"
        self._show_detail(row, None, None)
        self._render_sql(row)

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def _render_sql(self, row: RevisionRow) -> None:
        try:
            sql = render_revision_sql(self.settings, row)
            self.post_message(self.DetailRendered(row.revision, sql, None))
        except MigtuiError as exc:
            self.post_message(self.DetailRendered(row.revision, None, exc.message))

    def on_migrations_screen_detail_rendered(self, message: DetailRendered) -> None:
        row = self._rows.get(message.revision)
        if row is not None and message.revision == self._shown:
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
        parts: list = [head, Text("SQL (alembic offline rendering)", style="bold underline")]
        if sql is None and error is None:
            parts.append(Text("rendering…", style="dim"))
        elif error:
            parts.append(Text(error, style="bold red"))
        else:
            parts.append(Syntax(sql.strip() or "-- no SQL", "sql", word_wrap=True, theme="ansi_dark"))
        try:
            source = row.path.read_text(encoding="utf-8")
        except OSError as exc:
            source = f"# cannot read {row.path}: {exc}"
        parts.append(Text("\nFile", style="bold underline"))
        parts.append(Syntax(source, "python", word_wrap=True, theme="ansi_dark"))
        self.query_one("#detail-body", Static).update(Group(*parts))

    def action_apply_selected(self) -> None:
        row = self.selected()
        if row is None or row.state != "pending":
            self.notify("select a pending revision first", severity="warning")
            return
        self.app.action_apply(row.revision)

    def selected(self) -> RevisionRow | None:
        return self._rows.get(self._shown or "")
