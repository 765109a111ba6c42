"""Deploys scoped to (database, version table): two tenants' deploys side by side, and the deploy lock and the
phase driver's lock excluding each other. Real servers, real CLI runs."""

from __future__ import annotations

import time

import psycopg
import pytest

from migtui.errors import LockNotAcquired
from migtui.pg.advisory import PHASE_LOCK_CLASS
from migtui.pg.version_table import advisory_key
from migtui.project.load import AlembicProject
from migtui.runner.job import Runner
from tests.alembic_projects import Rev, project_settings
from tests.conftest import run_main
from tests.faults.helpers import active_session, scalar, scoped_project, start_cli, wait_for


def test_deploys_of_two_version_tables_never_touch_each_other(tmp_path, fresh_db, monkeypatch):
    """B's orphan sweep would end A's running revision session if it matched every 'migtui up' session."""
    project_a = scoped_project(
        tmp_path / "a",
        [
            Rev("a1", "op.create_table('ta', sa.Column('id', sa.Integer))"),
            Rev("a2", "op.execute('SELECT pg_sleep(4)')"),
        ],
    )
    project_b = scoped_project(tmp_path / "b", [Rev("b1", "op.create_table('tb', sa.Column('id', sa.Integer))")])
    child = start_cli("up", "--dsn", fresh_db, "--migrations", str(project_a), env={"MIGTUI_VERSION_TABLE": "ver_a"})
    try:
        wait_for(lambda: active_session(fresh_db, "migtui up a2 @%"), what="A's a2 running")
        monkeypatch.setattr(Runner, "orphan_wait", 0.2)  # a wrong sweep would terminate A at once
        started = time.monotonic()
        result = run_main(
            "up", "--dsn", fresh_db, "--migrations", str(project_b), env={"MIGTUI_VERSION_TABLE": "ver_b"}
        )
        assert result.returncode == 0, result.stderr
        assert time.monotonic() - started < 3.5  # it neither waited for A's lock nor for A's session
        assert "a2" not in result.stdout + result.stderr and "terminated" not in result.stdout + result.stderr
        assert active_session(fresh_db, "migtui up a2 @%")  # A is still running its revision
        _out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    assert scalar(fresh_db, "SELECT version_num FROM ver_a") == "a2"
    assert scalar(fresh_db, "SELECT version_num FROM ver_b") == "b1"


def _hold_phase_lock(dsn: str, revision: str):
    conn = psycopg.connect(dsn, autocommit=True, application_name=f"migtui-phase-lock {revision}")
    conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (PHASE_LOCK_CLASS, revision))
    return conn


def test_up_and_down_refuse_a_revision_a_phase_driver_holds(tmp_path, fresh_db):
    project = scoped_project(
        tmp_path,
        [
            Rev("a1", "op.create_table('t', sa.Column('id', sa.Integer))", "op.drop_table('t')"),
            Rev("a2", "op.add_column('t', sa.Column('w', sa.Integer))", "op.drop_column('t', 'w')"),
        ],
    )
    common = ("--dsn", fresh_db, "--migrations", str(project))
    assert run_main("up", *common).returncode == 0
    holder = _hold_phase_lock(fresh_db, "a2")
    try:
        down = run_main("down", "-1", *common)
        assert down.returncode == 4, down.stderr
        line = down.stderr.strip()
        assert len(line.splitlines()) == 1
        assert "a2 is being driven by a phase run" in line and f"pid {holder.info.backend_pid}" in line
        assert "migtui phase abort a2" in line
        assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a2"
        assert scalar(fresh_db, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'w'") == 1
        # a revision the driver does not hold is not affected: a1 stays (down to a1 reverts only a2 -> refused)
        assert run_main("down", "a1", *common).returncode == 4
    finally:
        holder.close()
    assert run_main("down", "-1", *common).returncode == 0
    holder = _hold_phase_lock(fresh_db, "a2")
    try:
        up = run_main("up", *common)
        assert up.returncode == 4 and "a2 is being driven by a phase run" in up.stderr, up.stderr
        assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a1"
    finally:
        holder.close()
    assert run_main("up", *common).returncode == 0


def test_a_phase_driver_refuses_while_a_deploy_of_its_version_table_runs(tmp_path, fresh_db):
    from migtui.phases.driver import PhaseDriver

    location = scoped_project(tmp_path, [Rev("a1", "pass")])
    project = AlembicProject.load(location)
    deploy = psycopg.connect(fresh_db, autocommit=True, application_name="migtui up [lock]")
    deploy.execute("SELECT pg_advisory_lock(%s)", (advisory_key("public", "alembic_version"),))
    try:
        with PhaseDriver(fresh_db, project, project_settings(project, dsn=fresh_db)) as driver:
            with pytest.raises(LockNotAcquired, match=r"a deploy holds the deploy advisory lock .*pid \d+"):
                with driver.driving("a1"):
                    pytest.fail("drove a revision during a deploy")
        # another version table's deploy does not stop it
        other = project_settings(project, dsn=fresh_db, version_table="ver_other")
        with PhaseDriver(fresh_db, project, other) as driver:
            with driver.driving("a1"):
                pass
    finally:
        deploy.close()
    assert (
        scalar(
            fresh_db,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s::bigint::oid",
            (PHASE_LOCK_CLASS,),
        )
        == 0
    )


def test_phase_drivers_of_one_revision_in_two_databases_never_block_each_other(tmp_path, pg, fresh_db):
    """Two tenants with a database each, one project: the driver lock and the deploy's check for it are per
    database (advisory locks live in one database; the holders query filters on it)."""
    from migtui.phases.driver import PhaseDriver
    from tests.conftest import new_database

    location = scoped_project(
        tmp_path,
        [
            Rev("a1", "op.create_table('t', sa.Column('id', sa.Integer))", "op.drop_table('t')"),
            Rev("a2", "op.add_column('t', sa.Column('w', sa.Integer))", "op.drop_column('t', 'w')"),
        ],
    )
    project = AlembicProject.load(location)
    other_name, other_db = new_database(pg)
    try:
        for dsn in (fresh_db, other_db):
            assert run_main("up", "a1", "--dsn", dsn, "--migrations", str(location)).returncode == 0
        with PhaseDriver(fresh_db, project, project_settings(project, dsn=fresh_db)) as first:
            with first.driving("a2"):
                # the same revision in the other database: driven, and deployed, while the first driver holds it
                with PhaseDriver(other_db, project, project_settings(project, dsn=other_db)) as second:
                    with second.driving("a2"):
                        pass
                up = run_main("up", "--dsn", other_db, "--migrations", str(location))
                assert up.returncode == 0, up.stderr
                assert scalar(other_db, "SELECT version_num FROM alembic_version") == "a2"
                # in its own database the lock holds: a second driver and a deploy of a2 are refused
                with PhaseDriver(fresh_db, project, project_settings(project, dsn=fresh_db)) as again:
                    with pytest.raises(LockNotAcquired, match="another migtui is driving revision a2"):
                        with again.driving("a2"):
                            pytest.fail("two drivers of a2 in one database")
                up = run_main("up", "--dsn", fresh_db, "--migrations", str(location))
                assert up.returncode == 4 and "a2 is being driven by a phase run" in up.stderr, up.stderr
        assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a1"
    finally:
        pg.drop_database(other_name)
