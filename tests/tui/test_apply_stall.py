"""Apply view against a server that stops answering (every process of a dedicated server SIGSTOPped): the
runner's watchdogs report to the view instead of ending the process. The view shows STALLED with the one
line, ``q`` quits with the watchdog's exit code (3: a revision's timeout passed; 6: one of the run's own
queries went unanswered), and a server that comes back lets the run end with its real outcome."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest

from migtui.pg import harness
from migtui.pg.version_table import advisory_key
from migtui.runner.job import Runner
from migtui.tui import lint_summary
from migtui.tui.app import MigtuiApp
from migtui.tui.screens import apply as apply_screen
from migtui.tui.screens.apply import PLANNING_APPLICATION_NAME, ApplyScreen, ConfirmScreen
from tests.alembic_projects import Rev, make_project
from tests.faults.helpers import active_session, scalar, wait_for
from tests.faults.test_hang import _server_pids, _signal
from tests.tui_helpers import alembic_upgrade, press_for_confirmation, settings_for, wait_for_text

pytestmark = pytest.mark.db

GRACE = 1.0  # HardStop's grace after the revision's timeout (10 s in a real run)
STALL = 1.0  # StallGuard's bound on the run's own queries (30 s in a real run)


@pytest.fixture(scope="module")
def own_server():
    """A server of this module's own: it gets SIGSTOPped."""
    cluster = harness.start_cluster(16)
    yield cluster
    cluster.cleanup()


@pytest.fixture
def short_bounds(monkeypatch):
    monkeypatch.setattr(Runner, "hard_exit_grace", GRACE)
    monkeypatch.setattr(Runner, "stall_seconds", STALL)


def _project(root):
    return make_project(
        root,
        [
            Rev("a1", "op.create_table('t', sa.Column('id', sa.Integer))"),
            Rev("a2", "op.execute('SELECT pg_sleep(60)')"),
        ],
    )


async def _confirm(pilot) -> None:
    app = pilot.app
    await wait_for_text(pilot, "a2 head")
    await press_for_confirmation(pilot, "a")
    typed = app.screen.typed  # the linter's findings on a2 may ask for the database's name
    await pilot.press(*(typed or "y"), *(("enter",) if typed else ()))
    await pilot.pause()
    assert isinstance(app.screen, ApplyScreen)


async def test_a_revision_on_a_stopped_server_is_stalled_with_exit_3_and_q_quits_with_it(
    own_server, tmp_path, short_bounds
):
    dsn = own_server.create_database("tui_stall_rev")
    timeout = 1.0
    settings = settings_for(dsn, _project(tmp_path / "proj"), timeout=timeout, monitor_interval=0.5)
    app = MigtuiApp(settings, lint=False)
    stopped: list[int] = []
    try:
        async with app.run_test(size=(110, 32)) as pilot:
            await _confirm(pilot)
            for _ in range(200):  # a2's statement is running on the server
                await pilot.pause(0.05)
                if active_session(dsn, "migtui up a2 @%"):
                    break
            stopped = _signal(_server_pids(own_server), signal.SIGSTOP)
            started = time.monotonic()
            text = await wait_for_text(pilot, "STALLED", timeout=timeout + GRACE + 5)
            elapsed = time.monotonic() - started
            # a2 began a moment before the stop: its timeout and the grace bound the stall from the stop on
            assert elapsed < timeout + GRACE + 1.5, elapsed
            screen = app.screen
            assert isinstance(screen, ApplyScreen) and screen.state == "stalled" and screen.exit_code == 3
            assert "q quits with exit 3" in text and "ran past its timeout of 1s" in screen.summary
            assert app.stall == (3, screen.summary)
            # back and a new apply are refused while the run's thread waits on the server; q quits with 3
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is screen and app.is_running
            await pilot.press("q")
            await pilot.pause(0.2)
            assert not app.is_running
        assert app.return_code == 3
    finally:
        _signal(stopped, signal.SIGCONT)
    # resumed, the server ends a2's session (the watchdog's cancel and terminate arrive) and a2 is rolled back
    wait_for(lambda: not active_session(dsn, "migtui%"), timeout=15, what="a2's session to end")
    assert scalar(dsn, "SELECT version_num FROM alembic_version") == "a1"


