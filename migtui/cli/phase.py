"""``migtui phase status|run|advance|abort [REV]``: drive a phased (expand -> migrate -> contract) revision."""

from __future__ import annotations

import argparse
import json
from typing import Any

HELP = "zero-downtime phased revisions: status, run, advance, abort (expand -> migrate -> contract)"
DESCRIPTION = """Drive a phased revision (see docs/phases.md).

  status [REV]   phase, backfill cursor, write counters and every gate with its evidence
  run REV        go through expand, migrate, contract while gates pass (--until to stop earlier)
  advance REV    exactly one stage forward
  abort REV      before contract: restore the original shape and un-apply the revision
  new -m MSG     write a new phased revision from <migrations>/phased_revision.py.mako (--rev-id ID)

exit codes specific to phase: 1 a gate refused (nothing changed), 4 another runner drives the revision
or it is in the wrong phase for this action."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from migtui.cli.common import add_common_arguments

    parser.add_argument("action", choices=["status", "run", "advance", "abort", "new"])
    parser.add_argument("revision", nargs="?", metavar="REV", help="revision id (prefix ok); status: all if omitted")
    add_common_arguments(parser)
    parser.add_argument(
        "--until",
        choices=["expand", "migrate", "contract"],
        default="contract",
        help="run: stop after this stage (default contract)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep re-checking a refused gate this long before giving up (default 0)",
    )
    parser.add_argument(
        "--quiet-window",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="old-path writes must have stopped this long before contract (default 60)",
    )
    parser.add_argument(
        "--old-app",
        action="append",
        default=[],
        metavar="PATTERN",
        help="application_name LIKE pattern of the old application version (repeatable)",
    )
    parser.add_argument("--batch-size", type=int, default=1000, help="backfill rows per batch to start with")
    parser.add_argument("--max-batch-size", type=int, default=10000)
    parser.add_argument("--pause", type=float, default=0.0, metavar="SECONDS", help="sleep between batches")
    parser.add_argument(
        "--target-batch-seconds", type=float, default=0.2, help="batch size adapts toward this duration (default 0.2)"
    )
    parser.add_argument(
        "--max-lag-bytes",
        type=int,
        default=64 * 1024 * 1024,
        help="back off while a replica lags more than this (default 64 MiB)",
    )
    parser.add_argument("--max-lag-seconds", type=float, default=10.0)
    parser.add_argument(
        "--max-lock-waiters",
        type=int,
        default=3,
        help="back off while more sessions than this wait for locks (default 3)",
    )
    parser.add_argument("--lock-timeout", type=float, help="lock_timeout for every DDL, seconds (default 2)")
    parser.add_argument("--lock-retries", type=int, help="retries after a lock_timeout (default 5)")
    parser.add_argument("-m", "--message", default="", help="new: the revision's message")
    parser.add_argument("--rev-id", help="new: the revision id (default: 12 random hex digits)")
    parser.add_argument("--format", choices=["text", "json"], default="text")


def _print_status(entries: list[dict[str, Any]]) -> None:
    if not entries:
        print("no phased revisions in this database")
        return
    from migtui.render.phase import format_seconds

    for entry in entries:
        rev = entry["revision"]
        state = entry.get("state")
        if state is None:
            applied = "applied" if entry.get("applied") else "not applied"
            print(f"{rev}: no phase state ({applied}); next: expand (migtui phase run {rev} --until expand)")
            continue
        print(f"{rev}  {entry.get('pattern', state['pattern'])}  {state['target']}")
        if entry.get("description"):
            print(f"  {entry['description']}")
        print(f"  phase     {state['phase']}  (updated {state['updated_at']}, runner {state['runner'] or '-'})")
        if state["cursor_end"] is not None or state["rows_done"]:
            print(
                f"  backfill  {state['rows_done']} rows scanned, {state['rows_updated']} updated, "
                f"cursor {state['cursor']} of {state['cursor_end']}"
            )
        writes = entry.get("writes") or {}
        print(
            f"  writes    old path {writes.get('old_writes', 0)}, new path {writes.get('new_writes', 0)}"
            + (
                f", last old-path write {format_seconds(writes['seconds_since_old_write'])} ago"
                if writes.get("seconds_since_old_write") is not None
                else ""
            )
        )
        for version in entry.get("versions", []):
            writers = version["writing_sessions"]
            print(
                f"  version   {version['role']}: schema {version['schema']} ({version['state']}), "
                f"{len(writers)} connected session(s) wrote on the {version['role']} path"
                + (f" ({', '.join(sorted({w['application_name'] for w in writers}))})" if writers else "")
            )
            if version["present"]:
                print(
                    f"            search_path {version['search_path']}: options='{version['connection_option']}'"
                    f" or ?{version['url_option']}"
                )
        if state.get("error"):
            print(f"  error     {state['error']}")
        if entry.get("plan_error"):
            print(f"  plan      {entry['plan_error']}")
        for gate in entry.get("gates", []):
            print(f"  gate      {'pass   ' if gate['passed'] else 'REFUSED'} {gate['gate']}: {gate['evidence']}")
        if entry.get("next"):
            print(
                f"  next      {entry['next']}: migtui phase run {rev}"
                + (f" --until {entry['next']}" if entry["next"] != "contract" else "")
            )


def _quiet(sink):  # type: ignore[no-untyped-def]
    """``sink`` without the progress events (``--quiet``): steps, backfill batches and info messages."""
    from migtui.phases.events import BackfillProgress, BackfillThrottled, PhaseStepApplied
    from migtui.render.events import is_progress

    def quiet_sink(event) -> None:  # type: ignore[no-untyped-def]
        if not (is_progress(event) or isinstance(event, BackfillProgress | BackfillThrottled | PhaseStepApplied)):
            sink(event)

    return quiet_sink


def run(args: argparse.Namespace) -> int:
    from migtui.cli.common import settings_from_args
    from migtui.errors import ExitCode, UsageError
    from migtui.phases.backfill import BackfillOptions
    from migtui.phases.driver import DriverOptions
    from migtui.phases.gates import GateOptions
    from migtui.phases.job import PhaseOptions, run_phase
    from migtui.render.phase import json_sink, text_sink

    settings = settings_from_args(args)
    if args.action == "new":
        import contextlib
        import io

        from migtui.phases.template import new_phased_revision
        from migtui.project.load import load_project

        with contextlib.redirect_stdout(io.StringIO()):  # alembic's "Generating ..." line
            path = new_phased_revision(load_project(settings), args.message, args.rev_id)
        print(path)
        return int(ExitCode.OK)
    for name in ("batch_size", "max_batch_size", "max_lag_bytes"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be positive")
    if args.max_lock_waiters < 0:
        raise UsageError("--max-lock-waiters must not be negative")
    for name in ("wait", "quiet_window", "pause", "target_batch_seconds", "max_lag_seconds"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must not be negative")
    driver = DriverOptions(
        backfill=BackfillOptions(
            batch_size=args.batch_size,
            max_batch_size=max(args.batch_size, args.max_batch_size),
            min_batch_size=min(50, args.batch_size),
            target_batch_seconds=args.target_batch_seconds,
            pause=args.pause,
            max_lag_bytes=args.max_lag_bytes,
            max_lag_seconds=args.max_lag_seconds,
            max_lock_waiters=args.max_lock_waiters,
        ),
        gates=GateOptions(quiet_window=args.quiet_window, old_application=tuple(args.old_app)),
        wait=args.wait,
    )
    options = PhaseOptions(args.action, args.revision, until=args.until, driver=driver)
    sink = json_sink() if args.format == "json" else text_sink()
    if args.quiet:
        sink = _quiet(sink)
    from migtui.pg import liveness

    with liveness.watching("phase", sink):  # a server that stops answering: exit 6, see docs/reliability.md
        report = run_phase(settings, options, sink)
    if args.action == "status":
        if args.format == "json":
            print(json.dumps(report.to_dict(), indent=2, default=str))
        else:
            _print_status(report.entries)
    elif args.format == "text":
        print(report.summary)
    return report.exit_code
