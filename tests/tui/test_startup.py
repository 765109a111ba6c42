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
import asyncio, inspect, json, sys

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
                         "data": describe(message), "psycopg": "psycopg" in sys.modules,
                         "in_mount": any(f.function == "on_mount" for f in inspect.stack())}}
        return handler(self, message)
    return wrapper


LAUNCH = sys.argv[2] == "launch"  # as `migtui tui` / `migtui monitor` start: read at launch, in a forked child
if LAUNCH:
    from migtui.redact import defer_libpq_parse

    defer_libpq_parse()
settings = Settings(dsn={dsn!r}, migrations={migrations!r})

if MODE == "shell":
    import migtui.tui.screens.migrations as migrations

    migrations.FIRST_PAINT_WAIT_SECONDS = 120  # a slow machine must not let deferred work start early
    migrations.MigrationsScreen._show_overview = record(
        migrations.MigrationsScreen._show_overview, "overview",
        lambda o: [o.revisions_from, [(r.revision, r.state) for r in o.revisions]])
    if LAUNCH:
        from migtui.tui import prefetch
        from migtui.tui.overview import prefetch_overview

        prefetch_overview(settings)
        prefetch._started[("overview", id(settings))][0].wait(60)  # back before the app starts: its first frame
else:
    from migtui.tui.widgets.monitor_panel import MonitorPanel

    MonitorPanel._show_sample = record(
        MonitorPanel._show_sample, "sample", lambda snap: [s.application_name for s in snap.sessions])
    if LAUNCH:
        from migtui.tui import prefetch

        prefetch.start_monitor_sample(settings.dsn, settings.monitor_interval)
        prefetch._started[prefetch.monitor_sample_key(settings.dsn)][0].wait(60)


async def main(mode):
    app = MigtuiApp(settings, mode=mode)
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


def first_screen(mode: str, dsn: str, migrations: Path, start: str = "in-app") -> dict:
    script = SCRIPT.format(heavy=HEAVY, dsn=dsn, migrations=str(migrations))
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), mode, start],
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


def test_launch_reads_in_a_forked_child_and_paints_its_overview_in_the_first_frame(fresh_db, tmp_path):
    project = sample_project(tmp_path / "proj")
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('a3')")
    seen = first_screen("shell", fresh_db, project, start="launch")
    first = seen["overview"]
    assert first["data"] == ["source", [["a4", "pending"], ["a3", "current"], ["a2", "applied"], ["a1", "applied"]]]
    # read by the child: this process has not imported psycopg when the revisions are on screen, and they are
    # there as the view mounts (no "loading…" frame before them)
    assert first["psycopg"] is False
    assert first["in_mount"] is True
    assert first["heavy"] == []
    assert seen["after"] == {"painted": True}


def test_monitor_launch_shows_the_childs_first_sample_as_it_mounts(fresh_db, tmp_path):
    with psycopg.connect(fresh_db, autocommit=True, application_name="startup-holder"):
        seen = first_screen("monitor", fresh_db, tmp_path, start="launch")
    first = seen["sample"]
    assert "startup-holder" in first["data"]
    assert first["psycopg"] is False
    assert first["in_mount"] is True
    assert first["heavy"] == []


DEFERRED = r"""
import os, sys

from migtui import redact
from migtui.tui import prefetch

redact.defer_libpq_parse()
redact.remember_dsn(r"host=h password=se\ cret9 dbname=x")  # libpq reads the password as "se cret9"
assert "psycopg" not in sys.modules
if sys.argv[1] == "child":
    prefetch.start("k", os.getpid, fork=True)
    started, child = prefetch.take("k")
    assert started and child != os.getpid()
    assert "psycopg" not in sys.modules  # the child's libpq reading was adopted
print(redact.redact("auth failed for se cret9"), "psycopg" in sys.modules)
"""


@pytest.mark.parametrize(("how", "imported"), [("child", "False"), ("here", "True")])
def test_deferred_dsn_is_masked_by_libpqs_reading_before_any_output(how, imported):
    # the raw spelling of this password is "se\" (too short to mask on its own): only libpq's reading masks it,
    # through the forked child's reading, or here, by the first redact(), importing psycopg then
    out = subprocess.run([sys.executable, "-c", DEFERRED, how], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["auth", "failed", "for", "***", imported]


FORKED = r"""
import os, sys, threading

from migtui.tui import prefetch

def taken(key, work):
    prefetch.start(key, work, fork=True)
    result = prefetch.take(key)
    for thread in threading.enumerate():  # the reader of the child's pipe: the next start forks again
        if thread is not threading.main_thread():
            thread.join()
    return result


pid = taken("pid", os.getpid)
print(pid[0] and pid[1] != os.getpid(), taken("raises", lambda: 1 / 0), taken("unpicklable", threading.Lock))
"""


def test_forked_work_that_fails_reads_as_nothing_started():
    # the view then reads for itself and shows what went wrong: a child's exception or an unpicklable
    # result must not reach it as a half result
    out = subprocess.run([sys.executable, "-c", FORKED], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "(False,", "None)", "(False,", "None)"]
    assert out.stderr == ""  # the children wrote nothing to the terminal
