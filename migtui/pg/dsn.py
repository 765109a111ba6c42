"""DSN handling: accept postgresql:// URLs, SQLAlchemy URLs and libpq key=value strings everywhere."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from migtui.errors import UsageError
from migtui.redact import remember_dsn

_SCHEMES = ("postgresql", "postgres")


def libpq_dsn(dsn: str) -> str:
    """A DSN libpq/psycopg accepts: strips a SQLAlchemy ``+driver`` suffix from the scheme."""
    dsn = dsn.strip()
    if not dsn:
        raise UsageError("empty database URL")
    remember_dsn(dsn)  # whatever connects to it, its password never reaches an output
    if "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        base = scheme.split("+", 1)[0].lower()
        if base not in _SCHEMES:
            raise UsageError(f"unsupported database URL scheme {scheme!r}: use postgresql://")
        return f"postgresql://{rest}"
    if "=" in dsn:
        return dsn
    raise UsageError("database URL must be postgresql://... or libpq key=value pairs")


def url_dsn(dsn: str) -> str:
    """The same database as a ``postgresql://`` URL (libpq ``key=value`` strings are converted)."""
    from psycopg.conninfo import conninfo_to_dict

    plain = libpq_dsn(dsn)
    if "://" in plain:
        return plain
    params = conninfo_to_dict(plain)
    user = quote(str(params.pop("user", "")), safe="")
    password = params.pop("password", None)
    host = str(params.pop("host", ""))
    port = str(params.pop("port", ""))
    dbname = quote(str(params.pop("dbname", "")), safe="")
    auth = user + (":" + quote(str(password), safe="") if password is not None else "")
    netloc = auth + "@" if auth else ""
    query = "&".join(f"{quote(k)}={quote(str(v), safe='')}" for k, v in params.items())
    if host.startswith("/"):
        query = (query + "&" if query else "") + "host=" + quote(host, safe="")
        host = ""
    netloc += host + (":" + port if port else "")
    return urlunsplit(("postgresql", netloc, "/" + dbname, query, ""))


def sqlalchemy_url(dsn: str, driver: str = "psycopg") -> str:
    """The same database as a SQLAlchemy URL for ``driver`` (psycopg 3 unless the project uses another)."""
    return f"postgresql+{driver}://" + url_dsn(dsn).split("://", 1)[1]


def database_name(dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    plain = libpq_dsn(dsn)
    if "://" in plain:
        path = urlsplit(plain).path.lstrip("/")
        return path or ""
    return str(conninfo_to_dict(plain).get("dbname", ""))


def with_database(dsn: str, dbname: str) -> str:
    """The same server, another database."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(libpq_dsn(dsn), dbname=dbname)
