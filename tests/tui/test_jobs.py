"""Job views (dry-run, rollback-test): results stream in live from the engine's events."""

from __future__ import annotations

import pytest

from migtui.tui.app import MigtuiApp
from migtui.tui.screens.apply import ConfirmScreen
from migtui.tui.screens.job import JobScreen
from tests.tui_helpers import alembic_upgrade, sample_project, settings_for, wait_for_text


async def _wait_done(pilot, screen: JobScreen, timeout: float = 90.0) -> None:
    for _ in range(int(timeout / 0.1)):
        await pilot.pause(0.1)
        if screen.state != "running":
            return
    raise AssertionError(f"job still running after {timeout}s")


@pytest.mark.db
async def test_rollback_test_view_streams_results(tmp_path):
    project = sample_project(tmp_path / "proj")
    app = MigtuiApp(settings_for(None, project), lint=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_text(pilot, "4 revisions")
        await pilot.press("b")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, JobScreen)
        await _wait_done(pilot, screen)
        text = await wait_for_text(pilot, "Rollback test")
        assert screen.exit_code == 0, (screen.summary, text)
        assert "DONE" in text
        assert any(e.kind == "run_finished" for e in screen.events)


async def test_dry_run_view_needs_a_replica_and_runs_on_it(primary_and_replica, tmp_path):
    primary, replica = primary_and_replica
    project = sample_project(tmp_path / "proj")
    dsn = primary.create_database("tui_dry_run")
    try:
        alembic_upgrade(project, dsn, "a2")
        primary.execute(
            "INSERT INTO accounts (email) SELECT 'u' || g FROM generate_series(1, 1000) g", dbname="tui_dry_run"
        )
        primary.execute("ANALYZE accounts", dbname="tui_dry_run")
        primary.wait_for_replay(replica)
        # without a replica: one clear line, no run
        app = MigtuiApp(settings_for(dsn, project), lint=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for_text(pilot, "2 pending")
            await pilot.press("d")
            await pilot.pause()
            await _wait_done(pilot, app.screen)
            await wait_for_text(pilot, ["FAILED", "--replica-dsn"])
        settings = settings_for(dsn, project, replica_dsn=replica.dsn("tui_dry_run"))
        app = MigtuiApp(settings, lint=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for_text(pilot, "2 pending")
            await pilot.press("d")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, JobScreen)
            await _wait_done(pilot, screen, timeout=120)
            text = await wait_for_text(pilot, "Dry-run on the replica")
            assert screen.state in ("done", "findings"), (screen.summary, text)
            kinds = {e.kind for e in screen.events}
            assert "run_started" in kinds and "run_finished" in kinds
            # per statement: the lock, the rows it touches (exact or estimated, marked) and the table size
            assert "CREATE INDEX CONCURRENTLY ix_accounts_email" in text
            assert "locks ShareUpdateExclusiveLock public.accounts" in text
            # (event lines wrap at the view's edge: the marker may be on the next line)
            assert "rows 1,000" in text and "(estimate)" in text and "table " in text, text
            # a4's ADD COLUMN holds AccessExclusiveLock until its COMMIT: the lock holds table shows it
            text = await wait_for_text(pilot, ["Lock holds", "AccessExclusiveLock", "public.accounts", "COMMIT"])
            assert screen.query_one("#job-holds").row_count == 1
            # the apply confirmation reuses this dry-run's holds for the same revisions: with their estimate
            await pilot.press("escape")
            await wait_for_text(pilot, "2 pending")
            await pilot.press("a")
            text = await wait_for_text(
                pilot, ["Lock holds · estimates from the dry-run at ", "a4  <0.1s  AccessExclusiveLock on accounts"]
            )
            assert isinstance(app.screen, ConfirmScreen)
            assert (
                "a4: AccessExclusiveLock on public.accounts blocks reads, writes, ddl; from line 16 (ALTER TABLE "
                "accounts ADD COLUMN name TEXT) until COMMIT (end of the revision's transaction), through 1 "
                "statement: <0.1s"
            ) in app.screen.body
            await pilot.press("escape")
            await pilot.pause()
        assert primary.execute("SELECT version_num FROM alembic_version", dbname="tui_dry_run") == [("a2",)]
    finally:
        primary.drop_database("tui_dry_run")
