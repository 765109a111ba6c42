"""Help screen: every key and what it does, per view."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
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
| `q` / `ctrl+c` | quit (during an apply: asks, cancels the run, quits once it rolled back) |

**Migrations** (home)

| key | action |
|---|---|
| `↑` `↓` | choose a revision (its SQL and file show on the right) |
| `r` | reload revisions and database state |
| `m` | live monitor of the target database |
| `a` | apply pending revisions (upgrade to head), with confirmation |
| `u` | apply up to the selected (pending) revision, with confirmation |
| `l` | lint: every finding and its safe rewrite |
| `d` | dry-run on the replica (--replica-dsn), results live |
| `b` | rollback test on an embedded scratch server, results live |
| `p` | phases: zero-downtime revisions, backfill progress, gates |
| `s` | schema drift: the target's schema against its migrations |

**Monitor**

| key | action |
|---|---|
| `p` | pause / resume polling |
| `1` `2` `3` `4` | tabs: sessions, locks, long transactions, progress |
| `C` | cancel the query of the selected session (confirmation) |
| `K` | terminate the selected session (type its pid) |
| `escape` | back |

**Phases**

| key | action |
|---|---|
| `v` | advance the selected revision one stage (confirmation; into contract: type the revision id) |
| `x` | abort it (type the revision id to confirm) |
| `r` | refresh now (it refreshes every 2 s) |

**Drift**

| key | action |
|---|---|
| `↑` `↓` | choose a drifted object (expected vs actual and fix SQL on the right) |
| `y` | copy the selected object's fix SQL to the clipboard |
| `r` | run the check again |
| `escape` | back when finished |

**Apply**

| key | action |
|---|---|
| `c` | cancel the running upgrade (the revision rolls back) |
| `C` / `K` | cancel the query of / terminate the session selected in the monitor panel |
| `R` | retry a failed or cancelled apply (plan and confirm again) |
| `i` | the running revision whole: statement, what it waits for, progress |
| `1` `2` `3` `4` | monitor panel tabs: sessions, locks, long transactions, progress |
| `escape` | back when finished |

**Apply pre-flight** (sessions in the plan's way)

| key | action |
|---|---|
| `w` | wait: re-check until nobody is in the way (countdown), then confirm as usual |
| `k` | terminate the selected session (type its pid) |
| `tab` | move between the session list, the name input and the buttons |

**Lint, dry-run, rollback test**

| key | action |
|---|---|
| `enter` | the selected finding whole (dry-run, rollback test; the Lint view shows it below) |
| `r` | run again (once finished) |

The monitor polls on its own connection (`application_name` = `migtui-monitor`), every query under a
`statement_timeout` shorter than the refresh period, leaving its own backend out. Sessions of migtui's
runner are shown in magenta, blocked sessions in red, blockers in yellow.
"""


def _key_table(rows: list[tuple[str, str]]) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column(style="bold cyan", no_wrap=True, width=14)
    table.add_column(ratio=1)  # wraps under itself, not under the keys
    for key, action in rows:
        table.add_row(key, action)
    return table


def help_renderable() -> Group:
    """HELP_TEXT (a small markdown subset: headings, **bold** titles, key tables, paragraphs) as rich
    renderables: each key table is a two-column table, so a long action wraps in its own column.

    A plain Static, not textual's Markdown widget (which mounts a widget per block): the help screen must open
    at once while a run keeps the event loop busy.
    """
    parts: list = []
    rows: list[tuple[str, str]] = []
    paragraph = Text()

    def flush() -> None:
        nonlocal paragraph
        if rows:
            parts.append(_key_table(list(rows)))
            rows.clear()
        if paragraph.plain.strip():
            paragraph.rstrip()
            parts.append(paragraph)
        paragraph = Text()

    for line in HELP_TEXT.splitlines():
        if line.startswith("|---") or line == "| key | action |":
            continue
        if line.startswith("|"):
            key, action = (cell.strip().replace("`", "") for cell in line.strip("|").split("|", 1))
            rows.append((key, action))
            continue
        flush()
        if line.startswith("# "):
            parts.append(Text(line[2:], style="bold underline"))
        elif line.startswith("**"):
            title, _, rest = line[2:].partition("**")
            heading = Text("\n" + title, style="bold")
            heading.append(rest)
            parts.append(heading)
        else:
            paragraph.append(line.replace("`", "") + "\n")
    flush()
    return Group(*parts)


class HelpScreen(ModalScreen):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_renderable(), id="help")
