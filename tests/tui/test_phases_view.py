"""Phases view on the repo's sample project: phased revisions, gates, advance through the job view."""

from __future__ import annotations

from migtui.tui.app import MigtuiApp
from migtui.tui.screens.apply import ConfirmScreen
from migtui.tui.screens.job import JobScreen
from migtui.tui.screens.phases import PhasesScreen
from tests.conftest import ROOT
from tests.tui_helpers import settings_for, wait_for_text


async def test_phases_view_and_advance(fresh_db):
    from migtui.project.load import AlembicProject
    from migtui.runner.job import Runner

    settings = settings_for(fresh_db, ROOT / "db/migrations")
    Runner(AlembicProject.load(settings.migrations), fresh_db, settings).upgrade("head")
    phased = [e["revision"] for e in __import__("migtui.tui.screens.phases", fromlist=["x"]).phases_status(settings)]
    assert phased, "the sample project has phased revisions: phases_status found none"
    revision = phased[-1]
    app = MigtuiApp(settings, lint=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_text(pilot, "revisions,")
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PhasesScreen)
        text = await wait_for_text(pilot, [revision[:20], "expanded", "gate"])
        while app.screen._selected != revision:
            await pilot.press("down")
        text = await wait_for_text(pilot, ["next      migrate"])
        await pilot.press("v")
        for _ in range(100):
            await pilot.pause(0.05)
            if isinstance(app.screen, ConfirmScreen):
                break
        await pilot.press("y")
        await pilot.pause()
        job = app.screen
        assert isinstance(job, JobScreen)
        for _ in range(600):
            await pilot.pause(0.1)
            if job.state != "running":
                break
        assert job.state == "done", (job.summary, job.exit_code)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PhasesScreen)
        app.screen.action_refresh()
        text = await wait_for_text(pilot, "phase     migrated", timeout=20)
        assert revision in text
