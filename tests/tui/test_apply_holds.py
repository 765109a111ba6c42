"""The apply confirmation's lock holds: which source each revision's holds come from, and the fixed part's lines."""

from __future__ import annotations

import time

from migtui.tui.apply_holds import DryRunHolds, file_digest, on_screen, plan_holds
from migtui.tui.lint_summary import RevisionLint


def _statement(index: int, line: int, sql: str, locks: list[tuple[str, str]], phase: str | None = None) -> dict:
    return {
        "index": index,
        "line": line,
        "sql": sql,
        "transactional": True,
        "locks": [{"relation": r, "mode": m} for r, m in locks],
        "phase": phase,
    }


def _dry_hold(relation: str, mode: str, blocks: list[str], index: int, seconds: float) -> dict:
    return {
        "relation": relation,
        "mode": mode,
        "blocks": blocks,
        "taken_by": {"index": index, "line": 10 + index, "statement": None, "sql": "ALTER TABLE ..."},
        "estimated_seconds": seconds,
        "estimate_complete": True,
        "released_by": {"statement": "COMMIT", "why": "end of the revision's transaction", "line": None},
        "through": 1,
    }


def test_dry_run_holds_only_for_revisions_it_covers_unchanged(tmp_path):
    files = {}
    for rev in ("r1", "r2", "r3"):
        files[rev] = tmp_path / f"{rev}.py"
        files[rev].write_text(f"# {rev}\n")
    exclusive = [("public.orders", "AccessExclusiveLock")]
    add_column = _statement(0, 16, "ALTER TABLE orders ADD COLUMN note text", exclusive)
    backfill = _statement(1, 17, "UPDATE orders SET note = 'n/a'", [("public.orders", "RowExclusiveLock")])
    lint = {rev: RevisionLint(rev, str(files[rev]), [add_column, backfill]) for rev in files}
    dry = DryRunHolds(
        revisions={
            "r1": {
                "path": str(files["r1"]),
                "reached": True,
                "error": None,
                "statements": [{"index": 0, "phase": None}, {"index": 1, "phase": "contract"}],
                "lock_holds": [
                    _dry_hold("public.orders", "AccessExclusiveLock", ["reads", "writes", "ddl"], 0, 12.5),
                    # taken by a contract step: ``migtui phase run`` runs it later, not this deploy
                    _dry_hold("public.orders_new", "AccessExclusiveLock", ["reads", "writes", "ddl"], 1, 3.0),
                ],
            },
            "r2": {"path": str(files["r2"]), "reached": True, "error": None, "statements": [], "lock_holds": []},
        },
        digests={rev: file_digest(str(files[rev])) for rev in ("r1", "r2")},
        finished=time.time(),
        rates="measured",
    )
    files["r2"].write_text("# r2, edited after the dry-run\n")
    holds = plan_holds(["r1", "r2", "r3"], lint, dry)
    by_rev = {h.revision: h for h in holds.holds}
    assert [h.revision for h in holds.holds] == ["r1", "r2", "r3"]
    assert by_rev["r1"].estimated and by_rev["r1"].hold["estimated_seconds"] == 12.5
    # r2 changed since the dry-run, r3 was not in it: the static holds (ADD COLUMN's lock through the UPDATE)
    assert not by_rev["r2"].estimated and not by_rev["r3"].estimated
    assert by_rev["r2"].hold["through"] == 2 and by_rev["r2"].hold["taken_by"]["line"] == 16
    assert holds.static_why == {
        "r2": "its file changed since the session's dry-run",
        "r3": "the session's dry-run did not include it",
    }
    lines = [line for line, _ in on_screen(holds, 3)]
    assert lines == [
        "Lock holds · some without an estimate: run the dry-run (d) again",
        "  r1  ~12.5s  AccessExclusiveLock on orders: reads and writes wait",
        "  … and 2 more in the list above (scroll)",
    ]
    assert on_screen(holds, 3)[1][1] is True  # urgent: reads wait


def test_no_dry_run_and_no_lint():
    holds = plan_holds(["r1"], None, None)
    assert holds.holds == [] and holds.unknown == ["r1"]
    assert on_screen(holds, 4) == []
