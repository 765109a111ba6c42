"""SQL that is data: each query is a ``.sql`` file, loaded by name (the way pg_activity keeps its queries).

A file holds one statement for psycopg. Its leading ``--`` lines say what it returns and are not sent.
Parameters are ``%(name)s`` or ``%s``, so a literal ``%`` in a file that runs with parameters is written
``%%``. A version-specific form is its own file, named for the servers it serves (``columns_pg13.sql``
beside ``columns.sql``), and the caller picks one by server version. Callers name their queries with string
literals, so ``grep`` finds every user of a file and tests/pg/test_queries.py finds files no code names.

Queries used by ``migtui.pg`` live here; ``migtui.catalog.queries`` holds the catalog inspection queries.
"""

from __future__ import annotations

import functools

QUERIES = __name__  # the package of the queries migtui.pg runs


@functools.cache
def load_query(package: str, name: str) -> str:
    """The statement in ``<package>/<name>.sql``; LookupError when there is no such query."""
    from importlib import resources

    resource = resources.files(package) / f"{name}.sql"
    if not name.isidentifier() or not resource.is_file():
        raise LookupError(f"no query named {name!r} in {package}")
    lines = resource.read_text(encoding="utf-8").splitlines()
    while lines and lines[0].startswith("--"):
        lines.pop(0)
    return "\n".join(lines) + "\n"
