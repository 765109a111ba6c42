"""dry-run's lock holds from statement reports (pure: no database) and the per-kind estimates."""

from __future__ import annotations

from migtui.dryrun.holds import default_rates, hold_line, lock_holds, needed_rates, statement_seconds
from migtui.dryrun.shadow import ShadowStatement
from migtui.dryrun.stats import TableStats


def _st(index, sql, locks, transactional=True, forms=(), rows=None, rewrite=False, scan=False):
    return {
        "index": index,
        "line": 10 + index,
        "sql": sql,
        "statement": sql.split()[0] + (" " + sql.split()[1] if sql.split()[0] in ("ALTER", "CREATE") else ""),
        "transactional": transactional,
        "forms": list(forms),
        "locks": [],
        "observed_locks": [
            {"relation": rel, "kind": kind, "mode": mode, "created": created} for rel, kind, mode, created in locks
        ]
        if transactional
        else None,
        "rows": rows,
        "rewrite": rewrite,
        "scan": scan,
        "error": None,
    }


ADD = _st(0, "ALTER TABLE orders ADD COLUMN note text", [("orders", "table", "AccessExclusiveLock", False)])
UPDATE = _st(1, "UPDATE orders SET note = 'x'", [("orders", "table", "RowExclusiveLock", False)], forms=["update"])


def test_a_lock_is_held_through_every_later_statement_to_the_commit():
    [hold] = lock_holds([ADD, UPDATE], [0.01, 6.0])
    assert hold["relation"] == "public.orders" and hold["mode"] == "AccessExclusiveLock"
    assert hold["blocks"] == ["reads", "writes", "ddl"]
    assert hold["taken_by"]["index"] == 0 and hold["taken_by"]["line"] == 10
    assert hold["released_by"]["statement"] == "COMMIT" and hold["through"] == 2
    assert hold["estimated_seconds"] == 6.01 and hold["estimate_complete"] is True
    line = hold_line(hold)
    assert line.startswith("AccessExclusiveLock on public.orders blocks reads, writes, ddl: taken by ALTER TABLE")
    assert "through 2 statements: ~6.0s" in line


def test_autocommit_block_commits_first():
    backfill = dict(UPDATE, transactional=False, observed_locks=None, locks=[])
    [hold] = lock_holds([ADD, backfill], [0.01, 6.0])
    assert hold["through"] == 1 and hold["estimated_seconds"] == 0.01
    assert hold["released_by"]["why"] == "autocommit_block() commits first"


def test_a_statement_outside_a_transaction_holds_its_own_locks_only_while_it_runs():
    cic = _st(0, "CREATE INDEX CONCURRENTLY i ON orders (n)", [], transactional=False)
    cic["locks"] = [{"relation": "public.orders", "mode": "ShareUpdateExclusiveLock", "blocks": ["ddl"]}]
    vacuum_full = _st(1, "VACUUM FULL orders", [], transactional=False)
    vacuum_full["locks"] = [{"relation": "public.orders", "mode": "AccessExclusiveLock", "blocks": ["reads"]}]
    [hold] = lock_holds([cic, vacuum_full], [3.0, 2.0])  # SHARE UPDATE EXCLUSIVE blocks neither reads nor writes
    assert hold["mode"] == "AccessExclusiveLock" and hold["estimated_seconds"] == 2.0
    assert hold["released_by"]["statement"] == "end of statement"


def test_a_stronger_mode_is_a_hold_of_its_own_and_created_relations_are_skipped():
    index = _st(0, "CREATE INDEX i ON orders (n)", [("orders", "table", "ShareLock", False)])
    new = _st(1, "CREATE TABLE t (id int)", [("t", "table", "AccessExclusiveLock", True)])
    alter = _st(2, "ALTER TABLE orders ALTER n TYPE bigint", [("orders", "table", "AccessExclusiveLock", False)])
    again = _st(3, "CREATE INDEX j ON orders (n)", [("orders", "table", "ShareLock", False)])
    holds = lock_holds([index, new, alter, again], [1.0, 0.0, 2.0, None])
    assert [(h["mode"], h["through"]) for h in holds] == [("ShareLock", 4), ("AccessExclusiveLock", 2)]
    assert holds[0]["estimated_seconds"] == 3.0 and holds[0]["estimate_complete"] is False


def test_estimates_per_kind():
    rates = default_rates()
    stats = TableStats(
        "orders", heap_bytes=600 * 2**20, index_bytes=200 * 2**20, live_rows_estimate=3_000_000, kind="r"
    )
    update = {"forms": ["update"], "rows": {"count": 300_000}}
    assert statement_seconds(update, stats, rates) == 300_000 / rates.update_rows_s
    rewrite = {"forms": ["alter-column-type"], "rewrite": True}
    assert statement_seconds(rewrite, stats, rates) == 800 / rates.rewrite_mb_s
    index = {"forms": ["create-index"], "scan": True}
    assert statement_seconds(index, stats, rates) == 600 / rates.index_mb_s
    fk = {"forms": ["add-foreign-key"], "scan": True}
    assert statement_seconds(fk, stats, rates) == 3_000_000 / rates.fk_rows_s
    assert statement_seconds({"forms": ["add-column"]}, stats, rates) == 0.0
    assert statement_seconds({"forms": ["update"], "rows": None}, stats, rates) is None


def test_only_the_work_the_revisions_do_is_calibrated():
    def shadow(sql, rewritten=(), scanned=()):
        return ShadowStatement("r", 0, sql, True, rewritten=list(rewritten), scanned=list(scanned))

    assert needed_rates([shadow("ALTER TABLE orders ADD COLUMN note text")]) == set()
    assert needed_rates(
        [
            shadow("UPDATE orders SET note = 'x'"),
            shadow("ALTER TABLE orders ALTER COLUMN n TYPE bigint", rewritten=["orders"], scanned=["orders"]),
            shadow("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES accounts (id)"),
        ]
    ) == {"update_rows_s", "rewrite_mb_s", "check_rows_s", "fk_rows_s"}
