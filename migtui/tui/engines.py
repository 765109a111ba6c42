"""Which engines are in this build: views of engines that have not landed say so instead of faking data."""

from __future__ import annotations

import importlib.util


def engine_available(module: str) -> bool:
    """Whether ``module`` (e.g. "migtui.lint.job") can be imported in this build."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False
