"""dry-run's queries on the replica: a recovery conflict is reported, Ctrl-C cancels the query on the server."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from migtui.dryrun.job import DryRunOptions, run_dry_run
from migtui.project.load import AlembicProject
from tests.alembic_projects import Rev, make_project, project_settings
from tests.conftest import ROOT, default_sigint

# counting the rows of the UPDATE runs pg_sleep(0.01) for each of 400 rows: 4 s on the replica
REVISIONS = [
    Rev("b1", "op.execute('CREATE TABLE slow (id int PRIMARY KEY, v int)')"),
    Rev("b2", "op.execute('UPDATE slow SET v = 1 WHERE pg_sleep(0.01) IS NOT NULL')"),
]
ACTIVE_COUNT = (
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'migtui-dry-run' AND state = 'active'"
    " AND query LIKE '%%pg_sleep%%'"
)


@pytest.fixture(scope="module")
def slow_env(primary_and_replica, tmp_path_factory):
    from alembic import command

    primary, replica = primary_and_replica
    dbname = "dryrun_slow_" + uuid.uuid4().hex[:8]
    dsn = primary.create_database(dbname)
    project_dir = make_project(tmp_path_factory.mktemp("dryrun_slow"), REVISIONS)
    project = AlembicProject.load(project_dir)
    command.upgrade(project.config(dsn), "b1")
    primary.execute("INSERT INTO slow SELECT g, 0 FROM generate_series(1, 400) g; ANALYZE slow", dbname=dbname)
    primary.wait_for_replay(replica)
    yield {"primary": primary, "replica": replica, "db": dbname, "project": project, "dir": project_dir}
    primary.drop_database(dbname)


def _wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def _standby_delay(replica, value: str):
    """Temporarily set max_standby_streaming_delay on the replica (so a conflict cancels queries quickly)."""
    conf = replica.datadir / "postgresql.auto.conf"
    original = conf.read_text()
    conf.write_text(original + f"max_standby_streaming_delay = {value}\n")
    replica.execute("SELECT pg_reload_conf()")
    try:
        yield
    finally:
        conf.write_text(original)
        replica.execute("SELECT pg_reload_conf()")


def test_recovery_conflict_is_reported_not_crashed_on(slow_env, pg):
    primary, replica, db = slow_env["primary"], slow_env["replica"], slow_env["db"]
    result: dict = {}

    def work() -> None:
        try:
            result["report"] = run_dry_run(
                project_settings(slow_env["project"], replica_dsn=replica.dsn(db)),
                DryRunOptions(scratch_server=pg, count_budget=30),
            )
        except BaseException as exc:
            result["error"] = exc

    with _standby_delay(replica, "100ms"):
        thread = threading.Thread(target=work)
        thread.start()
        assert _wait_for(lambda: bool(replica.execute(ACTIVE_COUNT, dbname=db))), "row count never started"
        # an ACCESS EXCLUSIVE lock on the primary is replayed on the standby and conflicts with the count
        primary.execute("BEGIN; LOCK TABLE slow IN ACCESS EXCLUSIVE MODE; COMMIT", dbname=db)
        thread.join(30)
    assert not thread.is_alive()
    assert "error" not in result, result.get("error")
    report = result["report"]
    (update,) = report.revisions[0]["statements"]
    assert update["rows"]["exact"] is False
    found = report.findings_for(report.revisions[0]["revision"], update["index"])
    conflict = [w for w in found if w.rule == "recovery-conflict"]
    assert conflict and "conflict with recovery" in conflict[0].message
    assert report.load["recovery_conflicts"] == 1


def test_ctrl_c_cancels_the_replica_query_and_exits_130(slow_env, pg):
    replica, db = slow_env["replica"], slow_env["db"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MIGTUI_DEBUG", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "migtui",
            "dry-run",
            "--replica-dsn",
            replica.dsn(db),
            "--migrations",
            str(slow_env["dir"]),
            "--scratch-dsn",
            pg.dsn(),
            "--count-budget",
            "60",
        ],
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    try:
        assert _wait_for(lambda: bool(replica.execute(ACTIVE_COUNT, dbname=db))), "row count never started"
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert time.monotonic() - started < 3  # the query (4 s) was cancelled, not waited for
    assert _wait_for(lambda: not replica.execute(ACTIVE_COUNT, dbname=db), timeout=5)
    assert pg.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'migtui_shadow_%'")[0][0] == 0


def test_text_output_streams_each_statement_as_it_is_analysed(slow_env, pg, tmp_path):
    """The first statement is on screen while the second one's row count still runs on the replica."""
    replica, db = slow_env["replica"], slow_env["db"]
    project_dir = make_project(
        tmp_path,
        [
            REVISIONS[0],
            Rev(
                "b2",
                "op.execute('UPDATE slow SET v = 2 WHERE id < 10')\n"
                "op.execute('UPDATE slow SET v = 1 WHERE pg_sleep(0.01) IS NOT NULL')",
            ),
        ],
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "migtui",
            "dry-run",
            "--replica-dsn",
            replica.dsn(db),
            "--migrations",
            str(project_dir),
            "--scratch-dsn",
            pg.dsn(),
            "--count-budget",
            "60",
            "--format",
            "text",
        ],
        cwd=str(ROOT),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        assert _wait_for(lambda: bool(replica.execute(ACTIVE_COUNT, dbname=db))), "second row count never started"
        seen_while_counting = list(lines)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(5)
    assert any("1. UPDATE slow SET v = 2 WHERE id < 10" in line for line in seen_while_counting)
    assert any("rows 9 (exact)" in line for line in seen_while_counting)
    assert not any("2. UPDATE slow SET v = 1" in line for line in seen_while_counting)
    assert proc.returncode == 130
