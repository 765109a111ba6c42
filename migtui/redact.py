"""Keep passwords out of logs, screens, JSON, webhooks and error messages.

``redact(text)`` is the one function every output path goes through (text, JSON, JUnit, SARIF, the drift
webhook, errors, the TUI). It masks two things:

- **every password of every DSN this process was given**: ``remember_dsn`` parses a DSN with libpq's own
  conninfo parser (``psycopg.conninfo.conninfo_to_dict``) and keeps each spelling its password can take in
  text: as libpq reads it, and in a URL also its raw spelling (a ``%`` that is no escape, an unescaped ``@``
  whose tail libpq takes for the host). The settings, the command line and every connection register their
  DSNs, so a password is masked wherever it appears, in whatever an error message quotes of it;
- **password syntax** in text no registered DSN covers (a DSN quoted in a driver's message, a role's
  ``PASSWORD`` in SQL): URL userinfo, ``password=`` pairs (quoted or not) and ``?password=`` parameters.

``redact_sql`` adds the SQL literals after ``PASSWORD`` (``CREATE/ALTER ROLE``), found on pglast's token
stream, so every string form is masked: ``'...'``, ``E'...'``, ``$$...$$``, ``$tag$...$tag$``, ``U&'...'``.

A front end that must paint before it imports psycopg (``migtui tui``: docs/tui.md, "Start-up") calls
``defer_libpq_parse`` first: DSNs are then remembered by their raw spellings at once and read by libpq later, by
``parse_deferred`` (a forked child that imports psycopg anyway hands its result back with ``adopt``), and at
the latest by the first ``redact``, so nothing is ever masked with less than libpq's reading.

Imports the standard library at module level; psycopg and pglast only inside the functions that parse.
"""

from __future__ import annotations

import itertools
import re
import threading
from urllib.parse import unquote

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<pw>[^/\s]*)@", re.I)
_KV_PASSWORD = re.compile(r"(?P<key>\bpassword\s*=\s*)(?P<pw>'(?:\\.|[^'\\])*'?|[^\s']\S*)", re.I)
_QUERY_PASSWORD = re.compile(r"(?P<key>[?&]password=)(?P<pw>[^&\s]*)", re.I)

MASK = "***"
# a password shorter than this is masked only where its syntax shows it (a URL, password=, PASSWORD '...'):
# masking every occurrence of "ab" in an error message would garble it and tell an onlooker the password
MIN_REMEMBERED = 4

_REMEMBERED: set[str] = set()
_ORDERED: tuple[str, ...] = ()  # longest first, so a password containing another one is masked whole
_LOCK = threading.Lock()
_DEFERRING = False  # remember_dsn keeps its DSN for parse_deferred instead of importing psycopg
_DEFERRED: list[str] = []  # DSNs remembered by their raw spellings only, libpq's reading to come
# deferred DSNs libpq has read since (here or in a forked child), with the spelling it read: nothing to defer
_READ: dict[str, frozenset[str]] = {}


def dsn_passwords(dsn: str, libpq: bool = True) -> set[str]:
    """Every spelling the password of ``dsn`` can take in text (empty set: no password); without ``libpq``
    only the raw spellings, read without psycopg."""
    found: set[str] = set()
    dsn = (dsn or "").strip()
    if not dsn:
        return found
    if libpq:
        found |= _libpq_password(dsn)
    if "://" in dsn:
        rest = dsn.split("://", 1)[1]
        head, _, query = rest.partition("?")
        if "@" in head:
            userinfo = head[: head.rfind("@")]
            if ":" in userinfo:
                raw = userinfo.split(":", 1)[1]
                found.update({raw, unquote(raw)})
                for piece in raw.split("@"):  # libpq splits an unescaped "@" password at the first "@"
                    found.update({piece, unquote(piece)})
        for pair in query.split("&"):
            key, _, value = pair.partition("=")
            if key.lower() == "password" and value:
                found.update({value, unquote(value)})
    else:
        for match in _KV_PASSWORD.finditer(dsn):
            value = match["pw"]
            found.add(value)
            if value.startswith("'"):
                found.add(value.strip("'").replace("\\'", "'").replace("\\\\", "\\"))
    return {s for s in found if s and s != MASK}


def _libpq_password(dsn: str) -> set[str]:
    """The password as libpq reads ``dsn`` (empty when it has none or libpq rejects the DSN: a bad escape, an
    unterminated quote; the raw spellings still count)."""
    plain = dsn
    if "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        plain = f"{scheme.split('+', 1)[0]}://{rest}"
    try:
        from psycopg.conninfo import conninfo_to_dict

        password = conninfo_to_dict(plain).get("password")
    except Exception:
        return set()
    return {str(password)} if password else set()


