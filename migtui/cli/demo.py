"""``migtui demo``: embedded primary + streaming replica, sample migrations part-applied, real data, the TUI."""

from __future__ import annotations

import argparse

from migtui.cli.common import settings_from_args

HELP = "start an embedded primary + replica with the sample project and data, and open the TUI"
DESCRIPTION = (
    "Start an embedded PostgreSQL primary and a streaming replica, apply the sample migrations up to the "
    "demo's stop revision (the last few stay pending), load demo data (1M orders by default), print the "
    "DSNs and open the TUI. --headless runs the same tour without the TUI (status with the pending list, "
    "then lint and dry-run where available) and exits. Servers and their files are removed on exit."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--migrations", metavar="PATH", help="alembic project (default db/migrations)")
    parser.add_argument("--headless", action="store_true", help="run the tour without the TUI and exit")
    parser.add_argument(
        "--scale",
        type=int,
        default=None,
        metavar="ORDERS",
        help="orders to generate (default 1000000; order_items ~1.5x)",
    )
    parser.add_argument("--pg-version", type=int, choices=[16, 18], help="embedded PostgreSQL major (default 16)")
    parser.add_argument("--pg-bin", metavar="DIR", help="use PostgreSQL binaries from DIR instead")


def run(args: argparse.Namespace) -> int:
    from migtui.demo.job import DEFAULT_SCALE, Demo, check_scale

    settings = settings_from_args(args)
    settings.pg_version = None  # --pg-version picks the demo server, not a lint target
    scale = check_scale(args.scale if args.scale is not None else DEFAULT_SCALE)
    if not args.headless:  # before starting any server
        from migtui.cli.tui import require_terminal

        require_terminal("the demo's TUI", "use --headless for the non-interactive tour")
    with Demo(settings, scale=scale, pg_version=args.pg_version) as demo:
        demo.start()
        if args.headless:
            return demo.tour()
        from migtui.tui.app import run_tui_app

        return run_tui_app(
            settings,
            banner=f"demo: primary {demo.dsn} · replica {demo.replica_dsn} · servers stop when you quit",
        )
