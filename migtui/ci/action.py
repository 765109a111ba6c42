"""The GitHub Action's step: ``python -m migtui.ci.action`` (see action.yml and docs/github-action.md).

Runs the chosen jobs once each through the engine (``run_<job>``) and writes, from each one report:
SARIF (one file, one run per job, for code scanning), a Markdown summary (appended to ``$GITHUB_STEP_SUMMARY``
and, on a pull request, posted as one comment that later runs edit: found by ``MARKER``), JUnit per job.
The inputs come as ``MIGTUI_ACTION_*`` variables; the GitHub API base from ``GITHUB_API_URL`` (a test points it
at a local stub). Exit code: the worst of the jobs' (0 ok, 1 findings at --fail-on, others as the CLI's).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARKER = "<!-- migtui-action -->"
JOBS = ("lint", "dry-run", "rollback-test", "drift")


@dataclass
class JobResult:
    job: str
    exit_code: int
    markdown: str
    sarif_run: dict[str, Any] | None = None
    junit: str = ""


@dataclass
class Inputs:
    jobs: list[str]
    migrations: str
    database_url: str
    scratch_database_url: str
    fail_on: str
    comment: bool
    out_dir: Path
    changed: list[str] = field(default_factory=list)
    changed_known: bool = False  # the pull request's changed files were listed (an empty list means none)

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Inputs:
        from migtui.errors import UsageError

        jobs = [j.strip() for j in env.get("MIGTUI_ACTION_JOBS", "lint").replace("\n", ",").split(",") if j.strip()]
        unknown = [j for j in jobs if j not in JOBS]
        if unknown or not jobs:
            raise UsageError(f"jobs: unknown {', '.join(unknown) or '(none)'}; choose from {', '.join(JOBS)}")
        fail_on = env.get("MIGTUI_ACTION_FAIL_ON", "error") or "error"
        if fail_on not in ("error", "warning", "info"):
            raise UsageError(f"fail-on must be error, warning or info, not {fail_on!r}")
        return cls(
            jobs=jobs,
            migrations=env.get("MIGTUI_ACTION_MIGRATIONS", "") or "db/migrations",
            database_url=env.get("MIGTUI_ACTION_DATABASE_URL", ""),
            scratch_database_url=env.get("MIGTUI_ACTION_SCRATCH_DATABASE_URL", ""),
            fail_on=fail_on,
            comment=env.get("MIGTUI_ACTION_COMMENT", "true").lower() in ("1", "true", "yes", "on"),
            out_dir=Path(env.get("MIGTUI_ACTION_OUTPUT_DIR") or env.get("RUNNER_TEMP") or ".") / "migtui",
            changed=[p for p in env.get("MIGTUI_ACTION_CHANGED_FILES", "").split() if p],
            changed_known=env.get("MIGTUI_ACTION_CHANGED_KNOWN", "").lower() == "true",
        )


def _sarif_run(findings: list[Any], job: str) -> dict[str, Any]:
    from migtui import __version__
    from migtui.render.findings import relative_path
    from migtui.render.sarif import sarif_log

    for finding in findings:
        if finding.path:
            finding.path = relative_path(finding.path)
    (run,) = sarif_log(findings, tool_version=__version__)["runs"]
    run["automationDetails"] = {"id": f"migtui/{job}/"}  # one category per job: code scanning keeps them apart
    return run


def run_job(job: str, inputs: Inputs) -> JobResult:
    """One job through the engine; a ``MigtuiError`` becomes a failed result with its one line."""
    from migtui.config import load_settings
    from migtui.errors import MigtuiError
    from migtui.render.markdown import marker, render_markdown

    flags: dict[str, Any] = {"migrations": inputs.migrations, "dsn": inputs.database_url or None}
    flags["scratch_dsn"] = inputs.scratch_database_url or None
    try:
        settings = load_settings(flags)
        if job == "lint":
            from migtui.lint.job import LintOptions, LintReport, run_lint
            from migtui.render.junit import findings_junit
            from migtui.render.markdown import lint_rows

            paths: list[str] = []
            keep = None
            if inputs.changed_known and not inputs.database_url:  # the revisions the pull request adds or changes
                from migtui.cli.lint import changed_files

                paths, keep = changed_files([p for p in inputs.changed if Path(p).is_file()])
            if keep is not None and not paths:
                report = LintReport([], settings.pg_version or 16, False, inputs.fail_on, "")
            else:
                report = run_lint(settings, LintOptions(paths=paths, fail_on=inputs.fail_on))
            if keep is not None:
                files = [file for file in report.files if Path(file.path).resolve() in keep]
                report = LintReport(files, report.pg_version, report.catalog, report.fail_on, report.target)
            checked = [(file.path, file.revision) for file in report.files]
            junit = findings_junit("migtui lint", "lint", report.findings, checked=checked, fail_on=inputs.fail_on)
            markdown = render_markdown(report, lint_rows(report))
        elif job == "dry-run":
            from migtui.dryrun.job import DryRunOptions, run_dry_run
            from migtui.render.dryrun import junit_text, markdown_text

            report = run_dry_run(settings, DryRunOptions(allow_primary=True))
            junit, markdown = junit_text(report), markdown_text(report)
        elif job == "rollback-test":
            from migtui.render.rollback import report_junit, report_markdown
            from migtui.rollback.job import RollbackOptions, run_rollback_test

            report = run_rollback_test(settings, RollbackOptions())
            junit, markdown = report_junit(report), report_markdown(report)
        else:
            from migtui.drift.job import DriftOptions, run_drift
            from migtui.render.drift import render_junit

            report = run_drift(settings, DriftOptions())
            junit, markdown = render_junit(report), render_markdown(report)
    except MigtuiError as exc:
        from migtui.redact import error_line

        line = error_line(exc)
        text = f"{marker(job)}\n### ❌ migtui {job}: error\n\n`{line}`\n"
        return JobResult(job, int(exc.exit_code), text)
    return JobResult(job, int(report.exit_code), markdown, _sarif_run(list(report.findings), job), junit)


def comment_body(results: list[JobResult]) -> str:
    parts = [MARKER, "## migtui"]
    for result in results:
        parts.append(result.markdown.rstrip("\n"))
    body = "\n\n".join(parts) + "\n"
    limit = 65_000  # a GitHub comment holds 65,536 characters
    if len(body) > limit:
        body = body[: limit - 200] + "\n\n... (cut: the step summary and the SARIF report have everything)\n"
    return body


def _request(method: str, url: str, token: str, data: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(url, method=method, data=json.dumps(data).encode() if data else None)
    request.add_header("Accept", "application/vnd.github+json")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("X-GitHub-Api-Version", "2022-11-28")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


def upsert_comment(api: str, repository: str, number: int, token: str, body: str) -> str:
    """Edit the pull request's comment that starts with ``MARKER``, or create it; returns "updated" / "created"."""
    base = f"{api.rstrip('/')}/repos/{repository}/issues"
    page = 1
    while True:
        comments = _request("GET", f"{base}/{number}/comments?per_page=100&page={page}", token) or []
        for comment in comments:
            if str(comment.get("body", "")).startswith(MARKER):
                _request("PATCH", f"{base}/comments/{comment['id']}", token, {"body": body})
                return "updated"
        if len(comments) < 100:
            break
        page += 1
    _request("POST", f"{base}/{number}/comments", token, {"body": body})
    return "created"


