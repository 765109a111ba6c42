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


def _tour(demo) -> int:  # type: ignore[no-untyped-def]
    """The headless tour: each command of the demo's TOUR, through this CLI, against the demo's servers.
    Findings (exit 1) are expected; any other failure ends the tour with that command's exit code."""
    from migtui.cli.main import main
    from migtui.demo.job import TOUR
    from migtui.errors import ExitCode

    common = ["--dsn", demo.dsn, "--migrations", str(demo.settings.migrations)]
    for title, command, extra in TOUR:
        demo.say("")
        demo.say(f"== migtui {command} — {title}")
        args = [command, *common]
        if "--replica-dsn" in extra:
            args += ["--replica-dsn", demo.replica_dsn]
        code = main(args)
        if code not in (ExitCode.OK, ExitCode.FINDINGS):
            demo.say(f"== migtui {command} exited {code}")
            return int(code)
    demo.say("")
    demo.say("demo tour finished")
    return int(ExitCode.OK)


def _print_message(event) -> None:  # type: ignore[no-untyped-def]
    from migtui.events import Message

    if isinstance(event, Message):
        print(event.text, flush=True)


def installed_sample() -> str | None:
    """The sample project a wheel installs (``<prefix>/share/migtui/sample/migrations``), if there is one."""
    import sys
    from pathlib import Path

    path = Path(sys.prefix) / "share" / "migtui" / "sample" / "migrations"
    return str(path) if (path / "env.py").is_file() else None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from migtui.demo.job import DEFAULT_SCALE, DemoOptions, check_scale, run_demo

    settings = settings_from_args(args)
    if settings.sources.get("migrations") == "default" and not Path(settings.migrations).exists():
        settings.migrations = installed_sample() or settings.migrations  # outside this repository: the wheel's copy
    settings.pg_version = None  # --pg-version picks the demo server, not a lint target
    scale = check_scale(args.scale if args.scale is not None else DEFAULT_SCALE)
    if args.headless:
        then = _tour
    else:
        from migtui.cli.tui import require_terminal

        require_terminal("the demo's TUI", "use --headless for the non-interactive tour")  # before any server

        def then(demo) -> int:  # type: ignore[no-untyped-def]
            from migtui.tui.app import run_tui_app

            return run_tui_app(
                settings,
                banner=f"demo: primary {demo.dsn} · replica {demo.replica_dsn} · servers stop when you quit",
            )

    options = DemoOptions(scale=scale, pg_version=args.pg_version, then=then)
    return run_demo(settings, options, _print_message).exit_code
