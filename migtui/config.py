"""Effective settings: flags > environment (MIGTUI_*) > [tool.migtui] in pyproject.toml > defaults.

``load_settings(flags)`` returns a ``Settings`` and remembers where each value came from, so
``migtui config`` can show it (passwords redacted).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migtui.errors import UsageError
from migtui.redact import redact_dsn, remember_dsn


@dataclass
class Settings:
    dsn: str | None = None  # the target database: where revisions are applied / checked
    replica_dsn: str | None = None  # a read replica of the target (dry-run, the TUI's overview)
    scratch_dsn: str | None = None  # a server for throwaway databases (needs CREATEDB; default: an embedded one)
    migrations: str = "db/migrations"
    timeout: float = 30.0  # per-revision timeout, seconds
    lock_timeout: float = 2.0  # seconds; every DDL runs under it
    lock_retries: int = 5  # retries of a revision that hit lock_timeout (bounded, jittered back-off)
    lock_retry_delay: float = 1.0  # base delay between retries, seconds (doubles, with jitter)
    advisory_lock_wait: float = 60.0  # how long to wait for another deploy's advisory lock, seconds
    progress_interval: float = 5.0  # seconds between progress lines while a revision runs
    monitor_interval: float = 1.0  # TUI/monitor refresh period, seconds
    pg_version: int | None = None  # target PostgreSQL major for lint (default: the server's, else 16)
    pg_bin: str | None = None  # directory with PostgreSQL binaries for embedded servers
    version_table: str = "alembic_version"
    version_table_schema: str | None = None
    drift_exclude: tuple[str, ...] = ()
    baseline: str | None = None  # what exists before the first revision: a .sql file or module:callable
    driver: str | None = None  # SQLAlchemy driver handed to env.py (psycopg2, asyncpg, ...); default: alembic.ini's
    # the project's own interpreter (its venv's bin/python): env.py and the revisions run there, in a child process
    python: str | None = None
    # with python: an environment variable of the project's (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN) set, in its
    # interpreter, to the database each revision step runs on, for code that builds its engine from its own settings
    dsn_env: str | None = None
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("dsn", "replica_dsn", "scratch_dsn") and isinstance(value, str):
            remember_dsn(value)  # its password is masked in every output from now on (migtui.redact)
        super().__setattr__(name, value)

    def redacted(self) -> dict[str, Any]:
        """All settings as a dict, safe to print."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "sources"}
        for name in ("dsn", "replica_dsn", "scratch_dsn"):
            data[name] = redact_dsn(getattr(self, name))
        data["drift_exclude"] = list(self.drift_exclude)
        return data


# setting -> environment variable
ENV_VARS: dict[str, str] = {
    "dsn": "MIGTUI_DSN",
    "replica_dsn": "MIGTUI_REPLICA_DSN",
    "scratch_dsn": "MIGTUI_SCRATCH_DSN",
    "migrations": "MIGTUI_MIGRATIONS",
    "timeout": "MIGTUI_TIMEOUT",
    "lock_timeout": "MIGTUI_LOCK_TIMEOUT",
    "lock_retries": "MIGTUI_LOCK_RETRIES",
    "lock_retry_delay": "MIGTUI_LOCK_RETRY_DELAY",
    "advisory_lock_wait": "MIGTUI_ADVISORY_LOCK_WAIT",
    "progress_interval": "MIGTUI_PROGRESS_INTERVAL",
    "monitor_interval": "MIGTUI_MONITOR_INTERVAL",
    "pg_version": "MIGTUI_PG_VERSION",
    "pg_bin": "MIGTUI_PG_BIN",
    "version_table": "MIGTUI_VERSION_TABLE",
    "version_table_schema": "MIGTUI_VERSION_TABLE_SCHEMA",
    "drift_exclude": "MIGTUI_DRIFT_EXCLUDE",
    "baseline": "MIGTUI_BASELINE",
    "driver": "MIGTUI_DRIVER",
    "python": "MIGTUI_PYTHON",
    "dsn_env": "MIGTUI_DSN_ENV",
}

# setting -> the environment variable that also sets it (read when the one in ENV_VARS is absent); kept for one
# release so deploys that set the old name keep working
ENV_ALIASES: dict[str, str] = {
    "dsn": "MIGTUI_DATABASE_URL",
    "replica_dsn": "MIGTUI_REPLICA_URL",
}

# [tool.migtui] key -> setting, for the same reason
PYPROJECT_ALIASES: dict[str, str] = {"database_url": "dsn", "replica_url": "replica_dsn"}

_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name != "sources"}


def _coerce(name: str, value: Any, origin: str) -> Any:
    default = _FIELDS[name].default
    typ = _FIELDS[name].type
    try:
        if value is None:
            return None
        if name == "drift_exclude":
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)
        if isinstance(default, bool):
            return str(value).lower() in ("1", "true", "yes", "on")
        if isinstance(default, float) or "float" in str(typ):
            number = float(value)
            if not math.isfinite(number):
                raise ValueError("must be a finite number")
            if number < 0:
                raise ValueError("must not be negative")
            return number
        if isinstance(default, int) or "int" in str(typ):
            number = int(value)
            if number < 0:
                raise ValueError("must not be negative")
            return number
        return str(value)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"invalid value for {name} from {origin}: {value!r} ({exc})") from None


def is_callable_reference(value: str) -> bool:
    """``package.module:attr.path`` names a Python callable; anything else is a file path."""
    import re

    return re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", value) is not None


def find_pyproject(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _pyproject_settings(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import tomllib  # here: most commands run where no pyproject.toml is (a lint in CI need not import it)

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    section = data.get("tool", {}).get("migtui", {})
    if not isinstance(section, dict):
        raise UsageError(f"{path}: [tool.migtui] must be a table")
    out: dict[str, Any] = {}
    aliased: dict[str, Any] = {}
    for key, value in section.items():
        name = key.replace("-", "_")
        if name in PYPROJECT_ALIASES:
            aliased[PYPROJECT_ALIASES[name]] = value
            continue
        if name not in _FIELDS:
            raise UsageError(f"{path}: unknown setting [tool.migtui] {key}")
        out[name] = value
    return {**aliased, **out}  # the setting's own name wins over its alias


def load_settings(
    flags: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    pyproject: Path | None = None,
) -> Settings:
    """Combine flags > environment > pyproject > defaults. ``flags`` values of None mean "not given"."""
    env = os.environ if env is None else env
    pyproject = pyproject if pyproject is not None else find_pyproject()
    settings = Settings()
    sources = {name: "default" for name in _FIELDS}

    base_dir = pyproject.parent if pyproject else None
    for name, value in _pyproject_settings(pyproject).items():
        value = _coerce(name, value, f"{pyproject} [tool.migtui]")
        relative_path = (
            name == "migrations"
            or (name == "baseline" and not is_callable_reference(value))
            or (name == "python" and "/" in value)  # a bare name (python3.11) is looked up on PATH
        )
        if relative_path and base_dir is not None and not Path(value).is_absolute():
            value = str(base_dir / value)
        setattr(settings, name, value)
        sources[name] = "pyproject.toml"
    for name, var in ENV_VARS.items():
        if env.get(var) in (None, "") and name in ENV_ALIASES:
            var = ENV_ALIASES[name]
        if env.get(var) not in (None, ""):
            setattr(settings, name, _coerce(name, env[var], f"${var}"))
            sources[name] = f"${var}"
    for name, value in (flags or {}).items():
        if name in _FIELDS and value is not None:
            setattr(settings, name, _coerce(name, value, "--" + name.replace("_", "-")))
            sources[name] = "flag"
    settings.sources = sources
    return settings
