"""The names kept for one release (docs/cli-errors.md, "Renamed in this release") still work, in-process.

Each old flag, environment variable and ``[tool.migtui]`` key reaches the same setting as its new name, the new
name wins when both are given, and ``migtui config`` shows only the new names. Nothing here needs a server: an
unreachable address proves which setting a command used.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, run_main

UNREACHABLE = "postgresql://app:s3cret@127.0.0.1:1/app"
OTHER = "postgresql://other@127.0.0.1:2/other"
CLEAN_ENV = {
    name: ""
    for name in (
        "MIGTUI_DSN",
        "MIGTUI_DATABASE_URL",
        "MIGTUI_REPLICA_DSN",
        "MIGTUI_REPLICA_URL",
        "MIGTUI_SCRATCH_DSN",
        "MIGTUI_MIGRATIONS",
    )
}
MIGRATIONS = str(ROOT / "db" / "migrations")


def config(*args: str, env: dict[str, str] | None = None, cwd=None) -> dict:
    proc = run_main("config", "--format", "json", *args, env={**CLEAN_ENV, **(env or {})}, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_config_shows_the_new_names_only():
    data = config("--dsn", UNREACHABLE, "--replica-dsn", OTHER, "--scratch-dsn", OTHER)
    settings = data["settings"]
    assert settings["dsn"] == "postgresql://app:***@127.0.0.1:1/app"
    assert settings["replica_dsn"] == settings["scratch_dsn"] == OTHER
    assert data["sources"]["dsn"] == data["sources"]["replica_dsn"] == data["sources"]["scratch_dsn"] == "flag"
    for old in ("database_url", "replica_url"):
        assert old not in settings and old not in data["sources"]


@pytest.mark.parametrize(
    ("old", "new", "setting"),
    [
        ("MIGTUI_DATABASE_URL", "MIGTUI_DSN", "dsn"),
        ("MIGTUI_REPLICA_URL", "MIGTUI_REPLICA_DSN", "replica_dsn"),
    ],
)
def test_old_environment_variable_is_read_when_the_new_one_is_absent(old, new, setting):
    data = config(env={old: OTHER})
    assert data["settings"][setting] == OTHER and data["sources"][setting] == f"${old}"
    both = config(env={old: OTHER, new: UNREACHABLE})
    assert both["settings"][setting] == "postgresql://app:***@127.0.0.1:1/app"
    assert both["sources"][setting] == f"${new}"


def test_new_environment_variables():
    data = config(env={"MIGTUI_DSN": OTHER, "MIGTUI_REPLICA_DSN": OTHER, "MIGTUI_SCRATCH_DSN": OTHER})
    assert data["settings"]["dsn"] == data["settings"]["replica_dsn"] == data["settings"]["scratch_dsn"] == OTHER
    assert data["sources"]["scratch_dsn"] == "$MIGTUI_SCRATCH_DSN"


@pytest.mark.parametrize(("old", "setting"), [("database_url", "dsn"), ("replica_url", "replica_dsn")])
def test_old_pyproject_key(tmp_path, old, setting):
    (tmp_path / "pyproject.toml").write_text(f'[tool.migtui]\n{old} = "{OTHER}"\n')
    data = config(cwd=tmp_path)
    assert data["settings"][setting] == OTHER and data["sources"][setting] == "pyproject.toml"
    (tmp_path / "pyproject.toml").write_text(f'[tool.migtui]\n{old} = "{OTHER}"\n{setting} = "{UNREACHABLE}"\n')
    assert config(cwd=tmp_path)["settings"][setting] == "postgresql://app:***@127.0.0.1:1/app"


@pytest.mark.parametrize("command", ["config", "tui", "dry-run"])
def test_replica_flag_is_a_hidden_alias_of_replica_dsn(command):
    help_text = run_main(command, "--help").stdout
    assert "--replica-dsn" in help_text and "--replica " not in help_text and "--replica\n" not in help_text
    if command == "config":
        assert config("--replica", OTHER)["settings"]["replica_dsn"] == OTHER


def test_dry_run_replica_alias_reaches_the_replica():
    proc = run_main("dry-run", "--replica", UNREACHABLE, "--migrations", MIGRATIONS, env=CLEAN_ENV)
    assert proc.returncode == 6, proc.stderr
    assert "cannot connect" in proc.stderr and "s3cret" not in proc.stderr


def test_dry_run_shadow_dsn_is_a_hidden_alias_of_scratch_dsn():
    assert "--shadow-dsn" not in run_main("dry-run", "--help").stdout
    argv = ["dry-run", "--replica-dsn", UNREACHABLE, "--shadow-dsn", UNREACHABLE, "--migrations", MIGRATIONS]
    proc = run_main(*argv, env=CLEAN_ENV)
    assert proc.returncode == 6, proc.stderr
    assert "cannot connect to the shadow server (--scratch-dsn)" in proc.stderr and "s3cret" not in proc.stderr


def test_rollback_test_dsn_is_a_hidden_alias_of_scratch_dsn():
    help_text = run_main("rollback-test", "--help").stdout
    assert "--scratch-dsn" in help_text and "--dsn" not in help_text
    proc = run_main("rollback-test", "--dsn", UNREACHABLE, "--migrations", MIGRATIONS, env=CLEAN_ENV)
    assert proc.returncode == 6, proc.stderr
    assert "cannot connect" in proc.stderr and "s3cret" not in proc.stderr


def test_rollback_test_reads_the_scratch_setting_not_the_target():
    proc = run_main("rollback-test", "--migrations", MIGRATIONS, env={**CLEAN_ENV, "MIGTUI_SCRATCH_DSN": UNREACHABLE})
    assert proc.returncode == 6, proc.stderr
    assert "cannot connect" in proc.stderr and "s3cret" not in proc.stderr
