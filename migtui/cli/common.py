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


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every database/migrations command accepts."""
    parser.add_argument("--dsn", metavar="URL", help="target database (postgresql://...); env MIGTUI_DATABASE_URL")
    parser.add_argument(
        "--migrations", metavar="PATH", help="alembic script directory or alembic.ini (default db/migrations)"
    )


def settings_from_args(args: argparse.Namespace):
    """Settings with this invocation's flags applied (flags > env > pyproject > defaults)."""
    from migtui.config import load_settings

    flags: dict[str, Any] = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    return load_settings(flags)
