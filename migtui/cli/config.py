from __future__ import annotations

import argparse
import json

from migtui.cli.common import (
    add_common_arguments,
    add_replica_argument,
    add_scratch_argument,
    finite_float,
    settings_from_args,
)

HELP = "print the effective settings and where each comes from (passwords redacted)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    add_replica_argument(parser, "read replica for dry-run")
    add_scratch_argument(parser, "server for throwaway databases (dry-run, drift, rollback-test)")
    parser.add_argument("--timeout", type=finite_float, help="per-revision timeout in seconds (default 30)")
    parser.add_argument("--lock-timeout", type=finite_float, help="lock_timeout for DDL, seconds (default 2)")
    parser.add_argument("--format", choices=["text", "json"], default="text")


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    data = settings.redacted()
    sources = dict(settings.sources)
    if settings.driver is None:  # the project's own choice: say which, and where it is set
        data["driver"], sources["driver"] = _driver(settings.migrations)
    if args.format == "json":
        print(json.dumps({"settings": data, "sources": sources}, indent=2, default=str))
        return 0
    width = max(len(k) for k in data)
    for key, value in data.items():
        print(f"{key:<{width}}  {value!s:<40}  ({sources.get(key, 'default')})")
    return 0


def _driver(migrations: str) -> tuple[str, str]:
    """The SQLAlchemy driver migtui hands the project's env.py, and where that comes from."""
    from migtui.errors import MigtuiError
    from migtui.project.load import DEFAULT_DRIVER, AlembicProject

    try:
        return AlembicProject.load(migrations).driver()
    except MigtuiError:
        return DEFAULT_DRIVER, f"default (no alembic project at {migrations})"
