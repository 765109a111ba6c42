"""Build hook: a wheel build compiles the lint hot path to C with mypyc, when it can.

Everything else about the package is in pyproject.toml. The modules in _build/mypyc_modules.py are ordinary,
type-annotated Python; mypyc (part of mypy) turns them into C extensions that run the same code faster, which is
what ``migtui lint`` on thousands of files needs (the figures: docs/lint.md, Speed). Only a wheel build
compiles (the backend in _build/migtui_build.py says which build runs): an editable install runs the Python
source, so there is never a compiled module beside a source that may have changed since. Without a C compiler, or
with MIGTUI_PURE_PYTHON=1, the wheel holds the Python source only (``migtui --version`` says which one runs).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent / "_build"))

from migtui_build import WHEEL_BUILD, pure_python
from mypyc_modules import COMPILED


def ext_modules() -> list:
    if os.environ.get(WHEEL_BUILD) != "1" or pure_python():
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # built without the build requirements (e.g. --no-build-isolation without mypy)
        print("migtui: mypy (mypyc) not available: the wheel holds the lint core as plain Python", file=sys.stderr)
        return []
    extensions = mypycify(
        ["--follow-imports=silent", "--ignore-missing-imports", *COMPILED],
        opt_level="3",
        group_name="migtui_core",
    )
    for extension in extensions:
        extension.optional = True  # no C compiler: plain Python, not a failed install
    return extensions


setup(ext_modules=ext_modules())
