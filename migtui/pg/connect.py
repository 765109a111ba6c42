"""Open psycopg connections with clear, secret-free errors."""

from __future__ import annotations

from typing import Any

from migtui.errors import ConnectionFailed
from migtui.pg.dsn import libpq_dsn
from migtui.redact import redact

DEFAULT_CONNECT_TIMEOUT = 10


def describe_error(exc: BaseException) -> str:
    """First line of a driver error, with passwords masked."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else exc.__class__.__name__
    # libpq prefixes "connection failed: connection to server at ... failed: FATAL: ..."
    return redact(first)


def connect(
    dsn: str,
    *,
    application_name: str = "migtui",
    autocommit: bool = True,
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
    options: str | None = None,
    **kwargs: Any,
):
    """Connect with psycopg 3. Raises ConnectionFailed (exit 6) with a one-line, redacted message."""
    import psycopg

    params: dict[str, Any] = {"application_name": application_name, "connect_timeout": connect_timeout}
    if options:
        params["options"] = options
    params.update(kwargs)
    try:
        return psycopg.connect(libpq_dsn(dsn), autocommit=autocommit, **params)
    except psycopg.OperationalError as exc:
        raise ConnectionFailed(f"cannot connect to database: {describe_error(exc)}") from None
    except psycopg.ProgrammingError as exc:  # e.g. invalid connection option
        raise ConnectionFailed(f"invalid database URL: {describe_error(exc)}") from None
