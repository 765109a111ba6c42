"""``migtui lint``: which lock each pending statement takes, what it blocks, and what is risky about it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from migtui.cli.common import (
    add_baseline_argument,
    add_common_arguments,
    add_output_file_argument,
    add_scratch_argument,
    color_enabled,
    report_output,
    settings_from_args,
)

HELP = "lint migrations: locks, rewrites, scans and risky statements (alembic revisions and raw .sql)"
DESCRIPTION = (
    "Lint alembic revisions (rendered offline, mapped back to the op.* line) and raw .sql files: for every "
    "statement the lock it takes on each relation and what that blocks, table rewrites and scans, and the "
    "findings with their safe rewrite. Without paths, lints the configured alembic migrations. With --dsn "
    "(or a configured database) it reads the catalog (read-only) and lints only pending revisions."
)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help=".sql files, folders of them, or alembic directories")
    add_common_arguments(parser)
    parser.add_argument(
        "--pg-version",
        type=int,
        metavar="N",
        help="target PostgreSQL major, 13-18 (default: the server's with a DSN, else 16)",
    )
    parser.add_argument("--format", choices=["text", "json", "github", "sarif", "junit", "markdown"], default="text")
    add_output_file_argument(parser)
    parser.add_argument(
        "--fail-on",
        choices=["error", "warning", "info"],
        default="error",
        help="lowest severity that makes the exit code 1 (default error)",
    )
    parser.add_argument(
        "--all",
        dest="all_revisions",
        action="store_true",
        help="with a DSN: also lint revisions the database already has",
    )
    parser.add_argument("--no-catalog", action="store_true", help="do not read the configured database's catalog")
    add_baseline_argument(parser)
    add_scratch_argument(
        parser,
        "a server for the scratch database where revisions that cannot be rendered offline are rendered "
        "(default: an embedded one, started only when needed)",
    )
    parser.add_argument(
        "--jobs", type=_positive_int, metavar="N", help="worker processes for raw .sql files (default: CPUs)"
    )
    parser.add_argument("--list-rules", action="store_true", help="print the rules and exit")
    parser.add_argument(
        "--explain", metavar="RULE", help="print a rule's page (what, why, the lock, the safe recipe, an example)"
    )
    parser.add_argument(
        "--files",
        action="store_true",
        help="PATHs are changed files (a pre-commit hook): each revision file is linted in its alembic project, "
        "each .sql file on its own; the report holds only these files (other files are ignored)",
    )


def _list_rules(fmt: str) -> int:
    from migtui.analysis.rules import LINT_RULES

    if fmt == "json":
        import json

        print(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "severity": r.severity,
                        "destructive": r.destructive,
                        "why": r.why,
                        "hint": r.hint,
                        "alembic": r.alembic,
                    }
                    for r in LINT_RULES.values()
                ],
                indent=2,
            )
        )
        return 0
    for r in LINT_RULES.values():
        kind = "destructive, approve=" if r.destructive else "ignore="
        print(f"{r.id:<40} {r.severity:<8} {kind:<22} {r.why}")
    return 0


def _explain(rule_id: str) -> int:
    from migtui.analysis.rule_docs import closest_ids, render_page
    from migtui.analysis.rules import RULE_ALIASES, RULES
    from migtui.errors import UsageError

    if rule_id in RULE_ALIASES:  # a retired id: its page is the rule that replaced it
        sys.stderr.write(f"{rule_id} is retired: it is now {RULE_ALIASES[rule_id]}\n")
        rule_id = RULE_ALIASES[rule_id]
    if rule_id not in RULES:
        close = closest_ids(rule_id)
        also = f"; closest: {', '.join(close)}" if close else ""
        raise UsageError(f"--explain: no rule {rule_id!r}{also} (migtui lint --list-rules lists them)")
    sys.stdout.write(render_page(rule_id))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.explain is not None:
        return _explain(args.explain)
    if args.list_rules:
        return _list_rules(args.format)
    from migtui.report import cyclic_gc_paused

    with cyclic_gc_paused(), report_output(args.output):  # rendering builds as many small objects as linting
        return _run(args)


def _file_json(file) -> bytes:
    return file.to_json()


def _print_json(report) -> None:
    """``{"files": [...], "summary": {...}}`` from the files' JSON (``_file_json``). Reports of more than 2,000
    statements stay compact: indentation would make the output much larger and slower to write."""
    import orjson

    summary = b'],"summary":' + orjson.dumps(report.totals()) + b"}"
    if report.tally().statements <= 2000:
        from migtui.render.json_report import render_json

        data = b'{"files":[' + b",".join(file.rendered for file in report.files) + summary
        print(render_json(orjson.loads(data), indent=2))
    else:
        # written piece by piece: the report of a large revision is tens of megabytes, not copied into one
        sys.stdout.flush()
        out = sys.stdout.buffer
        out.write(b'{"files":[')
        for i, file in enumerate(report.files):
            if i:
                out.write(b",")
            out.write(file.rendered)
        out.write(summary + b"\n")


def changed_files(paths: list[str]) -> tuple[list[str], set[Path]]:
    """For ``--files``: what to lint (the alembic script directories of the revision files, the .sql files) and
    the resolved paths of the files to report. A .py file outside an alembic project (or its env.py) and files
    of other kinds are not migrations: left out."""
    from migtui.errors import UsageError

    targets: list[str] = []
    keep: set[Path] = set()
    for given in paths:
        path = Path(given).expanduser()
        if not path.is_file():
            raise UsageError(f"no such file: {given}")
        resolved = path.resolve()
        if path.suffix == ".sql":
            targets.append(given)
            keep.add(resolved)
        elif path.suffix == ".py":
            # the script directory (env.py beside it) above the file; not a folder with only an alembic.ini, which
            # holds the application's code as well
            project = next((p for p in resolved.parents if (p / "env.py").is_file()), None)
            if project is not None and resolved != project / "env.py":
                if str(project) not in targets:
                    targets.append(str(project))
                keep.add(resolved)
    return targets, keep


def _run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from migtui.lint.job import LintOptions, LintReport, run_lint

    paths = list(args.paths)
    keep: set[Path] | None = None
    if args.files:
        paths, keep = changed_files(paths)

    # text, json and github: each file is rendered where it is linted (a worker process, for many raw files)
    render_file = None
    if args.format == "json":
        render_file = _file_json
    elif args.format == "github":
        from migtui.render.github import file_annotations

        render_file = file_annotations
    elif args.format == "text":
        from migtui.render.text_lint import file_text, painter

        paint = painter(color_enabled(args))

        def render_file(file):  # type: ignore[no-untyped-def]
            return file_text(file, paint, verbose=args.verbose)

    options = LintOptions(
        paths=paths,
        catalog=not args.no_catalog,
        fail_on=args.fail_on,
        all_revisions=args.all_revisions,
        jobs=args.jobs,
        render_file=render_file,
    )
    if keep is not None and not paths:  # nothing changed that is a migration
        report = LintReport([], settings.pg_version or 16, False, args.fail_on, "")
    else:
        report = run_lint(settings, options)
    if keep is not None:
        files = [file for file in report.files if Path(file.path).resolve() in keep]
        report = LintReport(files, report.pg_version, report.catalog, report.fail_on, report.target)
    if args.format == "json":
        _print_json(report)
    elif args.format == "github":
        # written file by file, as printing one joined text would: the annotations of thousands of files are
        # megabytes, which a join and its encoding would copy twice more
        out, wrote = sys.stdout, False
        for file in report.files:
            if file.rendered:
                if wrote:
                    out.write("\n")
                out.write(file.rendered)
                wrote = True
        if wrote:
            out.write("\n")
        s = report.totals()
        if not args.quiet:
            print(f"migtui lint: {s['errors']} errors, {s['warnings']} warnings, {s['info']} info", file=sys.stderr)
    elif args.format == "sarif":
        from migtui import __version__
        from migtui.render.json_report import render_json
        from migtui.render.sarif import sarif_log

        print(render_json(sarif_log(report.findings, tool_version=__version__)))
    elif args.format == "junit":
        from migtui.render.junit import findings_junit

        checked = [(file.path, file.revision) for file in report.files]
        print(findings_junit("migtui lint", "lint", report.findings, checked=checked, fail_on=args.fail_on), end="")
    elif args.format == "markdown":
        from migtui.render.markdown import lint_rows, render_markdown

        print(render_markdown(report, lint_rows(report)), end="")
    else:
        from migtui.render.text_lint import summary_text

        for file in report.files:
            print(file.rendered)
        print(summary_text(report, paint))
    return report.exit_code
