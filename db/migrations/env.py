"""alembic environment of the sample application (``db/migrations``).

Where the database URL comes from, first match wins:

1. a connection handed over in ``config.attributes["connection"]`` (a caller that already holds one);
2. ``sqlalchemy.url`` on the Config (migtui sets it from ``--dsn`` / ``MIGTUI_DSN``);
3. ``$MIGTUI_DSN``, then ``$DATABASE_URL`` (plain ``alembic -c db/migrations/alembic.ini ...``).

A plain ``postgresql://`` URL is accepted and run with the psycopg 3 driver. Offline mode (``--sql``) needs
no URL at all: it renders PostgreSQL SQL.

Each revision runs in its own transaction (``transaction_per_migration``), so a revision that uses
``op.get_context().autocommit_block()`` (e.g. ``CREATE INDEX CONCURRENTLY``) commits only itself.
"""

from __future__ import annotations

import sys
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from alembic.util import CommandError
from sqlalchemy import create_engine, pool
from sqlalchemy.exc import OperationalError

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # so `backend` imports however alembic was started
    sys.path.insert(0, str(REPO_ROOT))

from backend.shared.db.models import Base  # noqa: E402
from backend.shared.db.settings import (  # noqa: E402
    DatabaseUrlMissing,
    sqlalchemy_url_from_env,
    to_sqlalchemy_url,
)
from migtui.redact import redact  # noqa: E402

config = context.config

# Logging from alembic.ini only when alembic's own CLI runs us: migtui (and other hosts) keep their logging.
if config.config_file_name and not config.attributes.get("migtui") and config.attributes.get("configure_logger", True):
    import configparser

    parser = configparser.ConfigParser()
    parser.read(config.config_file_name)
    if parser.has_section("loggers"):
        fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

COMMON_OPTIONS: dict = {
    "target_metadata": target_metadata,
    "transaction_per_migration": True,
    "compare_type": True,
    "compare_server_default": True,
}
_version_table = config.get_main_option("version_table")
if _version_table:
    COMMON_OPTIONS["version_table"] = _version_table
_version_table_schema = config.get_main_option("version_table_schema")
if _version_table_schema:
    COMMON_OPTIONS["version_table_schema"] = _version_table_schema


def database_url(required: bool = True) -> str | None:
    """The SQLAlchemy URL to migrate (see the module docstring for the order)."""
    try:
        url = config.get_main_option("sqlalchemy.url")
        if url:
            return to_sqlalchemy_url(url)
        return sqlalchemy_url_from_env()
    except DatabaseUrlMissing as exc:
        if required:
            raise CommandError(exc.message) from None
        return None
    except Exception as exc:  # a malformed URL: one line, never the URL itself (it may hold a password)
        message = getattr(exc, "message", None) or f"invalid database URL ({exc.__class__.__name__})"
        raise CommandError(message) from None


def run_migrations_offline() -> None:
    """Render SQL (``alembic upgrade A:B --sql``); uses the URL's dialect if one is set, else PostgreSQL."""
    url = database_url(required=False)
    if url:
        context.configure(url=url, literal_binds=True, **COMMON_OPTIONS)
    else:
        context.configure(dialect_name="postgresql", literal_binds=True, **COMMON_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection) -> None:
    context.configure(connection=connection, **COMMON_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    url = database_url()
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        try:
            conn = engine.connect()
        except OperationalError as exc:  # unreachable / auth failed: one redacted line, no traceback
            detail = redact(_first_line(exc.orig or exc))
            raise CommandError(f"cannot connect to database: {detail}") from None
        with conn:
            _run_with(conn)
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
