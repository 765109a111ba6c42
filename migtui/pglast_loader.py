"""pglast's C parser, without paying for pglast's Python AST and enum modules until something uses them.

Importing ``pglast`` (or ``pglast.parser``, which imports both) executes ``pglast.enums`` and ``pglast.ast``:
hundreds of Enum and node classes, about 160 million instructions, more than linting a small file. Lint needs
only the C functions (``parse_sql_json``, ``split``, ``scan``), which use neither. ``pglast_parser()`` puts a
stand-in for each of the two modules in ``sys.modules`` before pglast is imported. The first read of an attribute
the stand-in lacks (``ast.SelectStmt``, ``from pglast.enums import ...``, ``pglast.parse_sql`` building nodes)
executes the real module into the stand-in itself, so every name bound to it sees the same module and classes.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import threading
import types
from typing import Any

_DEFERRED = ("enums", "ast")
# one lock for both: pglast.ast's code reads pglast.enums, so executing one can start executing the other
_LOCK = threading.RLock()
_EXECUTING: set[str] = set()


class _Deferred(types.ModuleType):
    """A module whose code runs the first time a name it does not hold yet is read."""

    def __getattr__(self, attr: str) -> Any:  # called only for names missing from the module's dict
        with _LOCK:  # another thread reading it meanwhile waits for the whole module
            name = self.__name__
            if type(self) is _Deferred and name not in _EXECUTING:
                _EXECUTING.add(name)
                try:
                    self.__spec__.loader.exec_module(self)
                finally:
                    _EXECUTING.discard(name)
                self.__class__ = types.ModuleType
            try:
                return self.__dict__[attr]
            except KeyError:  # a missing name, or one read while the module's own code runs (a submodule import)
                raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None


def _defer_modules() -> None:
    package = importlib.util.find_spec("pglast")
    if package is None or package.submodule_search_locations is None:
        return  # not installed: the import below says so
    for short in _DEFERRED:
        name = f"pglast.{short}"
        spec = importlib.machinery.PathFinder.find_spec(name, package.submodule_search_locations)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            continue  # a layout this does not know: imported as usual
        module = importlib.util.module_from_spec(spec)  # sets __spec__, __file__, __path__ ... without running it
        module.__class__ = _Deferred
        sys.modules[name] = module


def pglast_parser() -> types.ModuleType:
    """``pglast.parser``; when pglast is not imported yet, with ``pglast.enums`` and ``pglast.ast`` deferred."""
    with _LOCK:
        if "pglast" in sys.modules:
            from pglast import parser

            return parser
        _defer_modules()
        import pglast
        from pglast import parser

        for short in _DEFERRED:  # what importing them would have set: ``import pglast.ast; pglast.ast.Node``
            if f"pglast.{short}" in sys.modules:
                setattr(pglast, short, sys.modules[f"pglast.{short}"])
    return parser
