"""Keep passwords out of logs, screens, JSON and error messages."""

from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<pw>[^@/\s]*)@", re.I)
_KV_PASSWORD = re.compile(r"(?P<key>\bpassword\s*=\s*)(?P<q>'?)(?P<pw>(?:\\.|[^'\s])*)(?P=q)", re.I)
_QUERY_PASSWORD = re.compile(r"(?P<key>[?&]password=)(?P<pw>[^&\s]*)", re.I)

MASK = "***"


def redact(text: str) -> str:
    """Mask every password in ``text``: URL userinfo, ``password=`` key/value pairs and query params."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _QUERY_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", text)
    text = _KV_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", text)
    return text


def redact_dsn(dsn: str | None) -> str | None:
    """A DSN that is safe to print (password masked, everything else kept)."""
    if dsn is None:
        return None
    return redact(dsn)


_SQL_PASSWORD = re.compile(r"(\bPASSWORD\s+)('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")", re.I)


def redact_sql(text: str) -> str:
    """``redact`` plus ``PASSWORD '...'`` literals in SQL (CREATE/ALTER ROLE in a revision or a session's query)."""
    if not text:
        return text
    return _SQL_PASSWORD.sub(lambda m: f"{m.group(1)}'{MASK}'", redact(text))


def error_line(exc: BaseException, *, driver_error: bool = False) -> str:
    """The first line of ``exc``'s message, passwords masked; its class name when the message is empty.

    ``driver_error``: for a SQLAlchemy error, the database driver's own error (``exc.orig``), without
    SQLAlchemy's statement and parameter dump.
    """
    source = (getattr(exc, "orig", None) or exc) if driver_error else exc
    lines = str(source).strip().splitlines()
    return redact(lines[0] if lines else exc.__class__.__name__)
