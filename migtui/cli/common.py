"""What every command module shares: the usage-error policy, numeric flag types, the common options and the
flags -> settings step. Command modules import this, never ``migtui.cli.main`` (which imports them)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
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
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="the project's own interpreter (its venv's bin/python): env.py and the revisions run there; "
        "env MIGTUI_PYTHON",
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


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--color``, ``--quiet`` and ``--verbose``: every command has them, with one meaning everywhere
    (docs/cli-errors.md, Output conventions)."""
    group = parser.add_argument_group("output")
    group.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colour in text output: auto (a terminal, unless NO_COLOR is set), always or never (default auto)",
    )
    level = group.add_mutually_exclusive_group()
    level.add_argument(
        "--quiet", "-q", action="store_true", help="print only the result and errors: no progress or info lines"
    )
    level.add_argument(
        "--verbose", "-v", action="store_true", help="more detail: every statement, every step, every event"
    )


def color_enabled(args: argparse.Namespace, stream: Any = None) -> bool:
    """Whether text written to ``stream`` (default stdout) gets ANSI colour: ``--color always|never``, else
    what the terminal and ``NO_COLOR`` / ``FORCE_COLOR`` / ``TERM=dumb`` say."""
    choice = getattr(args, "color", "auto")
    if choice == "always":
        return True
    if choice == "never":
        return False
    from migtui.render.text_lint import use_color

    return use_color(sys.stdout if stream is None else stream)


def add_output_file_argument(parser: argparse.ArgumentParser) -> None:
    """``--output FILE`` for a job's report: the report goes to FILE only; stdout stays empty."""
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the report to FILE (replaced whole when the job finishes) instead of stdout",
    )


@contextlib.contextmanager
def report_output(path: str | None) -> Iterator[None]:
    """Everything printed to stdout inside goes to ``path`` instead (when given).

    The report is written to a temporary file beside ``path`` and moved over it only when the job returns (with
    any exit code it chose, findings included): a job that fails half-way leaves no half-written report, and an
    older report at ``path`` stays as it was. Progress and errors keep going to stderr."""
    if not path:
        yield
        return
    import os
    import tempfile
    from pathlib import Path

    from migtui.errors import UsageError

    target = Path(path).expanduser()
    if not target.resolve().parent.is_dir():
        raise UsageError(f"--output {path}: no such directory")
    if target.is_dir():
        raise UsageError(f"--output {path}: is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.resolve().parent)
    except OSError as exc:
        raise UsageError(f"cannot write --output {path}: {exc.strerror}") from None
    handle = os.fdopen(fd, "w", encoding="utf-8")
    try:
        with contextlib.redirect_stdout(handle):
            yield
        handle.close()
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # what open() would give the file, not mkstemp's 0600
        os.replace(tmp, target)
    except BaseException:
        handle.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
