"""Load an alembic project (script directory or alembic.ini) and check its revision graph.

Works on an unmodified ``alembic init`` project: migtui sets ``sqlalchemy.url`` itself from the DSN, so the
stock env.py (which reads ``sqlalchemy.url``) connects where migtui says. The URL keeps the driver the project
names in its own ``sqlalchemy.url`` (psycopg2, asyncpg, psycopg 3): revisions may rely on their driver's
behaviour (``exec_driver_sql`` paramstyle, server-side binds).
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migtui.errors import ProjectError, UsageError
from migtui.project import reporting_on_stdout
from migtui.redact import error_line

DEFAULT_DRIVER = "psycopg"
LIBPQ_DRIVERS = frozenset({"psycopg", "psycopg_async", "psycopg2", "psycopg2cffi"})
ASYNC_DRIVERS = frozenset({"asyncpg", "psycopg_async"})
# (DBAPI module, package to install) per SQLAlchemy PostgreSQL driver: a clear line when it is missing
DRIVER_MODULES = {
    "psycopg": ("psycopg", "psycopg[binary]"),
    "psycopg_async": ("psycopg", "psycopg[binary]"),
    "psycopg2": ("psycopg2", "psycopg2-binary"),
    "asyncpg": ("asyncpg", "asyncpg greenlet"),
    "pg8000": ("pg8000", "pg8000"),
}

ENV_LOCK = threading.RLock()
"""Held while an alembic environment runs (online or offline ``--sql``). alembic's ``context`` and ``op`` are
process-wide proxies, so two environments at once in one process (a TUI rendering SQL while an apply runs,
lint and the revision view rendering together) corrupt each other. Every alembic run in migtui takes it."""

_IMPORT_LOCK = threading.Lock()


def import_alembic() -> None:
    """Import alembic and SQLAlchemy, one thread at a time. SQLAlchemy's package imports itself in a circle: two
    threads importing it for the first time at once (the TUI's workers start together) can meet a partially
    initialised module (``AttributeError: partially initialized module 'sqlalchemy.sql.roles'``)."""
    import importlib

    with _IMPORT_LOCK:
        for module in ("sqlalchemy", "alembic.script", "alembic.command"):
            importlib.import_module(module)


@dataclass(frozen=True)
class RevisionInfo:
    revision: str
    down_revisions: tuple[str, ...]
    description: str
    path: Path
    is_head: bool
    is_branch_point: bool
    is_merge: bool


class AlembicProject:
    """An alembic environment on disk. ``config(dsn)`` gives an alembic Config bound to that database."""

    def __init__(self, script_location: Path, ini_path: Path | None) -> None:
        self.script_location = script_location
        self.ini_path = ini_path
        self._script: Any = None
        # the project's own interpreter (the ``python`` setting): its alembic work runs there, in a child process
        # (migtui.project.interp); None: in migtui's process
        self.python: str | None = None
        # the project's environment variable that gets each step's database URL in its interpreter (dsn_env)
        self.dsn_env: str | None = None

    @classmethod
    def load(cls, path: str | Path, python: str | None = None) -> AlembicProject:
        project = cls._load(path)
        if python:
            from migtui.project.interp import interpreter

            project.python = interpreter(python)
        return project

    @classmethod
    def _load(cls, path: str | Path) -> AlembicProject:
        path = Path(path).expanduser()
        if not path.exists():
            raise UsageError(f"migrations not found: {path} (use --migrations PATH)")
        if path.is_file():
            if path.suffix != ".ini":
                raise UsageError(f"--migrations must be an alembic script directory or an alembic.ini: {path}")
            return cls._from_ini(path.resolve())
        if (path / "env.py").is_file():
            ini = path / "alembic.ini"
            return cls(path.resolve(), ini.resolve() if ini.is_file() else None)
        if (path / "alembic.ini").is_file():
            return cls._from_ini((path / "alembic.ini").resolve())
        raise UsageError(f"{path} is not an alembic project (no env.py or alembic.ini)")

    @classmethod
    def _from_ini(cls, ini: Path) -> AlembicProject:
        import configparser

        parser = configparser.ConfigParser(defaults={"here": str(ini.parent)})
        try:
            parser.read(ini, encoding="utf-8")
            location = parser.get("alembic", "script_location")
        except (configparser.Error, OSError) as exc:
            raise UsageError(f"{ini}: cannot read script_location ({str(exc).splitlines()[0]})") from None
        script = Path(location)
        if not script.is_absolute() and ":" in location:
            script = _package_location(ini, location)
        elif not script.is_absolute():
            script = ini.parent / script
        if not (script / "env.py").is_file():
            raise UsageError(f"{ini}: script_location {location} has no env.py")
        return cls(script.resolve(), ini)

    # -- alembic objects ---------------------------------------------------------------------------------
    def config(self, dsn: str | None = None, *, driver: str | None = None, **attributes: Any):
        """An alembic Config for this project; with ``dsn``, ``sqlalchemy.url`` points there (the project's
        driver, see :meth:`driver`)."""
        import_alembic()
        from alembic.config import Config

        cfg = Config(str(self.ini_path)) if self.ini_path else Config()
        cfg.set_main_option("script_location", str(self.script_location))
        if dsn is not None:
            from migtui.pg.dsn import sqlalchemy_url

            name = self.driver(driver)[0]
            url = sqlalchemy_url(dsn, name)
            if name not in LIBPQ_DRIVERS:  # libpq-only parameters a driver of its own rejects as connect arguments
                url = _without_query(url, ("options", "application_name"))
            cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        cfg.attributes["migtui"] = True
        cfg.attributes.update(attributes)
        return cfg

    def driver(self, setting: str | None = None) -> tuple[str, str]:
        """(SQLAlchemy driver name, where it comes from): the ``driver`` setting when given, else the driver of
        the project's own ``sqlalchemy.url`` in
        alembic.ini when that URL names one (``postgresql+psycopg2://``), else psycopg 3: a bare ``postgresql://``
        would mean psycopg2 to SQLAlchemy, which migtui does not depend on, so the project names it to get it."""
        if setting:
            return setting, "the driver setting"
        if self.ini_path is None:
            return self._default_driver(), "default (no alembic.ini)"
        import configparser

        parser = configparser.ConfigParser(defaults={"here": str(self.ini_path.parent)}, interpolation=None)
        try:
            parser.read(self.ini_path, encoding="utf-8")
            url = parser.get("alembic", "sqlalchemy.url", fallback="").strip()
        except (configparser.Error, OSError):
            url = ""
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        base, _, driver = scheme.partition("+")
        if base not in ("postgresql", "postgres") or not driver:
            return self._default_driver(), "default"
        return driver, f"{self.ini_path.name} sqlalchemy.url"

    def _default_driver(self) -> str:
        if self.python:
            from migtui.project.interp import default_driver

            return default_driver(self.python)
        return DEFAULT_DRIVER

    def check_driver(self, setting: str | None = None) -> str:
        """The driver, or UsageError when its DBAPI module is not installed beside migtui."""
        import importlib.util

        driver, source = self.driver(setting)
        module, package = DRIVER_MODULES.get(driver, (driver, driver))
        if self.python:
            from migtui.project.interp import probe

            if module not in (probe(self.python).get("drivers") or []):
                raise UsageError(
                    f"{source} names the driver {driver}, which is not installed in the project's interpreter: "
                    f"{self.python} -m pip install {package}"
                )
            return driver
        if importlib.util.find_spec(module) is None:
            raise UsageError(
                f"{source} names the driver {driver}, which is not installed beside migtui: pip install {package}"
            )
        return driver

    @property
    def script(self):
        """alembic ScriptDirectory with every revision file loaded and the graph checked."""
        if self._script is None and self.python:
            from migtui.project.interp import script_directory

            script = script_directory(self)
            self._check_graph(script)
            self._script = script
        if self._script is None:
            import warnings

            import_alembic()
            from alembic.script import ScriptDirectory

            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    script = ScriptDirectory.from_config(self.config())
                    self._check_graph(script)
            except UsageError:
                raise
            except KeyError as exc:  # alembic warns "Revision X referenced from ... is not present", then fails
                missing = [str(w.message) for w in caught if "is not present" in str(w.message)]
                detail = missing[0] if missing else f"revision {exc} is not present"
                raise UsageError(f"broken revision graph in {self.script_location}: {detail}") from None
            except SyntaxError as exc:
                where = f"{exc.filename}:{exc.lineno}" if exc.filename else _uncompilable_file(self.script_location)
                raise UsageError(f"syntax error in revision file {where}: {exc.msg}") from None
            except Exception as exc:
                where = _project_frame(exc, self.script_location)
                if where:  # raised by the project's own code: a revision module's imports or top-level code
                    raise ProjectError(f"cannot import {where}: {error_line(exc)}") from None
                raise UsageError(f"cannot load migrations in {self.script_location}: {error_line(exc)}") from None
            self._script = script
        return self._script

    @staticmethod
    def _check_graph(script) -> None:
        revisions = list(script.walk_revisions())  # loads every file; raises on unknown down_revision / cycles
        for rev in revisions:
            module = rev.module
            if not hasattr(module, "down_revision"):
                raise UsageError(f"revision file {rev.path}: missing down_revision")
        heads = script.get_heads()
        if len(heads) > 1:
            raise UsageError(
                f"revision graph has {len(heads)} heads ({', '.join(sorted(heads))}): "
                "merge them with 'alembic merge' first"
            )
        bases = script.get_bases()
        if len(bases) > 1:
            raise UsageError(f"revision graph has {len(bases)} bases ({', '.join(sorted(bases))})")

    def revisions(self) -> list[RevisionInfo]:
        """All revisions, base first."""
        script = self.script
        out = []
        for rev in reversed(list(script.walk_revisions())):
            down = rev.down_revision
            downs = tuple(down) if isinstance(down, (tuple, list)) else ((down,) if down else ())
            out.append(
                RevisionInfo(
                    revision=rev.revision,
                    down_revisions=downs,
                    description=rev.doc or "",
                    path=Path(rev.path),
                    is_head=rev.is_head,
                    is_branch_point=rev.is_branch_point,
                    is_merge=rev.is_merge_point,
                )
            )
        return out

    def head(self) -> str | None:
        heads = self.script.get_heads()
        return heads[0] if heads else None

    def content_hash(self) -> str:
        """A hash of env.py and every revision file (cache key for expected schemas)."""
        digest = hashlib.sha256()
        for file in sorted(self.script_location.rglob("*.py")):
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(self.script_location)).encode())
            digest.update(file.read_bytes())
        return digest.hexdigest()[:16]


def _package_location(ini: Path, location: str) -> Path:
    """The directory of a ``package.module:path`` script_location (alembic's package-resource form, e.g.
    aodh's ``aodh.storage.sqlalchemy:alembic``).

    The copy in the tree the alembic.ini itself lies in comes first (an unpacked wheel or a checkout: the files
    the operator pointed at), found without importing anything; otherwise the installed package's, as alembic
    resolves it."""
    package, _, rest = location.partition(":")
    relative = Path(*package.split("."), *[part for part in rest.split(":") if part])
    for ancestor in ini.parents:
        if (ancestor / relative / "env.py").is_file():
            return ancestor / relative
    from importlib import resources

    try:
        found = resources.files(package).joinpath(*[part for part in rest.split(":") if part])
    except Exception as exc:
        raise ProjectError(f"{ini}: script_location {location}: cannot import {package}: {error_line(exc)}") from None
    return Path(str(found))


def _project_frame(exc: BaseException, script_location: Path) -> str:
    """``file:line`` of the innermost traceback frame inside the project's script directory ("" if none)."""
    import traceback

    root = str(script_location.resolve())
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if str(Path(frame.filename).resolve()).startswith(root):
            return f"{frame.filename}:{frame.lineno}"
    return ""


def _uncompilable_file(script_location: Path) -> str:
    """The first .py file under ``script_location`` that does not compile (Python reports some errors, e.g.
    null bytes, without a file name); the directory itself if none is found."""
    for file in sorted(script_location.rglob("*.py")):
        try:
            compile(file.read_bytes(), str(file), "exec")
        except (SyntaxError, ValueError):
            return str(file)
        except OSError:
            continue
    return str(script_location)


def _without_query(url: str, names: tuple[str, ...]) -> str:
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return urlunsplit(parts._replace(query=urlencode(query)))


def load_project(settings) -> AlembicProject:
    project = AlembicProject.load(settings.migrations, getattr(settings, "python", None))
    project.dsn_env = getattr(settings, "dsn_env", None)
    return project


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """``sys.stdout`` is standard error for the block: ``print`` and a logging handler the project creates
    meanwhile (it keeps the stream it was given) write there. migtui's own sinks hold the stream they were
    created with, so a JSON-lines report streamed during the run stays on standard output; file descriptor 1
    is left alone for the same reason."""
    sys.stdout.flush()
    saved, sys.stdout = sys.stdout, sys.stderr
    try:
        yield
    finally:
        sys.stdout = saved


@contextlib.contextmanager
def no_logging_config() -> Iterator[None]:
    """env.py must not reconfigure logging (migtui reports through events), yet most call
    ``fileConfig(config.config_file_name)`` unconditionally: while env.py runs, fileConfig does nothing; and when
    the command line's report is on standard output, the project's own output goes to standard error."""
    import logging.config

    original = logging.config.fileConfig
    logging.config.fileConfig = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        with _stdout_to_stderr() if reporting_on_stdout() else contextlib.nullcontext():
            yield
    finally:
        logging.config.fileConfig = original
