"""Deploy-time entry: apply the backend's migrations through the migtui runner.

    python -m backend.shared.db.migrate                 # upgrade to head
    python -m backend.shared.db.migrate --to 0013_display_name_not_null
    python -m backend.shared.db.migrate --format json   # engine events as JSON lines (as `migtui up`)

The database URL comes from ``--dsn``, else ``$MIGTUI_DSN``, else ``$DATABASE_URL``. Every other
setting (timeouts, lock_timeout retries, advisory-lock wait) is migtui's: flags > ``MIGTUI_*`` > pyproject.
The runner takes migtui's advisory lock, so several instances started at once by a deploy apply each
revision exactly once; the ones that wait find the work done and exit 0 (or exit 4 after the wait).

Exit codes are migtui's (0 ok, 2 usage/config, 3 timeout, 4 advisory lock not acquired, 5 revision failed,
6 connection/auth, 130 interrupted or SIGTERM); progress goes to stdout in `migtui up`'s format, errors are
one line on stderr, passwords masked.
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO_MIGRATIONS = Path(__file__).resolve().parents[3] / "db" / "migrations"
PROG = "python -m backend.shared.db.migrate"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Apply database migrations (migtui runner).")
    parser.add_argument("--to", default="head", metavar="REV", help="target revision (default: head)")
    parser.add_argument("--dsn", metavar="URL", help="database URL (default: $MIGTUI_DSN, else $DATABASE_URL)")
    parser.add_argument("--migrations", metavar="PATH", help=f"alembic project (default: {REPO_MIGRATIONS})")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="per-revision timeout")
    parser.add_argument(
        "--format", choices=["text", "json"], default="text", help="text lines, or one JSON event per line"
    )
    return parser


def migrate(
    target: str = "head",
    dsn: str | None = None,
    migrations: str | None = None,
    flags: dict | None = None,
    sink=None,
) -> int:
    """Upgrade the backend database to ``target`` through the migtui runner; returns the exit code.

    Raises ``MigtuiError`` (with its ``exit_code``) for every expected failure.
    """
    from backend.shared.db.settings import database_url_from_env
    from migtui.config import load_settings
    from migtui.events import discard
    from migtui.pg.dsn import libpq_dsn
    from migtui.runner.job import UpOptions, run_up

    settings = load_settings({**(flags or {}), "dsn": dsn, "migrations": migrations})
    url = settings.dsn or database_url_from_env()  # $DATABASE_URL as the backend's fallback
    libpq_dsn(url)  # a foreign or malformed URL is a usage error before anything else happens
    settings.dsn = url
    if migrations is None and settings.sources.get("migrations") == "default":
        settings.migrations = str(REPO_MIGRATIONS)  # works from any working directory
    return run_up(settings, UpOptions(target), sink or discard).exit_code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from migtui.render.events import event_printer
    from migtui.report import one_line_errors
    from migtui.runner.job import stop_on_sigterm

    stop_on_sigterm()  # a deploy system stopping us: cancel, roll back, release the lock, exit 130
    sink = event_printer(args.format)  # the same lines / JSON events as `migtui up`
    flags = {"timeout": args.timeout}
    return one_line_errors(
        "migrate", lambda: migrate(args.to, dsn=args.dsn, migrations=args.migrations, flags=flags, sink=sink)
    )


if __name__ == "__main__":
    raise SystemExit(main())
