"""The TUI at 80x24 and beyond (issue 13 item 5) and the apply pre-flight's wait / terminate / proceed: what the
screen shows, read off the screen."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psycopg
import pytest
from textual.widgets import TabbedContent

from migtui.events import Finding, RunFinished, RunStarted
from migtui.pg.dsn import database_name
from migtui.tui.app import MigtuiApp
from migtui.tui.screens.apply import ApplyScreen, ConfirmScreen
from migtui.tui.screens.detail import DetailScreen
from migtui.tui.screens.job import JobScreen, JobSpec
from migtui.tui.screens.preflight import PreflightScreen
from migtui.tui.text import age_of, middle_ellipsis
from tests.conftest import ROOT
from tests.tui_helpers import (
    alembic_upgrade,
    sample_project,
    screen_text,
    settings_for,
    wait_for_text,
    wait_until_settled,
)


def _version(dsn: str) -> list[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version").fetchall()]


def test_middle_ellipsis_keeps_both_ends_and_the_width():
    rev = "0015_orders_total_cents_bigint"
    assert middle_ellipsis(rev, 40) == rev
    assert middle_ellipsis(rev, 14) == "0015_or…bigint"
    for width in range(1, 31):
        assert len(middle_ellipsis(rev, width)) == width
    assert middle_ellipsis(rev, 0) == ""


def test_age_of_reads_iso_timestamps():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert age_of((now - timedelta(seconds=75)).isoformat(), now) == 75.0
    assert age_of("not a time", now) is None and age_of(None, now) is None


async def _demo_rows(pilot, count: int) -> list[str]:
    text = await wait_for_text(pilot, f"{count} revisions", timeout=60)
    return [line for line in text.splitlines() if line.startswith("│ ? ")]


async def test_demo_revision_ids_at_80x24_and_200x50_and_phase_labels_in_the_lint_pane():
    """The demo's own project (19 revisions, ids up to 32 characters, two phased revisions), no database."""
    app = MigtuiApp(settings_for(None, ROOT / "db" / "migrations"))
    async with app.run_test(size=(80, 24)) as pilot:
        rows = await _demo_rows(pilot, 19)
        # every id whole but the longest, which is cut in the middle: both ends stay readable
        for rev in (
            "0019_users_full_name_to_legal",
            "0018_accounts_owner_name_unique",
            "0015_orders_total_cents_bigint",
        ):
            assert any(f" {rev} " in line for line in rows), (rev, rows)
        assert any(" 0009_validate_o…ers_total_check " in line for line in rows), rows
        # the head's id needs the room: "head" is in the detail pane
        await wait_for_text(pilot, ["? unknown  head", "line 31: [expand]"], timeout=20)
        # a phased revision's statements carry their phase in the Lint pane, as in the CLI's text (the
        # migrate and contract ones further down the pane)
        screen = app.screen
        pane = screen._lint_detail(screen.selected()).plain
        assert "[migrate] UPDATE" in pane and '[contract] ALTER TABLE "public"."users" D' in pane
        await pilot.resize_terminal(200, 50)
        await wait_for_text(pilot, "0019_users_full_name_to_legal head")
        text = await wait_until_settled(pilot)
        assert "0009_validate_orders_total_check " in text and "…" not in text.split("╮", 1)[1].split("│", 1)[0]
        assert "○ unknown" in text or "? unknown" in text
        await pilot.resize_terminal(80, 24)
        rows = await _demo_rows(pilot, 19)
        assert any(" 0009_validate_o…ers_total_check " in line for line in rows)


