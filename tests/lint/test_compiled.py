"""The compiled lint core (setup.py: mypyc) and its Python source give the same results; a stale build is not used."""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from migtui import lint_core as core
from tests.conftest import ROOT

# Every rule's unsafe and safe case (with their catalog facts), as analyze_sql results, and the sample alembic
# project and a raw file linted through the CLI's json format.
SCRIPT = r"""
import json, subprocess, sys
from migtui import lint_core as core
from migtui.analysis import analyze_sql
from tests.analysis.test_rules import CASES, LT, _facts, _safe_facts

out = {"core": core.STATE, "cases": {}}
for rule, (unsafe, safe, options) in CASES.items():  # as test_rule_fires_on_unsafe_and_not_on_safe runs them
    prefix = "" if options.get("no_prefix") else LT
    version = options.get("pg_version", 16)
    facts = _facts(**options["facts"]) if "facts" in options else None
    safe_facts = _safe_facts(options["safe_facts"]) if "safe_facts" in options else facts
    runs = (("unsafe", unsafe, version, facts), ("safe", safe, options.get("safe_version", version), safe_facts))
    for name, sql, pg_version, catalog in runs:
        results = analyze_sql(prefix + sql, pg_version=pg_version, facts=catalog)
        out["cases"][f"{rule}:{name}"] = [st.to_dict() for st in results]
for version in (13, 18):
    sql = "ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid(); ALTER TABLE t DETACH PARTITION p;"
    out["cases"][f"versions:{version}"] = [st.to_dict() for st in analyze_sql(sql, pg_version=version)]
print(json.dumps(out, sort_keys=True))
"""


def _run(pure: bool, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MIGTUI_PURE_PYTHON"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if pure:
        env["MIGTUI_PURE_PYTHON"] = "1"
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def _compiled_or_skip() -> None:
    if not core.MODULES:
        pytest.skip(f"the lint core is not compiled here: {core.describe()}")


def test_installed_package_runs_the_compiled_core():
    """pip install (what the README does) compiles the core where a C compiler exists, and it is what runs."""
    try:
        importlib.metadata.distribution("migtui")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("migtui is not installed (running from a source checkout)")
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler: the core installs as Python")
    assert core.STATE == core.COMPILED, core.describe()
    import migtui.analysis.analyze as analyze
    import migtui.analysis.classify as classify
    import migtui.lint.job as lint
    import migtui.render.github as github

    for module in (analyze, classify, lint, github):
        assert Path(module.__file__).name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), module.__file__


def test_compiled_and_python_source_agree():
    _compiled_or_skip()
    compiled = _run(False, "-c", SCRIPT)
    python = _run(True, "-c", SCRIPT)
    assert compiled.returncode == 0, compiled.stderr
    assert python.returncode == 0, python.stderr
    a, b = json.loads(compiled.stdout), json.loads(python.stdout)
    assert (a.pop("core"), b.pop("core")) == ("compiled", "python")
    assert len(a["cases"]) > 100
    assert a == b


def test_compiled_and_python_cli_output_agree(tmp_path):
    _compiled_or_skip()
    sql = tmp_path / "m.sql"
    sql.write_text(
        "BEGIN;\nALTER TABLE orders ADD COLUMN total numeric(12,2) NOT NULL;\n"
        "CREATE INDEX orders_total_idx ON orders (total);\n"
        "ALTER TABLE orders ALTER COLUMN status TYPE varchar(10);\nCOMMIT;\n"
    )
    for target in (str(sql), "db/migrations"):
        outputs = []
        for pure in (False, True):
            result = _run(pure, "-m", "migtui", "lint", "--no-catalog", "--format", "json", target)
            assert result.returncode == 1, result.stderr  # both have error findings
            outputs.append(json.loads(result.stdout))
        assert outputs[0] == outputs[1]
        assert outputs[0]["summary"]["errors"] > 0


def _fake_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, edit: bool = False) -> None:
    """A package with one 'compiled' module (an empty extension file: only its presence is read)."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text("X = 1\n")
    (package / f"mod{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"")
    manifest = {"pkg.mod": core.source_digest(package / "mod.py")}
    (package / "compiled_sources.json").write_text(json.dumps(manifest))
    if edit:
        (package / "mod.py").write_text("X = 2\n")
    monkeypatch.setattr(core, "ROOT", tmp_path)
    monkeypatch.setattr(core, "MANIFEST", package / "compiled_sources.json")
    monkeypatch.delenv("MIGTUI_PURE_PYTHON", raising=False)


def test_core_state_compiled_when_sources_match(tmp_path, monkeypatch):
    _fake_build(tmp_path, monkeypatch)
    assert core._decide() == (core.COMPILED, "mypyc", frozenset({"pkg.mod"}))


def test_core_state_python_when_a_source_changed(tmp_path, monkeypatch):
    _fake_build(tmp_path, monkeypatch, edit=True)
    state, why, modules = core._decide()
    assert (state, modules) == (core.PYTHON, frozenset({"pkg.mod"}))
    assert "(pkg.mod)" in why and "reinstall" in why


def test_core_state_python_when_asked_or_not_built(tmp_path, monkeypatch):
    _fake_build(tmp_path, monkeypatch)
    monkeypatch.setenv("MIGTUI_PURE_PYTHON", "1")
    assert core._decide()[:2] == (core.PYTHON, "MIGTUI_PURE_PYTHON is set")
    monkeypatch.delenv("MIGTUI_PURE_PYTHON")
    (tmp_path / "pkg" / "compiled_sources.json").unlink()
    assert core._decide() == (core.PYTHON, "not compiled", frozenset())


def test_version_names_the_core():
    result = _run(False, "-m", "migtui", "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("migtui ") and "lint core: " in result.stdout
    pure = _run(True, "-m", "migtui", "--version")
    assert "lint core: python" in pure.stdout
