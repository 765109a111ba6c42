"""docs/rules/<id>.md: generated from the registry, committed, linked from SARIF and ``migtui lint --explain``."""

from __future__ import annotations

from pathlib import Path

import pytest

from migtui.analysis import rule_docs
from migtui.analysis.rule_docs import EXAMPLES, FILE_EXAMPLES, REGENERATE, analyze_example, page_name, pages
from migtui.analysis.rules import LINT_RULES, RULES
from migtui.cli.main import main
from migtui.events import Finding
from migtui.render.sarif import sarif_log
from tests.report_formats import validate_sarif

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "rules"


def test_committed_pages_are_the_generator_output():
    wanted = pages()
    committed = {p.name: p.read_text() for p in DOCS.glob("*.md")}
    missing = sorted(set(wanted) - set(committed))
    stale = sorted(name for name in set(wanted) & set(committed) if wanted[name] != committed[name])
    extra = sorted(set(committed) - set(wanted))
    assert not (missing or stale or extra), (
        f"docs/rules is out of date (missing {missing}, stale {stale}, no such rule {extra}): run `{REGENERATE}`"
    )


def test_every_rule_has_a_page_and_every_lint_rule_an_example():
    assert set(pages()) == {page_name(r) for r in RULES} | {"README.md"}
    without = sorted(set(LINT_RULES) - set(EXAMPLES) - set(FILE_EXAMPLES))
    assert not without, f"add an Example for {without} to EXAMPLES in migtui/analysis/rule_docs.py, then `{REGENERATE}`"
    assert set(EXAMPLES) | set(FILE_EXAMPLES) <= set(LINT_RULES)
    others = set(RULES) - set(LINT_RULES)
    assert others == set(rule_docs.SITUATIONS), (
        f"add a situation for {sorted(others - set(rule_docs.SITUATIONS))} to SITUATIONS in "
        f"migtui/analysis/rule_docs.py, then `{REGENERATE}`"
    )


@pytest.mark.parametrize("rule_id", sorted(EXAMPLES))
def test_example_is_flagged_and_its_safe_twin_is_not(rule_id):
    example = EXAMPLES[rule_id]
    flagged = {f.rule for st in analyze_example(example, safe=False) for f in st.findings}
    assert rule_id in flagged, f"{rule_id}: the page's flagged example does not get the rule"
    if rule_id == "blocking-lock":
        # every lock that blocks writes is reported (info when brief); the safe twin takes none
        safe = analyze_example(example, safe=True)
        assert not any(f.rule == rule_id for st in safe for f in st.findings), safe
        return
    safe = rule_docs.unapproved_rules(analyze_example(example, safe=True))
    assert rule_id not in safe, f"{rule_id}: the page's safe example gets the rule too"


def test_page_has_what_why_lock_recipe_and_example():
    page = rule_docs.render_page("add-column-volatile-default")
    for part in ("## What and why", "## The lock and what it blocks", "## Safe recipe", "## Example", "alembic:"):
        assert part in page, part
    assert "| `public.orders` | AccessExclusiveLock | reads, writes and schema changes | rewritten |" in page
    assert "line 1: error add-column-volatile-default:" in page
    dry_run = rule_docs.render_page("would-fail-unique")
    assert "migtui dry-run" in dry_run and "## Fix" in dry_run


def test_explain_prints_the_page(capsys):
    assert main(["lint", "--explain", "reindex-system"]) == 0
    assert capsys.readouterr().out == (DOCS / "reindex-system.md").read_text()


def test_explain_unknown_rule_is_one_line_with_the_closest_ids(capsys):
    assert main(["lint", "--explain", "reindex-sytem"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "closest: reindex-system" in err


def test_sarif_names_the_rule_page(monkeypatch):
    finding = Finding("reindex-system", "warning", "REINDEX SYSTEM", "hint", 1, path="m.sql")
    monkeypatch.setattr(rule_docs, "repository_url", lambda: None)
    [rule] = validate_sarif(sarif_log([finding]))["tool"]["driver"]["rules"]
    assert "helpUri" not in rule  # SARIF's helpUri is absolute: without a repository URL the path is in the help
    assert (
        rule["properties"]["docs"] == "docs/rules/reindex-system.md"
        and "docs/rules/reindex-system.md" in rule["help"]["text"]
    )
    monkeypatch.setattr(rule_docs, "repository_url", lambda: "https://example.invalid/migtui")
    [rule] = validate_sarif(sarif_log([finding]))["tool"]["driver"]["rules"]
    assert rule["helpUri"] == "https://example.invalid/migtui/blob/HEAD/docs/rules/reindex-system.md"
