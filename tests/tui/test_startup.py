"""The first screen's import path stays lean: what it needs is imported before it is painted, nothing more.

Each check runs the real app in a fresh interpreter (``sys.modules`` of this test process has everything) and
records the loaded modules at the moment the first screen's data arrives. Not timed: it fails when a module
the first screen does not need (alembic, SQLAlchemy, pglast, the lint engine, other screens) comes back onto
that path, whatever the machine's speed (docs/tui.md, "Start-up").
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from tests.tui_helpers import sample_project

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("alembic", "sqlalchemy", "mako", "pglast", "pygments", "migtui.lint", "migtui.analysis")

SCRIPT = """
import asyncio, json, sys

from migtui.config import Settings
from migtui.tui.app import MigtuiApp

HEAVY = {heavy!r}
MODE = sys.argv[1]
seen = {{}}


def loaded():
    return sorted({{m for m in sys.modules if m.startswith(HEAVY)}})


def record(handler, key, describe):
    def wrapper(self, message):
        if key not in seen:
            seen[key] = {{"heavy": loaded(), "screens": sorted(m for m in sys.modules if ".screens." in m),
                         "data": describe(message)}}
        return handler(self, message)
    return wrapper


if MODE == "shell":
    import migtui.tui.screens.migrations as migrations

    migrations.FIRST_PAINT_WAIT_SECONDS = 120  # a slow machine must not let deferred work start early
    migrations.MigrationsScreen.on_migrations_screen_overview_loaded = record(
        migrations.MigrationsScreen.on_migrations_screen_overview_loaded, "overview",
        lambda m: [m.overview.revisions_from, [(r.revision, r.state) for r in m.overview.revisions]])
else:
    from migtui.tui.widgets.monitor_panel import MonitorPanel

    MonitorPanel.on_monitor_panel_sample_ready = record(
        MonitorPanel.on_monitor_panel_sample_ready, "sample",
        lambda m: [s.application_name for s in m.sample.sessions])


async def main(mode):
    app = MigtuiApp(Settings(dsn={dsn!r}, migrations={migrations!r}), mode=mode)
    async with app.run_test(size=(80, 24)) as pilot:
        key = "overview" if mode == "shell" else "sample"
        while key not in seen:
            await pilot.pause(0.02)
        if mode == "shell":  # the deferred work starts once the screen is painted: alembic's check
            while "sqlalchemy" not in sys.modules:
                await pilot.pause(0.02)
            seen["after"] = {{"painted": app.screen.painted.is_set()}}


asyncio.run(main(MODE))
print(json.dumps(seen))
"""


def first_screen(mode: str, dsn: str, migrations: Path) -> dict:
    script = SCRIPT.format(heavy=HEAVY, dsn=dsn, migrations=str(migrations))
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), mode],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_migrations_view_first_screen_has_database_state_without_alembic_or_lint(fresh_db, tmp_path):
    project = sample_project(tmp_path / "proj")
    with psycopg.connect(fresh_db, autocommit=True) as conn:  # the version table alone says where it stands
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('a2')")
    seen = first_screen("shell", fresh_db, project)
    first = seen["overview"]
    assert first["data"] == ["source", [["a4", "pending"], ["a3", "pending"], ["a2", "current"], ["a1", "applied"]]]
    assert first["heavy"] == []
    assert first["screens"] == ["migtui.tui.screens.migrations"]
    # alembic (the check of the list, the SQL rendering) is loaded once the screen is painted, not before
    assert seen["after"] == {"painted": True}


def test_monitor_first_sample_without_the_shell_screens(fresh_db, tmp_path):
    seen = first_screen("monitor", fresh_db, tmp_path)
    first = seen["sample"]
    assert first["heavy"] == []
    assert first["screens"] == ["migtui.tui.screens.monitor"]


def test_prefetched_work_is_taken_once_with_its_outcome(tmp_path):
    from migtui.tui import prefetch
    from migtui.tui.overview import load_overviews, prefetch_overview
    from tests.alembic_projects import project_settings

    settings = project_settings(sample_project(tmp_path / "proj"))
    prefetch_overview(settings)
    first = next(load_overviews(settings))
    assert [r.revision for r in first.revisions] == ["a4", "a3", "a2", "a1"]
    assert first.revisions_from == "source"
    assert prefetch.take(("overview", id(settings))) == (False, None)  # taken: the next load reads again

    prefetch.start("boom", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):  # the work's exception is raised where it is taken
        prefetch.take("boom")
    assert prefetch.take("boom") == (False, None)
