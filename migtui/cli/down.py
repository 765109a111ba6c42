"""migtui down REV|-N|base: revert revisions (never defaults to everything)."""

from __future__ import annotations

import argparse

from migtui.cli.up import add_run_arguments, make_runner, stop_on_sigterm

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
    from migtui.runner.job import check_down_target

    target = check_down_target(args.revision)
    runner, _settings = make_runner(args)
    stop_on_sigterm()
    runner.downgrade(target)
    return 0
