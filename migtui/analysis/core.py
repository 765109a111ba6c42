"""Which lint core runs: the mypyc-compiled C extensions built by setup.py, or the Python source.

setup.py compiles the modules of ``migtui.analysis`` listed in ``compiled_sources.json`` (written at build time
with each source's SHA-256). The compiled modules call each other directly, so they are used all together or
not at all: only when every listed source still has the hash it was compiled from and MIGTUI_PURE_PYTHON is
not set. Otherwise an import hook loads the ``.py`` files (same results, about half the speed). This module is
never compiled; ``migtui/analysis/__init__.py`` calls ``install()`` before importing anything else.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "compiled_sources.json"
PACKAGE = __name__.rpartition(".")[0]  # migtui.analysis

COMPILED = "compiled"
PYTHON = "python"


def source_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _has_extension(module: str) -> bool:
    return any((HERE / f"{module}{suffix}").exists() for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def _decide() -> tuple[str, str, frozenset[str]]:
    """(state, why, the modules that have a compiled build)."""
    try:
        manifest = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return PYTHON, "not compiled", frozenset()
    modules = frozenset(m for m in manifest if _has_extension(m))
    if not modules:
        return PYTHON, "not compiled (no C compiler at install time)", frozenset()
    if os.environ.get("MIGTUI_PURE_PYTHON", "").strip() not in ("", "0"):
        return PYTHON, "MIGTUI_PURE_PYTHON is set", modules
    changed = []
    for module in sorted(modules):
        try:
            if source_digest(HERE / f"{module}.py") != manifest[module]:
                changed.append(module)
        except OSError:
            changed.append(module)
    if changed:
        files = ", ".join(f"{module}.py" for module in changed)
        return PYTHON, f"source changed since it was compiled ({files}): reinstall to recompile", modules
    return COMPILED, "mypyc", modules


STATE, WHY, MODULES = _decide()


class _SourceFinder:
    """Loads ``migtui.analysis.<module>`` from its ``.py`` file although a compiled build lies beside it."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        package, _, module = name.rpartition(".")
        if package != PACKAGE or module not in MODULES:
            return None
        return importlib.util.spec_from_file_location(name, HERE / f"{module}.py")


def install() -> None:
    if STATE == PYTHON and MODULES and _SourceFinder not in sys.meta_path:
        sys.meta_path.insert(0, _SourceFinder)  # type: ignore[arg-type]


def describe() -> str:
    """One line for --version and the benchmark: ``compiled (mypyc)`` or ``python (why)``."""
    return f"{STATE} ({WHY})"
