"""Help screen: every key and what it does, per view."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

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
| `l` | lint: every finding and its safe rewrite |
| `d` | dry-run on the replica (--replica), results live |
| `b` | rollback test on an embedded scratch server, results live |
| `p` | phases: zero-downtime revisions, backfill progress, gates |

**Monitor**

| key | action |
|---|---|
| `p` | pause / resume polling |
| `←` `→` on the tabs | sessions, locks, long transactions, progress |
| `escape` | back |

**Phases**

| key | action |
|---|---|
| `v` | advance the selected revision one stage (confirmation) |
| `x` | abort it (type the revision id to confirm) |
| `r` | refresh now (it refreshes every 2 s) |

**Apply**

| key | action |
|---|---|
| `c` | cancel the running upgrade (the revision rolls back) |
| `escape` | back when finished |

The monitor polls on its own connection (`application_name` = `migtui-monitor`), every query under a
`statement_timeout` shorter than the refresh period, leaving its own backend out. Sessions of migtui's
runner are shown in magenta, blocked sessions in red, blockers in yellow.
"""


def help_renderable() -> Text:
    """HELP_TEXT (a small markdown subset: headings, **bold** lines, tables, paragraphs) as rich Text.

    A plain Static renders in a few milliseconds; textual's Markdown widget took hundreds while a run was on.
    """
    out = Text()
    for line in HELP_TEXT.splitlines():
        if line.startswith("# "):
            out.append(line[2:] + "\n", style="bold underline")
        elif line.startswith("**") and line.endswith("**"):
            out.append("\n" + line.strip("*") + "\n", style="bold")
        elif line.startswith("|---") or line == "| key | action |":
            continue
        elif line.startswith("|"):
            key, action = (cell.strip() for cell in line.strip("|").split("|", 1))
            out.append(f"  {key.replace('`', ''):<14}", style="bold cyan")
            out.append(action.replace("`", "") + "\n")
        else:
            out.append(line.replace("`", "") + "\n")
    out.rstrip()
    return out


class HelpScreen(ModalScreen):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_renderable(), id="help")