def _keep(spellings: set[str]) -> None:
    global _ORDERED
    with _LOCK:
        new = {s for s in spellings if len(s) >= MIN_REMEMBERED and s != MASK} - _REMEMBERED
        if new:
            _REMEMBERED.update(new)
            _ORDERED = tuple(sorted(_REMEMBERED, key=len, reverse=True))


def remember_dsn(dsn: str | None) -> None:
    """Mask ``dsn``'s password in everything ``redact`` sees from now on (this process)."""
    if not dsn:
        return
    if not _DEFERRING:
        _keep(dsn_passwords(dsn))
        return
    _keep(dsn_passwords(dsn, libpq=False) | _READ.get(dsn, frozenset()))
    if dsn not in _READ:
        with _LOCK:
            _DEFERRED.append(dsn)


def defer_libpq_parse(enabled: bool = True) -> None:
    """From now on (until called with False) ``remember_dsn`` keeps the raw spellings at once and leaves libpq's
    reading (and psycopg's import) to ``parse_deferred``, ``adopt`` or the first ``redact``."""
    global _DEFERRING
    _DEFERRING = enabled


def parse_deferred(stop: bool = False) -> dict[str, frozenset[str]]:
    """libpq's reading of every deferred DSN (imports psycopg); returns what it read of each DSN deferred so far.
    With ``stop``, ``remember_dsn`` reads with libpq at once from now on."""
    global _DEFERRING
    with _LOCK:
        pending = list(_DEFERRED)
    read = {dsn: frozenset(_libpq_password(dsn.strip())) for dsn in pending}
    adopt(read)
    with _LOCK:
        if stop:
            _DEFERRING = False
        return dict(_READ)


def adopt(read: dict[str, frozenset[str]]) -> None:
    """Keep libpq's reading of deferred DSNs (``parse_deferred``'s, maybe a forked child's): they need no
    reading here any more."""
    for spellings in read.values():
        _keep(set(spellings))
    with _LOCK:
        _READ.update(read)
        _DEFERRED[:] = [dsn for dsn in _DEFERRED if dsn not in read]


def redact(text: str) -> str:
    """Mask every password in ``text``: the remembered DSNs' passwords, URL userinfo, ``password=`` key/value
    pairs and query parameters."""
    if not text:
        return text
    if _DEFERRED:  # never masked with less than libpq's reading of every DSN given
        parse_deferred()
    for secret in _ORDERED:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _QUERY_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", text)
    text = _KV_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", text)
    return text


def redact_dsn(dsn: str | None) -> str | None:
    """A DSN that is safe to print (password masked, everything else kept); its password is remembered."""
    if dsn is None:
        return None
    remember_dsn(dsn)
    return redact(dsn)


_STRING_TOKENS = frozenset({"SCONST", "USCONST", "XCONST", "BCONST"})
# the same literals where they are not tokens: SQL quoted inside an error message ("syntax error at or near
# ..."), inside a quoted identifier, or cut short
_SQL_PASSWORD_FORMS = re.compile(
    r"(\bPASSWORD\s+)(?:(?:E|U&)?'(?:''|\\.|[^'\\])*(?:'|$)|(\$[A-Za-z_0-9]*\$)(?:.*?\2|.*$))", re.I | re.S
)
_SQL_PASSWORD_REST = re.compile(r"(\bPASSWORD\s+)(?!NULL\b)(\S.*)", re.I | re.S)


def redact_sql(text: str) -> str:
    """``redact`` plus the string literal after every ``PASSWORD`` keyword, in any of SQL's string forms.

    SQL pglast cannot tokenize (cut short, e.g. a statement shortened for a progress line) has everything
    after ``PASSWORD`` masked.
    """
    if not text:
        return text
    if re.search(r"password", text, re.I):
        text = _mask_password_literals(text)
        text = _SQL_PASSWORD_FORMS.sub(lambda m: f"{m.group(1)}'{MASK}'", text)
    return redact(text)


def _mask_password_literals(text: str) -> str:
    try:
        from migtui.pglast_loader import pglast_parser

        tokens = pglast_parser().scan(text)
    except Exception:
        return _SQL_PASSWORD_REST.sub(lambda m: f"{m.group(1)}'{MASK}'", text)
    spans: list[tuple[int, int]] = []
    for before, token in itertools.pairwise(tokens):
        if before.name == "PASSWORD" and token.name in _STRING_TOKENS:
            spans.append((token.start, token.end + 1))  # character offsets, end inclusive
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(f"'{MASK}'")
        last = end
    out.append(text[last:])
    return "".join(out)


def error_line(exc: BaseException, *, driver_error: bool = False) -> str:
    """The first line of ``exc``'s message, passwords masked; its class name when the message is empty.

    ``driver_error``: for a SQLAlchemy error, the database driver's own error (``exc.orig``), without
    SQLAlchemy's statement and parameter dump.
    """
    source = (getattr(exc, "orig", None) or exc) if driver_error else exc
    lines = str(source).strip().splitlines()
    return redact(lines[0] if lines else exc.__class__.__name__)