async def test_the_lock_wait_on_a_stopped_server_is_stalled_with_exit_6_until_the_server_comes_back(
    own_server, tmp_path, short_bounds
):
    dsn = own_server.create_database("tui_stall_lock")
    lock_wait = 2.0
    settings = settings_for(
        dsn, _project(tmp_path / "proj"), advisory_lock_wait=lock_wait, progress_interval=0.2, monitor_interval=0.5
    )
    holder = psycopg.connect(dsn, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (advisory_key("public", "alembic_version"),))
    app = MigtuiApp(settings, lint=False)
    stopped: list[int] = []
    try:
        async with app.run_test(size=(110, 32)) as pilot:
            await _confirm(pilot)
            await wait_for_text(pilot, "advisory lock")  # the runner polls for the lock the test holds
            stopped = _signal(_server_pids(own_server), signal.SIGSTOP)
            started = time.monotonic()
            text = await wait_for_text(pilot, "STALLED", timeout=STALL + lock_wait + 5)
            assert time.monotonic() - started < STALL + lock_wait + 1.5
            screen = app.screen
            assert isinstance(screen, ApplyScreen) and screen.exit_code == 6 and "q quits with exit 6" in text
            assert "while taking the deploy advisory lock" in screen.summary and app.stall is not None
            # the server comes back: the run ends on its own (the lock is still held: exit 4) and its outcome
            # replaces the stall; q is an ordinary quit again
            _signal(stopped, signal.SIGCONT)
            stopped = []
            text = await wait_for_text(pilot, "FAILED", timeout=15)
            assert screen.exit_code == 4 and app.stall is None, text
            await pilot.press("q")
            await pilot.pause(0.2)
        assert app.return_code in (0, None)
    finally:
        _signal(stopped, signal.SIGCONT)
        holder.close()
    assert scalar(dsn, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'migtui%'") == 0


QUIT_SCRIPT = textwrap.dedent(
    """
    import sys
    from migtui.config import Settings
    from migtui.runner.job import Runner
    from migtui.tui import app as app_module
    from migtui.tui.app import MigtuiApp, run_app
    from migtui.tui.screens import apply as apply_view

    Runner.hard_exit_grace = float(sys.argv[3])
    app_module.CRASH_ROLLBACK_WAIT_SECONDS = 1.0
    settings = Settings(dsn=sys.argv[1], migrations=sys.argv[2], timeout=1.0, monitor_interval=0.5)

    def answer_yes(self):  # confirm without a keyboard, as soon as the dialog is shown
        def yes():
            self.dismiss(True)  # not awaited: it is the screen's own timer

        self.set_timer(0.2, yes)

    apply_view.ConfirmScreen.on_mount = answer_yes
    stalled = apply_view.ApplyScreen.on_apply_screen_stalled

    def quit_when_stalled(self, message):  # the operator presses q once the view shows STALLED
        if sys.argv[4] == "crash":  # or the view has a bug: the crash's cancel is never answered either
            raise RuntimeError("a bug in the apply view")
        stalled(self, message)
        self.app.call_later(self.app.action_quit)

    apply_view.ApplyScreen.on_apply_screen_stalled = quit_when_stalled
    app = MigtuiApp(settings, lint=False)
    app.call_later(lambda: app.set_timer(0.5, app.action_apply))
    original_run = app.run
    app.run = lambda: original_run(headless=True)
    sys.exit(run_app(app))
    """
)


@pytest.mark.parametrize("how", ["quit", "crash"])
def test_a_stalled_apply_ends_the_real_process_with_one_line(own_server, tmp_path, how):
    """The process, not only the app: its run's thread stays blocked on the stopped server, and asyncio.run's
    teardown (and the interpreter's exit) would wait for it forever. Quit: the watchdog's line once, exit 3.
    A crash of the view then: its cancel is never answered; after the (shortened) rollback wait, exit 70."""
    dsn = own_server.create_database(f"tui_stall_{how}")
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", QUIT_SCRIPT, dsn, str(_project(tmp_path / "proj")), str(GRACE), how],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        cwd=tmp_path,
    )
    stopped: list[int] = []
    try:
        wait_for(lambda: active_session(dsn, "migtui up a2 @%"), what="a2 running")
        stopped = _signal(_server_pids(own_server), signal.SIGSTOP)
        started = time.monotonic()
        _out, err = child.communicate(timeout=20)
        elapsed = time.monotonic() - started
    finally:
        _signal(stopped, signal.SIGCONT)
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert err.count("\n") == 1, err[-2000:]
    if how == "quit":
        assert child.returncode == 3, err
        assert elapsed < 1.0 + GRACE + 3, elapsed  # timeout + grace + the app's shutdown
        assert err.startswith("migtui: error: revision a2 (up) ran past its timeout of 1s"), err
    else:
        assert child.returncode == 70, err
        assert elapsed < 1.0 + GRACE + 1.0 + 3, elapsed  # ... + the rollback wait
        assert err.startswith("migtui: internal error in the TUI: RuntimeError: a bug in the apply view"), err
        assert err.rstrip().endswith("the running migration was cancelled but had not ended after 1s"), err
    wait_for(lambda: not active_session(dsn, "migtui%"), timeout=15, what="a2's session to end")
    assert scalar(dsn, "SELECT version_num FROM alembic_version") == "a1"


# -- planning: the version table, the lint, the pre-flight are read before anything is confirmed ---------------


