"""A wheel compiles the lint core (setup.py: mypyc) and it gives the same results as the Python source.

The wheel is built once per test session, as ``pip install .`` builds it (isolated build environment, in-tree, so
a later session reuses the C objects of an unchanged source), unpacked, and run from the unpacked tree; the
Python source runs from the checkout, which is what an editable install runs.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import runpy
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from migtui import __version__
from tests.conftest import ROOT

COMPILED: list[str] = runpy.run_path(str(ROOT / "_build" / "mypyc_modules.py"))["COMPILED"]
EXTENSION = tuple(importlib.machinery.EXTENSION_SUFFIXES)

# Every rule's unsafe and safe case (with their catalog facts), as analyze_sql results, and two versions' cases.
SCRIPT = r"""
import json
from migtui.analysis import analyze_sql
import migtui.lint.job
from tests.analysis.test_rules import CASES, LT, _facts, _safe_facts

out = {"lint_job": migtui.lint.job.__file__, "cases": {}}
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


def _c_compiler() -> str | None:
    cc = os.environ.get("CC", "").split()
    return shutil.which(cc[0]) if cc else shutil.which("cc") or shutil.which("gcc")


@pytest.fixture(scope="session")
def wheel_tree(migtui_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migtui wheel built from this checkout (tests/conftest.py), unpacked: a tree to put first on PYTHONPATH."""
    out = tmp_path_factory.mktemp("wheel-tree")
    with zipfile.ZipFile(migtui_wheel) as archive:
        archive.extractall(out / "tree")
    return out / "tree"


def _run(tree: Path | None, *args: str) -> subprocess.CompletedProcess:
    """``python -P ARGS`` with migtui from the unpacked wheel (``tree``) or from the source (None); -P keeps the
    working directory (the checkout) off sys.path, so PYTHONPATH alone decides."""
    env = {k: v for k, v in os.environ.items() if k != "MIGTUI_PURE_PYTHON"}
    paths = [str(tree)] if tree else []
    env["PYTHONPATH"] = os.pathsep.join([*paths, str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-P", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def _require_compiled(tree: Path) -> None:
    """Where a C compiler exists the wheel compiles every listed module, and they are what its import runs."""
    if _c_compiler() is None:
        pytest.skip("no C compiler: the wheel holds the Python source only, there is no compiled core to compare")
    missing = [path for path in COMPILED if not any(tree.joinpath(path[:-3] + s).exists() for s in EXTENSION)]
    assert not missing, f"the wheel did not compile {missing} although a C compiler exists"
    modules = [path[:-3].replace("/", ".") for path in COMPILED]
    script = f"import importlib, json; print(json.dumps([importlib.import_module(m).__file__ for m in {modules}]))"
    check = _run(tree, "-c", script)
    assert check.returncode == 0, check.stderr
    files = [Path(f) for f in json.loads(check.stdout)]
    assert all(f.is_relative_to(tree) and f.name.endswith(EXTENSION) for f in files), files


def test_wheel_holds_and_runs_the_compiled_core(wheel_tree: Path) -> None:
    _require_compiled(wheel_tree)


def test_editable_source_has_no_compiled_module() -> None:
    """An editable install runs the source: no build ever leaves an extension beside it."""
    assert not [p for p in (ROOT / "migtui").rglob("*") if p.name.endswith(EXTENSION)]
    assert not list(ROOT.glob("migtui_core__mypyc*"))


def test_compiled_list_names_the_lint_modules() -> None:
    """Every module the build compiles exists, once (a module moved without the list would silently run as Python)."""
    assert len(set(COMPILED)) == len(COMPILED)
    assert all(path.startswith("migtui/") and (ROOT / path).is_file() for path in COMPILED), COMPILED
    assert "migtui/lint/job.py" in COMPILED and "migtui/analysis/analyze.py" in COMPILED  # what --version reads


def test_only_a_wheel_build_needs_mypy() -> None:
    """The build backend's requirements: mypy for a wheel, none for an editable install or a pure-Python wheel."""
    script = (
        "import json, os, sys; sys.path.insert(0, '_build'); import migtui_build as b\n"
        "wheel, editable = b.get_requires_for_build_wheel(), b.get_requires_for_build_editable()\n"
        "os.environ['MIGTUI_PURE_PYTHON'] = '1'\n"
        "print(json.dumps([wheel, editable, b.get_requires_for_build_wheel()]))"
    )
    result = _run(None, "-c", script)
    assert result.returncode == 0, result.stderr
    wheel, editable, pure = json.loads(result.stdout.splitlines()[-1])
    assert any(r.startswith("mypy") for r in wheel), wheel
    assert not any(r.startswith("mypy") for r in editable + pure), (editable, pure)


def test_compiled_and_python_source_agree(wheel_tree: Path) -> None:
    _require_compiled(wheel_tree)
    compiled = _run(wheel_tree, "-c", SCRIPT)
    python = _run(None, "-c", SCRIPT)
    assert compiled.returncode == 0, compiled.stderr
    assert python.returncode == 0, python.stderr
    a, b = json.loads(compiled.stdout), json.loads(python.stdout)
    assert a.pop("lint_job").endswith(EXTENSION) and b.pop("lint_job").endswith(".py")
    assert len(a["cases"]) > 100
    assert a == b


def test_compiled_and_python_cli_output_agree(wheel_tree: Path, tmp_path: Path) -> None:
    _require_compiled(wheel_tree)
    sql = tmp_path / "m.sql"
    sql.write_text(
        "BEGIN;\nALTER TABLE orders ADD COLUMN total numeric(12,2) NOT NULL;\n"
        "CREATE INDEX orders_total_idx ON orders (total);\n"
        "ALTER TABLE orders ALTER COLUMN status TYPE varchar(10);\nCOMMIT;\n"
    )
    for target in (str(sql), "db/migrations"):
        outputs = []
        for tree in (wheel_tree, None):
            result = _run(tree, "-m", "migtui", "lint", "--no-catalog", "--format", "json", target)
            assert result.returncode == 1, result.stderr  # both have error findings
            outputs.append(json.loads(result.stdout))
        assert outputs[0] == outputs[1]
        assert outputs[0]["summary"]["errors"] > 0


def test_version_names_the_core(wheel_tree: Path) -> None:
    python = _run(None, "-m", "migtui", "--version")
    assert (python.returncode, python.stdout) == (0, f"migtui {__version__} (lint core: python)\n")
    compiled = _run(wheel_tree, "-m", "migtui", "--version")
    assert compiled.returncode == 0
    expected = "compiled (mypyc)" if _c_compiler() else "python"
    assert compiled.stdout == f"migtui {__version__} (lint core: {expected})\n"
