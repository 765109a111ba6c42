"""Signals and kills during the long statements of a run: CREATE INDEX CONCURRENTLY, a phase backfill,
dry-run. Each asserts the exit code, one line on stderr, and what the database is left with."""

from __future__ import annotations

import json
import signal

import psycopg
import pytest

from tests.alembic_projects import Rev
from tests.conftest import run_main
from tests.faults.helpers import active_session, ignore_sigint, scalar, scoped_project, start_cli, wait_for

CIC = "with op.get_context().autocommit_block():\n    op.execute('CREATE INDEX CONCURRENTLY t_w_idx ON t (w)')"


def _cic_project(tmp_path):
    return scoped_project(
        tmp_path,
        [
            Rev("a1", "op.create_table('t', sa.Column('id', sa.Integer), sa.Column('w', sa.Integer))"),
            Rev("a2", CIC, "op.execute('DROP INDEX CONCURRENTLY IF EXISTS t_w_idx')"),
        ],
    )


def _start_cic_and_wait(tmp_path, dsn):
    """Run ``up`` until a2's CIC has created its (INVALID) index and waits for a writer's transaction."""
    project = _cic_project(tmp_path)
    assert run_main("up", "a1", "--dsn", dsn, "--migrations", str(project)).returncode == 0
    writer = psycopg.connect(dsn)  # an open write transaction: CIC waits for it after creating the index
    writer.execute("INSERT INTO t VALUES (1, 1)")
    child = start_cli(
        "up", "--dsn", dsn, "--migrations", str(project), "--lock-timeout", "60", "--timeout", "60",
        preexec_fn=ignore_sigint,  # as in a shell's background job: migtui's own handler must still act
    )  # fmt: skip
    wait_for(
        lambda: (
            scalar(dsn, "SELECT count(*) FROM pg_class WHERE relname = 't_w_idx'") == 1
            and active_session(dsn, "migtui up a2 @%")
        ),
        what="a2's CIC waiting for the writer",
    )
    return project, writer, child


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT-inherited-ignored"])
def test_stop_signal_during_cic_exits_130_and_names_the_invalid_index(tmp_path, fresh_db, sig):
    _project, writer, child = _start_cic_and_wait(tmp_path, fresh_db)
    try:
        child.send_signal(sig)
        _out, err = child.communicate(timeout=20)
    finally:
        writer.close()
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "PendingRollbackError" not in err, err
    assert "t_w_idx" in err and "DROP INDEX CONCURRENTLY" in err, err
    assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a1"
    assert not active_session(fresh_db, "migtui%")
    assert scalar(fresh_db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0


def test_kill_9_during_cic_leaves_a1_and_the_next_up_names_the_invalid_index(tmp_path, fresh_db):
    project, writer, child = _start_cic_and_wait(tmp_path, fresh_db)
    try:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=20)
        # the backend notices its client is gone (client_connection_check_interval) while it still waits
        wait_for(lambda: not active_session(fresh_db, "migtui up a2 @%"), what="the orphaned CIC to end")
    finally:
        writer.close()
    assert child.returncode == -signal.SIGKILL
    assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a1"
    assert scalar(fresh_db, "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = 't_w_idx'::regclass")
    common = ("--dsn", fresh_db, "--migrations", str(project))
    status = run_main("status", *common, "--format", "json")
    assert json.loads(status.stdout)["invalid_indexes"] == [
        {
            "index": '"public"."t_w_idx"',
            "table": '"public"."t"',
            "building": False,
            "fix": 'DROP INDEX CONCURRENTLY "public"."t_w_idx";',
        }
    ]
    assert 'DROP INDEX CONCURRENTLY "public"."t_w_idx"' in run_main("status", *common).stdout
    result = run_main("up", *common)
    assert result.returncode == 5, result.stderr
    line = result.stderr.strip()
    assert "INVALID index" in line and "revision a2 builds it" in line and "--rebuild-invalid-indexes" in line
    assert 'DROP INDEX CONCURRENTLY "public"."t_w_idx"' in line and "nothing was applied" in line
    assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a1"
    rebuilt = run_main("up", *common, "--rebuild-invalid-indexes")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "dropping INVALID index" in rebuilt.stdout + rebuilt.stderr
    assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a2"
    assert scalar(fresh_db, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_w_idx'::regclass")
    assert json.loads(run_main("status", *common, "--format", "json").stdout)["invalid_indexes"] == []


def test_sigterm_stops_dry_run_with_130(slow_env, pg):
    """dry-run's throwaway servers are cleaned up by the same unwinding as Ctrl-C (it used to exit 143)."""
    import os
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT
    from tests.dryrun.test_cancel import ACTIVE_COUNT

    replica, db = slow_env["replica"], slow_env["db"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MIGTUI_DEBUG", None)
    argv = ["dry-run", "--replica-dsn", replica.dsn(db), "--migrations", str(slow_env["dir"])]
    proc = subprocess.Popen(
        [sys.executable, "-m", "migtui", *argv, "--scratch-dsn", pg.dsn(), "--count-budget", "60"],
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: bool(replica.execute(ACTIVE_COUNT, dbname=db)), what="the row count on the replica")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert time.monotonic() - started < 3  # the 4 s count was cancelled, not waited for
    wait_for(lambda: not replica.execute(ACTIVE_COUNT, dbname=db), timeout=5, what="the count to end")
    assert pg.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'migtui_shadow_%'")[0][0] == 0