def _planning_waits_on_the_lock(dsn: str) -> bool:
    return bool(
        scalar(
            dsn,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
            (PLANNING_APPLICATION_NAME,),
        )
    )


async def _planning_failed_then_quit(pilot, needle: str, timeout: float, stalled: bool) -> ApplyScreen:
    """FAILED with ``needle`` in its one line, no confirmation anywhere; ``q`` quits at once: with exit 6 when
    the server stopped answering (as from a STALLED run), else as usual."""
    app = pilot.app
    text = await wait_for_text(pilot, ["FAILED", needle], timeout=timeout)
    screen = app.screen
    assert isinstance(screen, ApplyScreen) and screen.state == "failed" and screen.exit_code == 6
    assert not any(isinstance(s, ConfirmScreen) for s in app.screen_stack)
    assert app.stall == ((6, screen.summary) if stalled else None)
    assert ("q quits with exit 6" in text) == stalled
    await pilot.press("q")
    for _ in range(40):
        if not app.is_running:
            break
        await pilot.pause(0.05)
    assert not app.is_running
    return screen


async def test_planning_on_a_locked_version_table_ends_failed_at_its_statement_timeout(
    own_server, tmp_path, monkeypatch
):
    """The version table locked by another session (a deploy in another tool): planning's read ends at its
    statement timeout with one line instead of "planning…" for as long as the lock is held."""
    monkeypatch.setattr(apply_screen, "PLANNING_STATEMENT_SECONDS", 0.5)
    dsn = own_server.create_database("tui_plan_locked")
    project = _project(tmp_path / "proj")
    alembic_upgrade(project, dsn, "a1")
    app = MigtuiApp(settings_for(dsn, project, monitor_interval=0.5), lint=False)
    holder = psycopg.connect(dsn, application_name="test-holder")
    try:
        async with app.run_test(size=(110, 32)) as pilot:
            await wait_for_text(pilot, "a2 head")
            holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            await pilot.press("a")
            await _planning_failed_then_quit(
                pilot, "canceling statement due to statement timeout", timeout=5, stalled=False
            )
            assert time.monotonic() - started < 0.5 + 2.0
        assert app.return_code in (0, None)
    finally:
        holder.close()
    assert scalar(dsn, "SELECT version_num FROM alembic_version") == "a1"


async def test_planning_on_a_server_that_stops_answering_ends_failed_at_its_bound(own_server, tmp_path, monkeypatch):
    """The server stops (SIGSTOP) while planning's read waits on it: the server's statement timeout cannot fire,
    the client's bound (connect timeout + statement timeout) ends planning with one line; nothing applied."""
    statement = 1.5  # room to stop the server while the read waits, before the server would cancel it
    monkeypatch.setattr(apply_screen, "PLANNING_STATEMENT_SECONDS", statement)
    dsn = own_server.create_database("tui_plan_stopped")
    project = _project(tmp_path / "proj")
    alembic_upgrade(project, dsn, "a1")
    bounded_dsn = dsn + ("&" if "?" in dsn else "?") + "connect_timeout=2"
    bound = 2 + statement
    assert apply_screen.planning_bound(bounded_dsn) == bound
    app = MigtuiApp(settings_for(bounded_dsn, project, monitor_interval=0.5), lint=False)
    holder = psycopg.connect(dsn, application_name="test-holder")
    stopped: list[int] = []
    try:
        async with app.run_test(size=(110, 32)) as pilot:
            await wait_for_text(pilot, "a2 head")
            holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            await pilot.press("a")
            waiting = False
            for _ in range(100):
                if waiting := _planning_waits_on_the_lock(dsn):
                    break
                await pilot.pause(0.02)
            assert waiting
            started = time.monotonic()
            stopped = _signal(_server_pids(own_server), signal.SIGSTOP)
            await _planning_failed_then_quit(
                pilot,
                f"no answer from the server for {bound:g}s while",
                bound + 2,
                stalled=True,
            )
            assert time.monotonic() - started < bound + 1.0
            assert "while reading the version table" in app.stall[1]
        assert app.return_code == 6
    finally:
        _signal(stopped, signal.SIGCONT)
        holder.close()
    # resumed, the server cancels the abandoned read (its statement timeout); nothing was applied
    wait_for(lambda: not _planning_waits_on_the_lock(dsn), timeout=10, what="the planning read to end")
    assert scalar(dsn, "SELECT version_num FROM alembic_version") == "a1"


