"""The baseline: what exists in a database before a project's first revision.

Some histories do not start from an empty database: the application creates a base set of tables
(``metadata.create_all()``) or a schema dump is loaded, and the first revision alters them. Every job that
builds a database from nothing (rollback-test, drift's expected schema, lint's online rendering) applies
the baseline first, through this one function:

    apply_baseline(settings, dsn)   # settings.baseline: "schema.sql" or "app.models:Base.metadata.create_all"

A baseline is one of:

- a SQL file, including a ``pg_dump --schema-only`` file: run by ``psql`` when it is installed (so psql
  meta-commands such as ``\\restrict`` and COPY blocks work), else by psycopg with the meta-commands that
  do not change the database (``\\restrict``, ``\\unrestrict``, ``\\connect`` to the same database is
  refused) removed and ``COPY ... FROM stdin`` blocks fed through COPY;
- ``module:attribute.path``, a Python callable called with one SQLAlchemy connection (psycopg driver), e.g.
  ``app.models:Base.metadata.create_all``.

Either way it runs in one transaction: a baseline that fails leaves nothing behind and raises
``ProjectError`` (exit 7) naming the file or callable and the first line of the error.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from migtui.config import is_callable_reference
from migtui.errors import ProjectError
from migtui.redact import error_line

# psql meta-commands a pg_dump file may hold that do not change what the dump creates
_HARMLESS_META = re.compile(r"^\\(restrict|unrestrict)\b")
_COPY_FROM_STDIN = re.compile(r"^COPY\s.+\sFROM\s+stdin\s*;\s*$", re.IGNORECASE)
_CREATE_EXTENSION = re.compile(
    r"""CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:\\?"([^"\\]+)\\?"|([A-Za-z_]\w*))""", re.IGNORECASE
)


def baseline_label(settings: Any) -> str | None:
    """How reports name the baseline (its file or callable), or None without one."""
    return str(settings.baseline) if getattr(settings, "baseline", None) else None


def check_baseline(settings: Any) -> None:
    """Usage checks before any server starts: the file exists (a callable is only imported when applied)."""
    value = getattr(settings, "baseline", None)
    if not value or is_callable_reference(value):
        return
    path = Path(value).expanduser()
    if not path.is_file():
        raise ProjectError(f"baseline {value}: no such file")


def apply_baseline(settings: Any, dsn: str) -> str | None:
    """Apply ``settings.baseline`` to the (empty) database ``dsn`` in one transaction; returns what was applied
    (the file or callable), or None without a baseline. ProjectError (exit 7) when it fails."""
    value = getattr(settings, "baseline", None)
    if not value:
        return None
    if is_callable_reference(value):
        _apply_callable(value, dsn)
    else:
        _apply_sql_file(Path(value).expanduser(), value, dsn)
    return str(value)


def baseline_fingerprint(settings: Any) -> str:
    """What identifies the baseline's result for a cache: a file's content hash, or a callable's reference
    (its code is not hashed: rebuild with ``--no-cache`` after changing it)."""
    import hashlib

    value = getattr(settings, "baseline", None)
    if not value:
        return ""
    if is_callable_reference(value):
        return f"callable:{value}"
    try:
        return "sha256:" + hashlib.sha256(Path(value).expanduser().read_bytes()).hexdigest()
    except OSError:
        return f"file:{value}"


def baseline_extensions(settings: Any) -> set[str]:
    """Extensions a SQL baseline creates (a callable's are found when it runs)."""
    value = getattr(settings, "baseline", None)
    if not value or is_callable_reference(value):
        return set()
    try:
        text = Path(value).expanduser().read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return extensions_in(text)


def extensions_in(text: str) -> set[str]:
    """Extension names of the ``CREATE EXTENSION`` statements in ``text`` (SQL or Python source, where a
    quoted name may appear with escaped quotes)."""
    return {m.group(1) or m.group(2).lower() for m in _CREATE_EXTENSION.finditer(text)}


