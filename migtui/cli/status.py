"""migtui status: current revision(s), heads and pending revisions of the configured database."""

from __future__ import annotations

import argparse
import json

from migtui.cli.common import add_common_arguments, settings_from_args

HELP = "show the database's current revision(s), the heads, and the pending revisions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when revisions are pending (a deploy gate); exit 0 at head",
    )


def _describe(by_id: dict, revision: str) -> str:
    info = by_id.get(revision)
    return f"{revision} ({info.description})" if info and info.description else revision


def run(args: argparse.Namespace) -> int:
    from migtui.project.status import project_status

    status = project_status(settings_from_args(args))
    data = status.to_dict()
    code = 1 if args.check and not data["at_head"] else 0
    if getattr(args, "format", "text") == "json":
        print(json.dumps(data, indent=2))
        return code
    by_id = {info.revision: info for info in status.revisions}
    current = ", ".join(_describe(by_id, r) for r in data["current"]) or "base (no revision applied)"
    print(f"database:   {data['target']}")
    print(f"migrations: {data['migrations']}")
    print(f"current:    {current}")
    print(f"heads:      {', '.join(data['heads']) or '-'}")
    if data["at_head"]:
        print("pending:    none (at head)")
    else:
        print(f"pending:    {len(data['pending'])}")
        for item in data["pending"]:
            print(f"  {item['revision']}  {item['description']}")
    for item in data["invalid_indexes"]:
        if item["building"]:
            print(f"invalid:    {item['index']} on {item['table']} (being built now)")
        else:
            print(f"invalid:    {item['index']} on {item['table']}: left by an interrupted build; {item['fix']}")
    return code