def pull_request_number(env: dict[str, str]) -> int | None:
    path = env.get("GITHUB_EVENT_PATH")
    if not path or not Path(path).is_file():
        return None
    event = json.loads(Path(path).read_text(encoding="utf-8"))
    number = (event.get("pull_request") or {}).get("number")
    return int(number) if number else None


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    from migtui.errors import MigtuiError

    try:
        inputs = Inputs.from_env(env)
    except MigtuiError as exc:
        print(f"migtui action: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    inputs.out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for job in inputs.jobs:
        print(f"migtui action: {job} ...", file=sys.stderr, flush=True)
        result = run_job(job, inputs)
        results.append(result)
        if result.junit:
            (inputs.out_dir / f"{job}.junit.xml").write_text(result.junit, encoding="utf-8")
        print(f"migtui action: {job}: exit {result.exit_code}", file=sys.stderr, flush=True)
    from migtui.render.json_report import render_json
    from migtui.render.sarif import SCHEMA_URI

    runs = [r.sarif_run for r in results if r.sarif_run is not None]
    sarif = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": runs}
    (inputs.out_dir / "migtui.sarif").write_text(render_json(sarif) + "\n", encoding="utf-8")
    body = comment_body(results)
    (inputs.out_dir / "summary.md").write_text(body, encoding="utf-8")
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(body)
    number = pull_request_number(env)
    if inputs.comment and number is not None:
        token = env.get("GITHUB_TOKEN", "")
        api = env.get("GITHUB_API_URL", "https://api.github.com")
        repository = env.get("GITHUB_REPOSITORY", "")
        try:
            done = upsert_comment(api, repository, number, token, body)
            print(f"migtui action: pull request comment {done}", file=sys.stderr)
        except (urllib.error.URLError, OSError, ValueError) as exc:  # the checks ran; a comment is not worth failing
            print(f"migtui action: warning: could not comment on the pull request: {exc}", file=sys.stderr)
    outputs = env.get("GITHUB_OUTPUT")
    if outputs:
        with open(outputs, "a", encoding="utf-8") as handle:
            handle.write(f"sarif={inputs.out_dir / 'migtui.sarif'}\nsummary={inputs.out_dir / 'summary.md'}\n")
    return max((r.exit_code for r in results), default=0)


if __name__ == "__main__":
    from migtui.report import one_line_errors

    sys.exit(one_line_errors("migtui action", main))
