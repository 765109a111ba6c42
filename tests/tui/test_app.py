"""The real TUI driven with Pilot at 80x24 against real servers, asserting on what the screen shows."""

from __future__ import annotations

import pytest

from migtui.tui.app import MigtuiApp
from migtui.tui.screens.help import HelpScreen
from migtui.tui.screens.monitor import MonitorScreen
from migtui.tui.widgets.monitor_panel import MonitorPanel
from tests.monitor_scenarios import blocked_chain
from tests.tui_helpers import alembic_upgrade, sample_project, screen_text, settings_for, wait_for_text


@pytest.fixture
def project(tmp_path):
    return sample_project(tmp_path / "proj")


async def test_monitor_shows_the_blocked_session_and_lock_tree(fresh_db, project):
    settings = settings_for(fresh_db, project, monitor_interval=0.3)
    with blocked_chain(fresh_db) as chain:
        app = MigtuiApp(settings, mode="monitor")
        async with app.run_test(size=(80, 24)) as pilot:
            text = await wait_for_text(pilot, [f"pid {chain.ddl_pid} [test-ddl]", "2 blocked"])
            assert "Lock tree" in text
            for holder in chain.holders:
                assert f"● pid {holder} [test-holder]" in text
            assert f"└ pid {chain.ddl_pid} [test-ddl] waits for AccessExclusiveLock on public.monitored" in text
            assert f"└ pid {chain.reader_pid} [test-reader] waits for AccessShareLock" in text
            panel = app.screen.query_one(MonitorPanel)
            assert {s.pid for s in panel.sample.blocked} == {chain.ddl_pid, chain.reader_pid}
            # the sessions tab lists the blocked ALTER with its blockers
            sessions = panel.query_one("#sessions")
            blocked_cells = [str(cell) for cell in sessions.get_row(str(chain.ddl_pid))]
            assert "Lock:relation" in blocked_cells
            # pause stops polling; escape in standalone mode quits
            polls = panel.polls
            await pilot.press("p")
            await pilot.pause(0.8)
            assert panel.polls <= polls + 1
            await pilot.press("escape")
        assert app.return_code in (0, None)


async def test_migrations_view_states_sql_and_replica(primary_and_replica, tmp_path):
    primary, replica = primary_and_replica
    project = sample_project(tmp_path / "proj")
    dsn = primary.create_database("tui_states")
    try:
        alembic_upgrade(project, dsn, "a2")
        primary.wait_for_replay(replica)
        settings = settings_for(dsn, project, replica_dsn=replica.dsn("tui_states"), monitor_interval=0.3)
        app = MigtuiApp(settings)
        async with app.run_test(size=(80, 24)) as pilot:
            text = await wait_for_text(pilot, ["4 revisions, 2 pending", "replica "])
            # the revision first: a narrow screen cuts the address, not the revision
            assert " target  at a2 · PG 16" in text
            assert " replica at a2 · lag 0 B" in text
            # under 120 columns the state column is its glyph: ○ pending, ● current, ✓ applied
            assert any("a4 head" in line and "│ ○ " in line for line in text.splitlines())
            assert any(" a2 " in line and "│ ● " in line for line in text.splitlines())
            assert any(" a1 " in line and "│ ✓ " in line for line in text.splitlines())
            # the cursor starts on the newest revision; its rendered SQL appears on the right
            await wait_for_text(pilot, ["Revision a4", "ALTER TABLE accounts ADD"])
            await pilot.press("down", "down")
            text = await wait_for_text(pilot, ["Revision a2", "ADD COLUMN email"])
            # the header is read again on the monitor interval: another deploy's upgrade shows up unasked, on
            # the target and, once replayed, on the replica, and the revision states follow
            alembic_upgrade(project, dsn, "a3")
            await wait_for_text(pilot, [" target  at a3 ·", " replica at a3 ·", "1 pending"], timeout=5)
            assert app.screen.servers_polls >= 2
            # help, theme, back
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            assert "command palette" in screen_text(app)
            await pilot.press("escape")
            await pilot.press("t")
            assert app.theme == "textual-light"
            await pilot.press("m")
            await pilot.pause()
            assert isinstance(app.screen, MonitorScreen)
            await wait_for_text(pilot, "nobody is blocked")
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, MonitorScreen)
    finally:
        primary.drop_database("tui_states")


async def test_no_database_and_bad_project_are_shown_not_raised(tmp_path):
    settings = settings_for(None, tmp_path / "missing")
    app = MigtuiApp(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        text = await wait_for_text(pilot, ["target  none (pass --dsn)", "migrations not found"])
        assert "Traceback" not in text
        await pilot.press("m")
        await pilot.pause()
        assert not isinstance(app.screen, MonitorScreen)
        # every action is in the command palette
        await pilot.press("ctrl+p")
        await pilot.pause()
        for query, entry in [
            ("monitor", "Live locks"),
            ("apply", "Apply pending revisions"),
            ("dry", "Row counts"),
            ("phases", "Zero-downtime"),
            ("lint", "Lint the pending"),
            ("drift", "Compare the target's schema"),
        ]:
            await pilot.press(*query)
            await wait_for_text(pilot, entry)
            for _ in query:
                await pilot.press("backspace")


async def test_unreachable_target_is_shown_in_header(tmp_path, project):
    settings = settings_for("postgresql://u:hunter2@127.0.0.1:1/x", project)
    app = MigtuiApp(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        text = await wait_for_text(pilot, "cannot connect")
        assert "hunter2" not in text
        assert "? unknown" in text
