"""CLI conventions every command shares: deploy-gate exit codes (status --check, monitor --once --check), config
with every setting's flag, shell completion, --color / NO_COLOR, --quiet / --verbose and --output FILE."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from migtui.cli.main import COMMANDS, build_parser
from migtui.config import ENV_VARS, Settings, load_settings
from tests.alembic_projects import Rev, make_project
from tests.conftest import run_main
from tests.monitor_scenarios import blocked_chain
from tests.report_formats import parse_junit, validate_sarif

CREATE_T = "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))"
RISKY_SQL = "ALTER TABLE orders ADD COLUMN total numeric NOT NULL DEFAULT random();\n"


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(tmp_path / "p", [Rev("a1", CREATE_T, "op.drop_table('t')"), Rev("a2", "pass")])


# --- status --check ----------------------------------------------------------------------------------------


def test_status_check_fails_while_revisions_are_pending(fresh_db, project):
    base = ("--dsn", fresh_db, "--migrations", str(project))
    assert run_main("status", *base).returncode == 0  # without --check: informational
    pending = run_main("status", "--check", *base)
    assert pending.returncode == 1, pending.stderr
    assert "pending:    2" in pending.stdout
    as_json = run_main("status", "--check", "--format", "json", *base)
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["at_head"] is False
    assert run_main("up", *base).returncode == 0
    at_head = run_main("status", "--check", *base)
    assert at_head.returncode == 0, at_head.stdout + at_head.stderr
    assert "none (at head)" in at_head.stdout


# --- monitor --once --check --------------------------------------------------------------------------------


def test_monitor_check_fails_on_a_session_blocked_past_the_threshold(fresh_db):
    calm = run_main("monitor", "--once", "--check", "--dsn", fresh_db)
    assert calm.returncode == 0, calm.stderr
    with blocked_chain(fresh_db) as chain:
        import time

        time.sleep(0.3)
        blocked = run_main("monitor", "--once", "--check", "--blocked-over", "0.1", "--dsn", fresh_db)
        assert blocked.returncode == 1, blocked.stderr
        assert "blocked longer than 0.1s" in blocked.stderr
        assert f"pid {chain.ddl_pid} [test-ddl]" in blocked.stderr
        patient = run_main("monitor", "--once", "--check", "--blocked-over", "3600", "--dsn", fresh_db)
        assert patient.returncode == 0, patient.stderr
        as_json = run_main(
            "monitor", "--once", "--check", "--format", "json", "--blocked-over", "0.1", "--dsn", fresh_db
        )
        assert as_json.returncode == 1
        check = json.loads(as_json.stdout)["check"]
        assert check["ok"] is False and any(f"pid {chain.ddl_pid} " in line for line in check["problems"])


def test_monitor_check_needs_once():
    done = run_main("monitor", "--check", "--dsn", "postgresql://127.0.0.1:1/x")
    assert done.returncode == 2 and "--check needs --once" in done.stderr


# --- config --------------------------------------------------------------------------------------------------


def test_config_has_a_flag_for_every_setting_and_prints_plain_values(tmp_path):
    fields = [name for name in Settings.__dataclass_fields__ if name != "sources"]
    assert set(fields) == set(ENV_VARS)
    values = {
        "dsn": "postgresql://app:pw-secret@db/app",
        "replica_dsn": "postgresql://db2/app",
        "scratch_dsn": "postgresql://db3/postgres",
        "migrations": "mig",
        "timeout": "12.5",
        "lock_timeout": "3",
        "lock_retries": "7",
        "lock_retry_delay": "0.5",
        "advisory_lock_wait": "9",
        "progress_interval": "2",
        "monitor_interval": "4",
        "pg_version": "15",
        "pg_bin": "/opt/pg/bin",
        "version_table": "versions",
        "version_table_schema": "ops",
        "drift_exclude": "owner,grants",
        "baseline": "schema.sql",
        "driver": "psycopg2",
        "python": "/opt/venv/bin/python",
        "dsn_env": "APP_DATABASE_URL",
    }
    assert set(values) == set(fields)
    argv = [part for name, value in values.items() for part in ("--" + name.replace("_", "-"), value)]
    text = run_main("config", *argv, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    lines = {line.split()[0]: line for line in text.stdout.splitlines()}
    assert all("(flag)" in lines[name] for name in fields)
    assert "None" not in text.stdout and "[]" not in text.stdout and "pw-secret" not in text.stdout
    assert "owner,grants" in lines["drift_exclude"] and " 12.5 " in lines["timeout"]

    defaults = run_main("config", cwd=tmp_path)
    assert "None" not in defaults.stdout and "[]" not in defaults.stdout and "()" not in defaults.stdout
    assert defaults.stdout.splitlines()[0].split()[:2] == ["dsn", "-"]

    as_json = json.loads(run_main("config", "--format", "json", *argv, cwd=tmp_path).stdout)
    assert as_json["settings"]["lock_retries"] == 7 and as_json["sources"]["lock_retries"] == "flag"

    # --format toml is a [tool.migtui] table migtui reads back to the same settings
    toml = run_main("config", "--format", "toml", *argv, cwd=tmp_path).stdout
    (tmp_path / "pyproject.toml").write_text(toml)
    again = load_settings({}, env={}, pyproject=tmp_path / "pyproject.toml")
    (tmp_path / "empty.toml").write_text("")
    expected = load_settings(dict(values), env={}, pyproject=tmp_path / "empty.toml")
    for name in fields:
        # dsn is printed redacted; migrations and a baseline file are relative to the pyproject
        if name not in ("dsn", "migrations", "baseline"):
            assert getattr(again, name) == getattr(expected, name), name
    assert tomllib.loads(toml)["tool"]["migtui"]["drift_exclude"] == ["owner", "grants"]


def test_config_rejects_a_bad_value_in_one_line(tmp_path):
    only_changes = run_main("config", "--format", "toml", "--timeout", "9", "--migrations", "mig", cwd=tmp_path)
    assert only_changes.stdout == '[tool.migtui]\nmigrations = "mig"\ntimeout = 9.0\n'
    done = run_main("config", "--lock-retries", "many", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "lock_retries" in done.stderr


# --- completion --------------------------------------------------------------------------------------------


def _bash_complete(script: str, *words: str) -> list[str]:
    program = (
        f"{script}\nCOMP_WORDS=({' '.join(repr(w) for w in ('migtui', *words))}); COMP_CWORD={len(words)}; "
        '_migtui; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completion_knows_commands_flags_and_choices():
    script = run_main("completion", "bash").stdout
    assert set(_bash_complete(script, "")) >= set(COMMANDS)
    assert _bash_complete(script, "rollb") == ["rollback-test"]
    assert _bash_complete(script, "lint", "--format", "") == ["text", "json", "github", "sarif", "junit", "markdown"]
    assert "--check" in _bash_complete(script, "status", "--")
    assert "--blocked-over" in _bash_complete(script, "monitor", "--b")
    assert _bash_complete(script, "completion", "--color", "never", "z") == ["zsh"]
    # every flag of every command, from the parser itself
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, command in sub.choices.items():
        flags = {f for a in command._actions if a.help != "==SUPPRESS==" for f in a.option_strings if f[:2] == "--"}
        assert flags <= set(_bash_complete(script, name, "--")), name


def test_zsh_and_fish_scripts_cover_every_command():
    zsh = run_main("completion", "zsh").stdout
    fish = run_main("completion", "fish").stdout
    assert zsh.startswith("#compdef migtui") and "bashcompinit" in zsh
    for name in COMMANDS:
        assert f"-a {name} " in fish
    assert "__fish_seen_subcommand_from lint' -l format -x -a 'text json github sarif junit markdown'" in fish
    bad = run_main("completion", "tcsh")
    assert bad.returncode == 2


# --- --color, NO_COLOR, --quiet, --verbose -------------------------------------------------------------------


def test_color_flag_and_no_color(tmp_path):
    sql = tmp_path / "risky.sql"
    sql.write_text(RISKY_SQL)
    base = ("lint", str(sql), "--no-catalog")
    assert "\x1b[" in run_main(*base, "--color", "always").stdout
    assert "\x1b[" not in run_main(*base, "--color", "never", env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in run_main(*base, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert "\x1b[" in run_main(*base, env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in run_main(*base).stdout  # auto, and stdout is not a terminal
    assert "\x1b[" in run_main(*base, "--color", "always", env={"NO_COLOR": "1"}).stdout  # the flag wins


def test_every_command_has_the_output_flags():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, command in sub.choices.items():
        flags = {f for a in command._actions for f in a.option_strings}
        assert {"--color", "--quiet", "-q", "--verbose", "-v"} <= flags, name
    both = run_main("status", "--quiet", "--verbose")
    assert both.returncode == 2 and "not allowed with" in both.stderr


def test_quiet_and_verbose_mean_the_same_in_lint_and_up(fresh_db, project, tmp_path):
    sql = tmp_path / "two.sql"
    sql.write_text("SELECT 1;\n" + RISKY_SQL)
    plain = run_main("lint", str(sql), "--no-catalog")
    verbose = run_main("lint", str(sql), "--no-catalog", "--verbose")
    assert "SELECT 1" not in plain.stdout and "SELECT 1" in verbose.stdout
    github = run_main("lint", str(sql), "--no-catalog", "--format", "github")
    assert "migtui lint:" in github.stderr
    assert run_main("lint", str(sql), "--no-catalog", "--format", "github", "--quiet").stderr == ""

    base = ("--dsn", fresh_db, "--migrations", str(project))
    quiet = run_main("up", "--quiet", *base)
    assert quiet.returncode == 0, quiet.stderr
    assert "→" not in quiet.stdout and "revision(s) to apply" not in quiet.stdout
    assert "✓ a1 up" in quiet.stdout and "✓ a2 up" in quiet.stdout
    loud = run_main("down", "base", *base)
    assert "← a2" in loud.stdout and "✓ a2 down" in loud.stdout


# --- --output FILE -------------------------------------------------------------------------------------------


def test_lint_output_writes_only_the_file(tmp_path):
    sql = tmp_path / "risky.sql"
    sql.write_text(RISKY_SQL)
    for fmt in ("text", "json", "github", "sarif", "junit"):
        out = tmp_path / f"report.{fmt}"
        done = run_main("lint", str(sql), "--no-catalog", "--format", fmt, "--output", str(out), "--quiet")
        assert done.returncode == 1, done.stderr
        assert done.stdout == "" and done.stderr == ""
        text = out.read_text()
        assert "add-column-volatile-default" in text, fmt
        if fmt == "sarif":
            validate_sarif(json.loads(text))
        elif fmt == "junit":
            parse_junit(text)
        elif fmt == "json":
            assert json.loads(text)["summary"]["errors"] >= 1
    umask = os.umask(0o022)
    os.umask(umask)
    assert os.stat(tmp_path / "report.json").st_mode & 0o777 == 0o666 & ~umask  # as open() would create it


def test_output_is_not_touched_by_a_failing_job(tmp_path):
    out = tmp_path / "report.json"
    out.write_text("previous report\n")
    done = run_main("lint", str(tmp_path / "missing.sql"), "--format", "json", "--output", str(out))
    assert done.returncode == 2, done.stdout + done.stderr
    assert out.read_text() == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no temporary file left behind
    nowhere = run_main("lint", "--no-catalog", "--output", str(tmp_path / "no" / "r.txt"))
    assert nowhere.returncode == 2 and "no such directory" in nowhere.stderr


def _rollback_project(tmp_path) -> Path:
    return make_project(
        tmp_path / "rb",
        [
            Rev("g1", CREATE_T + "\nop.add_column('t', sa.Column('v', sa.Integer))", "op.drop_table('t')"),
            # a downgrade that does not restore what the upgrade changed (not a no-op: that has its own status)
            Rev(
                "bad", "op.alter_column('t', 'v', server_default='5')", "op.alter_column('t', 'v', server_default='6')"
            ),
        ],
    )


@pytest.mark.parametrize("fmt", ["github", "sarif", "junit", "json", "text", "markdown"])
def test_rollback_test_offers_every_format_through_output(fmt, pg, tmp_path):
    import uuid

    project = _rollback_project(tmp_path)
    name = "t_out_" + uuid.uuid4().hex[:10]
    dsn = pg.create_database(name)
    out = tmp_path / f"rollback.{fmt}"
    try:
        done = run_main(
            "rollback-test", "--migrations", str(project), "--scratch-dsn", dsn, "--format", fmt, "--output", str(out)
        )
    finally:
        pg.drop_database(name)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    text = out.read_text()
    if fmt == "github":
        (line,) = text.splitlines()
        assert line.startswith("::error file=") and "title=rollback-test::revision bad" in line
        assert "/rb/versions/" in line or "versions/" in line
    elif fmt == "sarif":
        run = validate_sarif(json.loads(text))
        assert [r["ruleId"] for r in run["results"]] == ["rollback-test"]
        assert run["results"][0]["properties"]["revision"] == "bad"
    elif fmt == "junit":
        suite = parse_junit(text)
        assert [c.get("name") for c in suite.findall("testcase")] == ["g1", "bad"]
        assert ET.fromstring(text).get("failures") == "1"
    elif fmt == "json":
        assert [r["status"] for r in json.loads(text)["revisions"]] == ["passed", "failed"]
    elif fmt == "markdown":
        assert text.startswith("<!-- migtui:rollback-test -->\n### ❌ migtui rollback-test")
        assert "[`rollback-test`](docs/rules/rollback-test.md)" in text and "rev `bad`" in text
    else:
        assert "FAIL bad" in text


def test_dry_run_and_drift_write_only_the_output_file(pg, fresh_db, project, tmp_path):
    base = ("--dsn", fresh_db, "--migrations", str(project))
    assert run_main("up", "a1", *base).returncode == 0
    dry = tmp_path / "dry.json"
    done = run_main(
        "dry-run", *base, "--allow-primary", "--scratch-dsn", pg.dsn(), "--format", "text", "--output", str(dry)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "a2" in dry.read_text()  # the streamed text report, pending revision included
    drift = tmp_path / "drift.sarif"
    done = run_main(
        "drift",
        *base,
        "--no-cache",
        "--scratch-dsn",
        pg.dsn(),
        "--format",
        "sarif",
        "--output",
        str(drift),
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert validate_sarif(json.loads(drift.read_text()))["results"] == []
    for job, extra in (("dry-run", ("--allow-primary",)), ("drift", ("--cache-dir", str(tmp_path / "cache")))):
        md = run_main(job, *base, *extra, "--scratch-dsn", pg.dsn(), "--format", "markdown")
        assert md.returncode == 0, md.stderr
        assert md.stdout.startswith(f"<!-- migtui:{job} -->\n### ✅ migtui {job}"), md.stdout


# --- lint --files (the pre-commit hook's mode) ------------------------------------------------------------------


def test_lint_files_reports_only_the_changed_revisions_linted_in_their_project(tmp_path):
    project = make_project(
        tmp_path / "app",
        [
            Rev("a1", "op.create_table('orders', sa.Column('id', sa.Integer, primary_key=True))"),
            Rev("a2", "op.create_index('ix_orders_id', 'orders', ['id'])"),
            Rev("a3", "op.add_column('orders', sa.Column('n', sa.Integer))"),
        ],
    )
    (tmp_path / "app" / "notes.py").write_text("")
    a2 = next(p for p in (project / "versions").glob("*.py") if "a2" in p.name)
    done = run_main(
        "lint", "--files", str(a2), str(project / "env.py"), str(tmp_path / "app" / "notes.py"), "--format", "json"
    )
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert [f["revision"] for f in data["files"]] == ["a2"]
    # linted in context: orders comes from a1, so the index build blocks writes on an existing table
    assert any(
        f["rule"] == "create-index-non-concurrently" for s in data["files"][0]["statements"] for f in s["findings"]
    )
    nothing = run_main("lint", "--files", str(tmp_path / "app" / "notes.py"))
    assert nothing.returncode == 0 and nothing.stdout.startswith("0 files")
    missing = run_main("lint", "--files", str(tmp_path / "gone.py"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