class _HeldJob:
    """A job that reports a finding with a long message and a long event line, then waits to be released."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def run(self, settings, sink) -> SimpleNamespace:
        sink(RunStarted(job="fake", target="somewhere"))
        sink(
            Finding(
                "slow-statement-while-lock-held",
                "error",
                "the backfill scans public.orders while AccessExclusiveLock is held " + "and more words " * 8 + "END",
                hint="move the UPDATE into its own revision",
                revision="0015_orders_total_cents_bigint",
                line=36,
                phase="contract",
            )
        )
        self.release.wait(30)
        sink(
            RunFinished(job="fake", ok=True, exit_code=1, summary="done " + "and the tail of a long line " * 6 + "TAIL")
        )
        return SimpleNamespace(job="fake", target="somewhere", summary="1 finding", exit_code=1)


async def test_job_view_wraps_events_shows_a_cut_finding_whole_and_footer_follows_the_state(tmp_path):
    held = _HeldJob()
    spec = JobSpec("fake", "Fake job", held.run)
    app = MigtuiApp(settings_for(None, sample_project(tmp_path / "proj")), lint=False)
    try:
        await _drive_job_view(app, spec, held)
    finally:
        held.release.set()


async def _drive_job_view(app, spec, held) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "4 revisions")
        app.open_screen(JobScreen.screen_id(spec), lambda: JobScreen(app.settings, spec))
        text = await wait_for_text(pilot, ["RUNNING", "│ ✗  0015_orders…nts_bigint  [contract] the backfill"])
        # the message is cut at the table's edge (the event log wraps it whole); no "Run again" while it runs
        row = next(line for line in text.splitlines() if line.startswith("│ ✗  0015_orders"))
        assert "END" not in row and "more words END" in text
        assert "Run again" not in text
        screen = app.screen
        screen.query_one("#job-findings").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        text = await wait_for_text(pilot, ["and more words END", "hint: move the UPDATE", "[contract]"])
        assert "0015_orders_total_cents_bigint line 36" in text
        await pilot.press("escape")
        held.release.set()
        await wait_for_text(pilot, ["FINDINGS", "TAIL"])  # the long event line wrapped: its end on screen
        await wait_for_text(pilot, "r Run again")


async def test_preflight_terminate_one_session_wait_for_the_other_then_apply(fresh_db, tmp_path):
    """Two real sessions in a4's way: one terminated from the dialog (pid typed), the dialog waits for the other
    (countdown, re-checks), then asks as it would have without them."""
    project = sample_project(tmp_path / "proj")
    alembic_upgrade(project, fresh_db, "a3")
    settings = settings_for(fresh_db, project, lock_timeout=5.0, timeout=60.0, monitor_interval=0.3)
    idle = psycopg.connect(fresh_db, application_name="test-idle")
    writer = psycopg.connect(fresh_db, application_name="test-writer")
    try:
        idle.execute("SELECT count(*) FROM accounts")  # AccessShareLock, idle in transaction
        writer.execute("INSERT INTO accounts (email) VALUES ('w@example.com')")  # RowExclusiveLock
        idle_pid, writer_pid = idle.info.backend_pid, writer.info.backend_pid
        app = MigtuiApp(settings, lint=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_text(pilot, "a4 head")
            await pilot.press("a")
            text = await wait_for_text(pilot, ["2 session(s) in the way", f"pid {idle_pid} [test-idle]"], timeout=20)
            assert f"pid {writer_pid} [test-writer]" in screen_text(app) or "test-writer" in text
            dialog = app.screen
            assert isinstance(dialog, PreflightScreen) and dialog.typed == database_name(fresh_db)
            # terminate the idle one: the confirmation names it and wants its pid typed
            listing = dialog.query_one("#preflight-sessions")
            listing.focus()
            listing.highlighted = [s.pid for s in dialog.sessions].index(idle_pid)
            await pilot.press("k")
            text = await wait_for_text(pilot, [f"Terminate pid {idle_pid}?", "[test-idle] idle in transaction for"])
            await pilot.press(*str(idle_pid), "enter")
            text = await wait_for_text(pilot, "1 session(s) in the way")
            assert f"pid {idle_pid}" not in text and "test-writer" in text
            # wait: re-checked with a countdown until the writer is gone
            assert app.screen is dialog
            listing.focus()
            await pilot.press("w")
            await wait_for_text(pilot, ["waiting: checked", "next check in"])
            checks = dialog.checks
            await wait_for_text(pilot, f"checked {checks + 1} time(s)", timeout=5)
            writer.commit()
            text = await wait_for_text(pilot, "nobody in the way now", timeout=5)
            # nothing was applied unasked, and without lint errors "y" is enough now
            assert isinstance(app.screen, PreflightScreen) and dialog.typed is None
            assert _version(fresh_db) == ["a3"]
            await pilot.press("y")
            text = await wait_for_text(pilot, "DONE", timeout=20)
            assert isinstance(app.screen, ApplyScreen)
            # the footer follows the state: no "Cancel run" once done, no "Retry" after a success
            footer = text.splitlines()[-1]
            assert "Cancel run" not in footer and "Retry" not in footer
        assert _version(fresh_db) == ["a4"]
        with pytest.raises(psycopg.OperationalError):
            idle.execute("SELECT 1")  # terminated
    finally:
        idle.close()
        writer.close()


async def test_apply_at_80x24_elapsed_spans_retries_details_tabs_and_ctrl_c(fresh_db, tmp_path):
    """A blocked revision retried on lock_timeout: elapsed counts from its first attempt; ``i`` shows the whole
    statement; number keys switch the monitor's tabs; Ctrl+C asks, cancels the run and quits."""
    project = sample_project(tmp_path / "proj")
    alembic_upgrade(project, fresh_db, "a3")
    settings = settings_for(
        fresh_db,
        project,
        lock_timeout=1.0,
        lock_retries=30,
        lock_retry_delay=0.1,
        timeout=60.0,
        monitor_interval=0.3,
    )
    holder = psycopg.connect(fresh_db, application_name="test-holder")
    try:
        holder.execute("SELECT count(*) FROM accounts")
        app = MigtuiApp(settings, lint=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_text(pilot, "a4 head")
            await pilot.press("a")
            await wait_for_text(pilot, "session(s) in the way", timeout=20)
            await pilot.press(*database_name(fresh_db), "enter")
            apply = app.screen
            assert isinstance(apply, ApplyScreen)
            # a second attempt after a lock_timeout of 1 s: elapsed on screen counts from the first attempt
            attempts: list = []
            for _ in range(600):
                attempts = [e for e in apply.events if getattr(e, "kind", "") == "revision_started"]
                if len(attempts) >= 2:
                    break
                await pilot.pause(0.05)
            assert len(attempts) >= 2
            await pilot.pause(0.5)  # the progress pane redraws every 0.25 s
            shown = int(re.search(r"elapsed (\d+) s", screen_text(app)).group(1))
            since_first, since_last = time.time() - attempts[0].at, time.time() - attempts[-1].at
            assert since_first - 1.0 <= shown and shown >= since_last + 0.3, (shown, since_first, since_last)
            assert "c Cancel run" in screen_text(app).splitlines()[-1]
            await pilot.press("2")
            assert apply.query_one(TabbedContent).active == "tab-locks"
            await pilot.press("1")
            assert apply.query_one(TabbedContent).active == "tab-sessions"
            # the Lint view opened during the run says why it has no result yet: alembic's env.py runs one at a
            # time in the process (ENV_LOCK, held here as a revision's attempt holds it); the screen stays live
            from migtui.project.load import ENV_LOCK

            with ENV_LOCK:
                await pilot.press("ctrl+p")
                await pilot.press(*"Lint", "enter")
                await wait_for_text(pilot, "Lint · waiting for the running migration")
                await pilot.pause(0.5)
                assert "Lint · waiting for the running migration" in screen_text(app)
            await wait_for_text(pilot, "Lint · 1 pending revisions")  # once env.py is free
            await pilot.press("escape")
            await wait_for_text(pilot, "c Cancel run")
            await pilot.press("i")
            await wait_for_text(pilot, ["running a4", "ALTER TABLE accounts ADD COLUMN name TEXT"])
            assert isinstance(app.screen, DetailScreen)
            await pilot.press("escape")
            await pilot.press("ctrl+c")
            await wait_for_text(pilot, ["Quit while a migration runs?", "rolls back"])
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            for _ in range(200):
                if not app.is_running:
                    break
                await pilot.pause(0.05)
            assert not app.is_running
        assert _version(fresh_db) == ["a3"]
        holder.execute("SELECT 1")  # the holder was left alone
    finally:
        holder.close()
