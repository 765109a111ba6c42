"""migtui rollback-test: upgrade, downgrade and upgrade again every revision, proving the schema comes back."""

from __future__ import annotations

import argparse
import sys

from migtui.cli.common import (
    add_baseline_argument,
    add_common_arguments,
    add_output_file_argument,
    add_scratch_argument,
    report_output,
    settings_from_args,
)

HELP = "test every revision's downgrade: up, down (schema must match), up again (schema must match)"
DESCRIPTION = (
    "For each revision in order, on a new scratch database (on an embedded PostgreSQL by default, or on the "
    "server --scratch-dsn names; created and dropped by the test): snapshot the schema, upgrade one step, "
    "snapshot, downgrade one step and require the first snapshot, upgrade again and require the second. "
    "The whole history is tested in one run: after a failing revision the database is put back at that "
    "revision and the test goes on (--fail-fast stops at the first failure). A downgrade that changes nothing "
    "is reported as a no-op downgrade (a failure unless --allow-noop-downgrades). Fails (exit 1) naming every "
    "revision whose downgrade raises, leaves the schema different, or cannot be upgraded again."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, target=False)
    add_scratch_argument(
        parser, "a server on which the test creates and drops its own database (default: an embedded server)", "--dsn"
    )
    add_baseline_argument(parser)
    parser.add_argument(
        "--fail-fast", action="store_true", help="stop at the first failing revision (default: test every revision)"
    )
    parser.add_argument(
        "--allow-noop-downgrades",
        action="store_true",
        help="a downgrade that changes nothing is this project's policy: report it as a warning, not a failure",
    )
    # the test always runs in a database it creates, which is never at a revision: kept so scripts that pass it
    # keep working
    parser.add_argument("--force", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--with-data",
        action="store_true",
        help="seed rows before and after each upgrade; warn when a down+up round trip loses rows or values",
    )
    parser.add_argument(
        "--format",
        choices=["text", "json", "github", "sarif", "junit", "markdown"],
        default="text",
        help="report format",
    )
    add_output_file_argument(parser)
    parser.add_argument(
        "--exclude",
        metavar="NAMES",
        help="comma-separated attributes or kinds not to compare (e.g. owner,grants,comment)",
    )
    parser.add_argument("--pg-version", type=int, metavar="N", help="embedded server major version (16 or 18)")
    parser.add_argument("--pg-bin", metavar="DIR", help="PostgreSQL binaries for the embedded server")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="per-step timeout (default 30; 0 = none)")
    parser.add_argument("--lock-timeout", type=float, metavar="SECONDS", help="lock_timeout per statement (default 2)")


def run(args: argparse.Namespace) -> int:
    from migtui.errors import UsageError
    from migtui.events import Event, Message
    from migtui.pg.harness import install_signal_cleanup
    from migtui.project.load import load_project
    from migtui.render.rollback import FORMATTERS
    from migtui.rollback.job import RollbackOptions, run_rollback_test

    settings = settings_from_args(args)
    load_project(settings)  # a missing project is the first error, before the other checks
    from migtui.catalog.model import check_exclude

    exclude = check_exclude([x.strip() for x in (args.exclude or "").split(",") if x.strip()])
    if args.pg_version is not None and args.pg_version <= 0:
        raise UsageError("--pg-version must be a PostgreSQL major version such as 16")
    install_signal_cleanup()

    def sink(event: Event) -> None:  # progress on stderr; the report goes to stdout / --output
        if isinstance(event, Message) and not (args.quiet and event.level == "info"):
            print(f"migtui: {event.text}", file=sys.stderr, flush=True)

    options = RollbackOptions(
        force=args.force,
        with_data=args.with_data,
        exclude=tuple(exclude),
        fail_fast=args.fail_fast,
        allow_noop_downgrades=args.allow_noop_downgrades,
    )
    with report_output(args.output):
        report = run_rollback_test(settings, options, sink)
        sys.stdout.write(FORMATTERS[args.format](report))
    return report.exit_code
