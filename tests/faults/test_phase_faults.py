"""Faults around ``migtui phase``: SIGTERM mid-backfill, a deploy trying to revert the revision a backfill
drives, a revision in the wrong phase, a driver lock held by another role, a standby as target."""

from __future__ import annotations

import signal
import time
import uuid

import psycopg

from migtui.errors import ExitCode
from migtui.pg.advisory import PHASE_LOCK_CLASS
from tests.alembic_projects import Rev
from tests.conftest import run_main
from tests.faults.helpers import scoped_project
from tests.phases.test_phases import _start_backfill_subprocess, driver, project, q

RENAME = "change = phases.rename_column('users', 'email', 'email_address')\n"


def _backfill_running(dsn: str, proj) -> object:
    with driver(dsn, proj, []) as d:
        d.run("b2", until="expand")
    proc = _start_backfill_subprocess(dsn, proj)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = q(dsn, "SELECT rows_done FROM migtui.phase_state WHERE revision = 'b2' AND phase = 'migrating'")
        if rows and rows[0][0] >= 200:
            return proc
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the backfill never got going")


def test_sigterm_mid_backfill_exits_130_and_keeps_the_cursor(db, tmp_path):
    _, dsn, _ = db
    proj = project(tmp_path, RENAME)
    proc = _backfill_running(dsn, proj)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err and "Traceback" not in err
    phase, cursor = q(dsn, "SELECT phase, cursor FROM migtui.phase_state")[0]
    assert phase == "migrating" and cursor is not None


def test_down_refuses_while_the_backfill_of_that_revision_runs(db, tmp_path):
    """``down -1`` during a backfill used to succeed, and the backfill then crashed with UndefinedColumn."""
    _, dsn, _ = db
    proj = project(tmp_path, RENAME)
    proc = _backfill_running(dsn, proj)
    try:
        down = run_main("down", "-1", "--dsn", dsn, "--migrations", str(proj))
        assert down.returncode == ExitCode.LOCK_NOT_ACQUIRED, down.stderr
        assert "b2 is being driven by a phase run" in down.stderr and "migtui phase abort b2" in down.stderr
        assert q(dsn, "SELECT version_num FROM alembic_version")[0][0] == "b2"
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert q(dsn, "SELECT phase FROM migtui.phase_state WHERE revision = 'b2'")[0][0] == "migrated"
    assert q(dsn, "SELECT count(*) FROM users WHERE email_address IS DISTINCT FROM email")[0][0] == 0


def test_wrong_phase_is_exit_8(db, tmp_path):
    _, dsn, _ = db
    proj = project(tmp_path, RENAME)
    with driver(dsn, proj, []) as d:
        d.run("b2", until="expand")
    q(dsn, "UPDATE migtui.phase_state SET phase = 'aborting' WHERE revision = 'b2'")  # an abort died half-way
    r = run_main("phase", "run", "b2", "--dsn", dsn, "--migrations", str(proj))
    assert r.returncode == ExitCode.WRONG_PHASE == 8, r.stderr
    assert "was being aborted" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_driver_lock_held_by_another_role_is_exit_4_not_an_internal_error(db, tmp_path):
    """A non-superuser sees NULL backend_start for another role's session: the message must still format."""
    server, _dsn, name = db
    proj = project(tmp_path, RENAME)
    holder_role, runner_role = "h_" + uuid.uuid4().hex[:8], "r_" + uuid.uuid4().hex[:8]
    for role in (holder_role, runner_role):
        server.execute(f"CREATE ROLE {role} LOGIN")
    try:
        holder = psycopg.connect(server.dsn(name, user=holder_role), autocommit=True)
        holder.execute("SELECT pg_advisory_lock(%s, hashtext('b2'))", (PHASE_LOCK_CLASS,))
        try:
            r = run_main("phase", "run", "b2", "--dsn", server.dsn(name, user=runner_role), "--migrations", str(proj))
        finally:
            holder.close()
        assert r.returncode == ExitCode.LOCK_NOT_ACQUIRED, r.stderr
        assert "another migtui is driving revision b2" in r.stderr and "internal error" not in r.stderr
    finally:
        for role in (holder_role, runner_role):
            server.execute(f"DROP ROLE IF EXISTS {role}")


def test_phase_run_and_abort_on_a_standby_are_usage_errors(primary_and_replica, tmp_path):
    primary, replica = primary_and_replica
    name = "t_" + uuid.uuid4().hex[:12]
    primary.create_database(name)
    try:
        proj = scoped_project(tmp_path, [Rev("a1", "pass")])
        deadline = time.monotonic() + 20
        while not replica.execute("SELECT count(*) FROM pg_database WHERE datname = %s", params=(name,))[0][0]:
            assert time.monotonic() < deadline, "database never reached the standby"
            time.sleep(0.1)
        for action in ("run", "abort"):
            r = run_main("phase", action, "a1", "--dsn", replica.dsn(name), "--migrations", str(proj))
            assert r.returncode == ExitCode.USAGE, r.stderr
            assert "read-only standby" in r.stderr and "internal error" not in r.stderr
    finally:
        primary.drop_database(name)


def test_a_non_superuser_on_a_streaming_replica_is_not_told_it_is_not_streaming(primary_and_replica):
    """pg_stat_wal_receiver hides the status from a role without pg_read_all_stats (it shows only the pid)."""
    from migtui.pg.server import read_replica_lag

    primary, replica = primary_and_replica
    role = "ro_" + uuid.uuid4().hex[:8]
    primary.execute(f"CREATE ROLE {role} LOGIN")
    try:
        primary.wait_for_replay(replica)
        with psycopg.connect(replica.dsn("postgres", user=role)) as conn:
            assert read_replica_lag(conn).wal_receiver == "unknown"
        with psycopg.connect(replica.dsn("postgres")) as conn:
            assert read_replica_lag(conn).wal_receiver == "streaming"
    finally:
        primary.execute(f"DROP ROLE {role}")
