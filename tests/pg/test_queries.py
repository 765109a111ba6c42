"""SQL that is data: every .sql file under migtui/ is named by the code that loads it, and the loader refuses
names it has no file for. Pure: no server."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import migtui
from migtui.pg.queries import QUERIES, load_query

PACKAGE_DIR = Path(migtui.__file__).parent


def _query_files() -> list[tuple[str, str]]:
    """(package, name) of every .sql file in the migtui package."""
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.sql")):
        package = ".".join(("migtui", *path.parent.relative_to(PACKAGE_DIR).parts))
        found.append((package, path.stem))
    return found


def _loaders() -> dict[str, tuple[set[str], set[str]]]:
    """For each module that calls load_query: (the query packages it loads from, its string literals)."""
    out: dict[str, tuple[set[str], set[str]]] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "load_query"
        ]
        if not calls:
            continue
        literals = {
            node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        packages = {text for text in literals if text.startswith("migtui.") and text.endswith(".queries")}
        imports_pg_queries = any(
            isinstance(node, ast.ImportFrom)
            and node.module == "migtui.pg.queries"
            and any(alias.name == "QUERIES" for alias in node.names)
            for node in ast.walk(tree)
        )
        if imports_pg_queries or path == PACKAGE_DIR / "pg" / "queries" / "__init__.py":
            packages.add(QUERIES)
        out[str(path.relative_to(PACKAGE_DIR))] = (packages, literals)
    return out


def test_there_are_query_files_in_both_places():
    packages = {package for package, _ in _query_files()}
    assert packages == {"migtui.pg.queries", "migtui.catalog.queries"}


def test_every_query_file_is_named_by_code_that_loads_it():
    """A module that calls load_query names each query it runs as a string literal (variants included, e.g.
    ``"columns_pg13" if pg13 else "columns"``); a file no such module names is dead."""
    loaders = _loaders()
    dead = [
        f"{package}/{name}.sql"
        for package, name in _query_files()
        if not any(package in packages and name in literals for packages, literals in loaders.values())
    ]
    assert dead == []


@pytest.mark.parametrize(("package", "name"), _query_files(), ids=lambda value: value)
def test_every_query_file_loads_without_its_header(package, name):
    text = load_query(package, name)
    assert text.strip()
    assert not text.startswith("--")
    assert "SELECT" in text


def test_the_loader_rejects_an_unknown_name():
    with pytest.raises(LookupError, match=r"no query named 'no_such_query' in migtui\.pg\.queries"):
        load_query(QUERIES, "no_such_query")
    with pytest.raises(LookupError):
        load_query("migtui.catalog.queries", "../../pg/queries/monitor_sessions")
    with pytest.raises(LookupError):
        load_query("migtui.catalog.queries", "monitor_sessions")  # a pg query is not a catalog query


def test_variants_differ_from_their_base_only_where_the_version_needs():
    """A ``<name>_pg13.sql`` file is ``<name>.sql`` with the expressions PostgreSQL 13 lacks replaced."""
    for package, name in _query_files():
        if not name.endswith("_pg13"):
            continue
        base = load_query(package, name.removesuffix("_pg13")).splitlines()
        variant = load_query(package, name).splitlines()
        assert len(base) == len(variant), name
        changed = [(b, v) for b, v in zip(base, variant, strict=True) if b != v]
        assert len(changed) == 1, (name, changed)
        assert "NULL" in changed[0][1] or "prosrc" in changed[0][1], (name, changed)
