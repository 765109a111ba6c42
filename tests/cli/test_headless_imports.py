"""Headless commands never import textual (nor migtui.tui): proven in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT
from tests.tui_helpers import sample_project

HEADLESS = ["status", "lint", "dry-run", "drift", "rollback-test", "up", "monitor"]

_PROBE = """
import io, json, sys, contextlib
from migtui.cli.main import COMMANDS, main
dsn, project, commands = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
ran = {}
for name in commands:
    if name not in COMMANDS:
        continue
    args = [name, "--dsn", dsn]
    if name == "monitor":
        args.append("--once")
    else:
        args += ["--migrations", project]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(args)
    if code == 2 and "invalid choice" in out.getvalue():
        continue  # command not in this build
    ran[name] = code
leaked = sorted(m for m in sys.modules if m == "textual" or m.startswith(("textual.", "migtui.tui")))
print(json.dumps({"ran": ran, "leaked": leaked}))
"""


def test_headless_commands_never_import_textual(fresh_db, tmp_path):
    project = sample_project(tmp_path / "proj")
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, fresh_db, str(project), ",".join(HEADLESS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "monitor" in result["ran"] and result["ran"]["monitor"] == 0
    assert result["leaked"] == [], f"headless commands imported {result['leaked']}"
    if "up" in result["ran"]:
        assert result["ran"]["up"] == 0
