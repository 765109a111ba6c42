"""Standard output is the report's: a project whose env.py and revisions print and log to stdout (aodh's env.py
sets up oslo.log on stdout) still gives parseable ``--format json``, with the project's lines on stderr."""

from __future__ import annotations

import json

from tests.alembic_projects import Rev, make_project
from tests.conftest import run_cli

NOISY_ENV = """
import logging
import sys

_handler = logging.StreamHandler(sys.stdout)  # the stream env.py is given when it runs
_log = logging.getLogger("noisy_project")
_log.addHandler(_handler)
_log.setLevel(logging.INFO)
print("env.py prints to stdout")
"""

NOISY_REV = Rev(
    "n1",
    "import logging\nlogging.getLogger('noisy_project').info('revision n1 logs to stdout')\n"
    "print('revision n1 prints')\nop.create_table('t', sa.Column('id', sa.Integer, primary_key=True))",
    "op.drop_table('t')",
)


def _noisy_project(tmp_path):
    project = make_project(tmp_path / "proj", [NOISY_REV])
    env = project / "env.py"
    env.write_text(NOISY_ENV + env.read_text())
    return project


def test_lint_json_stays_parseable_when_the_project_prints(tmp_path):
    project = _noisy_project(tmp_path)
    result = run_cli("lint", "--migrations", str(project), "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)  # nothing of the project's in the report
    assert report["files"], report
    assert "env.py prints to stdout" in result.stderr
    assert "revision n1 logs to stdout" in result.stderr and "revision n1 prints" in result.stderr


def test_up_json_lines_stay_parseable_when_the_project_prints(tmp_path, fresh_db):
    project = _noisy_project(tmp_path)
    result = run_cli("up", "--dsn", fresh_db, "--migrations", str(project), "--format", "json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]  # every line is an event
    assert any(e.get("revision") == "n1" for e in events), events
    assert "revision n1 logs to stdout" in result.stderr and "revision n1 prints" in result.stderr
