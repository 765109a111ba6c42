"""MeasuredTable: rows drawn before a change of the table's width do not stay on screen at the new width."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from migtui.tui.widgets.table import MeasuredTable


class _TableApp(App):
    CSS = "DataTable { width: 20; height: 8; }"

    def compose(self) -> ComposeResult:
        yield MeasuredTable(cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("a", width=4)
        table.add_column("b", width=4)
        for i in range(3):
            table.add_row(str(i), "x", key=str(i))


async def test_rows_fill_the_width_the_table_gets_after_they_were_drawn():
    app = _TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause(0.1)
        table = app.query_one(DataTable)
        table.styles.width = 30
        # laid out and painted at the new width before the table handles its Resize event, as a busy app may
        # (the Migrations view's data-sized width): Textual's row cache still holds the rows drawn at 20
        app.screen._refresh_layout()
        app.screen._compositor.render_update(full=True)
        await pilot.pause(0.2)
        assert table.size.width == 30
        strips = app.screen._compositor.render_strips()
        for y in range(4):  # header, the cursor's row, a plain row, a striped row
            cells = [seg.style.bgcolor for seg in strips[y].crop(0, 30) for _ in seg.text]
            assert len(cells) == 30
            # the row's background reaches the table's right edge (not the table's own background after 20)
            assert cells[-1] == cells[0], f"row {y}: {cells[0]} then {cells[-1]} at the right edge"
