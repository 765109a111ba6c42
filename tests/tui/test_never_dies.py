"""The TUI never dies under the operator: every palette command from every screen, twice, during and after a
run; an exception inside the app during a run rolls the revision back and exits 70 with one line."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter

import psycopg

from migtui.pg.dsn import database_name
from migtui.tui.app import MigtuiApp
from migtui.tui.screens.apply import ApplyScreen, ConfirmScreen
from tests.alembic_projects import Rev, make_project
from tests.conftest import ROOT
from tests.tui_helpers import (
    SAMPLE_REVS,
    alembic_upgrade,
    press_for_confirmation,
    sample_project,
    settings_for,
    wait_for_text,
)

# Textual's own commands that leave the app or write files, and the rollback test (it starts a PostgreSQL
# cluster of its own, minutes of CPU here; tests/tui/test_jobs.py drives it): not driven here
SKIPPED = {"Quit", "Save screenshot", "Screenshot", "Rollback test"}


def _version(dsn: str) -> list[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version").fetchall()]


def _commands(app) -> dict[str, object]:
    return {c.title: c.callback for c in app.get_system_commands(app.screen) if c.title not in SKIPPED}


async def _call(pilot, callback) -> None:
    result = callback()
    if inspect.isawaitable(result):
        await result
    await asyncio.sleep(0.1)


async def _close_dialogs(pilot) -> None:
    """Answer "no" to whatever dialog a command opened (help, an apply confirmation, Textual's pickers)."""
    for _ in range(5):
        screen = pilot.app.screen
        if not screen.is_modal:
            return
        if isinstance(screen, ConfirmScreen):
            screen.action_cancel()
        else:
            screen.dismiss(None)
        await asyncio.sleep(0.1)


def _assert_sane(app) -> None:
    assert app.is_running
    ids = Counter(s.id for s in app.screen_stack if s.id)
    assert all(n == 1 for n in ids.values()), ids
    assert sum(isinstance(s, ApplyScreen) for s in app.screen_stack) <= 1


async def _every_command_from_every_screen(pilot, during_run: ApplyScreen | None) -> set[str]:
    app = pilot.app
    driven: set[str] = set()
    openers = [title for title in _commands(app) if title not in ("Cancel the run",)]
    for opener in openers:
        opened = _commands(app).get(opener)
        if opened is None:  # focus-dependent (Textual's "Maximize"): not offered where the last one left focus
            continue
        await _call(pilot, opened)
        await _close_dialogs(pilot)
        for title in list(_commands(app)):
            if title == "Cancel the run":
                continue
            for _ in range(2):
                callback = _commands(app).get(title)
                if callback is None:  # screen-specific: the screen changed under it
                    continue
                await _call(pilot, callback)
                await _close_dialogs(pilot)
                _assert_sane(app)
                driven.add(title)
                if during_run is not None:
                    assert during_run.state == "running", during_run.summary
    return driven


# a4 asks for SHARE on accounts, which the test's open transaction blocks (it holds ROW EXCLUSIVE): the run
# stays active for the whole matrix while plain reads of accounts (dry-run, drift, lint, the monitor) still
# pass, and the scratch databases those views build have no such holder
WAITING_A4 = Rev(
    "a4",
    "op.execute('LOCK TABLE accounts IN SHARE MODE')\nop.add_column('accounts', sa.Column('name', sa.Text))",
    "op.drop_column('accounts', 'name')",
    message="add name",
)


async def test_every_palette_command_from_every_screen_twice_during_and_after_a_run(pg, fresh_db, tmp_path):
    # no CREATE INDEX CONCURRENTLY in the project: drift and dry-run replay the revisions on scratch
    # databases, and a concurrent index build there would wait for the test's open transaction
    project = make_project(tmp_path / "proj", [*SAMPLE_REVS[:2], WAITING_A4])
    alembic_upgrade(project, fresh_db, "a2")
    settings = settings_for(
        fresh_db,
        project,
        scratch_dsn=pg.dsn(),  # dry-run's shadow databases on the test server, not a cluster of its own
        lock_timeout=900.0,  # a4 keeps waiting for the whole matrix (minutes on a loaded machine)
        lock_retries=0,
        timeout=1200.0,
        monitor_interval=0.5,
    )
    holder = psycopg.connect(fresh_db, application_name="test-holder")
    try:
        holder.execute("LOCK TABLE accounts IN ROW EXCLUSIVE MODE")
        app = MigtuiApp(settings, lint=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for_text(pilot, "a4 head")
            await press_for_confirmation(pilot, "a")
            await pilot.press(*database_name(fresh_db), "enter")  # typed: the pre-flight found the holder
            await wait_for_text(pilot, "waits for ShareLock on public.accounts", timeout=20)
            apply = app.screen
            assert isinstance(apply, ApplyScreen) and apply.state == "running"

            # Apply during the run shows the run, it does not start a second one
            await _call(pilot, _commands(app)["Monitor"])
            assert app.screen is not apply
            await _call(pilot, _commands(app)["Apply (upgrade to head)"])
            assert app.screen is apply, app.screen_stack

            driven = await _every_command_from_every_screen(pilot, during_run=apply)
            assert {"Lint", "Monitor", "Apply (upgrade to head)", "Phases", "Drift", "Help"} <= driven
            # Cancel is offered in the palette while the run is active, and only then
            await _call(pilot, _commands(app)["Cancel the run"])
            for _ in range(300):
                if apply.state == "cancelled":
                    break
                await asyncio.sleep(0.1)
            assert apply.state == "cancelled", apply.summary
            assert "Cancel the run" not in _commands(app)
            # the views that waited for the run (alembic's environment is one per process) finish now
            for _ in range(1200):
                if not any(getattr(sc, "running", False) for sc in app.screen_stack):
                    break
                await asyncio.sleep(0.1)

            await _every_command_from_every_screen(pilot, during_run=None)
            _assert_sane(app)
        assert _version(fresh_db) == ["a2"]
    finally:
        holder.close()


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys
    from migtui.config import Settings
    from migtui.events import StatementStarted
    from migtui.tui.app import MigtuiApp, run_app
    from migtui.tui.screens import apply as apply_view

    settings = Settings(dsn=sys.argv[1], migrations=sys.argv[2], lock_timeout=60.0, lock_retries=0, timeout=120.0)
    handler = apply_view.ApplyScreen.on_apply_screen_runner_event

    def broken(self, message):
        handler(self, message)
        if isinstance(message.event, StatementStarted) and self.running_revision == "a4":
            raise RuntimeError("a bug in the apply view")

    apply_view.ApplyScreen.on_apply_screen_runner_event = broken
    # confirm without a keyboard: the dialog answers yes as soon as it is shown
    def answer_yes(self):
        def yes():
            self.dismiss(True)  # not awaited: it is the screen's own timer

        self.set_timer(0.2, yes)

    apply_view.ConfirmScreen.on_mount = answer_yes

    app = MigtuiApp(settings, lint=False)
    app.call_later(lambda: app.set_timer(0.5, app.action_apply))
    original_run = app.run
    app.run = lambda: original_run(headless=True)
    sys.exit(run_app(app))
    """
)


def test_an_exception_during_a_run_rolls_back_and_exits_70_with_one_line(fresh_db, tmp_path):
    """a4 waits for a lock the test holds; the apply view raises while a4 runs: the revision is cancelled and
    rolled back (the database stays at a3, the last good revision) and the process exits 70 with one line."""
    project = sample_project(tmp_path / "proj")
    alembic_upgrade(project, fresh_db, "a3")
    holder = psycopg.connect(fresh_db, application_name="test-holder")
    try:
        holder.execute("SELECT count(*) FROM accounts")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-c", CRASH_SCRIPT, fresh_db, str(project)],
            capture_output=True,
            text=True,
            timeout=90,
            env=env,
            cwd=tmp_path,
        )
        assert proc.returncode == 70, (proc.returncode, proc.stderr[-2000:])
        # cancelled, not left to wait out its 60 s lock_timeout headless
        assert time.monotonic() - started < 45
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "internal error in the TUI: RuntimeError: a bug in the apply view" in proc.stderr
        assert "the running migration was cancelled and rolled back" in proc.stderr
        assert _version(fresh_db) == ["a3"]
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            # no migtui session left behind, still waiting or holding anything
            left = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'migtui%'"
            ).fetchone()[0]
            assert left == 0
            cols = {
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts'"
                ).fetchall()
            }
            assert "name" not in cols
    finally:
        holder.close()
