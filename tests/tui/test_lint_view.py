"""Lint in the TUI: badges and per-statement locks/findings, the Lint view, typed confirmation for errors."""

from __future__ import annotations

import psycopg

from migtui.pg.dsn import database_name
from migtui.tui.app import MigtuiApp
from migtui.tui.screens.apply import ApplyScreen, ConfirmScreen
from migtui.tui.screens.lint import LintScreen
from tests.tui_helpers import (
    alembic_upgrade,
    press_for_confirmation,
    sample_project,
    screen_text,
    settings_for,
    wait_for_text,
)


async def test_lint_badges_detail_and_view(fresh_db, tmp_path):
    project = sample_project(tmp_path / "proj", risky=True)  # a5 creates an index without CONCURRENTLY
    alembic_upgrade(project, fresh_db, "a2")
    app = MigtuiApp(settings_for(fresh_db, project))
    async with app.run_test(size=(100, 30)) as pilot:
        text = await wait_for_text(pilot, ["3 pending", "✗"], timeout=20)
        a5 = next(line for line in text.splitlines() if "│ ○ " in line and " a5 " in line)
        assert "✗1" in a5 and "S " in a5  # an error, ShareLock the strongest lock
        a3 = next(line for line in text.splitlines() if "│ ○ " in line and " a3 " in line)
        assert "✗" not in a3  # the concurrent build is fine
        text = await wait_for_text(pilot, ["Revision a5", "create-index-non-concurrently"])
        assert "ShareLock on public.accounts" in text
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, LintScreen)
        text = await wait_for_text(pilot, ["1 errors", "CREATE INDEX ix_accounts_name"], timeout=20)
        # under 120 columns the message follows where it was found; the rule is in the detail pane
        assert any(line.startswith("│ ✗  a5 ") for line in text.splitlines())
        await pilot.press("down", "down")
        text = await wait_for_text(pilot, ["error [create-index-non-concurrently] a5 line 16", "safe rewrite"])


async def test_error_findings_need_the_database_name_typed(fresh_db, tmp_path):
    project = sample_project(tmp_path / "proj", risky=True)
    alembic_upgrade(project, fresh_db, "a2")
    app = MigtuiApp(settings_for(fresh_db, project, monitor_interval=0.5), lint=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for_text(pilot, "3 pending")
        await press_for_confirmation(pilot, "a")
        text = screen_text(app)
        assert "a5: error [create-index-non-concurrently]" in text
        name = database_name(fresh_db)
        assert f"Type '{name}' to apply" in text
        await pilot.press("y", "enter")  # "y" goes into the input; a wrong name does not apply
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        app.screen.query_one("#confirm-input").value = ""
        await pilot.press(*name, "enter")
        text = await wait_for_text(pilot, "DONE", timeout=20)
        assert isinstance(app.screen, ApplyScreen)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "a5"
