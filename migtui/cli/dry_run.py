"""``migtui dry-run``: what each pending migration would do on a read replica, changing nothing."""

from __future__ import annotations

import argparse

HELP = "show what pending migrations would do (locks, rows, sizes, failures) using a read replica; changes nothing"
DESCRIPTION = """Dry-run the pending revisions against a read replica (hot standby), strictly read-only.

For each statement: observed locks (from a shadow run on a scratch copy of the schema), table size,
exact affected rows for UPDATE/DELETE/INSERT...SELECT (planner estimate past --count-budget), will-it-fail
checks (duplicates under a new UNIQUE, NULLs under SET NOT NULL, orphans under a new FOREIGN KEY, rows
violating a new CHECK), a duration estimate and lock-risk warnings. See docs/dry-run.md."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from migtui.cli.common import (
        add_common_arguments,
        add_output_file_argument,
        add_replica_argument,
        add_scratch_argument,
        finite_float,
    )

    add_common_arguments(parser)
    add_replica_argument(parser, "the read replica to dry-run against")
    parser.add_argument(
        "--allow-primary",
        action="store_true",
        help="allow a primary to be inspected (still strictly read-only); without --replica-dsn, --dsn is inspected",
    )
    parser.add_argument("--format", choices=["text", "json", "github", "sarif", "junit", "markdown"], default="text")
    add_output_file_argument(parser)
    parser.add_argument(
        "--count-budget",
        type=finite_float,
        default=5.0,
        metavar="SECONDS",
        help="statement_timeout of each row count / will-it-fail query; past it: planner estimate (default 5)",
    )
    parser.add_argument(
        "--statement-timeout",
        type=finite_float,
        default=30.0,
        metavar="SECONDS",
        help="statement_timeout of every other query on the target (default 30)",
    )
    add_scratch_argument(
        parser, "server for the shadow databases (needs CREATEDB; default: an embedded server)", "--shadow-dsn"
    )
    parser.add_argument("--pg-bin", metavar="DIR", help="PostgreSQL binaries for pg_dump and the shadow server")
    parser.add_argument(
        "--scan-throughput", type=finite_float, default=200.0, metavar="MB/S", help="sequential read rate (default 200)"
    )
    parser.add_argument(
        "--write-throughput",
        type=finite_float,
        default=50.0,
        metavar="MB/S",
        help="rewrite / index build rate (default 50)",
    )
    parser.add_argument(
        "--big-table-mb",
        type=finite_float,
        default=100.0,
        metavar="MB",
        help="ACCESS EXCLUSIVE on a table at least this big is a lock risk (default 100)",
    )
    parser.add_argument(
        "--lock-risk-seconds",
        type=finite_float,
        default=1.0,
        metavar="SECONDS",
        help="... and so is holding it at least this long (default 1)",
    )
    parser.add_argument(
        "--no-calibration",
        dest="calibrate",
        action="store_false",
        help="do not time work rates on the scratch server (saves ~5 s): lock hold estimates use default rates",
    )


def run(args: argparse.Namespace) -> int:
    from migtui.cli.common import report_output, settings_from_args
    from migtui.dryrun.job import DryRunOptions, run_dry_run
    from migtui.errors import UsageError
    from migtui.events import discard
    from migtui.pg.harness import install_signal_cleanup
    from migtui.render.dryrun import GithubRenderer, TextRenderer, junit_text, print_json, sarif_json

    for flag in ("count_budget", "statement_timeout", "scan_throughput", "write_throughput"):
        if getattr(args, flag) <= 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be greater than 0")
    for flag in ("big_table_mb", "lock_risk_seconds"):
        if getattr(args, flag) < 0:
            raise UsageError(f"--{flag.replace('_', '-')} must not be negative")
    settings = settings_from_args(args)
    options = DryRunOptions(
        allow_primary=args.allow_primary,
        count_budget=args.count_budget,
        statement_timeout=args.statement_timeout,
        scan_mb_s=args.scan_throughput,
        write_mb_s=args.write_throughput,
        big_table_bytes=int(args.big_table_mb * 1024 * 1024),
        lock_risk_seconds=args.lock_risk_seconds,
        calibrate=args.calibrate,
    )
    install_signal_cleanup()
    from migtui.pg import liveness

    # a server that stops answering ends the run (exit 6), see docs/reliability.md; text and github stream as the
    # job goes: their sinks write to the file
    with liveness.watching("dry-run", discard), report_output(args.output):
        sink = {"text": TextRenderer, "github": GithubRenderer}.get(args.format)
        report = run_dry_run(settings, options, sink() if sink else discard)
        if args.format == "json":
            print_json(report.to_dict())
        elif args.format == "sarif":
            print(sarif_json(report))
        elif args.format == "junit":
            print(junit_text(report), end="")
        elif args.format == "markdown":
            from migtui.render.dryrun import markdown_text

            print(markdown_text(report), end="")
    return report.exit_code
