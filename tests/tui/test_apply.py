"""Apply view: a revision blocked by another session's lock shows up in the monitor panel; cancel rolls it back."""

from __future__ import annotations

import psycopg

from migtui.pg.advisory import scope_tag
from migtui.pg.dsn import database_name
from migtui.pg.version_table import advisory_key
from migtui.tui.app import MigtuiApp
from migtui.tui.screens.apply import ApplyScreen
from migtui.tui.widgets.monitor_panel import MonitorPanel
from tests.tui_helpers import alembic_upgrade, press_for_confirmation, sample_project, settings_for, wait_for_text


def _version(dsn: str) -> list[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version").fetchall()]


async def test_apply_blocked_by_a_lock_then_cancel(fresh_db, tmp_path):
    project = sample_project(tmp_path / "proj")
    alembic_upgrade(project, fresh_db, "a3")
    # keep the DDL waiting (no lock_timeout give-up during the test), refresh fast
    settings = settings_for(fresh_db, project, lock_timeout=30.0, lock_retries=0, timeout=60.0, monitor_interval=0.3)
    holder = psycopg.connect(fresh_db, application_name="test-holder")
    try:
        holder.execute("SELECT count(*) FROM accounts")  # ACCESS SHARE held in an open transaction
        holder_pid = holder.info.backend_pid
        app = MigtuiApp(settings)
        async with app.run_test(size=(100, 32)) as pilot:
            await wait_for_text(pilot, "a4 head")
            await press_for_confirmation(pilot, "a")
            text = await wait_for_text(pilot, ["session(s) in the way", f"pid {holder_pid} [test-holder]"])
            assert "apply 1 revision(s)" in text and "a4" in text
            # the pre-flight found the holder: proceeding needs the database's name
            assert app.screen.typed == database_name(fresh_db)
            await pilot.press(*database_name(fresh_db), "enter")
            await pilot.pause()
            assert isinstance(app.screen, ApplyScreen)
            # the runner's session waits for the holder: the lock tree shows it, the sessions table too; its
            # name ends with its deploy scope (migtui.pg.advisory.scope_tag)
            tag = scope_tag(advisory_key("public", "alembic_version"))
            text = await wait_for_text(
                pilot,
                [
                    f"● pid {holder_pid} [test-holder]",
                    f"[migtui up a4 @{tag}] waits for AccessExclusiveLock on public.accounts",
                ],
                timeout=20,
            )
            assert "RUNNING" in text and "▶ a4" in text
            panel = app.screen.query_one(MonitorPanel)
            blocked = panel.sample.blocked
            assert len(blocked) == 1 and blocked[0].application_name == f"migtui up a4 @{tag}"
            assert blocked[0].blocked_by == (holder_pid,)
            # quitting while the run is on asks first (it would cut the migration off); escape: the run goes on
            await pilot.press("q")
            await wait_for_text(pilot, "Quit while a migration runs?")
            await pilot.press("escape")
            await pilot.pause()
            assert app.is_running and isinstance(app.screen, ApplyScreen) and app.screen.state == "running"
            # the monitor pauses while its screen is hidden (help on top), and resumes after
            polls = panel.polls
            await pilot.press("question_mark")
            await pilot.pause(1.0)
            assert panel.polls <= polls + 1
            await pilot.press("escape")
            await pilot.pause(0.8)
            assert panel.polls > polls + 1
            # cancel: the statement is cancelled, the revision rolled back, the holder untouched
            await pilot.press("c")
            text = await wait_for_text(pilot, "CANCELLED", timeout=20)
            assert "cancelled by operator" in text
            assert "✗ a4" in text
            await wait_for_text(pilot, "nobody is blocked")
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, ApplyScreen)
        assert _version(fresh_db) == ["a3"]
        holder.execute("SELECT 1")  # the holder's transaction is still fine
    finally:
        holder.close()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        cols = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts'"
            ).fetchall()
        ]
        assert "name" not in cols


