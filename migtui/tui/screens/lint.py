"""Lint view: every finding of the lint job (pending revisions when a target is set), with its hint."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from migtui.tui.text import middle_ellipsis
from migtui.tui.worker import post_outcome

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "cyan"}
SEVERITY_GLYPH = {"error": "✗", "warning": "!", "info": "i"}  # the Migrations view's lint badges
COMPACT_BELOW = 120  # screen width under which the findings table is compact
COMPACT_REVISION_WIDTH = 22


class LintScreen(Screen):
    screen_key = "lint-screen"  # one open at a time (MigtuiApp.open_screen)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "relint", "Re-lint"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    class Linted(Message):
        def __init__(self, lint: dict | None, error: str | None) -> None:
            super().__init__()
            self.lint = lint
            self.error = error

    def __init__(self, settings) -> None:
        super().__init__()
        self.settings = settings
        self.findings: list[tuple[str, dict]] = []  # (revision, finding)
        self._compact = False
        self._revision_width = COMPACT_REVISION_WIDTH

    def compose(self) -> ComposeResult:
        yield Static("Lint · running…", id="lint-header", classes="title-bar")
        with Vertical(id="lint-body"):
            yield DataTable(id="findings", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="lint-detail"):
                yield Static("", id="finding-detail")
        yield Footer()

    def on_mount(self) -> None:
        self._set_columns([])
        self.query_one("#lint-detail").border_title = "Finding"
        self.query_one("#findings").border_title = "Findings"
        self.action_relint()

    def action_relint(self) -> None:
        # alembic's env.py runs one at a time in this process: while a migration runs, lint waits for it
        busy = self.app.busy_screen()
        waiting = "waiting for the running migration (env.py runs one at a time)…" if busy is not None else ""
        self.query_one("#lint-header", Static).update(f"Lint · {waiting or 'running…'}")
        self._run()

    @work(thread=True, exclusive=True, group="lint", exit_on_error=False)
    def _run(self) -> None:
        from migtui.tui.lint_summary import lint_revisions

        post_outcome(
            self.post_message,
            lambda: lint_revisions(self.settings),
            lambda lint, error, _code: self.Linted(lint, error),
            crash_prefix="lint failed: ",
        )

    def on_lint_screen_linted(self, message: Linted) -> None:
        header = self.query_one("#lint-header", Static)
        table = self.query_one("#findings", DataTable)
        table.clear()
        if message.error:
            header.update(Text(f"Lint · {message.error}", style="bold red"))
            return
        lint = message.lint or {}
        self.findings = [(rev, f) for rev, item in lint.items() for f in item.findings]
        counts = {"error": 0, "warning": 0, "info": 0}
        for _rev, f in self.findings:
            if f.get("approved") is None:
                counts[f["severity"]] = counts.get(f["severity"], 0) + 1
        scope = "pending revisions" if self.settings.dsn else "all revisions"
        header.update(
            Text(
                f"Lint · {len(lint)} {scope} · {counts['error']} errors, {counts['warning']} warnings, "
                f"{counts['info']} info"
            )
        )
        self._set_columns(self.findings)
        for index, (rev, f) in enumerate(self.findings):
            table.add_row(*self._cells(rev, f), key=str(index))
        if not self.findings:
            self.query_one("#finding-detail", Static).update(Text("no findings", style="green"))

    def _set_columns(self, findings: list) -> None:
        """(Re)create the columns with widths computed from the findings.

        DataTable's auto-width waits for an idle pass, which a busy app may not get before it paints, leaving
        columns as narrow as their headers; explicit widths make the layout deterministic. Under COMPACT_BELOW
        columns the message comes right after where it was found (the severity a glyph, the revision id cut in
        the middle, the rule left to the detail pane), so it starts on screen at 80x24.
        """
        table = self.query_one("#findings", DataTable)
        table.clear(columns=True)
        self._compact = self.app.size.width < COMPACT_BELOW
        revisions = [str(r) for r, _f in findings]
        lines = [str(f.get("line") or "") for _r, f in findings]
        if self._compact:
            self._revision_width = min(COMPACT_REVISION_WIDTH, max([len("revision"), *map(len, revisions)]))
            table.add_column("", width=1, key="severity")
            table.add_column("revision", width=self._revision_width, key="revision")
            table.add_column("line", width=max([4, *map(len, lines)]), key="line")
            message_width = max([len("message"), *(len(_message(f)) for _r, f in findings)])
            table.add_column("message", width=min(message_width, 200), key="message")
            return
        cells = {
            "severity": [f["severity"] for _r, f in findings],
            "rule": [str(f.get("rule", "")) for _r, f in findings],
            "revision": revisions,
            "line": lines,
            "message": [_message(f) for _r, f in findings],
        }
        for name, values in cells.items():
            width = max([len(name), *(len(v) for v in values)])
            table.add_column(name, width=min(width, 200), key=name)

    def _cells(self, rev: str, f: dict) -> list:
        severity = f["severity"]
        style = SEVERITY_STYLE.get(severity, "")
        line = str(f.get("line") or "")
        if self._compact:
            glyph = SEVERITY_GLYPH.get(severity, "?")
            return [Text(glyph, style=style), Text(middle_ellipsis(rev, self._revision_width)), line, Text(_message(f))]
        # Text, not str: a str cell is read as markup, and "[contract] ..." would vanish as a style tag
        return [Text(severity, style=style), Text(f.get("rule", "")), Text(rev), line, Text(_message(f))]

    def on_resize(self, event) -> None:
        if (event.size.width < COMPACT_BELOW) != self._compact:
            table = self.query_one("#findings", DataTable)
            selected = table.cursor_row  # the finding the detail pane shows stays the selected one
            self._set_columns(self.findings)
            for index, (rev, f) in enumerate(self.findings):
                table.add_row(*self._cells(rev, f), key=str(index))
            if self.findings:
                table.move_cursor(row=min(max(selected, 0), len(self.findings) - 1))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or event.row_key.value is None:
            return
        rev, f = self.findings[int(event.row_key.value)]
        out = Text()
        out.append(f"{f['severity']} [{f.get('rule')}] ", style=SEVERITY_STYLE.get(f["severity"], ""))
        out.append(f"{rev} line {f.get('line') or '-'}\n\n", style="bold")
        out.append(("[" + f["phase"] + "] " if f.get("phase") else "") + str(f.get("message", "")) + "\n")
        if f.get("approved") is not None:
            out.append(f"\napproved: {f['approved']}\n", style="green")
        if f.get("hint"):
            out.append("\nsafe rewrite: ", style="bold")
            out.append(str(f["hint"]))
        self.query_one("#finding-detail", Static).update(out)


def _message(finding: dict) -> str:
    """The finding's message on one line, with its phase in front in a phased revision (``[contract] ...``)."""
    text = " ".join(str(finding.get("message", "")).split())
    return f"[{finding['phase']}] {text}" if finding.get("phase") else text
