"""Which lint core runs: the mypyc-compiled C extensions built by setup.py, or the Python source.

setup.py compiles the lint hot path (``migtui.lint.job``, ``migtui.analysis.*``, the lint renderers) and lists the
modules in ``compiled_sources.json``, with each source's size and CRC-32 at build time (a check for edits, not
for tampering; zlib imports faster than hashlib). The compiled modules call each other directly, so they are
used all together or not at all: only when every listed source still has the digest it was compiled from and
MIGTUI_PURE_PYTHON is not set. Otherwise an import hook loads the ``.py`` files (same results, slower). This
module is never compiled and imports only the standard library: ``migtui/__init__.py`` calls ``install()``
before any compiled module can be imported.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # holds the migtui package
MANIFEST = Path(__file__).resolve().parent / "compiled_sources.json"

COMPILED = "compiled"
PYTHON = "python"


def source_digest(path: Path) -> str:
    """``<size>:<crc32>`` of a source file (setup.py uses this function to write the manifest at build time)."""
    data = path.read_bytes()
    return f"{len(data)}:{zlib.crc32(data):08x}"


def source_path(module: str) -> Path:
    """``migtui.analysis.parse`` -> ``<ROOT>/migtui/analysis/parse.py``"""
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def _has_extension(module: str) -> bool:
    base = ROOT.joinpath(*module.split("."))
    return any(base.with_name(base.name + suffix).exists() for suffix in importlib.machinery.EXTENSION_SUFFIXES)


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
            if source_digest(source_path(module)) != manifest[module]:
                changed.append(module)
        except OSError:
            changed.append(module)
    if changed:
        return PYTHON, f"source changed since it was compiled ({', '.join(changed)}): reinstall to recompile", modules
    return COMPILED, "mypyc", modules


STATE, WHY, MODULES = _decide()


class _SourceFinder:
    """Loads a compiled module of the manifest from its ``.py`` file although its build lies beside it."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name not in MODULES:
            return None
        return importlib.util.spec_from_file_location(name, source_path(name))


def install() -> None:
    if STATE == PYTHON and MODULES and _SourceFinder not in sys.meta_path:
        sys.meta_path.insert(0, _SourceFinder)  # type: ignore[arg-type]


def describe() -> str:
    """One line for --version and the benchmark: ``compiled (mypyc)`` or ``python (why)``."""
    return f"{STATE} ({WHY})"
