"""migtui status: current revision(s), heads and pending revisions of the configured database."""

from __future__ import annotations

import argparse
import json

from migtui.cli.common import add_common_arguments

HELP = "show the database's current revision(s), the heads, and the pending revisions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--format", choices=["text", "json"], default="text")


def status_data(runner) -> dict:
    """The status as a JSON-ready dict (also used by the demo/TUI)."""
    from migtui.redact import redact_dsn

    current = runner.current()
    by_id = {info.revision: info for info in runner.project.revisions()}
    pending = [by_id[rev] for rev in runner.plan("up", "heads", current)]
    heads = sorted(runner.project.script.get_heads())
    return {
        "database": redact_dsn(runner.dsn),
        "migrations": str(runner.project.script_location),
        "current": list(current),
        "heads": heads,
        "at_head": not pending,
        "pending": [
            {"revision": p.revision, "down_revisions": list(p.down_revisions), "description": p.description}
            for p in pending
        ],
    }


def _describe(by_id: dict, revision: str) -> str:
    info = by_id.get(revision)
    return f"{revision} ({info.description})" if info and info.description else revision


def run(args: argparse.Namespace) -> int:
    from migtui.cli.up import make_runner

    args.format = getattr(args, "format", "text")
    runner, _settings = make_runner(args)
    data = status_data(runner)
    if args.format == "json":
        print(json.dumps(data, indent=2))
        return 0
    by_id = {info.revision: info for info in runner.project.revisions()}
    current = ", ".join(_describe(by_id, r) for r in data["current"]) or "base (no revision applied)"
    print(f"database:   {data['database']}")
    print(f"migrations: {data['migrations']}")
    print(f"current:    {current}")
    print(f"heads:      {', '.join(data['heads']) or '-'}")
    if data["at_head"]:
        print("pending:    none (at head)")
    else:
        print(f"pending:    {len(data['pending'])}")
        for item in data["pending"]:
            print(f"  {item['revision']}  {item['description']}")
    return 0
