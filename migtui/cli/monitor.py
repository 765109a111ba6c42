"""``migtui monitor``: the live lock / activity panel on its own (any deploy, not only ours)."""

from __future__ import annotations

import argparse
import json

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


def run(args: argparse.Namespace) -> int:
    from migtui.errors import UsageError

    settings = settings_from_args(args)
    if not settings.dsn:
        raise UsageError("no database: pass --dsn URL or set MIGTUI_DSN")
    if settings.monitor_interval <= 0:
        raise UsageError("--monitor-interval must be positive")
    if args.once:
        from migtui.pg.monitor import Monitor

        with Monitor(settings.dsn, settings.monitor_interval) as monitor:
            snap = monitor.sample()
        if args.format == "json":
            print(json.dumps(snap.to_dict(), indent=2, default=str))
        else:
            _print_text(snap, args.long_transaction)
        return 0
    from migtui.cli.tui import require_terminal

    require_terminal("the live monitor", "use --once for one snapshot (--format json for scripts)")
    from migtui.tui.app import run_monitor_app

    return run_monitor_app(settings, long_transaction=args.long_transaction)
