"""Snapshot tests (pytest-textual-snapshot) of the main screens at 80x24; regenerate with --snapshot-update.

No database here so nothing on screen depends on ports, pids or clocks: the Migrations view then shows the
project's revisions in state "unknown" with the target marked as missing.
"""

from __future__ import annotations

import pytest

from migtui.tui.app import MigtuiApp
from tests.tui_helpers import sample_project, settings_for, wait_for_text, wait_until_settled


@pytest.fixture
def app(tmp_path):
    # --no-lint: the picture does not depend on when the lint worker finishes
    return MigtuiApp(settings_for(None, sample_project(tmp_path / "proj")), lint=False)


async def _rendered(pilot) -> None:
    await wait_for_text(pilot, ["4 revisions", "ADD COLUMN name"])
    await wait_until_settled(pilot)  # the detail pane's scrollbar and the table's column widths come later


def test_snapshot_migrations_view(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=_rendered)


def test_snapshot_migrations_view_light(snap_compare, app):
    async def light(pilot):
        await _rendered(pilot)
        await pilot.press("t")
        await wait_until_settled(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=light)


def test_snapshot_help(snap_compare, app):
    async def help_screen(pilot):
        await _rendered(pilot)
        await pilot.press("question_mark")
        await wait_until_settled(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=help_screen)


def test_snapshot_migrations_view_large(snap_compare, app):
    assert snap_compare(app, terminal_size=(160, 45), run_before=_rendered)


async def test_state_column_is_a_glyph_when_narrow_and_a_word_when_wide(app):
    from tests.tui_helpers import screen_text

    async with app.run_test(size=(80, 24)) as pilot:
        text = await wait_for_text(pilot, "4 revisions")
        assert sum("│ ?  " in line for line in text.splitlines()) == 4
        assert not any("│ ? unknown" in line for line in text.splitlines())
        await pilot.resize_terminal(160, 40)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert sum("│ ? unknown" in line for line in text.splitlines()) == 4
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        assert not any("│ ? unknown" in line for line in screen_text(app).splitlines())