async def test_apply_to_head_runs_and_reloads(fresh_db, tmp_path):
    project = sample_project(tmp_path / "proj")
    alembic_upgrade(project, fresh_db, "a2")
    settings = settings_for(fresh_db, project, monitor_interval=0.5)
    app = MigtuiApp(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "2 pending")
        await press_for_confirmation(pilot, "a")
        await pilot.click("#confirm-yes")
        text = await wait_for_text(pilot, "DONE", timeout=20)
        assert "applied 2 revision(s)" in text and "✓ a3" in text and "✓ a4" in text
        await pilot.press("escape")
        await wait_for_text(pilot, "0 pending")
    assert _version(fresh_db) == ["a4"]


async def test_terminate_the_blocker_from_the_apply_view_and_the_migration_proceeds(fresh_db, tmp_path):
    project = sample_project(tmp_path / "proj")
    alembic_upgrade(project, fresh_db, "a3")
    settings = settings_for(fresh_db, project, lock_timeout=60.0, lock_retries=0, timeout=120.0, monitor_interval=0.3)
    holder = psycopg.connect(fresh_db, application_name="test-holder")
    try:
        holder.execute("SELECT count(*) FROM accounts")
        holder_pid = holder.info.backend_pid
        app = MigtuiApp(settings, lint=False)
        async with app.run_test(size=(100, 32)) as pilot:
            await wait_for_text(pilot, "a4 head")
            await pilot.press("a")
            await wait_for_text(pilot, "session(s) in the way")
            await pilot.press(*database_name(fresh_db), "enter")
            await wait_for_text(pilot, "waits for AccessExclusiveLock on public.accounts", timeout=20)
            apply = app.screen
            assert isinstance(apply, ApplyScreen)
            table = apply.query_one("#sessions")
            table.move_cursor(row=table.get_row_index(str(holder_pid)))
            await pilot.press("K")
            text = await wait_for_text(pilot, [f"Terminate pid {holder_pid}?", "[test-holder] idle in transaction"])
            assert f"Type '{holder_pid}'" in text
            await pilot.press("y", "enter")  # not the pid: refused, feedback on screen
            await wait_for_text(pilot, "'y' is not")
            await pilot.press("backspace", *str(holder_pid), "enter")
            text = await wait_for_text(pilot, "DONE", timeout=30)
            assert "✓ a4" in text
        assert _version(fresh_db) == ["a4"]
    finally:
        holder.close()


async def test_confirmation_shows_the_lock_holds_without_a_dry_run(fresh_db, tmp_path):
    # a4's ADD COLUMN holds AccessExclusiveLock until its COMMIT, a5's CREATE INDEX ShareLock; a3 builds its index
    # CONCURRENTLY (nothing that blocks writes). No dry-run in this session: the static holds, no estimate
    project = sample_project(tmp_path / "proj", risky=True)
    alembic_upgrade(project, fresh_db, "a2")
    app = MigtuiApp(settings_for(fresh_db, project, monitor_interval=0.5), lint=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "3 pending")
        await press_for_confirmation(pilot, "a")
        name = database_name(fresh_db)
        # at 80x24 the write-blocking holds, the error finding and the typed input are all on screen
        text = await wait_for_text(
            pilot,
            [
                "Lock holds · no estimate: run the dry-run (d) for one",
                "a4  AccessExclusiveLock on accounts: reads and writes wait",
                "a5  ShareLock on accounts: writes wait",
                "a5: error [create-index-non-concurrently]",
                f"Type '{name}' to apply",
            ],
        )
        assert "a3  " not in text
        # the scrolled body has each hold whole: from which statement to which, and why there is no estimate
        body = app.screen.body
        assert (
            "a4: AccessExclusiveLock on public.accounts blocks reads, writes, ddl; from line 16 (ALTER TABLE "
            "accounts ADD COLUMN name TEXT) until COMMIT (end of the revision's transaction), through 1 statement: "
            "no estimate: run the dry-run (d) for one (no dry-run in this session)"
        ) in body
        assert app.dry_run_holds is None
        await pilot.press("escape")
        await pilot.pause()
    assert _version(fresh_db) == ["a2"]
