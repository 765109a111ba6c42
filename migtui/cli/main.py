"""The headless CLI: ``migtui <command>``.

Each command lives in ``migtui/cli/<module>.py`` with ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. Command modules import only the standard library at module level; heavy imports
(textual, alembic, SQLAlchemy) happen inside ``run`` so ``migtui --help`` starts fast and headless commands
never import textual.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from migtui import __version__
from migtui.cli.common import ArgumentParser, add_output_arguments
from migtui.errors import ExitCode

# command name -> module under migtui.cli (order = order in --help)
COMMANDS: dict[str, str] = {
    "status": "status",
    "history": "history",
    "up": "up",
    "down": "down",
    "lint": "lint",
    "dry-run": "dry_run",
    "rollback-test": "rollback_test",
    "drift": "drift",
    "phase": "phase",
    "monitor": "monitor",
    "tui": "tui",
    "demo": "demo",
    "config": "config",
    "completion": "completion",
}

EXIT_CODES_HELP = """exit codes:
  0  ok
  1  a check found problems (lint errors, drift, broken downgrade, dry-run errors)
  2  usage, configuration, input file or revision graph error
  3  a revision ran past its timeout (cancelled and rolled back)
  4  advisory lock not acquired (another deploy is running)
  5  a revision failed (rolled back)
  6  database unreachable or authentication failed
  7  the project's own code or files failed (env.py, a revision module, a --baseline)
  8  wrong phase (migtui phase: the revision is not in a phase the action can start from)
  70 internal error (a bug in migtui: please report it; MIGTUI_DEBUG=1 shows the traceback)
  130 interrupted (Ctrl-C or SIGTERM)
"""


def _load(module: str):
    return importlib.import_module(f"migtui.cli.{module}")


class _VersionAction(argparse.Action):
    """``migtui 0.1.0 (lint core: compiled (mypyc))`` or ``(lint core: python)``: read from the file the lint
    core was imported from (a wheel build's C extension, or the ``.py`` source), only when asked."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)  # type: ignore[arg-type]

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[no-untyped-def]
        import importlib.machinery

        import migtui.analysis.analyze
        import migtui.lint.job

        modules = (migtui.lint.job, migtui.analysis.analyze)
        compiled = all(str(m.__file__).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)) for m in modules)
        print(f"migtui {__version__} (lint core: {'compiled (mypyc)' if compiled else 'python'})")
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI parser. With ``command``, only that command's sub-parser: the other command modules are not
    imported, so a command's start-up does not grow with the number of commands."""
    parser = ArgumentParser(
        prog="migtui",
        description="PostgreSQL migration operator's tool for alembic projects.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction, help="show the version and which lint core runs, and exit")
    sub = parser.add_subparsers(dest="_command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if command is not None and name != command:
            continue
        module = _load(module_name)
        sub_parser = sub.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub_parser)
        add_output_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run, _parser=sub_parser)
    return parser


# Commands whose process holds nothing that needs an orderly shutdown (no servers, threads or atexit work of
# their own): once the output is flushed the process ends with os._exit, skipping the interpreter's teardown
# of everything the run built (its cost: docs/lint.md, Speed).
QUICK_EXIT = frozenset({"lint"})
# Commands that own the terminal (Textual): the app reads Ctrl-C as a key and restores the terminal itself, so
# the stop-signal handlers every other command gets (``interrupt_on_stop_signals``) are not installed for them.
FULL_SCREEN = frozenset({"tui"})
# Commands whose first screen is painted before psycopg is imported (a forked child reads the database
# meanwhile: migtui.tui.prefetch), so the DSNs' libpq reading is deferred (migtui.redact.defer_libpq_parse)
FAST_START = frozenset({"tui", "monitor"})


def entry() -> None:
    """The console script and ``python -m migtui``: ``main`` with the process's arguments, then exit."""
    argv = sys.argv[1:]
    code = main(argv)
    if argv and argv[0] in QUICK_EXIT:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # e.g. `migtui lint | head`: nothing more can be written; the exit code stands
            pass
        os._exit(code)
    sys.exit(code)


DSN_FLAGS = ("--dsn", "--replica-dsn", "--scratch-dsn", "--replica", "--scratch", "--database-url")
DSN_ENV = ("MIGTUI_DSN", "MIGTUI_REPLICA_DSN", "MIGTUI_SCRATCH_DSN", "MIGTUI_DATABASE_URL", "MIGTUI_REPLICA_URL")


def _remember_passwords(argv: list[str]) -> None:
    """Register the DSNs of the command line and the environment before parsing, so that even an argparse
    error quoting one of their pieces (``unrecognized arguments: S3cret'``) is printed with it masked."""
    from migtui.redact import remember_dsn

    for index, arg in enumerate(argv):
        flag, eq, value = arg.partition("=")
        if flag in DSN_FLAGS:
            remember_dsn(value if eq else (argv[index + 1] if index + 1 < len(argv) else ""))
    for name in DSN_ENV:
        remember_dsn(os.environ.get(name))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    fast_start = (argv[0] if argv else "tui") in FAST_START
    if fast_start:
        import gc

        from migtui.redact import defer_libpq_parse

        defer_libpq_parse()  # psycopg's import off the way to the first screen (migtui.redact, docs/tui.md)
        # what start-up builds (modules, classes, the first screen's widgets) lives as long as the process: the
        # cyclic collector would walk it again and again for nothing; the app freezes it and collects from then
        # on (MigtuiApp.on_mount)
        gc.disable()
    try:
        return _main(argv)
    finally:
        if fast_start:  # what is still deferred is read by the next redact()
            defer_libpq_parse(False)
            gc.enable()


def _main(argv: list[str]) -> int:
    _remember_passwords(argv)
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    try:
        args, extras = parser.parse_known_args(argv)
        if extras:  # name the command in the error, not the top-level parser
            getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extras)}")
    except SystemExit as exc:  # argparse: --help (0) or usage error (2)
        return int(exc.code or 0)
    run = getattr(args, "_run", None)
    if run is None:
        if "tui" in COMMANDS and not argv:
            try:
                args = parser.parse_args(["tui"])
                run = args._run
            except (SystemExit, AttributeError):
                run = None
        if run is None:
            parser.print_help()
            return int(ExitCode.USAGE)
    from migtui.report import interrupt_on_stop_signals, one_line_errors

    full_screen = args._parser.prog.split()[-1] in FULL_SCREEN
    if not full_screen:
        from migtui.project import report_on_stdout

        interrupt_on_stop_signals()
        report_on_stdout(True)  # stdout is the report's: what the project's own code prints goes to stderr
    try:
        return one_line_errors("migtui", lambda: run(args), internal_hint=" (set MIGTUI_DEBUG=1 for a traceback)")
    finally:
        if not full_screen:
            report_on_stdout(False)
        if "migtui.project.interp" in sys.modules:  # the project's interpreter kept between revision steps
            sys.modules["migtui.project.interp"].close_idle()
