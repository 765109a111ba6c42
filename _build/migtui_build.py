"""The build backend: setuptools', with mypy added to what a wheel build needs.

An editable install (``pip install -e .``) runs the Python source, so it needs no mypy and compiles nothing. A wheel
(``pip install .``, ``pip wheel .``, a release build) compiles the lint hot path with mypyc (setup.py); this backend
tells setup.py which of the two it is building, since setuptools runs setup.py the same way for both.
MIGTUI_PURE_PYTHON=1 at build time builds a wheel without compiling (and without fetching mypy).
"""

from __future__ import annotations

import os

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (every hook not defined below is setuptools')

MYPY = "mypy>=1.15"  # mypyc ships with mypy
WHEEL_BUILD = "MIGTUI_WHEEL_BUILD"  # read by setup.py: set only while build_wheel runs


def pure_python() -> bool:
    return os.environ.get("MIGTUI_PURE_PYTHON", "").strip() not in ("", "0")


def get_requires_for_build_wheel(config_settings: dict | None = None) -> list[str]:
    requires = _setuptools.get_requires_for_build_wheel(config_settings)
    return requires if pure_python() else [*requires, MYPY]


def build_wheel(
    wheel_directory: str, config_settings: dict | None = None, metadata_directory: str | None = None
) -> str:
    os.environ[WHEEL_BUILD] = "1"
    try:
        return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
    finally:
        del os.environ[WHEEL_BUILD]


def build_editable(
    wheel_directory: str, config_settings: dict | None = None, metadata_directory: str | None = None
) -> str:
    os.environ.pop(WHEEL_BUILD, None)  # whatever the caller's environment says: an editable build compiles nothing
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
