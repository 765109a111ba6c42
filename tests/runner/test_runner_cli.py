"""migtui up/down/status/history as a user runs them against real PostgreSQL: subprocesses where the process
matters (signals, kill -9, concurrent runs, an end-to-end run), ``main()`` in-process for the one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.alembic_projects import Rev, make_project
from tests.conftest import ROOT, run_cli, run_main

CREATE_T = "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))"
NO_ENV = {"MIGTUI_DSN": "", "MIGTUI_DATABASE_URL": "", "MIGTUI_MIGRATIONS": ""}


def scalar(dsn: str, sql: str, params=None):
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None


def migtui(project: Path, dsn: str | None, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    extra = ["--migrations", str(project)] + (["--dsn", dsn] if dsn else [])
    return run_cli(*args, *extra, env=NO_ENV, timeout=timeout)


def migtui_main(project: Path, dsn: str | None, *args: str) -> subprocess.CompletedProcess:
    """``migtui`` in-process: the same arguments as ``migtui``, through ``migtui.cli.main.main``."""
    extra = ["--migrations", str(project)] + (["--dsn", dsn] if dsn else [])
    return run_main(*args, *extra, env=NO_ENV)


def migtui_sessions(dsn: str, settle: float = 3.0) -> int:
    """migtui sessions left on the database, after giving closing backends ``settle`` seconds to exit."""
    deadline = time.monotonic() + settle
    while True:
        count = scalar(dsn, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'migtui%'")
        if count == 0 or time.monotonic() >= deadline:
            return count
        time.sleep(0.05)


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("migtui: error: "), proc.stderr
    assert fragment in lines[0], lines[0]


def test_up_status_history_down_json(tmp_path, fresh_db):
    project = make_project(
        tmp_path,
        [
            Rev("a1", CREATE_T, "op.drop_table('t')", message="create t"),
            Rev("a2", "op.add_column('t', sa.Column('v', sa.Text))", "op.drop_column('t', 'v')"),
        ],
    )
    status = json.loads(migtui(project, fresh_db, "status", "--format", "json").stdout)
    assert status["current"] == [] and status["heads"] == ["a2"] and not status["at_head"]
    assert [p["revision"] for p in status["pending"]] == ["a1", "a2"]
    assert status["pending"][0]["description"] == "create t"

    up = migtui(project, fresh_db, "up", "--format", "json")
    assert up.returncode == 0, up.stderr
    events = [json.loads(line) for line in up.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and events[-1]["ok"] is True
    assert [e["revision"] for e in events if e["event"] == "revision_finished"] == ["a1", "a2"]
    assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a2"

    status = migtui(project, fresh_db, "status")
    assert "current:    a2" in status.stdout and "pending:    none (at head)" in status.stdout
    history = json.loads(migtui(project, fresh_db, "history", "--format", "json").stdout)
    assert [(r["revision"], r["applied"], r["current"]) for r in history["revisions"]] == [
        ("a2", True, True),
        ("a1", True, False),
    ]
    down = migtui(project, fresh_db, "down", "-1")
    assert down.returncode == 0 and "← a2" in down.stdout and "reverted 1 revision(s)" in down.stdout
    assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a1"
    history = migtui(project, fresh_db, "history")
    assert history.stdout.splitlines() == ["  a1 -> a2 (head), a2", "✓ <base> -> a1 (current), create t"]


def test_four_concurrent_runs_apply_each_revision_once(tmp_path, fresh_db):
    project = make_project(
        tmp_path,
        [
            Rev("a1", "op.execute('CREATE TABLE applied_log (rev text, pid int)')"),
            Rev(
                "a2",
                "op.execute(\"INSERT INTO applied_log VALUES ('a2', pg_backend_pid())\")\n"
                "op.execute('SELECT pg_sleep(1.5)')",
            ),
            Rev("a3", "op.execute(\"INSERT INTO applied_log VALUES ('a3', pg_backend_pid())\")"),
        ],
    )
    env = {**os.environ, **NO_ENV}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "migtui",
                "up",
                "--dsn",
                fresh_db,
                "--migrations",
                str(project),
                "--advisory-lock-wait",
                wait,
                "--progress-interval",
                "0.5",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for wait in ("30", "30", "0.2", "0.2")
    ]
    outputs = [p.communicate(timeout=90) for p in procs]
    codes = [p.returncode for p in procs]
    for (out, err), code in zip(outputs, codes, strict=True):
        assert code in (0, 4), (code, out, err)
        assert "Traceback" not in out + err
        if code == 4:
            assert "advisory lock" in err and "pid " in err
    assert codes[:2] == [0, 0]  # the patient ones either did the work or found it done
    assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a3"
    rows = dict(
        psycopg.connect(fresh_db, autocommit=True)
        .execute("SELECT rev, count(*) FROM applied_log GROUP BY rev")
        .fetchall()
    )
    assert rows == {"a2": 1, "a3": 1}
    applied = [out for out, _err in outputs if "applied 3 revision(s)" in out]
    assert len(applied) == 1
    assert sum("already at a3" in out for out, _err in outputs) == codes.count(0) - 1


def test_timeout_exits_3_rolls_back_and_prints_progress(tmp_path, fresh_db):
    project = make_project(
        tmp_path,
        [
            Rev("a1", CREATE_T),
            Rev("a2", "op.create_table('half', sa.Column('id', sa.Integer))\nimport time\ntime.sleep(60)"),
        ],
    )
    started = time.monotonic()
    proc = migtui(project, fresh_db, "up", "--timeout", "2", "--progress-interval", "0.5")
    elapsed = time.monotonic() - started
    assert_one_line_error(proc, 3, "revision a2 (up) ran past its timeout of 2s")
    assert elapsed < 9, elapsed
    progress = [line for line in proc.stdout.splitlines() if line.startswith("  … a2 ")]
    assert len(progress) >= 2 and "s/2s" in progress[0]
    assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a1"
    assert scalar(fresh_db, "SELECT to_regclass('half') IS NULL") is True
    assert scalar(fresh_db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
    assert migtui_sessions(fresh_db) == 0


def test_kill_9_mid_revision_then_next_run_proceeds(tmp_path, fresh_db):
    project = make_project(
        tmp_path,
        [
            Rev(
                "a1",
                "op.execute('CREATE TABLE sleep_cfg (secs float)')\nop.execute('INSERT INTO sleep_cfg VALUES (60)')",
            ),
            Rev("a2", CREATE_T + "\nop.execute('SELECT pg_sleep((SELECT secs FROM sleep_cfg))')"),
        ],
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "migtui", "up", "--dsn", fresh_db, "--migrations", str(project)],
        cwd=ROOT,
        env={**os.environ, **NO_ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    active = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'migtui up a2 @%' AND state = 'active'"
    deadline = time.monotonic() + 30
    while scalar(fresh_db, active) == 0:
        assert time.monotonic() < deadline and proc.poll() is None, "runner never reached a2"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # the orphaned backend notices its dead client (client_connection_check_interval) and rolls back
    deadline = time.monotonic() + 10
    while scalar(fresh_db, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'migtui%'"):
        assert time.monotonic() < deadline, "orphaned migration backend still running"
        time.sleep(0.1)
    assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a1"
    assert scalar(fresh_db, "SELECT to_regclass('t') IS NULL") is True
    assert scalar(fresh_db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0

    scalar(fresh_db, "UPDATE sleep_cfg SET secs = 0 RETURNING secs")
    rerun = migtui(project, fresh_db, "up")
    assert rerun.returncode == 0, rerun.stderr
    assert "applied 1 revision(s)" in rerun.stdout
    assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a2"
    assert scalar(fresh_db, "SELECT to_regclass('t') IS NOT NULL") is True


# -- bad inputs: one line, a documented exit code, no traceback -----------------------------------------------


def _write_revision(project: Path, name: str, source: str) -> None:
    (project / "versions" / name).write_text(source)


BROKEN_GRAPHS = {
    "two heads": ([Rev("a1", "pass"), Rev("a2", "pass"), Rev("a3", "pass", down="a1")], "2 heads"),
    "unknown down_revision": ([Rev("a1", "pass"), Rev("a2", "pass", down="nosuch")], "Revision nosuch referenced from"),
    "cycle": ([Rev("a1", "pass", down="a2"), Rev("a2", "pass")], "Cycle is detected in revisions"),
    "syntax error": ([Rev("a1", "pass"), Rev("a2", "op.execute(")], "syntax error in revision file"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_GRAPHS))
def test_broken_revision_graph_is_a_usage_error(tmp_path, fresh_db, case):
    revisions, fragment = BROKEN_GRAPHS[case]
    project = make_project(tmp_path, revisions)
    assert_one_line_error(migtui_main(project, fresh_db, "up"), 2, fragment)


def test_missing_down_revision_is_a_usage_error(tmp_path, fresh_db):
    project = make_project(tmp_path, [Rev("a1", "pass")])
    _write_revision(project, "001_b.py", "revision = 'b1'\n\ndef upgrade():\n    pass\n\ndef downgrade():\n    pass\n")
    assert_one_line_error(migtui_main(project, fresh_db, "status"), 2, "down_revision")


def test_bad_targets_and_missing_dsn(tmp_path, fresh_db):
    project = make_project(tmp_path, [Rev("a1", CREATE_T, "op.drop_table('t')")])
    assert_one_line_error(migtui_main(project, fresh_db, "up", "nosuch"), 2, "nosuch")
    assert_one_line_error(migtui_main(project, fresh_db, "down"), 2, "down needs a target")
    assert_one_line_error(migtui_main(project, fresh_db, "down", "+1"), 2, "not below the current revision")
    assert_one_line_error(migtui_main(project, None, "up"), 2, "no database configured")
    assert_one_line_error(migtui_main(project, fresh_db, "down", "-1"), 2, "cannot go down to '-1' from base")
    assert scalar(fresh_db, "SELECT to_regclass('alembic_version') IS NULL") is True  # nothing touched


def test_unreachable_database_exits_6(tmp_path):
    from migtui.pg.harness import free_port

    project = make_project(tmp_path, [Rev("a1", "pass")])
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere?connect_timeout=3"
    assert_one_line_error(migtui_main(project, dsn, "up"), 6, "cannot connect to database")
    assert_one_line_error(migtui_main(project, dsn, "status"), 6, "cannot connect to database")


@pytest.mark.db
def test_wrong_password_exits_6_and_never_prints_it(tmp_path):
    from migtui.pg import harness

    secret = "s3cret-Hunter2"
    cluster = harness.start_cluster(16)
    try:
        cluster.execute(f"CREATE ROLE deployer LOGIN PASSWORD '{secret}'")
        hba = cluster.datadir / "pg_hba.conf"
        hba.write_text("host all deployer 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        cluster.execute("SELECT pg_reload_conf()")
        cluster.execute("CREATE DATABASE app OWNER deployer")
        project = make_project(tmp_path, [Rev("a1", CREATE_T)])
        good = f"postgresql://deployer:{secret}@127.0.0.1:{cluster.port}/app"
        applied = migtui(project, good, "up")  # the password works, also through alembic's own engine...
        assert applied.returncode == 0 and secret not in applied.stdout + applied.stderr, applied.stderr
        assert cluster.execute("SELECT version_num FROM alembic_version", dbname="app") == [("a1",)]
        wrong = f"postgresql://deployer:{secret}-wrong@127.0.0.1:{cluster.port}/app"
        for command in ("up", "status"):
            proc = migtui_main(project, wrong, command)
            assert_one_line_error(proc, 6, "password authentication failed")
            assert secret not in proc.stdout + proc.stderr
    finally:
        cluster.cleanup()


def test_sigterm_cancels_and_rolls_back(tmp_path, fresh_db):
    project = make_project(tmp_path, [Rev("a1", CREATE_T + "\nop.execute('SELECT pg_sleep(60)')")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "migtui", "up", "--dsn", fresh_db, "--migrations", str(project)],
        cwd=ROOT, env={**os.environ, **NO_ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    active = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'migtui up a1 @%' AND state = 'active'"
    deadline = time.monotonic() + 30
    while scalar(fresh_db, active) == 0:
        assert time.monotonic() < deadline and proc.poll() is None, "runner never reached a1"
        time.sleep(0.1)
    proc.terminate()
    _out, err = proc.communicate(timeout=15)
    assert proc.returncode == 130 and "migtui: interrupted" in err and "Traceback" not in err, err
    assert migtui_sessions(fresh_db) == 0
    assert scalar(fresh_db, "SELECT to_regclass('t') IS NULL") is True
    assert scalar(fresh_db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
