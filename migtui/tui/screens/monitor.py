"""Monitor screen: the live lock / activity panel, full screen."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from migtui.redact import redact_dsn
from migtui.tui.widgets.monitor_panel import MonitorPanel


class MonitorScreen(Screen):
    """``migtui monitor --dsn URL`` and the shell's Monitor view."""

    screen_key = "monitor-screen"  # one open at a time (MigtuiApp.open_screen)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "toggle_pause", "Pause"),
        Binding("C", "session('cancel')", "Cancel query"),
        Binding("K", "session('terminate')", "Terminate"),
        Binding("escape", "back", "Back", show=True),
        Binding("1", "tab('tab-sessions')", "Sessions", show=False),
        Binding("2", "tab('tab-locks')", "Locks", show=False),
        Binding("3", "tab('tab-long')", "Long tx", show=False),
        Binding("4", "tab('tab-progress')", "Progress", show=False),
    ]

    def __init__(self, dsn: str, interval: float, long_transaction: float = 60.0, standalone: bool = False):
        super().__init__()
        self.dsn = dsn
        self.interval = interval
        self.long_transaction = long_transaction
        self.standalone = standalone

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Monitor · {redact_dsn(self.dsn)}"), classes="title-bar")
        yield MonitorPanel(self.dsn, self.interval, long_transaction=self.long_transaction, id="monitor")
        yield Footer()

    def action_session(self, action: str) -> None:
        from migtui.tui.session_actions import act_on_selected

        act_on_selected(self, self.query_one(MonitorPanel), action)

    def action_tab(self, tab_id: str) -> None:
        from textual.widgets import TabbedContent

        self.query_one(TabbedContent).active = tab_id

    def action_toggle_pause(self) -> None:
        panel = self.query_one(MonitorPanel)
        panel.paused = not panel.paused
        self.notify("monitor paused" if panel.paused else "monitor resumed")

    def action_back(self) -> None:
        if self.standalone:
            self.app.exit()
        else:
            self.app.pop_screen()
