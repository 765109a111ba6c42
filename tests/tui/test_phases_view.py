"""Phases view on the repo's sample project: phased revisions, gates, advance through the job view."""

from __future__ import annotations

from migtui.tui.app import MigtuiApp
from migtui.tui.screens.apply import ConfirmScreen
from migtui.tui.screens.job import JobScreen
from migtui.tui.screens.phases import PhasesScreen
from tests.conftest import ROOT
from tests.tui_helpers import press_for_confirmation, settings_for, wait_for_text


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
        await press_for_confirmation(pilot, "v")
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


async def test_run_again_after_advance_asks_typed_confirmation_before_contract(fresh_db):
    """The issue's case: advance (confirmed), then ``r`` in the job view. The next stage is contract: ``r``
    must not run it; it asks again, typed, with the statements contract runs on screen at 80x24."""
    from migtui.project.load import AlembicProject
    from migtui.runner.job import Runner
    from migtui.tui.screens.phases import phases_status

    settings = settings_for(fresh_db, ROOT / "db/migrations")
    Runner(AlembicProject.load(settings.migrations), fresh_db, settings).upgrade("head")
    revision = phases_status(settings)[-1]["revision"]
    app = MigtuiApp(settings, lint=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "revisions,")
        await pilot.press("p")
        await wait_for_text(pilot, "gate")
        while app.screen._selected != revision:
            await pilot.press("down")
        for _ in range(200):  # at 80x24 the detail pane's "next" line is below the fold
            await pilot.pause(0.05)
            if app.screen.entries.get(revision, {}).get("next") == "migrate":
                break
        assert app.screen.entries[revision]["next"] == "migrate"
        await press_for_confirmation(pilot, "v")
        assert app.screen.typed is None  # migrate: y is enough
        await pilot.press("y")
        await pilot.pause()
        job = app.screen
        assert isinstance(job, JobScreen)
        for _ in range(600):
            await pilot.pause(0.1)
            if job.state != "running":
                break
        assert job.state == "done", (job.summary, job.exit_code)

        await pilot.press("r")  # "run again": the next stage would be contract
        for _ in range(200):
            await pilot.pause(0.05)
            if isinstance(app.screen, ConfirmScreen):
                break
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen) and confirm.typed == revision
        text = await wait_for_text(pilot, ["contract is irreversible", f"Type '{revision}'"])
        assert "→ contract" in text
        # y and a wrong name do not run it; the wrong name gets feedback on screen
        await pilot.press("y", "enter")
        text = await wait_for_text(pilot, "'y' is not")
        assert app.screen is confirm
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PhasesScreen)
    (entry,) = [e for e in phases_status(settings) if e["revision"] == revision]
    assert entry["phase"] == "migrated"  # contract never ran
