"""The whole text of something a view shows cut (a finding's message, the running statement): a scrollable
modal, closed with escape."""

from __future__ import annotations

from typing import ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class DetailScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(self, title: str, body: RenderableType) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(id="detail-box"):
            yield Label(Text(self.title_text, style="bold"))
            with VerticalScroll(id="detail-scroll"):
                yield Static(self.body, id="detail-text")
            yield Label(Text("esc / enter: close", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#detail-scroll").focus()  # arrows scroll a long text
