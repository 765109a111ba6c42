"""``migtui monitor``: the live lock / activity panel on its own (any deploy, not only ours)."""

from __future__ import annotations

import argparse
import json
import sys

from migtui.cli.common import finite_float, settings_from_args

HELP = "live pg_locks / pg_stat_activity panel with a lock tree (who blocks whom)"
DESCRIPTION = (
    "Open the live lock/activity monitor on a database: sessions, locks, blocked and blocking sessions "
    "(pg_blocking_pids), wait events, transaction ages, long transactions, progress of index builds, and "
    "the lock tree. --once prints one snapshot (text or JSON) and exits without starting the TUI."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dsn",
        metavar="URL",
        help="database to watch (postgresql://...); env MIGTUI_DSN",
    )
    parser.add_argument(
        "--monitor-interval",
        type=finite_float,
        metavar="SECONDS",
        help="refresh period (default 1; env MIGTUI_MONITOR_INTERVAL)",
    )
    parser.add_argument(
        "--long-transaction",
        type=finite_float,
        default=60.0,
        metavar="SECONDS",
        help="transactions older than this are listed as long (default 60)",
    )
    parser.add_argument("--once", action="store_true", help="print one snapshot and exit (no TUI)")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="output of --once")
    parser.add_argument(
        "--check",
        action="store_true",
        help="with --once: exit 1 when a session has waited on a lock longer than --blocked-over (an alert probe)",
    )
    parser.add_argument(
        "--blocked-over",
        type=finite_float,
        default=5.0,
        metavar="SECONDS",
        help="--check's threshold: how long a session may wait on a lock (default 5)",
    )


def _print_text(snap, long_seconds: float) -> None:
    from migtui.pg.monitor import format_age, lock_tree_lines, one_line

    print(
        f"PostgreSQL {snap.server_version}  database {snap.database}  "
        f"{len(snap.sessions)} sessions, {len(snap.locks)} locks, {len(snap.blocked)} blocked"
    )
    print("\nLOCK TREE")
    lines = lock_tree_lines(snap, width=70)
    print("\n".join("  " + line for line in lines) if lines else "  nobody is blocked")
    print("\nSESSIONS")
    print(f"  {'pid':>7} {'application':<20} {'state':<20} {'wait':<22} {'xact':>7} {'blocked by':<12} query")
    for s in snap.sessions:
        blocked = ",".join(str(p) for p in s.blocked_by)
        print(
            f"  {s.pid:>7} {one_line(s.application_name or s.backend_type, 20):<20} {(s.state or '-'):<20} "
            f"{one_line(s.wait, 22):<22} {format_age(s.xact_age):>7} {blocked:<12} {one_line(s.query, 60)}"
        )
    long_tx = snap.long_transactions(long_seconds)
    if long_tx:
        print(f"\nLONG TRANSACTIONS (> {format_age(long_seconds)})")
        for s in long_tx:
            print(f"  pid {s.pid} [{s.application_name}] {format_age(s.xact_age)} {s.state}")
    if snap.progress:
        print("\nPROGRESS")
        for p in snap.progress:
            print(f"  pid {p.pid} {p.describe()}")


def blocked_seconds(snap, session) -> float:  # type: ignore[no-untyped-def]
    """How long ``session`` has waited: its longest ungranted lock's wait (PostgreSQL 14+ records when the wait
    began), else, on 13, how long its statement has run (the wait cannot be longer)."""
    waits = [lock.wait_seconds for lock in snap.locks_of(session.pid) if not lock.granted and lock.wait_seconds]
    if waits:
        return max(waits)
    return session.query_age or 0.0


def _check(snap, threshold: float) -> list[str]:  # type: ignore[no-untyped-def]
    """One line per session blocked longer than ``threshold`` seconds, longest first."""
    from migtui.pg.monitor import format_age, one_line

    over = [(blocked_seconds(snap, s), s) for s in snap.blocked]
    over = sorted(((age, s) for age, s in over if age > threshold), key=lambda item: -item[0])
    return [
        f"pid {s.pid} [{s.application_name or s.backend_type}] blocked {format_age(age)} by "
        f"{', '.join(str(p) for p in s.blocked_by)}: {one_line(s.query, 80)}"
        for age, s in over
    ]


def run(args: argparse.Namespace) -> int:
    from migtui.errors import UsageError

    settings = settings_from_args(args)
    if not settings.dsn:
        raise UsageError("no database: pass --dsn URL or set MIGTUI_DSN")
    if settings.monitor_interval <= 0:
        raise UsageError("--monitor-interval must be positive")
    if args.check and not args.once:
        raise UsageError("--check needs --once (the live monitor has no exit code to give)")
    if args.blocked_over < 0:
        raise UsageError("--blocked-over must not be negative")
    if args.once:
        from migtui.pg.monitor import Monitor

        with Monitor(settings.dsn, settings.monitor_interval) as monitor:
            snap = monitor.sample()
        over = _check(snap, args.blocked_over) if args.check else []
        if args.format == "json":
            data = snap.to_dict()
            if args.check:
                data["check"] = {"blocked_over": args.blocked_over, "ok": not over, "problems": over}
            print(json.dumps(data, indent=2, default=str))
        else:
            _print_text(snap, args.long_transaction)
        if over:
            print(f"migtui monitor: {len(over)} session(s) blocked longer than {args.blocked_over:g}s", file=sys.stderr)
            for line in over:
                print(f"  {line}", file=sys.stderr)
        return 1 if over else 0
    from migtui.cli.tui import require_terminal

    require_terminal("the live monitor", "use --once for one snapshot (--format json for scripts)")
    from migtui.tui.prefetch import start_monitor_sample

    start_monitor_sample(settings.dsn, settings.monitor_interval)  # read while Textual is imported
    from migtui.tui.app import run_monitor_app

    return run_monitor_app(settings, long_transaction=args.long_transaction)
