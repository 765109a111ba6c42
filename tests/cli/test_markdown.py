"""``--format markdown``: the PR-sized summary every job prints (counts, worst findings with lock and fix, the
full list collapsed, rule links)."""

from __future__ import annotations

from dataclasses import dataclass, field

from migtui.events import Finding
from migtui.render.markdown import marker, render_markdown
from tests.conftest import run_main

RISKY_SQL = "ALTER TABLE orders ADD COLUMN total numeric NOT NULL DEFAULT random();\nSELECT 1;\n"


@dataclass
class FakeReport:  # the report shape, nothing else: what a renderer may rely on
    findings: list[Finding] = field(default_factory=list)
    job: str = "lint"
    target: str = "postgresql://app:pw-secret@db/app"
    summary: str = "a | summary"
    exit_code: int = 1


def test_lint_markdown_has_counts_worst_findings_with_lock_and_rule_links(tmp_path):
    sql = tmp_path / "risky.sql"
    sql.write_text(RISKY_SQL)
    done = run_main("lint", str(sql), "--no-catalog", "--format", "markdown")
    assert done.returncode == 1, done.stderr
    text = done.stdout
    assert text.startswith(marker("lint") + "\n### ❌ migtui lint: 1 errors, 3 warnings, 1 info")
    assert "| 1 | 3 | 1 |" in text
    worst = text.split("**Errors and warnings**")[1].split("<details>")[0]
    first = next(line for line in worst.splitlines() if line.startswith("| 🔴"))
    assert "[`add-column-volatile-default`](docs/rules/add-column-volatile-default.md)" in first
    assert "AccessExclusiveLock on public.orders (blocks reads, writes, ddl)" in first
    assert "SET DEFAULT afterwards" in first  # the fix
    assert "<details><summary>All 5 finding(s)</summary>" in text and text.rstrip().endswith("</details>")


def test_clean_lint_says_no_findings(tmp_path):
    sql = tmp_path / "fine.sql"
    sql.write_text("SELECT 1;\n")
    done = run_main("lint", str(sql), "--no-catalog", "--format", "markdown")
    assert done.returncode == 0
    assert "### ✅ migtui lint" in done.stdout and "No findings." in done.stdout


def test_markdown_orders_worst_first_escapes_cells_and_caps_the_full_list():
    findings = [Finding("blocking-lock", "info", f"brief lock {i}", path="v/a.py", line=i) for i in range(1, 8)]
    findings.append(Finding("ban-drop-table", "error", "drops | everything\nnow", revision="r9"))
    findings.append(Finding("lock-timeout-missing", "warning", "no timeout", revision="r8"))
    text = render_markdown(FakeReport(findings), worst=1, full_list=5)
    worst = text.split("**Worst findings**")[1].split("<details>")[0]
    rows = [line for line in worst.splitlines() if line.startswith("| 🔴") or line.startswith("| 🟡")]
    assert len(rows) == 1 and "drops \\| everything now" in rows[0] and "rev `r9`" in rows[0]
    assert "pw-secret" not in text and "a \\| summary" in text
    full = text.split("<details>")[1]
    assert full.count("\n| ") == 6  # header + 5 rows
    assert "... and 4 more" in full
    assert full.index("ban-drop-table") < full.index("lock-timeout-missing") < full.index("brief lock 1")
