"""Theme switch: the visible screen is restyled at once, a hidden screen when it is shown again.

(``MigtuiApp.refresh_css`` restyles only what is visible and keeps parsed rules per theme; these tests prove
nothing is left in the old theme. No database: the picture does not depend on one.)
"""

from __future__ import annotations

from textual.color import Color

from migtui.tui.app import DARK, LIGHT, MigtuiApp
from migtui.tui.screens.help import HelpScreen
from migtui.tui.screens.lint import LintScreen
from migtui.tui.screens.migrations import MigrationsScreen
from tests.tui_helpers import sample_project, settings_for, wait_for_text


def _border(screen, selector: str) -> Color:
    return screen.query_one(selector).styles.border_top[1]


def _primary(app) -> Color:
    return Color.parse(app.current_theme.primary)


async def test_theme_switch_restyles_hidden_screens_when_shown(tmp_path):
    app = MigtuiApp(settings_for(None, sample_project(tmp_path / "proj")), lint=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "4 revisions")
        home = app.screen
        assert isinstance(home, MigrationsScreen)
        dark_primary = _primary(app)
        assert _border(home, "#revisions") == dark_primary
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, LintScreen)
        await pilot.press("t")
        await pilot.pause()
        assert app.theme == LIGHT
        light_primary = _primary(app)
        assert light_primary != dark_primary
        assert _border(app.screen, "#findings") == light_primary  # the visible screen: now
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is home
        assert _border(home, "#revisions") == light_primary  # the hidden one: when shown again
        # back and forth: the cached rules of the first theme are the right ones
        await pilot.press("t")
        await pilot.pause()
        assert app.theme == DARK and _border(home, "#revisions") == dark_primary


async def test_theme_switch_under_a_modal_restyles_the_screen_behind_it(tmp_path):
    app = MigtuiApp(settings_for(None, sample_project(tmp_path / "proj")), lint=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "4 revisions")
        home = app.screen
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        app.action_toggle_theme()
        await pilot.pause()
        # the Migrations view shows through the modal's translucent background: restyled at once
        assert _border(home, "#revisions") == _primary(app)
        assert _border(app.screen, "#help-box") == _primary(app)
