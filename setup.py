"""Build hook: compile the lint core to C with mypyc, when it can be.

Everything else about the package is in pyproject.toml. The modules below are ordinary, type-annotated Python;
mypyc (part of mypy) turns them into C extensions that run the same code about twice as fast, which is what
``migtui lint`` on thousands of files needs (benchmarks/lint_speed.py). The Python source stays the one
definition: without a C compiler, or with MIGTUI_PURE_PYTHON=1, the package installs and runs as plain Python
(``migtui --version`` says which one runs), and a compiled module older than its source is not used
(``migtui/lint_core.py``).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

from setuptools import setup

# The lint hot path: files -> parse -> classify -> locks and rules -> findings -> rendered output.
COMPILED = [
    "migtui/lint/job.py",
    "migtui/render/findings.py",
    "migtui/render/github.py",
    "migtui/render/text_lint.py",
    "migtui/analysis/parse.py",
    "migtui/analysis/classify.py",
    "migtui/analysis/analyze.py",
    "migtui/analysis/lock_modes.py",
    "migtui/analysis/lock_model.py",
    "migtui/analysis/rules.py",
    "migtui/analysis/approvals.py",
    "migtui/analysis/types.py",
    "migtui/analysis/facts.py",
]


MANIFEST = Path("migtui/compiled_sources.json")


# the digest the runtime check compares with: lint_core.py imports only the standard library, so it runs here on
# its own (the package it belongs to is not importable while it is being built)
source_digest = runpy.run_path("migtui/lint_core.py")["source_digest"]


def write_manifest() -> None:
    """What the compiled modules were built from: migtui/lint_core.py uses them only while it still holds."""
    digests = {p.removesuffix(".py").replace("/", "."): source_digest(Path(p)) for p in COMPILED}
    MANIFEST.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")


def ext_modules() -> list:
    MANIFEST.unlink(missing_ok=True)  # no manifest: any compiled module left from an earlier build is not used
    if os.environ.get("MIGTUI_PURE_PYTHON", "").strip() not in ("", "0"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # built without the build requirements (e.g. --no-build-isolation without mypy)
        print("migtui: mypy (mypyc) not available: installing the lint core as plain Python", file=sys.stderr)
        return []
    write_manifest()
    extensions = mypycify(
        ["--follow-imports=silent", "--ignore-missing-imports", *COMPILED],
        opt_level="3",
        group_name="migtui_core",
    )
    for extension in extensions:
        extension.optional = True  # no C compiler: plain Python, not a failed install
    return extensions


setup(ext_modules=ext_modules())
