"""Drift view: run drift against a real target from the TUI and browse what it finds.

One database at the sample project's head with one hand change (an extra index) must show exactly that
object (kind, name, fix SQL) and nothing else; a clean one shows "no drift"; a database without a version
table shows drift's one-line error. The expected schema is built once on an embedded server and then read
from the (per-module) on-disk cache.
"""

from __future__ import annotations

import psycopg
import pytest

from migtui.tui.app import MigtuiApp
from migtui.tui.screens.drift import DriftScreen
from tests.conftest import new_database
from tests.tui_helpers import alembic_upgrade, sample_project, screen_text, settings_for, wait_for_text


@pytest.fixture(scope="module")
def drift_setup(pg, tmp_path_factory):
    """(server, project, template database at head)."""
    root = tmp_path_factory.mktemp("tui_drift")
    project = sample_project(root / "proj")
    name, dsn = new_database(pg)
    alembic_upgrade(project, dsn, "head")
    yield pg, project, name, root / "cache"
    pg.drop_database(name)


@pytest.fixture
def clone(drift_setup):
    server, _project, template, _cache = drift_setup
    name, dsn = new_database(server, template=template)
    yield name, dsn
    server.drop_database(name)


@pytest.fixture(autouse=True)
def cache_dir(drift_setup, monkeypatch):
    monkeypatch.setenv("MIGTUI_CACHE_DIR", str(drift_setup[3]))


async def _open_drift(app, pilot) -> DriftScreen:
    await wait_for_text(pilot, "4 revisions")
    await pilot.press("s")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, DriftScreen)
    for _ in range(1200):
        await pilot.pause(0.05)
        if screen.state != "running":
            return screen
    raise AssertionError(f"drift still running:\n{screen_text(app)}")


async def test_drift_view_shows_exactly_the_hand_made_index(drift_setup, clone):
    server, project, _template, _cache = drift_setup
    name, dsn = clone
    server.execute("CREATE INDEX hand_idx ON accounts (name)", dbname=name)
    app = MigtuiApp(settings_for(dsn, project), lint=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_drift(app, pilot)
        assert screen.state == "drift", screen.error
        text = await wait_for_text(pilot, ["DRIFT", "index (1)", "public.hand_idx", "DROP INDEX"])
        # the engine's events streamed in: started, one finding per difference, finished with drift
        kinds = [e.kind for e in screen.events]
        assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and kinds.count("finding") == 1
        assert not screen.events[-1].ok and screen.events[-1].exit_code == 1
        # exactly that object, nothing else
        assert [(d.kind, d.object, d.change) for d in screen.report.differences] == [
            ("index", "public.hand_idx", "added")
        ]
        assert "1 object(s), 1 difference(s)" in text
        assert "in the database, not in the migrations" in text
        # the fix SQL on screen is the engine's, and it really removes the drift
        fix = screen.report.fixes[0]
        assert fix and "hand_idx" in fix
        await pilot.press("y")  # copy the selected object's fix SQL
        await pilot.pause()
        assert app.clipboard == fix, [n.message for n in app._notifications]
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(fix)
        await pilot.press("r")
        await pilot.pause()
        for _ in range(600):
            await pilot.pause(0.05)
            if screen.state != "running":
                break
        assert screen.state == "no drift", screen.error
        await wait_for_text(pilot, ["NO DRIFT", "No drift"])


async def test_drift_view_clean_database_and_pending_revisions(drift_setup, clone):
    server, project, _template, _cache = drift_setup
    _name, dsn = clone
    app = MigtuiApp(settings_for(dsn, project), lint=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_drift(app, pilot)
        assert screen.state == "no drift", screen.error
        await wait_for_text(pilot, ["NO DRIFT", "No drift", "from cache"])
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DriftScreen)
    # behind head: the pending revision is listed on its own, not as drift (expected schema at a3 built now)
    name, behind = new_database(server)
    try:
        alembic_upgrade(project, behind, "a3")
        app = MigtuiApp(settings_for(behind, project), lint=False)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await _open_drift(app, pilot)
            assert screen.state == "no drift", screen.error
            await wait_for_text(pilot, ["NO DRIFT", "pending revisions, not drift (1)", "a4", "1 pending"])
    finally:
        server.drop_database(name)


async def test_drift_view_database_without_version_table(drift_setup, fresh_db):
    _server, project, _template, _cache = drift_setup
    app = MigtuiApp(settings_for(fresh_db, project), lint=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_drift(app, pilot)
        assert screen.state == "error"
        await wait_for_text(pilot, ["ERROR", "no alembic version table"])
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DriftScreen)


async def test_drift_without_target_says_so(tmp_path):
    app = MigtuiApp(settings_for(None, sample_project(tmp_path / "proj")), lint=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "4 revisions")
        await pilot.press("s")
        await pilot.pause()
        assert not isinstance(app.screen, DriftScreen)
        assert any("no target database" in n.message for n in app._notifications)


def test_snapshot_drift_view(snap_compare, drift_setup, clone):
    """The drift view at 80x24 on a real drifted database (the header's DSN, which holds a port and a random
    database name, and the cache state are set to fixed values before the picture is taken)."""
    server, project, _template, _cache = drift_setup
    name, dsn = clone
    server.execute("CREATE INDEX hand_idx ON accounts (name)", dbname=name)
    server.execute("ALTER TABLE accounts ALTER COLUMN email SET NOT NULL", dbname=name)

    async def drifted(pilot):
        app = pilot.app
        screen = await _open_drift(app, pilot)
        assert screen.state == "drift", screen.error
        screen.report.target = "postgresql://app@db.internal/shop"
        screen.report.expected_source = "cache"
        screen._render_header()
        tree = screen.query_one("#drift-tree")
        assert tree.cursor_node is not None and tree.cursor_node.data[:3] == (
            "object",
            "column",
            "public.accounts.email",
        )
        await pilot.pause()

    app = MigtuiApp(settings_for(dsn, project), lint=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=drifted)
