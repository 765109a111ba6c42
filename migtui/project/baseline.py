"""The baseline: what exists in a database before a project's first revision (``settings.baseline``).

Some histories do not start from an empty database: the application creates a base set of tables
(``metadata.create_all()``) and the first revision alters them. Lint's online rendering builds its scratch
database from the baseline:

    apply_baseline(settings, dsn)   # settings.baseline: "schema.sql" or "app.models:Base.metadata.create_all"

A baseline is a SQL file (run by psycopg) or ``module:attribute.path``, a callable given one SQLAlchemy
connection. It runs in one transaction; a failure raises ``ProjectError`` (exit 7) naming it.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from migtui.errors import ProjectError
from migtui.redact import error_line


def is_callable_reference(value: str) -> bool:
    """``package.module:attr.path`` names a Python callable; anything else is a file path."""
    return re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", value) is not None


def apply_baseline(settings: Any, dsn: str) -> str | None:
    """Apply ``settings.baseline`` to the empty database ``dsn``; returns it, or None without a baseline."""
    value = getattr(settings, "baseline", None)
    if not value:
        return None
    if is_callable_reference(value):
        _apply_callable(value, dsn)
    else:
        _apply_sql_file(Path(value).expanduser(), value, dsn)
    return str(value)


def _apply_callable(reference: str, dsn: str) -> None:
    import sqlalchemy

    from migtui.pg.dsn import sqlalchemy_url

    module_name, _, attribute = reference.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except Exception as exc:
        raise ProjectError(f"baseline {reference}: cannot import it: {error_line(exc)}") from None
    engine = sqlalchemy.create_engine(sqlalchemy_url(dsn), poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.begin() as connection:  # one transaction: a failure leaves nothing behind
            target(connection)
    except Exception as exc:
        raise ProjectError(f"baseline {reference} failed: {error_line(exc, driver_error=True)}") from None
    finally:
        engine.dispose()


def _apply_sql_file(path: Path, label: str, dsn: str) -> None:
    import psycopg

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProjectError(f"baseline {label}: {exc.strerror}") from None
    try:
        with psycopg.connect(dsn, application_name="migtui baseline") as conn, conn.transaction():
            conn.execute(text.encode())
    except psycopg.Error as exc:
        raise ProjectError(f"baseline {label} failed: {error_line(exc)}") from None
