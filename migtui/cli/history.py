"""migtui history: every revision, newest first; with a database, which are applied and which is current."""

from __future__ import annotations

import argparse
import json

from migtui.cli.common import add_common_arguments, settings_from_args

HELP = "list revisions newest first; with a database configured, mark applied and current ones"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument(
        "--offline", action="store_true", help="do not connect to the database (no applied/current marks)"
    )


def run(args: argparse.Namespace) -> int:
    from migtui.project.load import load_project
    from migtui.project.status import applied_revisions, check_known, read_current

    settings = settings_from_args(args)
    project = load_project(settings)
    revisions = list(reversed(project.revisions()))  # newest first
    current: tuple[str, ...] | None = None
    applied: set[str] = set()
    if settings.dsn and not args.offline:
        current = read_current(settings.dsn, settings)
        check_known(project, current)
        applied = applied_revisions(project.revisions(), current)
    if args.format == "json":
        out = {
            "current": list(current) if current is not None else None,
            "revisions": [
                {
                    "revision": r.revision,
                    "down_revisions": list(r.down_revisions),
                    "description": r.description,
                    "path": str(r.path),
                    "is_head": r.is_head,
                    "is_merge": r.is_merge,
                    "is_branch_point": r.is_branch_point,
                    "applied": (r.revision in applied) if current is not None else None,
                    "current": (r.revision in current) if current is not None else None,
                }
                for r in revisions
            ],
        }
        print(json.dumps(out, indent=2))
        return 0
    for r in revisions:
        parents = ", ".join(r.down_revisions) or "<base>"
        tags = [t for t, on in (("head", r.is_head), ("merge", r.is_merge), ("branchpoint", r.is_branch_point)) if on]
        if current is not None:
            if r.revision in current:
                tags.append("current")
            mark = "✓ " if r.revision in applied else "  "
        else:
            mark = ""
        suffix = f" ({', '.join(tags)})" if tags else ""
        print(f"{mark}{parents} -> {r.revision}{suffix}, {r.description}")
    return 0
