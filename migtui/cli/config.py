"""``migtui config``: the effective settings and where each comes from (flag, env, pyproject.toml, default)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from migtui.cli.common import settings_from_args

HELP = "print the effective settings and where each comes from (passwords redacted)"
DESCRIPTION = (
    "Print every setting migtui would use here, with its source: a flag, a MIGTUI_* variable, [tool.migtui] in "
    "pyproject.toml, or the default. Every setting has its flag, so a command line can be checked before it runs. "
    "--format toml prints a [tool.migtui] table of the settings that differ from the defaults, to paste into "
    "pyproject.toml."
)

# settings whose value is a list on the command line: comma-separated
_LISTS = {"drift_exclude"}


def _fields() -> dict[str, Any]:
    import dataclasses

    from migtui.config import Settings

    return {f.name: f for f in dataclasses.fields(Settings) if f.name != "sources"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from migtui.config import ENV_VARS

    for name, field in _fields().items():
        kind = str(field.type)
        metavar = "URL" if name.endswith("dsn") else "SECONDS" if "float" in kind else "N" if "int" in kind else None
        if name in _LISTS:
            metavar = "NAME[,NAME]"
        default = field.default if field.default not in (None, ()) else None
        help_text = f"env {ENV_VARS[name]}" + (f"; default {default}" if default is not None else "")
        # every flag parses as text: the settings loader checks it the way it checks env and pyproject values
        parser.add_argument("--" + name.replace("_", "-"), dest=name, metavar=metavar or "VALUE", help=help_text)
    parser.add_argument("--replica", dest="replica_dsn", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--format", choices=["text", "json", "toml"], default="text")


def plain(value: Any) -> str:
    """A setting as a person writes it: ``-`` for unset, lists comma-separated, numbers without ``.0`` noise."""
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def toml_text(data: dict[str, Any]) -> str:
    """``[tool.migtui]`` with every setting that has a value (TOML has no null)."""
    lines = ["[tool.migtui]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in data.items() if value not in (None, [], ())]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    data = settings.redacted()
    sources = dict(settings.sources)
    if settings.driver is None:  # the project's own choice: say which, and where it is set
        data["driver"], sources["driver"] = _driver(settings.migrations, settings.python)
    interpreter = _interpreter(settings.python)
    if args.format == "json":
        sources = {key: sources.get(key, "default") for key in data}
        print(json.dumps({"settings": data, "sources": sources, "interpreter": interpreter}, indent=2, default=str))
        return 0
    if args.format == "toml":  # what differs from the defaults: the lines worth keeping in pyproject.toml
        # a driver read from alembic.ini is the project's, not a setting to keep: only what was set goes here
        changed = {key: value for key, value in data.items() if settings.sources.get(key, "default") != "default"}
        print(toml_text(changed), end="")
        return 0
    width = max(len(k) for k in data)
    values = {key: plain(value) for key, value in data.items()}
    if interpreter.get("error"):
        values["python"] = f"{values['python']} [{interpreter['error']}]"
    elif settings.python:
        values["python"] = (
            f"{values['python']} (Python {interpreter['python']}, SQLAlchemy {interpreter['sqlalchemy']}, "
            f"alembic {interpreter['alembic']})"
        )
    value_width = min(max(len(v) for v in values.values()), 60)
    for key, value in values.items():
        print(f"{key:<{width}}  {value:<{value_width}}  ({sources.get(key, 'default')})")
    return 0


def _driver(migrations: str, python: str | None = None) -> tuple[str, str]:
    """The SQLAlchemy driver migtui hands the project's env.py, and where that comes from."""
    from migtui.errors import MigtuiError
    from migtui.project.load import DEFAULT_DRIVER, AlembicProject

    try:
        driver, source = AlembicProject.load(migrations, python).driver()
    except MigtuiError:
        return DEFAULT_DRIVER, f"default (no alembic project at {migrations})"
    return driver, f"{source}, in the project's interpreter" if python else source


def _interpreter(python: str | None) -> dict[str, Any]:
    """Where the project's alembic work runs: migtui's own process, or the ``python`` setting's interpreter
    (its Python, SQLAlchemy and alembic versions and drivers, as it reports them)."""
    import sys

    if not python:
        import alembic
        import sqlalchemy

        return {
            "executable": sys.executable,
            "in_process": True,
            "python": sys.version.split()[0],
            "sqlalchemy": sqlalchemy.__version__,
            "alembic": alembic.__version__,
        }
    from migtui.errors import MigtuiError
    from migtui.project.interp import interpreter, probe

    try:
        found = probe(interpreter(python))
    except MigtuiError as exc:
        return {"executable": python, "in_process": False, "error": exc.message}
    return {"in_process": False, **{k: v for k, v in found.items() if k != "event"}}
