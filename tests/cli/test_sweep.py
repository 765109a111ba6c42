"""Adversarial input across every command, as a DBA or a CI job would hit it: one line on stderr, a documented
exit code, no traceback, no password, nothing changed. Real servers; errors go through ``migtui.cli.main.main``
in-process (same code path as the console script, faster); the CLI runs as a subprocess (``run_cli``) where the
process matters (no terminal) or a server is driven end to end."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from migtui.cli.main import main
from migtui.pg import harness
from tests.alembic_projects import Rev, make_project
from tests.conftest import run_cli, run_main

SECRET = "Qa-sw33p-S3cret"
NO_ENV = {
    "MIGTUI_DSN": "",
    "MIGTUI_DATABASE_URL": "",
    "MIGTUI_REPLICA_DSN": "",
    "MIGTUI_REPLICA_URL": "",
    "MIGTUI_SCRATCH_DSN": "",
    "MIGTUI_MIGRATIONS": "",
}
UNREACHABLE = f"postgresql://app:{SECRET}@127.0.0.1:1/nowhere"
CREATE_T = "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))"


def one_line(stderr: str, stdout: str = "") -> str:
    """The single non-empty stderr line, after checking there is exactly one, no traceback and no password."""
    assert "Traceback" not in stderr + stdout
    assert SECRET not in stderr + stdout, "password printed"
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def assert_error(proc: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout[-500:], proc.stderr[-500:])
    line = one_line(proc.stderr, proc.stdout)
    assert line.startswith("migtui") and fragment in line, line


# -- argument errors: one redacted line, exit 2 (in-process) ------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["status", UNREACHABLE], "migtui status: error: unrecognized arguments: postgresql://app:***@"),
        (["demo", "--dsn", UNREACHABLE], "migtui demo: error: unrecognized arguments: --dsn"),
        (["lint", "--format", UNREACHABLE], "argument --format: invalid choice: 'postgresql://app:***@"),
        ([UNREACHABLE], "argument COMMAND: invalid choice: 'postgresql://app:***@"),
        (["status", "--format", "xml"], "invalid choice: 'xml'"),
        (["up", "--timeout", "abc"], "argument --timeout: not a number: 'abc'"),
        (["up", "--timeout", "nan"], "argument --timeout: must be a finite number"),
        (["down", "-1", "--lock-timeout", "inf"], "argument --lock-timeout: must be a finite number"),
        (["monitor", "--once", "--monitor-interval", "1e400"], "argument --monitor-interval: must be a finite"),
        (["monitor", "--once", "--long-transaction", "nan"], "argument --long-transaction: must be a finite"),
        (["dry-run", "--count-budget", "nan"], "argument --count-budget: must be a finite number"),
        (["lint", "--jobs", "1.5"], "argument --jobs: must be a whole number, not '1.5'"),
        (["lint", "--jobs", "0"], "argument --jobs: must be at least 1, not 0"),
        (["lint", "--jobs", "-1"], "argument --jobs: must be at least 1, not -1"),
        (["demo", "--pg-version", "15"], "invalid choice: 15"),
    ],
    ids=[
        "positional-dsn",
        "demo-dsn",
        "format-dsn",
        "command-dsn",
        "format-xml",
        "timeout-abc",
        "timeout-nan",
        "lock-timeout-inf",
        "monitor-interval-overflow",
        "long-transaction-nan",
        "count-budget-nan",
        "jobs-float",
        "jobs-zero",
        "jobs-negative",
        "demo-pg-version",
    ],
)
def test_argument_errors_are_one_redacted_line(argv, fragment, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    line = one_line(captured.err, captured.out)
    assert fragment in line and "usage:" not in line, line
    assert line.endswith("--help')"), line  # says where to look instead of dumping the usage synopsis


@pytest.mark.parametrize("variable", ["MIGTUI_TIMEOUT", "MIGTUI_ADVISORY_LOCK_WAIT", "MIGTUI_MONITOR_INTERVAL"])
@pytest.mark.parametrize("value", ["nan", "inf", "-1", "soon"])
def test_bad_numeric_settings_from_the_environment(variable, value, capsys, monkeypatch):
    monkeypatch.setenv(variable, value)
    assert main(["config"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("migtui: error: invalid value for ") and f"${variable}" in line, line


def test_shadow_server_that_cannot_be_reached_is_named(capsys, tmp_path):
    project = make_project(tmp_path, [Rev("a1", "pass")])
    argv = ["dry-run", "--replica-dsn", UNREACHABLE, "--scratch-dsn", UNREACHABLE, "--migrations", str(project)]
    assert main(argv) == 6
    line = one_line(capsys.readouterr().err)
    assert "cannot connect to the shadow server (--scratch-dsn)" in line, line


def test_revision_file_with_null_bytes_names_the_file(tmp_path):
    project = make_project(tmp_path, [Rev("a1", "pass")])
    broken = project / "versions" / "zz_broken.py"
    broken.write_bytes(b"revision = 'zz'\x00\n")
    proc = run_main("history", "--offline", "--migrations", str(project), env=NO_ENV)
    assert_error(proc, 2, f"syntax error in revision file {broken}:")


# -- full-screen commands without a terminal: exit 2 at once instead of waiting forever ---------------------
@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        ([], "the TUI needs an interactive terminal"),
        (["tui", "--dsn", UNREACHABLE], "the TUI needs an interactive terminal"),
        (["monitor", "--dsn", UNREACHABLE], "use --once"),
        (["demo", "--scale", "100"], "use --headless"),
    ],
    ids=["bare", "tui", "monitor", "demo"],
)
def test_full_screen_commands_refuse_to_start_without_a_terminal(argv, fragment):
    proc = run_cli(*argv, env=NO_ENV, input="", timeout=30)  # stdin and stdout are pipes, as in CI
    assert_error(proc, 2, fragment)
    assert "\x1b[" not in proc.stdout  # no escape sequences written into a CI log


# -- real server: wrong password, success output, unknown revision, standby ---------------------------------
@pytest.fixture(scope="module")
def password_role(pg):
    """A role that must log in with a scram password on the shared session server: (good_dsn, wrong_dsn)."""
    if not isinstance(pg, harness.Cluster):
        pytest.skip("needs an embedded server to edit pg_hba.conf")
    role = "qa_sweep_app"
    pg.execute(f"DROP ROLE IF EXISTS {role}")
    pg.execute(f"SET password_encryption = 'scram-sha-256'; CREATE ROLE {role} LOGIN CREATEDB PASSWORD '{SECRET}'")
    hba = pg.datadir / "pg_hba.conf"
    line = f"host all {role} 127.0.0.1/32 scram-sha-256\n"
    if line not in hba.read_text():
        hba.write_text(line + hba.read_text())  # first match wins: before the trust lines
        pg.execute("SELECT pg_reload_conf()")
    pg.execute(f"CREATE DATABASE qa_sweep OWNER {role}")
    good = f"postgresql://{role}:{SECRET}@127.0.0.1:{pg.port}/qa_sweep"
    yield good, good.replace(SECRET, SECRET + "-wrong")
    pg.drop_database("qa_sweep")


@pytest.fixture(scope="module")
def small_project(tmp_path_factory) -> Path:
    return make_project(
        tmp_path_factory.mktemp("sweep"), [Rev("a1", CREATE_T, "op.drop_table('t')"), Rev("a2", "pass")]
    )


WRONG_PASSWORD_COMMANDS = [
    ["status"],
    ["history"],
    ["up"],
    ["down", "-1"],
    ["lint"],
    ["drift"],
    ["monitor", "--once"],
    ["dry-run", "--allow-primary"],
]


@pytest.mark.parametrize("command", WRONG_PASSWORD_COMMANDS, ids=lambda c: " ".join(c))
def test_wrong_password_is_one_line_exit_6_for_every_command(command, password_role, small_project):
    _good, wrong = password_role
    migrations = [] if command[0] == "monitor" else ["--migrations", str(small_project)]
    proc = run_main(*command, *migrations, "--format", "json", env={**NO_ENV, "MIGTUI_DSN": wrong})
    assert_error(proc, 6, 'password authentication failed for user "qa_sweep_app"')
    assert proc.stdout == ""  # no half-written JSON document for a CI step to choke on


def test_password_never_in_successful_json_output(password_role, small_project):
    good, _wrong = password_role
    env = {**NO_ENV, "MIGTUI_DSN": good, "MIGTUI_REPLICA_DSN": good}
    outputs = []
    for command in (
        ["up", "--format", "json"],
        ["status", "--format", "json"],
        ["history", "--format", "json"],
        ["config", "--format", "json"],
        ["monitor", "--once", "--format", "json"],
    ):
        proc = (
            run_cli(*command, "--migrations", str(small_project), env=env)
            if command[0] != "monitor"
            else (run_cli(*command, env=env))
        )
        assert proc.returncode == 0, (command, proc.stderr)
        outputs.append(proc.stdout + proc.stderr)
    assert all(SECRET not in out for out in outputs)
    assert "qa_sweep_app:***@" in outputs[1]  # the status names the database, password masked


def test_history_at_a_revision_the_project_does_not_have(fresh_db, small_project):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('deadbeef')")
    for command in (["history"], ["status"], ["up"]):
        proc = run_main(*command, "--dsn", fresh_db, "--migrations", str(small_project), env=NO_ENV)
        assert_error(proc, 2, "the database is at revision 'deadbeef', which is not in")


def test_up_and_down_refuse_a_standby(primary_and_replica, small_project):
    primary, replica = primary_and_replica
    primary.create_database("qa_sweep_standby")
    try:
        primary.wait_for_replay(replica)
        for command in (["up"], ["down", "base"]):
            proc = run_main(
                *command, "--dsn", replica.dsn("qa_sweep_standby"), "--migrations", str(small_project), env=NO_ENV
            )
            assert_error(proc, 2, f"is a read-only standby (pg_is_in_recovery() is true): run {command[0]} against")
        assert primary.execute("SELECT to_regclass('alembic_version')", dbname="qa_sweep_standby") == [(None,)]
    finally:
        primary.drop_database("qa_sweep_standby")


def test_up_to_a_revision_already_behind_says_so(fresh_db, small_project):
    """`up a1` on a database at a2: exit 0 (the work is done, deploys stay idempotent), and it says how to go back."""
    assert run_cli("up", "--dsn", fresh_db, "--migrations", str(small_project)).returncode == 0
    proc = run_cli("up", "a1", "--dsn", fresh_db, "--migrations", str(small_project))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "a1 is already applied (the database is at a2, beyond it)" in out and "migtui down a1" in out
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("a2",)]
