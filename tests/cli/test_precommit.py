"""The ``migtui-lint`` pre-commit hook (.pre-commit-hooks.yaml) run as a user's pre-commit runs it:
``pre-commit try-repo`` on a scratch git repository holding a stock ``alembic init`` project.

pre-commit installs the hook's environment from this checkout (``pip install .``, a pure-Python build:
MIGTUI_PURE_PYTHON=1), so the test carries the ``wheel`` mark; about a minute, once per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.alembic_projects import Rev, make_project

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[2]


def _pre_commit() -> str:
    found = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which("pre-commit")
    if not found:
        pytest.skip("pre-commit is not installed (pip install -e '.[dev]')")
    return found


@pytest.fixture(scope="module")
def scratch_repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("precommit")
    repo = root / "app"
    make_project(
        repo,
        [
            Rev(
                "a1",
                "op.create_table('orders', sa.Column('id', sa.Integer, primary_key=True))",
                "op.drop_table('orders')",
            ),
            Rev(
                "a2",
                "op.add_column('orders', sa.Column('status', sa.Text, nullable=False, "
                "server_default=sa.text('random()::text')))",
                "op.drop_column('orders', 'status')",
            ),
        ],
    )
    (repo / "sql").mkdir()
    (repo / "sql" / "fine.sql").write_text("CREATE TABLE audit (id bigint PRIMARY KEY);\n")
    (repo / "notes.py").write_text("print('not a migration')\n")
    for command in (
        ["git", "init", "-q", "."],
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"],
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"],
    ):
        subprocess.run(command, cwd=repo, check=True, capture_output=True)
    return repo


def _try_repo(repo: Path, home: Path, *files: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "MIGTUI_PURE_PYTHON": "1"}
    env.pop("MIGTUI_DSN", None)
    argv = [_pre_commit(), "try-repo", str(ROOT), "migtui-lint", "--files", *files]
    return subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=900)


def test_hook_lints_only_the_changed_revision_in_its_project(scratch_repo, tmp_path_factory):
    home = tmp_path_factory.mktemp("pre-commit-home")
    versions = sorted((scratch_repo / "migrations" / "versions").glob("*.py"))
    changed = next(str(p.relative_to(scratch_repo)) for p in versions if "a2" in p.name)
    done = _try_repo(scratch_repo, home, changed, "notes.py")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "migtui lint" in out and "Failed" in out
    assert "(revision a2)" in out and "(revision a1)" not in out
    assert "error add-column-volatile-default" in out  # orders exists: a1 was rendered before a2
    assert "1 files, 1 statements: 1 errors" in out

    clean = _try_repo(scratch_repo, home, "sql/fine.sql", "notes.py")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "migtui lint" in clean.stdout and "Passed" in clean.stdout


def test_hook_definition_is_what_the_docs_say():
    import yaml

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "migtui-lint" and hook["language"] == "python"
    assert hook["entry"] == "migtui lint --files --no-catalog"
    import re

    pattern = re.compile(hook["files"])
    assert pattern.search("migrations/versions/0001_init.py") and pattern.search("db/raw/x.sql")
    assert not pattern.search("migrations/env.py") and not pattern.search("app/models.py")
