"""Help screen: every key and what it does, per view."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP_TEXT = """\
# migtui — keys

**Everywhere**

| key | action |
|---|---|
| `?` / `f1` | this help |
| `ctrl+p` | command palette (every action is there) |
| `t` | toggle dark / light theme |
| `q` / `ctrl+c` | quit |

**Migrations** (home)

| key | action |
|---|---|
| `↑` `↓` | choose a revision (its SQL and file show on the right) |
| `r` | reload revisions and database state |
| `m` | live monitor of the target database |
| `a` | apply pending revisions (upgrade to head), with confirmation |
| `u` | apply up to the selected (pending) revision, with confirmation |
| `l` | lint (when available) |

**Monitor**

| key | action |
|---|---|
| `p` | pause / resume polling |
| `←` `→` on the tabs | sessions, locks, long transactions, progress |
| `escape` | back |

**Apply**

| key | action |
|---|---|
| `c` | cancel the running upgrade (the revision rolls back) |
| `escape` | back when finished |

The monitor polls on its own connection (`application_name` = `migtui-monitor`), every query under a
`statement_timeout` shorter than the refresh period, leaving its own backend out. Sessions of migtui's
runner are shown in magenta, blocked sessions in red, blockers in yellow.
"""


class HelpScreen(ModalScreen):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(HELP_TEXT, id="help")
