"""A DataTable whose drawn rows follow its measured columns and its size, whenever those arrive."""

from __future__ import annotations

from textual import events
from textual.strip import Strip
from textual.widgets import DataTable


class MeasuredTable(DataTable):
    """A DataTable whose rows are drawn again once their columns are measured and once its size changed.

    Textual measures auto-width columns when the table is idle; a row drawn between ``add_row`` and that moment
    (header-wide columns: ``0015_ord``, ``[contra``) stays in the table's line cache, so how the findings looked
    depended on timing.

    Its size has the same race: a row's background is extended to the table's width when the row is drawn, in
    a cache whose key holds neither that width nor anything a layout changes before the table's Resize event is
    handled. A table given its data-sized width (the Migrations view) is laid out and painted at that width
    before the Resize arrives, so a row drawn at the previous width (or with a scrollbar's column taken) kept a
    cell of the table's own background at its right end in some runs and not in others. Drawn again on Resize,
    the rows fill the width the table has.
    """

    # set once a line of a row (not the header alone) was drawn for a frame that is written (Textual draws, and
    # drops, frames during a batch update such as the app's start-up): the frame being written shows data
    drew_rows = False

    def render_line(self, y: int) -> Strip:
        if not self.drew_rows and self.row_count and y >= self.header_height and not self.app._batch_count:
            self.drew_rows = True
        return super().render_line(y)

    async def _on_idle(self, event: events.Idle) -> None:
        measured = self._require_update_dimensions or bool(self._updated_cells)
        await super()._on_idle(event)
        if measured:
            self._clear_caches()
            self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._clear_caches()
        self.refresh()
