"""migtui down REV|-N|base: revert revisions (never defaults to everything)."""

from __future__ import annotations

import argparse

from migtui.cli.common import settings_from_args
from migtui.cli.up import add_run_arguments

HELP = "revert revisions down to REV, -N steps, or base (explicit; there is no default)"
DESCRIPTION = (
    "Revert applied revisions down to REV (exclusive), by -N steps, or to base. The target is required:\n"
    "down never defaults to everything. Same safety as up: advisory lock, one transaction per revision,\n"
    "lock_timeout with retries, per-revision timeout, progress lines."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("revision", nargs="?", metavar="REV", help="a revision id, -N (steps back) or base")
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from migtui.render.events import event_printer
    from migtui.runner.job import DownOptions, check_down_target, run_down, stop_on_sigterm

    check_down_target(args.revision)  # a missing or wrong target is a usage error before anything loads
    settings = settings_from_args(args)
    stop_on_sigterm()
    return run_down(
        settings, DownOptions(args.revision, hard_exit=True), event_printer(args.format, quiet=args.quiet)
    ).exit_code
