"""migtui up [REV]: apply pending revisions (default: to head) under the deploy advisory lock."""

from __future__ import annotations

import argparse

from migtui.cli.common import add_common_arguments, finite_float, settings_from_args

HELP = "apply pending revisions up to REV (default head), one transaction each, under an advisory lock"
DESCRIPTION = (
    "Apply pending alembic revisions up to REV (default: head). Each revision runs in its own transaction\n"
    "with lock_timeout on every statement (bounded, jittered retries), a per-revision timeout, and\n"
    "progress lines; the run holds the deploy advisory lock so concurrent deploys wait (exit 4 if it\n"
    "stays taken)."
)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by ``up`` and ``down``."""
    add_common_arguments(parser)
    parser.add_argument(
        "--timeout", type=finite_float, metavar="SECONDS", help="per-revision timeout (default 30; 0 = none)"
    )
    parser.add_argument(
        "--lock-timeout", type=finite_float, metavar="SECONDS", help="lock_timeout for every statement (default 2)"
    )
    parser.add_argument(
        "--lock-retries", type=int, metavar="N", help="retries of a revision that hit lock_timeout (default 5)"
    )
    parser.add_argument(
        "--lock-retry-delay",
        type=finite_float,
        metavar="SECONDS",
        help="base delay before a retry; doubles, jittered (default 1)",
    )
    parser.add_argument(
        "--advisory-lock-wait",
        type=finite_float,
        metavar="SECONDS",
        help="how long to wait for another run's advisory lock before exit 4 (default 60)",
    )
    parser.add_argument(
        "--progress-interval", type=finite_float, metavar="SECONDS", help="seconds between progress lines (default 5)"
    )
    parser.add_argument(
        "--format", choices=["text", "json"], default="text", help="text lines, or one JSON event per line"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("revision", nargs="?", default="head", metavar="REV", help="target revision (default head)")
    add_run_arguments(parser)
    parser.add_argument(
        "--rebuild-invalid-indexes",
        action="store_true",
        help="drop an INVALID index a pending revision builds (left by an interrupted CREATE INDEX CONCURRENTLY) "
        "and let the revision build it again, instead of refusing to run",
    )


def run(args: argparse.Namespace) -> int:
    from migtui.render.events import event_printer
    from migtui.runner.job import UpOptions, run_up, stop_on_sigterm

    stop_on_sigterm()
    options = UpOptions(args.revision, rebuild_invalid_indexes=args.rebuild_invalid_indexes, hard_exit=True)
    sink = event_printer(args.format, quiet=args.quiet)
    return run_up(settings_from_args(args), options, sink).exit_code
