"""What every command module shares: the usage-error policy, numeric flag types, the common options and the
flags -> settings step. Command modules import this, never ``migtui.cli.main`` (which imports them)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from migtui.errors import ExitCode
from migtui.redact import redact


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line, password-free usage errors: ``migtui up: error: ... (see migtui up --help)``.

    argparse echoes the offending argument (an unrecognized ``postgresql://user:secret@...`` included), so the
    message goes through ``redact``; the usage synopsis is left to ``--help``. Exit code 2 (usage).
    """

    def error(self, message: str):  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {redact(message)} (see '{self.prog} --help')\n")
        sys.exit(int(ExitCode.USAGE))


def finite_float(value: str) -> float:
    """argparse ``type=`` for numeric flags: a finite number ('nan', 'inf' and overflows are usage errors)."""
    import math

    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {value!r}")
    return number


def add_common_arguments(parser: argparse.ArgumentParser, *, target: bool = True) -> None:
    """Options every database/migrations command accepts; ``target=False`` for a command that never touches the
    target database (it declares its own ``--dsn``)."""
    if target:
        parser.add_argument("--dsn", metavar="URL", help="target database (postgresql://...); env MIGTUI_DSN")
    parser.add_argument(
        "--migrations", metavar="PATH", help="alembic script directory or alembic.ini (default db/migrations)"
    )


def settings_from_args(args: argparse.Namespace):
    """Settings with this invocation's flags applied (flags > env > pyproject > defaults)."""
    from migtui.config import load_settings

    flags: dict[str, Any] = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    return load_settings(flags)


def add_replica_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """``--replica-dsn`` (setting ``replica_dsn``), with ``--replica`` as a hidden alias for one release."""
    parser.add_argument("--replica-dsn", metavar="URL", help=f"{help}; env MIGTUI_REPLICA_DSN")
    parser.add_argument("--replica", dest="replica_dsn", metavar="URL", help=argparse.SUPPRESS)


def add_scratch_argument(parser: argparse.ArgumentParser, help: str, *aliases: str) -> None:
    """``--scratch-dsn`` (setting ``scratch_dsn``), plus the command's older flags for it as hidden aliases."""
    parser.add_argument("--scratch-dsn", metavar="URL", help=f"{help}; env MIGTUI_SCRATCH_DSN")
    for alias in aliases:
        parser.add_argument(alias, dest="scratch_dsn", metavar="URL", help=argparse.SUPPRESS)


def add_baseline_argument(parser: argparse.ArgumentParser) -> None:
    """``--baseline`` (setting ``baseline``): what exists before the first revision."""
    parser.add_argument(
        "--baseline",
        metavar="FILE|MODULE:CALLABLE",
        help="what exists before the first revision: a SQL file (pg_dump --schema-only output works) or a "
        "Python callable given one SQLAlchemy connection (app.models:Base.metadata.create_all); env MIGTUI_BASELINE",
    )
