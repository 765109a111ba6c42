"""Drift view: run ``run_drift`` against the target in a worker, then browse the drifted objects as a tree
(kind -> object), expected vs actual side by side for the selected one, and its fix SQL.

The engine decides everything (the same ``DriftReport`` ``migtui drift`` prints); its events stream into the
status line while it runs. Pending revisions are listed in their own branch: they are not drift.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static, Tree

from migtui.events import Event, Finding, RunStarted
from migtui.events import Message as EngineMessage
from migtui.tui.text import middle_ellipsis
from migtui.tui.worker import post_outcome

# colours readable on the dark and the light theme
CHANGE_MARK = {"added": ("+", "bold green"), "removed": ("-", "bold red"), "modified": ("~", "bold dark_orange")}
STATE_STYLE = {"running": "bold cyan", "no drift": "bold green", "drift": "bold dark_orange", "error": "bold red"}


def _run_drift(settings, sink) -> Any:
    """The engine call (job thread): the same one ``migtui drift`` makes, with the same cache."""
    from migtui.drift.job import DriftOptions, run_drift

    return run_drift(settings, DriftOptions(), sink)


class DriftScreen(Screen):
    screen_key = "drift-screen"  # one open at a time (MigtuiApp.open_screen)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "rerun", "Run again"),
        Binding("y", "copy_fix", "Copy fix SQL"),
        Binding("escape", "back", "Back"),
    ]

    class DriftEvent(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class DriftDone(Message):
        def __init__(self, report: Any, error: str | None) -> None:
            super().__init__()
            self.report = report
            self.error = error

    def __init__(self, settings) -> None:
        super().__init__()
        self.settings = settings
        self.state = "running"
        self.report: Any = None
        self.error: str | None = None
        self.status = ""
        self.findings = 0
        self.events: list[Event] = []  # the engine's events of the current run, as they arrived
        self.selected: tuple[str, str, list[int]] | None = None  # (kind, name, indexes) in the detail pane

    def compose(self) -> ComposeResult:
        yield Static("", id="drift-header", classes="title-bar")
        with Horizontal(id="drift-body"):
            yield Tree("drift", id="drift-tree")
            with VerticalScroll(id="drift-detail"):
                yield Static("", id="drift-detail-body")
        yield Footer()

    def on_mount(self) -> None:
        tree = self.query_one("#drift-tree", Tree)
        tree.show_root = False
        tree.border_title = "Objects"
        self.query_one("#drift-detail").border_title = "Expected vs actual"
        self.action_rerun()

    # -- running ----------------------------------------------------------------------------------------------
    def action_rerun(self) -> None:
        if self.state == "running" and self.status:
            self.notify("the drift check is still running", severity="warning")
            return
        self.state, self.report, self.error, self.findings = "running", None, None, 0
        self.events.clear()
        self.status = "reading the target…"
        self.query_one("#drift-tree", Tree).clear()
        self._show_detail(Text("Comparing the target's schema with what its recorded migrations produce…"))
        self._render_header()
        self._run()

    def _sink(self, event: Event) -> None:  # worker thread
        self.post_message(self.DriftEvent(event))

    @work(thread=True, exclusive=True, group="drift", exit_on_error=False)
    def _run(self) -> None:
        post_outcome(
            self.post_message,
            lambda: _run_drift(self.settings, self._sink),
            lambda report, error, _code: self.DriftDone(report, error),
        )

    def on_drift_screen_drift_event(self, message: DriftEvent) -> None:
        event = message.event
        self.events.append(event)
        if isinstance(event, RunStarted):
            self.status = "inspecting the target's catalog…"
        elif isinstance(event, EngineMessage):
            self.status = event.text
        elif isinstance(event, Finding):
            self.findings += 1
            self.status = f"{self.findings} difference(s) so far"
        self._render_header()

    def on_drift_screen_drift_done(self, message: DriftDone) -> None:
        self.report, self.error = message.report, message.error
        if message.error:
            self.state = "error"
            self._show_detail(Text(message.error, style="bold red"))
        else:
            self.state = "drift" if self.report.drifted else "no drift"
            self._fill_tree()
        self._render_header()

    # -- rendering --------------------------------------------------------------------------------------------
    def _render_header(self) -> None:
        text = Text("Drift · ")
        text.append(self.state.upper(), style=STATE_STYLE.get(self.state, ""))
        report = self.report
        if report is not None:
            if report.drifted:
                text.append(f" · {len(report.objects())} object(s), {len(report.differences)} difference(s)")
            current = ", ".join(report.current) or "base"
            at = "head" if not report.pending else f"{len(report.pending)} pending"
            text.append(f"\n{report.target} · at {current} ({at})", style="dim")
            source = "from cache" if report.expected_source == "cache" else "built now"
            text.append(f"\nexpected: {report.expected_server}, {source}", style="dim")
        elif self.state == "running":
            text.append(f" · {self.status}")
        elif self.error:
            text.append(f"\n{self.error}", style="red")
        self.query_one("#drift-header", Static).update(text)

    def _fill_tree(self) -> None:
        from migtui.render.drift import object_groups

        report = self.report
        tree = self.query_one("#drift-tree", Tree)
        tree.clear()
        groups = object_groups(report)
        by_kind: dict[str, list[tuple[str, list[int]]]] = {}
        for (kind, name), indexes in groups.items():
            by_kind.setdefault(kind, []).append((name, indexes))
        # the tree's width in app.tcss (40 %, 30..60 columns) less its border, scrollbar, guides and mark: what
        # does not fit is cut in the middle, so both ends of a name or revision id stay readable
        room = max(12, min(60, max(30, int(self.app.size.width * 0.4))) - 10)
        for kind, objects in by_kind.items():
            branch = tree.root.add(Text(f"{kind} ({len(objects)})", style="bold"), expand=True)
            for name, indexes in objects:
                change = report.differences[indexes[0]].change
                mark, style = CHANGE_MARK.get(change, ("?", ""))
                label = Text(f"{mark} ", style=style)
                label.append(middle_ellipsis(name, room))
                branch.add_leaf(label, data=("object", kind, name, indexes))
        if report.pending:
            branch = tree.root.add(
                Text(f"pending revisions, not drift ({len(report.pending)})", style="bold cyan"),
                data=("pending",),
                expand=True,
            )
            for item in report.pending:
                label = Text(f"○ {middle_ellipsis(item['revision'], room)}", style="cyan")
                label.append(f"  {item['description']}", style="dim")
                branch.add_leaf(label, data=("pending",))
        if report.drifted:
            first = tree.root.children[0].children[0]
            tree.focus()
            _ = tree.last_line  # numbers the tree's lines now (else on the next idle), so the cursor can move
            tree.move_cursor(first)
            self._show_object(*first.data[1:])
        else:
            self._show_detail(self._summary())

    def _summary(self) -> RenderableType:
        report = self.report
        out = Text()
        if not report.drifted:
            out.append("No drift", style="bold green")
            out.append(": the schema matches the migrations at the recorded revision.\n")
        checked = ", ".join(report.checked) or "none"
        out.append(f"\nchecked: everything incl. {checked}\n", style="dim")
        if report.excluded:
            out.append(f"excluded: {', '.join(report.excluded)}\n", style="dim")
        for note in report.notes:
            if "pending revision" not in note:  # the pending revisions are listed below
                out.append(f"note: {note}\n", style="yellow")
        if report.pending:
            out.append("\npending revisions (not drift):\n", style="bold cyan")
            for item in report.pending:
                out.append(f"  {item['revision']}  {item['description']}\n")
        return out

    def _show_object(self, kind: str, name: str, indexes: list[int]) -> None:
        from migtui.render.drift import CHANGE_TITLES, NO_FIX, attribute_rows, cells

        self.selected = (kind, name, indexes)
        report = self.report
        change = report.differences[indexes[0]].change
        mark, style = CHANGE_MARK.get(change, ("?", ""))
        title = Text(f"{mark} {kind} {name}\n", style=style)
        title.append(CHANGE_TITLES.get(change, change), style="italic")
        table = Table(expand=True, box=None, padding=(0, 1), show_edge=False, header_style="bold")
        rows = attribute_rows(report, indexes)
        width = max([len("attribute"), *(len(name) for name in rows)])
        table.add_column("attribute", style="bold", no_wrap=True, min_width=width)
        # an object on one side only: the other side is "-" all the way down, give the width to this one
        table.add_column("expected", style="green", overflow="fold", ratio=None if change == "added" else 1)
        table.add_column("actual", style="bold", overflow="fold", ratio=None if change == "removed" else 1)
        for attribute, (want, have) in rows.items():
            left, right = cells(want, have, width=None)
            # Text, not str: DataTable reads a str as markup ("[x]" in a default would vanish or raise)
            table.add_row(Text(attribute), Text("\n".join(left)), Text("\n".join(right)))
        fixes = [report.fixes[i] for i in indexes if report.fixes[i]]
        parts: list[RenderableType] = [title, Text(""), table, Text("")]
        if fixes:
            parts.append(Text("fix:", style="bold"))
            parts.append(Syntax("\n".join(fixes), "sql", word_wrap=True, background_color="default"))
        else:
            parts.append(Text(f"fix: {NO_FIX}", style="dim"))
        self._show_detail(Group(*parts), keep_selection=True)

    def _show_detail(self, renderable: RenderableType, *, keep_selection: bool = False) -> None:
        if not keep_selection:
            self.selected = None
        self.query_one("#drift-detail-body", Static).update(renderable)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        data = event.node.data
        if self.report is None or not data:
            return
        if data[0] == "object":
            self._show_object(*data[1:])
        else:
            self._show_detail(self._summary())

    def _selected_fix(self) -> str | None:
        """The fix SQL of the object shown in the detail pane (all its statements), or None."""
        if self.report is None or self.selected is None:
            return None
        fixes = [self.report.fixes[i] for i in self.selected[2] if self.report.fixes[i]]
        return "\n".join(fixes) or None

    def action_copy_fix(self) -> None:
        """Copy the selected object's fix SQL to the clipboard (OSC 52: most terminals, not macOS Terminal)."""
        fix = self._selected_fix()
        if fix is None:
            self.notify("no fix SQL for the selection", severity="warning")
            return
        self.app.copy_to_clipboard(fix)
        self.notify("fix SQL copied to the clipboard: review it before running it")

    def action_back(self) -> None:
        if self.state == "running":
            self.notify("the drift check is still running; it cannot be interrupted from here", severity="warning")
            return
        self.app.pop_screen()
