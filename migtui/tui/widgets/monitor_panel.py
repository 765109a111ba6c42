"""The live monitor panel: lock tree, sessions, locks, long transactions and progress.

Polls ``migtui.pg.monitor.Monitor`` every ``interval`` seconds in a thread worker that only posts messages;
skips a tick while the previous poll still runs and while its screen is not the active one.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from migtui.errors import MigtuiError
from migtui.pg.monitor import (
    DEFAULT_LONG_TRANSACTION_SECONDS,
    MONITOR_APPLICATION_NAME,
    Monitor,
    MonitorSample,
    age_words,
    format_age,
    one_line,
)
from migtui.tui import prefetch

# how long the first poll waits for the sample read at launch (a connect that hangs has its own timeout)
FIRST_SAMPLE_WAIT_SECONDS = 10.0


def is_migtui_session(application_name: str) -> bool:
    """Sessions of migtui itself (the runner), other than the monitor's own connection."""
    return application_name.startswith("migtui") and application_name != MONITOR_APPLICATION_NAME


class MonitorPanel(Vertical):
    """Live pg_locks / pg_stat_activity view of one database."""

    class SampleReady(Message):
        def __init__(self, sample: MonitorSample) -> None:
            super().__init__()
            self.sample = sample

    class PollFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(
        self,
        dsn: str,
        interval: float = 1.0,
        *,
        long_transaction: float = DEFAULT_LONG_TRANSACTION_SECONDS,
        watched_relations: set[str] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, classes="monitor-panel")
        self.dsn = dsn
        self.interval = interval
        self.long_transaction = long_transaction
        self.watched_relations = watched_relations
        self.monitor = Monitor(dsn, interval)
        self.sample: MonitorSample | None = None
        self.error: str | None = None
        self.polls = 0
        self._busy = False
        self.paused = False
        self._tab_of = {
            "sessions": "tab-sessions",
            "locks": "tab-locks",
            "long-tx": "tab-long",
            "progress": "tab-progress",
        }
        self._rows: dict[str, tuple[list[tuple], list[str] | None]] = {}
        self._shown: dict[str, list[tuple]] = {}

    def compose(self) -> ComposeResult:
        yield Static("monitor: connecting…", id="monitor-status", classes="status-line")
        with VerticalScroll(id="lock-tree-box"):
            yield Static("", id="lock-tree")
        with TabbedContent(id="monitor-tabs"):
            with TabPane("Sessions", id="tab-sessions"):
                yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
            with TabPane("Locks", id="tab-locks"):
                yield DataTable(id="locks", cursor_type="row", zebra_stripes=True)
            with TabPane("Long tx", id="tab-long"):
                yield DataTable(id="long-tx", cursor_type="row")
            with TabPane("Progress", id="tab-progress"):
                yield DataTable(id="progress", cursor_type="row")

    def on_mount(self) -> None:
        if not self.query("#lock-tree-box") or not self.query("#progress"):
            return  # its screen was closed right after it opened: the children are already gone
        self.query_one("#lock-tree-box").border_title = "Lock tree (who blocks whom)"
        self.query_one("#sessions", DataTable).add_columns(
            "pid", "application", "state", "wait", "xact", "blocked by", "query"
        )
        self.query_one("#locks", DataTable).add_columns("pid", "mode", "granted", "object", "waited")
        self.query_one("#long-tx", DataTable).add_columns("pid", "application", "xact age", "state", "query")
        self.query_one("#progress", DataTable).add_columns("pid", "progress")
        # the standalone monitor's first sample, read at launch (migtui.tui.prefetch): in the first frame when it
        # is back already, else the first poll waits for it instead of reading again
        started, snap = prefetch.take(prefetch.monitor_sample_key(self.dsn), timeout=0)
        if started:
            self._show_sample(snap)  # the next poll on the interval
        else:
            self.poll()
        self.set_interval(self.interval, self.poll)

    def on_unmount(self) -> None:
        self.monitor.close()

    # -- polling ---------------------------------------------------------------------------------------
    @property
    def visible_now(self) -> bool:
        return self.is_attached and self.app.screen is self.screen and self.display

    def poll(self) -> None:
        if self._busy or self.paused or not self.visible_now:
            return
        self._busy = True
        self._fetch()

    @work(thread=True, group="monitor", exit_on_error=False)
    def _fetch(self) -> None:
        try:
            started, snap = (False, None)
            if self.polls == 0:
                started, snap = prefetch.take(prefetch.monitor_sample_key(self.dsn), timeout=FIRST_SAMPLE_WAIT_SECONDS)
            if not started:
                snap = self.monitor.sample()
        except MigtuiError as exc:
            self.post_message(self.PollFailed(exc.message))
        except Exception as exc:  # never let a poll kill the app
            self.post_message(self.PollFailed(f"{exc.__class__.__name__}: {one_line(str(exc), 100)}"))
        else:
            self.post_message(self.SampleReady(snap))
        finally:
            self._busy = False

    def on_monitor_panel_poll_failed(self, message: PollFailed) -> None:
        message.stop()
        self.error = message.error
        status = self.query_one("#monitor-status", Static)
        text = Text(f"monitor: {message.error} (retrying every {self.interval:g}s", style="bold red")
        if self.sample is not None:  # how stale what is still on screen is
            text.append(f"; last sample {age_words(time.time() - self.sample.taken_at)} old", style="bold red")
        text.append(")", style="bold red")
        status.update(text)

    def on_monitor_panel_sample_ready(self, message: SampleReady) -> None:
        message.stop()
        self._show_sample(message.sample)

    def _show_sample(self, snap: MonitorSample) -> None:
        self.error = None
        self.polls += 1
        self.sample = snap
        self._render_status(snap)
        self._render_tree(snap)
        self._render_sessions(snap)
        self._render_locks(snap)
        self._render_long(snap)
        self._render_progress(snap)

    # -- rendering -------------------------------------------------------------------------------------
    def _render_status(self, snap: MonitorSample) -> None:
        blocked = len(snap.blocked)
        text = Text()
        text.append(f"PG {snap.server_version} · {snap.database} · ")
        text.append(f"{len(snap.sessions)} sessions · {len(snap.locks)} locks · ")
        text.append(f"{blocked} blocked", style="bold red" if blocked else "green")
        text.append(f" · every {self.interval:g}s")
        self.query_one("#monitor-status", Static).update(text)

    def _render_tree(self, snap: MonitorSample) -> None:
        """One line per session: roots (blockers waiting for nobody) first, waiters indented under them."""
        out = Text(no_wrap=True, overflow="ellipsis")
        if not snap.lock_tree:
            out.append("nobody is blocked", style="dim")
        for root in snap.lock_tree:
            for depth, node in root.walk():
                pad = "  " * depth
                session = snap.session(node.pid)
                mine = session is not None and is_migtui_session(session.application_name)
                app = (session.application_name or session.backend_type) if session else "gone"
                who = f"pid {node.pid} [{app}]"
                if node.edge is None:
                    out.append(f"{pad}● ", style="bold red")
                    out.append(who, style="bold" + (" magenta" if mine else ""))
                    if session is not None:
                        out.append(f" {session.state or '-'} xact {format_age(session.xact_age)}: ", style="dim")
                        out.append(one_line(session.query, 200), style="dim")
                else:
                    out.append(f"{pad}└ ", style="yellow")
                    out.append(who, style="magenta" if mine else "")
                    out.append(" " + node.edge.describe() + (" (cycle)" if node.cycle else ""), style="yellow")
                    if session is not None:
                        out.append(f" · {format_age(session.query_age)}: {one_line(session.query, 200)}", style="dim")
                out.append("\n")
        out.rstrip()
        self.query_one("#lock-tree", Static).update(out)

    def _fill(self, table_id: str, rows: list[tuple], keys: list[str] | None = None) -> None:
        """Remember ``rows`` for ``table_id``; redraw the table only if it is the visible tab and they changed."""
        self._rows[table_id] = (rows, keys)
        if self._tab_of[table_id] != self.query_one(TabbedContent).active:
            return
        if self._shown.get(table_id) == rows:
            return
        self._shown[table_id] = rows
        table = self.query_one(f"#{table_id}", DataTable)
        cursor = table.cursor_row
        table.clear()
        for index, row in enumerate(rows):
            # Text, not str: DataTable reads a str as markup, and a query with "[/x]" in it would raise
            cells = [Text(cell) if isinstance(cell, str) else cell for cell in row]
            table.add_row(*cells, key=keys[index] if keys else None)
        if cursor and cursor < table.row_count:
            table.move_cursor(row=cursor)

    def selected_pid(self) -> int | None:
        """The pid of the row under the cursor in the visible tab (the first column of every tab is the pid)."""
        tab_ids = {tab: table for table, tab in self._tab_of.items()}
        table_id = tab_ids.get(self.query_one(TabbedContent).active)
        if table_id is None:
            return None
        table = self.query_one(f"#{table_id}", DataTable)
        if not table.row_count:
            return None
        try:
            return int(str(table.get_row_at(table.cursor_row)[0]))
        except (ValueError, IndexError):
            return None

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        for table_id, tab_id in self._tab_of.items():
            if tab_id == event.pane.id and table_id in self._rows:
                self._fill(table_id, *self._rows[table_id])

    def _render_sessions(self, snap: MonitorSample) -> None:
        blocking = set(snap.blocking_pids)
        rows = []
        for s in snap.sessions:
            style = "bold red" if s.blocked_by else ("yellow" if s.pid in blocking else "")
            if is_migtui_session(s.application_name):
                style += " magenta" if not style else ""
            rows.append(
                (
                    Text(str(s.pid), style=style),
                    one_line(s.application_name or s.backend_type, 18),
                    s.state or "-",
                    s.wait or "",
                    format_age(s.xact_age),
                    ",".join(str(p) for p in s.blocked_by),
                    one_line(s.query, 60),
                )
            )
        self._fill("sessions", rows, [str(s.pid) for s in snap.sessions])

    def _render_locks(self, snap: MonitorSample) -> None:
        """Waiting locks first; migtui's own sessions (the runner) in magenta."""
        apps = {sess.pid: sess.application_name for sess in snap.sessions}
        rows = [
            (
                Text(str(lk.pid), style="magenta" if is_migtui_session(apps.get(lk.pid, "")) else ""),
                lk.mode,
                Text("yes", style="green") if lk.granted else Text("WAITING", style="bold red"),
                one_line(lk.target, 40),
                format_age(lk.wait_seconds) if not lk.granted else "",
            )
            for lk in sorted(snap.locks, key=lambda lk: (lk.granted, lk.pid))
        ]
        self._fill("locks", rows)

    def _render_long(self, snap: MonitorSample) -> None:
        rows = [
            (
                str(s.pid),
                one_line(s.application_name, 18),
                format_age(s.xact_age),
                s.state or "-",
                one_line(s.query, 50),
            )
            for s in snap.long_transactions(self.long_transaction, self.watched_relations)
        ]
        self._fill("long-tx", rows)
        tab = self.query_one(TabbedContent).get_tab("tab-long")
        label = f"Long tx ({len(rows)})" if rows else "Long tx"
        if tab.label_text != label:
            tab.label = label

    def _render_progress(self, snap: MonitorSample) -> None:
        self._fill("progress", [(str(p.pid), p.describe()) for p in snap.progress])
