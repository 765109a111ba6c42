"""``migtui tui`` (also plain ``migtui``): the operator's full-screen terminal UI."""

from __future__ import annotations

import argparse

from migtui.cli.common import add_common_arguments, add_replica_argument, finite_float, settings_from_args

HELP = "open the operator's TUI (Migrations view, monitor, apply); the default with no command"


def require_terminal(what: str, instead: str) -> None:
    """UsageError (exit 2) unless stdin and stdout are a terminal: a full-screen app started by CI, cron or a
    pipe would otherwise wait forever for keys nobody can press."""
    import sys

    from migtui.errors import UsageError

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(f"{what} needs an interactive terminal (stdin and stdout are not a TTY): {instead}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    add_replica_argument(parser, "read replica to show (lag, revision)")
    parser.add_argument(
        "--monitor-interval", type=finite_float, metavar="SECONDS", help="monitor refresh period (default 1)"
    )
    parser.add_argument("--no-lint", action="store_true", help="do not lint revisions on start (lint badges)")


def run(args: argparse.Namespace) -> int:
    from migtui.errors import UsageError

    settings = settings_from_args(args)
    if settings.monitor_interval <= 0:
        raise UsageError("--monitor-interval must be positive")
    require_terminal(
        "the TUI", "use the headless commands instead (status, lint, dry-run, drift, monitor --once; see migtui --help)"
    )
    from migtui.tui.overview import prefetch_overview

    prefetch_overview(settings)  # connect and read while Textual is imported (docs/tui.md, "Start-up")
    from migtui.tui.app import run_tui_app

    return run_tui_app(settings, lint=not args.no_lint)