def test_a_long_planning_step_goes_on_while_its_server_answers_new_connections(own_server, monkeypatch):
    monkeypatch.setattr(apply_screen, "PLANNING_STATEMENT_SECONDS", 0.2)
    monkeypatch.setattr(apply_screen, "connect_timeout_of", lambda dsn: 1.0)
    dsn = own_server.dsn("postgres")
    probes: list[float] = []
    real_probe = apply_screen._probe
    monkeypatch.setattr(apply_screen, "_probe", lambda *a: probes.append(time.monotonic()) or real_probe(*a))
    assert apply_screen.watched("computing", lambda: time.sleep(1.5) or "done", dsn) == "done"
    assert len(probes) == 1  # one bound (1.2 s) passed: the server was asked, and answered


async def test_the_lint_of_planning_on_a_server_that_stops_answering_ends_failed(own_server, tmp_path, monkeypatch):
    """The lint reads the catalog and may compute a while: it is not cut at a bound, but watched; the server
    stopping while it runs ends planning. (The lint here waits on the test: what is tested is the watch.)"""
    monkeypatch.setattr(apply_screen, "PLANNING_STATEMENT_SECONDS", 0.2)
    monkeypatch.setattr(apply_screen, "connect_timeout_of", lambda dsn: 1.0)
    linting, release = threading.Event(), threading.Event()

    def lint_waits(settings):
        linting.set()
        release.wait(20)
        return {}

    monkeypatch.setattr(lint_summary, "lint_revisions", lint_waits)
    dsn = own_server.create_database("tui_plan_lint")
    project = _project(tmp_path / "proj")
    alembic_upgrade(project, dsn, "a1")
    app = MigtuiApp(settings_for(dsn, project, monitor_interval=0.5), lint=False)
    stopped: list[int] = []
    try:
        async with app.run_test(size=(110, 32)) as pilot:
            await wait_for_text(pilot, "a2 head")
            await pilot.press("a")
            for _ in range(200):
                if linting.is_set():
                    break
                await pilot.pause(0.02)
            assert linting.is_set()
            stopped = _signal(_server_pids(own_server), signal.SIGSTOP)
            started = time.monotonic()
            await _planning_failed_then_quit(pilot, "did not answer a new connection", timeout=5, stalled=True)
            assert time.monotonic() - started < 2 * 1.2 + 1.0
            assert "within 1.2s while linting the pending revisions" in app.stall[1]
        assert app.return_code == 6
    finally:
        _signal(stopped, signal.SIGCONT)
        release.set()
    assert scalar(dsn, "SELECT version_num FROM alembic_version") == "a1"


PLANNING_QUIT_SCRIPT = textwrap.dedent(
    """
    import sys
    from migtui.config import Settings
    from migtui.tui.app import MigtuiApp, run_app
    from migtui.tui.screens import apply as apply_view

    apply_view.PLANNING_STATEMENT_SECONDS = 1.0
    apply_view.connect_timeout_of = lambda dsn: 0.5
    settings = Settings(dsn=sys.argv[1], migrations=sys.argv[2], monitor_interval=0.5)
    planned = apply_view.ApplyScreen.on_apply_screen_planned

    def quit_when_failed(self, message):  # the operator presses q once planning has failed
        planned(self, message)
        self.app.call_later(self.app.action_quit)

    apply_view.ApplyScreen.on_apply_screen_planned = quit_when_failed
    app = MigtuiApp(settings, lint=False)
    app.call_later(lambda: app.set_timer(0.5, app.action_apply))
    original_run = app.run
    app.run = lambda: original_run(headless=True)
    sys.exit(run_app(app))
    """
)


def test_quitting_after_planning_stalled_ends_the_real_process_with_one_line(own_server, tmp_path):
    """The process, not only the app: the views' reads of the stopped server (the monitor's, the Migrations
    view's reload) wait in threads asyncio's teardown would join. q ends it: the line once, exit 6."""
    dsn = own_server.create_database("tui_plan_quit")
    project = _project(tmp_path / "proj")
    alembic_upgrade(project, dsn, "a1")
    holder = psycopg.connect(dsn, application_name="test-holder")
    holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", PLANNING_QUIT_SCRIPT, dsn, str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        cwd=tmp_path,
    )
    stopped: list[int] = []
    try:
        wait_for(lambda: _planning_waits_on_the_lock(dsn), what="planning's read to wait on the lock")
        stopped = _signal(_server_pids(own_server), signal.SIGSTOP)
        started = time.monotonic()
        _out, err = child.communicate(timeout=15)
        elapsed = time.monotonic() - started
    finally:
        _signal(stopped, signal.SIGCONT)
        if child.poll() is None:
            child.kill()
            child.communicate()
        holder.close()
    assert child.returncode == 6 and err.count("\n") == 1, err[-2000:]
    assert err.startswith("migtui: error: planning stopped: no answer from the server for 1.5s"), err
    assert elapsed < 1.5 + 3, elapsed  # the bound + the app's shutdown
    wait_for(lambda: not _planning_waits_on_the_lock(dsn), timeout=10, what="the planning read to end")
    assert scalar(dsn, "SELECT version_num FROM alembic_version") == "a1"
