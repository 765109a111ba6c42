"""Open psycopg connections with clear, secret-free errors."""

from __future__ import annotations

from typing import Any

from migtui.errors import ConnectionFailed
from migtui.pg.dsn import libpq_dsn
from migtui.redact import redact

DEFAULT_CONNECT_TIMEOUT = 10
# TCP keepalives on every connection, so a peer that vanished (a partition, a dead host) is noticed by the
# kernel within about idle + interval * count seconds instead of the system default of hours. A DSN's own
# keepalives* settings win.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


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
    connect_timeout: int | None = None,
    options: str | None = None,
    **kwargs: Any,
):
    """Connect with psycopg 3. Raises ConnectionFailed (exit 6) with a one-line, redacted message.

    ``connect_timeout``: the caller's bound; else the DSN's ``connect_timeout`` (or ``PGCONNECT_TIMEOUT``) as
    libpq reads it; else ``DEFAULT_CONNECT_TIMEOUT``. TCP keepalives (``KEEPALIVES``) unless the DSN sets them.
    """
    import os

    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    plain = libpq_dsn(dsn)
    try:
        given = conninfo_to_dict(plain)
    except psycopg.ProgrammingError as exc:
        raise ConnectionFailed(f"invalid database URL: {describe_error(exc)}") from None
    params: dict[str, Any] = {"application_name": application_name}
    if connect_timeout is not None:
        params["connect_timeout"] = connect_timeout
    elif "connect_timeout" not in given and not os.environ.get("PGCONNECT_TIMEOUT"):
        params["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    params.update({k: v for k, v in KEEPALIVES.items() if k not in given})
    if options:
        params["options"] = options
    params.update(kwargs)
    from migtui.pg.liveness import guarded_connection_class

    try:
        conn = guarded_connection_class().connect(plain, autocommit=autocommit, **params)
    except psycopg.OperationalError as exc:
        raise ConnectionFailed(f"cannot connect to database: {describe_error(exc)}") from None
    except psycopg.ProgrammingError as exc:  # e.g. invalid connection option
        raise ConnectionFailed(f"invalid database URL: {describe_error(exc)}") from None
    conn._migtui_dsn = plain  # what migtui.pg.liveness probes when a call on it waits long
    return conn
