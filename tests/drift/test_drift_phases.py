"""drift follows the recorded phase of each phased revision: a database at any phase of the sample's
0018 and 0019 (and of a carry-over rename) shows no drift, and a hand change made mid-phase is found."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psycopg

from migtui.config import Settings, load_settings
from migtui.phases.backfill import BackfillOptions
from migtui.phases.driver import DriverOptions, PhaseDriver
from migtui.phases.gates import GateOptions
from migtui.project.load import AlembicProject
from migtui.runner.job import Runner
from tests.drift.test_drift import _items, drift_of

ROOT = Path(__file__).resolve().parents[2]
R18 = "0018_accounts_owner_name_unique"
R19 = "0019_users_full_name_to_legal"


def _driver(dsn: str, project: AlembicProject, settings: Settings) -> PhaseDriver:
    options = DriverOptions(backfill=BackfillOptions(batch_size=500), gates=GateOptions(quiet_window=0.0))
    return PhaseDriver(dsn, project, settings, lambda event: None, options)


def _q(dsn: str, query: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(query)


def test_sample_phased_revisions_show_no_drift_at_any_phase(pg, tmp_path):
    project = AlembicProject.load(ROOT / "db" / "migrations")
    settings = load_settings({}, env={})
    name = "t_drift_phases_" + uuid.uuid4().hex[:8]
    dsn = pg.create_database(name)
    seen = []

    def clean(label: str) -> None:
        report = drift_of(project, dsn, settings, cache_dir=tmp_path, scratch_dsn=pg.dsn())
        seen.append(label)
        assert _items(report) == [], (label, _items(report))
        assert not report.drifted

    try:
        Runner(project, dsn, settings).upgrade("head")
        clean("0018, 0019 expanded")
        with _driver(dsn, project, settings) as driver:
            driver.run(R19, until="migrate")
            clean("0019 migrated")
            # a hand change mid-phase is still drift
            _q(dsn, "CREATE INDEX hand_made ON users (legal_name)")
            report = drift_of(project, dsn, settings, cache_dir=tmp_path, scratch_dsn=pg.dsn())
            assert [i[:3] for i in _items(report)] == [("index", "public.hand_made", "added")]
            _q(dsn, "DROP INDEX hand_made")
            time.sleep(0.05)
            driver.run(R19)
            clean("0019 contracted")
            driver.run(R18, until="migrate")
            clean("0018 migrated")
            driver.run(R18)
            clean("0018 contracted")
            # after contract a hand change is found too (and the expected schema is not the expand one)
            _q(dsn, "ALTER TABLE users ALTER COLUMN legal_name DROP NOT NULL")
            report = drift_of(project, dsn, settings, cache_dir=tmp_path, scratch_dsn=pg.dsn())
            assert [i[:2] for i in _items(report)] == [("column", "public.users.legal_name")]
    finally:
        pg.drop_database(name)
    assert len(seen) == 5


def test_abort_shows_no_drift(pg, tmp_path):
    project = AlembicProject.load(ROOT / "db" / "migrations")
    settings = load_settings({}, env={})
    name = "t_drift_abort_" + uuid.uuid4().hex[:8]
    dsn = pg.create_database(name)
    try:
        Runner(project, dsn, settings).upgrade("head")
        with _driver(dsn, project, settings) as driver:
            driver.run(R19, until="migrate")
            driver.abort(R19)
        report = drift_of(project, dsn, settings, cache_dir=tmp_path, scratch_dsn=pg.dsn())
        assert report.current == (R18,)
        assert _items(report) == []
        with _driver(dsn, project, settings) as driver:
            driver.abort(R18)
        report = drift_of(project, dsn, settings, cache_dir=tmp_path, scratch_dsn=pg.dsn())
        assert _items(report) == []
    finally:
        pg.drop_database(name)


def test_carried_objects_follow_the_phase(pg, tmp_path):
    """A rename that carries a default, CHECK, UNIQUE, index, foreign keys and a view: no drift at expanded,
    migrated (carried objects built and validated) and contracted (carried objects renamed, view re-created)."""
    from tests.phases.test_carry import BASE_SQL, project

    proj = project(tmp_path / "p", "phases.rename_column('items', 'code', 'item_code')")
    alembic_project = AlembicProject.load(proj)
    settings = load_settings({}, env={})
    name = "t_drift_carry_" + uuid.uuid4().hex[:8]
    dsn = pg.create_database(name)
    try:
        assert "CREATE VIEW items_v" in BASE_SQL
        Runner(alembic_project, dsn, settings).upgrade("head")
        with _driver(dsn, alembic_project, settings) as driver:
            for until in ("expand", "migrate", "contract"):
                driver.run("b2", until=until)
                report = drift_of(alembic_project, dsn, settings, cache_dir=tmp_path, scratch_dsn=pg.dsn())
                assert _items(report) == [], (until, _items(report))
    finally:
        pg.drop_database(name)


def test_a_revision_stopped_mid_migrate_shows_no_drift(pg, tmp_path):
    """migrate stopped after its second step (a crash): the expected schema replays exactly the recorded
    steps, so the half-built carried objects are no drift; the run then resumes to contract."""
    from migtui.errors import MigrationFailed
    from migtui.phases.events import PhaseStepApplied
    from tests.phases.test_carry import project

    proj = project(tmp_path / "p", "phases.rename_column('items', 'code', 'item_code')")
    alembic_project = AlembicProject.load(proj)
    settings = load_settings({}, env={})
    name = "t_drift_mid_" + uuid.uuid4().hex[:8]
    dsn = pg.create_database(name)

    def crash_after_two(event) -> None:
        if isinstance(event, PhaseStepApplied) and event.phase == "migrate" and event.index == 1:
            raise RuntimeError("simulated crash")

    try:
        Runner(alembic_project, dsn, settings).upgrade("head")
        options = DriverOptions(backfill=BackfillOptions(batch_size=500), gates=GateOptions(quiet_window=0.0))
        with PhaseDriver(dsn, alembic_project, settings, crash_after_two, options) as driver:
            try:
                driver.run("b2", until="migrate")
            except MigrationFailed:
                pass
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert conn.execute("SELECT phase, step FROM migtui.phase_state").fetchall() == [("migrating", 2)]
        report = drift_of(alembic_project, dsn, settings, cache_dir=tmp_path, scratch_dsn=pg.dsn())
        assert _items(report) == []
        assert any("b2 migrating" in note for note in report.notes)
        with _driver(dsn, alembic_project, settings) as driver:
            driver.run("b2")
        report = drift_of(alembic_project, dsn, settings, cache_dir=tmp_path, scratch_dsn=pg.dsn())
        assert _items(report) == []
    finally:
        pg.drop_database(name)