def required_extensions(project: Any, settings: Any) -> tuple[str, ...]:
    """Extensions the project's revisions or baseline create, so a scratch server can be picked that has them."""
    names = set(baseline_extensions(settings))
    for info in project.revisions():
        try:
            names |= extensions_in(Path(info.path).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    names.discard("plpgsql")
    return tuple(sorted(names))


# -- a Python callable -------------------------------------------------------------------------------------


def _resolve_callable(reference: str) -> Any:
    module_name, _, attribute = reference.partition(":")
    if os.getcwd() not in sys.path:  # the application's package usually lives beside the project
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ProjectError(f"baseline {reference}: cannot import {module_name}: {error_line(exc)}") from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ProjectError(f"baseline {reference}: {module_name} has no attribute {attribute}") from None
    if not callable(target):
        raise ProjectError(f"baseline {reference}: {attribute} is not callable")
    return target


def _apply_callable(reference: str, dsn: str) -> None:
    import sqlalchemy

    from migtui.pg.dsn import sqlalchemy_url

    function = _resolve_callable(reference)
    engine = sqlalchemy.create_engine(sqlalchemy_url(dsn), poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.begin() as connection:  # one transaction: a failure leaves nothing behind
            function(connection)
    except ProjectError:
        raise
    except Exception as exc:
        raise ProjectError(f"baseline {reference} failed: {error_line(exc, driver_error=True)}") from None
    finally:
        engine.dispose()


# -- a SQL file --------------------------------------------------------------------------------------------


def _apply_sql_file(path: Path, label: str, dsn: str) -> None:
    if not path.is_file():
        raise ProjectError(f"baseline {label}: no such file")
    psql = shutil.which("psql")
    if psql:
        _run_psql(psql, path, label, dsn)
    else:
        _run_with_psycopg(path, label, dsn)


def _run_psql(psql: str, path: Path, label: str, dsn: str) -> None:
    from migtui.pg.dsn import libpq_dsn

    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGOPTIONS"] = "-c client_min_messages=warning"
    cmd = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", libpq_dsn(dsn), "-f", str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=3600)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ProjectError(f"baseline {label}: cannot run psql: {exc}") from None
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if "ERROR" in line or "error" in line] or [
            line for line in proc.stderr.splitlines() if line.strip()
        ]
        first = errors[0] if errors else f"psql exited with {proc.returncode}"
        first = first.replace(f"psql:{path}:", "line ").strip()
        raise ProjectError(f"baseline {label} failed: {first}")


def _run_with_psycopg(path: Path, label: str, dsn: str) -> None:
    """Without psql: plain SQL in one transaction, COPY blocks through COPY, harmless meta-commands dropped."""
    from migtui.pg.connect import connect

    chunks = _split_dump(path.read_text(encoding="utf-8"), label)
    with connect(dsn, application_name="migtui baseline") as conn:
        try:
            with conn.transaction():
                for kind, statement, data in chunks:
                    if kind == "sql":
                        if statement.strip():
                            conn.execute(statement)
                    else:
                        with conn.cursor().copy(statement) as copy:
                            copy.write(data)
        except Exception as exc:
            raise ProjectError(f"baseline {label} failed: {error_line(exc, driver_error=True)}") from None


def _split_dump(text: str, label: str) -> list[tuple[str, str, str]]:
    """(kind, statement, copy data) pieces of a SQL file: "sql" runs of statements and "copy" blocks."""
    out: list[tuple[str, str, str]] = []
    buffer: list[str] = []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("\\"):
            if not _HARMLESS_META.match(stripped):
                raise ProjectError(
                    f"baseline {label}: line {i + 1} is a psql meta-command ({stripped.split()[0]}); "
                    "install psql (postgresql-client) to run this file"
                )
            i += 1
            continue
        if _COPY_FROM_STDIN.match(stripped):
            out.append(("sql", "".join(buffer), ""))
            buffer = []
            data: list[str] = []
            i += 1
            while i < len(lines) and lines[i].rstrip("\r\n") != "\\.":
                data.append(lines[i])
                i += 1
            out.append(("copy", stripped.rstrip(";"), "".join(data)))
            i += 1
            continue
        buffer.append(line)
        i += 1
    out.append(("sql", "".join(buffer), ""))
    return out
