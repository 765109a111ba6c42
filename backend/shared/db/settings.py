"""Database settings of the backend: the URL comes from the environment, never from the repository.

``MIGTUI_DSN`` wins over ``DATABASE_URL`` (the same variable migtui reads, so one setting serves the
deploy step and the app). A plain ``postgresql://`` URL (or libpq ``key=value`` string) is accepted and turned
into a SQLAlchemy URL for the psycopg 3 driver (``postgresql+psycopg://``). ``repr()`` never shows the
password.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from migtui.errors import UsageError
from migtui.redact import redact_dsn

# MIGTUI_DATABASE_URL: the name migtui also reads for one release
ENV_VARS: tuple[str, ...] = ("MIGTUI_DSN", "MIGTUI_DATABASE_URL", "DATABASE_URL")


class DatabaseUrlMissing(UsageError):
    """No database URL in the environment (exit code 2 when it reaches migtui's CLI or the migrate entry)."""


def to_sqlalchemy_url(url: str) -> str:
    """``postgresql://``, ``postgres://``, ``postgresql+<driver>://`` or ``key=value`` -> ``postgresql+psycopg://``.

    Raises ``UsageError`` (one line, no password) for anything that is not a PostgreSQL URL.
    """
    from migtui.pg.dsn import sqlalchemy_url

    return sqlalchemy_url(url)


def database_url_from_env(env: Mapping[str, str] | None = None) -> str:
    """The raw URL from ``$MIGTUI_DSN`` or ``$DATABASE_URL``; ``DatabaseUrlMissing`` if neither."""
    env = os.environ if env is None else env
    for var in ENV_VARS:
        value = (env.get(var) or "").strip()
        if value:
            return value
    raise DatabaseUrlMissing("no database URL: set MIGTUI_DSN or DATABASE_URL (e.g. postgresql://user@host/db)")


def sqlalchemy_url_from_env(env: Mapping[str, str] | None = None) -> str:
    return to_sqlalchemy_url(database_url_from_env(env))


@dataclass(frozen=True)
class DatabaseSettings:
    """Where the backend's database is: ``url`` as given; ``sqlalchemy_url`` for ``create_engine``."""

    url: str
    source: str = "argument"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DatabaseSettings:
        env = os.environ if env is None else env
        url = database_url_from_env(env)
        source = next(f"${var}" for var in ENV_VARS if (env.get(var) or "").strip())
        return cls(url=url, source=source)

    @property
    def sqlalchemy_url(self) -> str:
        return to_sqlalchemy_url(self.url)

    def __repr__(self) -> str:
        return f"DatabaseSettings(url={redact_dsn(self.url)!r}, source={self.source!r})"

    __str__ = __repr__


def load_database_settings(env: Mapping[str, str] | None = None) -> DatabaseSettings:
    """Settings from the environment (see the module docstring)."""
    return DatabaseSettings.from_env(env)
