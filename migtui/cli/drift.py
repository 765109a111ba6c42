"""migtui drift: compare the live schema with the schema its recorded migrations produce."""

from __future__ import annotations

import argparse
import json
import sys

from migtui.cli.common import (
    add_baseline_argument,
    add_common_arguments,
    add_output_file_argument,
    add_scratch_argument,
    report_output,
    settings_from_args,
)

HELP = "compare the database's schema with what its recorded migrations produce (exit 1 on drift)"
DESCRIPTION = (
    "Read the revision recorded in the database's version table, build the schema the migrations produce at "
    "exactly that revision on a scratch database (embedded server of the same PostgreSQL major; cached on "
    "disk), and compare both catalogs. Every difference is reported with the object, expected vs actual, and "
    "the SQL that brings the database back where it can. Pending revisions are listed, not reported as drift. "
    "Owner, grants and comments are checked unless excluded."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument(
        "--format",
        choices=["text", "json", "github", "sarif", "junit", "markdown"],
        default="text",
        help="report format",
    )
    add_output_file_argument(parser)
    parser.add_argument(
        "--exclude",
        dest="drift_exclude",
        action="append",
        metavar="NAME[,NAME]",
        help="leave out attributes (owner, grants, comment, ...) or object kinds (index, ...); "
        "repeatable; config: drift_exclude / MIGTUI_DRIFT_EXCLUDE",
    )
    parser.add_argument(
        "--alert-webhook", metavar="URL", help="POST the JSON report to URL when drift is found (http/https)"
    )
    parser.add_argument(
        "--cache-dir",
        metavar="PATH",
        help="expected-schema cache (default $MIGTUI_CACHE_DIR/drift or ~/.cache/migtui/drift)",
    )
    parser.add_argument("--no-cache", action="store_true", help="rebuild the expected schema (and refresh the cache)")
    add_scratch_argument(
        parser, "build the expected schema on this server (needs CREATEDB/CREATEROLE) instead of an embedded one"
    )
    add_baseline_argument(parser)
    parser.add_argument("--version-table", metavar="NAME", help="alembic version table (default alembic_version)")
    parser.add_argument("--version-table-schema", metavar="SCHEMA", help="schema of the version table")
    parser.add_argument("--pg-bin", metavar="DIR", help="PostgreSQL binaries for the embedded scratch server")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from migtui.drift.alert import check_webhook_url, post_report
    from migtui.drift.job import DriftOptions, parse_exclusions, run_drift
    from migtui.events import Event, Message
    from migtui.render.drift import render_github, render_junit, render_sarif, render_text

    settings = settings_from_args(args)
    parse_exclusions(settings.drift_exclude)  # a bad --exclude is the first error, before the webhook's
    if args.alert_webhook:
        check_webhook_url(args.alert_webhook)

    def sink(event: Event) -> None:
        if isinstance(event, Message) and not args.quiet and (args.format == "text" or args.verbose):
            print(f"drift: {event.text}", file=sys.stderr, flush=True)

    options = DriftOptions(
        cache_dir=Path(args.cache_dir).expanduser() if args.cache_dir else None,
        use_cache=not args.no_cache,
    )
    from migtui.pg import liveness

    # a server that stops answering: exit 6, see docs/reliability.md
    with liveness.watching("drift", lambda event: None), report_output(args.output):
        report = run_drift(settings, options, sink)
        if args.format == "json":
            print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        elif args.format == "github":
            print(render_github(report))
        elif args.format == "sarif":
            print(render_sarif(report))
        elif args.format == "junit":
            print(render_junit(report), end="")
        elif args.format == "markdown":
            from migtui.render.markdown import render_markdown

            print(render_markdown(report), end="")
        else:
            print(render_text(report))
    if report.drifted and args.alert_webhook:
        delivered, detail = post_report(args.alert_webhook, report.to_dict())
        print(f"migtui: {'' if delivered else 'warning: '}{detail}", file=sys.stderr)
    return report.exit_code
