"""Transaction-long lock holds (pure, no database): a lock lasts until its transaction ends, so slow work after
a statement that took a read- or write-blocking lock is reported, across every kind of transaction boundary."""

from __future__ import annotations

from pathlib import Path

import pytest

from migtui.analysis import CatalogFacts, analyze_sql
from migtui.analysis.approvals import apply_approvals, parse_approvals
from migtui.analysis.holds import key_columns, narrow_predicate
from migtui.analysis.parse import parse_sql
from migtui.config import Settings
from migtui.lint.job import LintOptions, run_lint
from tests.alembic_projects import Rev, make_project

HELD = "slow-statement-while-lock-held"
LT = "SET lock_timeout = '2s';\n"
ISSUE_SQL = (
    "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\nUPDATE orders SET note = 'n/a' WHERE note IS NULL;\nCOMMIT;\n"
)


def _held(sql: str, **kw) -> list:
    return [f for st in analyze_sql(sql, **kw) for f in st.findings if f.rule == HELD]


def _statement(sql: str, needle: str, **kw):
    return next(st for st in analyze_sql(sql, **kw) if needle in st.sql)


def test_issue_example_update_names_the_held_lock_and_scans():
    update = _statement(ISSUE_SQL, "UPDATE")
    [finding] = [f for f in update.findings if f.rule == HELD]
    assert finding.severity == "error"
    assert finding.message == (
        "UPDATE orders runs while AccessExclusiveLock on public.orders, taken at line 2, is held: "
        "every read and write of orders waits for it"
    )
    assert "COMMIT before the backfill" in finding.hint
    assert update.scans == ["public.orders"]
    assert "unbatched-update" in {f.rule for f in update.findings}
    # the ALTER's lock is not brief: it lasts through the UPDATE
    alter = _statement(LT + ISSUE_SQL, "ALTER")
    [blocking] = [f for f in alter.findings if f.rule == "blocking-lock"]
    assert blocking.severity == "warning" and "held until the transaction ends, through UPDATE orders" in (
        blocking.message
    )


def test_brief_only_when_the_whole_hold_is_brief():
    alter = _statement(LT + "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\nSELECT 1;\nCOMMIT;", "ALTER")
    [blocking] = [f for f in alter.findings if f.rule == "blocking-lock"]
    assert blocking.severity == "info" and "(brief)" in blocking.message


@pytest.mark.parametrize(
    "sql",
    [
        # the backfill in its own transaction
        "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\nCOMMIT;\n"
        "BEGIN;\nUPDATE orders SET note = 'n/a' WHERE note IS NULL;\nCOMMIT;",
        # a rolled-back transaction releases its locks too
        "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\nROLLBACK;\nUPDATE orders SET note = 'n/a';",
        # a batched backfill: each batch bounded by a key range
        "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\n"
        "UPDATE orders SET note = 'n/a' WHERE id BETWEEN 1 AND 1000;\nCOMMIT;",
        "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\n"
        "UPDATE orders SET note = 'n/a' WHERE id >= 1 AND id < 1000 AND note IS NULL;\nCOMMIT;",
        "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\n"
        "UPDATE orders SET note = 'n/a' WHERE id IN (SELECT id FROM orders WHERE note IS NULL LIMIT 1000);\nCOMMIT;",
        # no BEGIN: every statement of a raw file commits on its own
        "ALTER TABLE orders ADD COLUMN note text;\nUPDATE orders SET note = 'n/a' WHERE note IS NULL;",
        # CONCURRENTLY runs outside any transaction
        "ALTER TABLE orders ADD COLUMN note text;\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_note ON orders (note);",
        # slow work only on a table created in the same transaction
        "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\nCREATE TABLE t (id bigint, n int);\n"
        "CREATE INDEX t_n ON t (n);\nUPDATE t SET n = 0;\nCOMMIT;",
        # the slow statement takes the same lock again: it blocks the same sessions for its work anyway
        "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\nALTER TABLE orders ALTER COLUMN n TYPE bigint;\nCOMMIT;",
        # a lock that blocks neither reads nor writes (ShareUpdateExclusiveLock) is not a hold that matters
        "BEGIN;\nALTER TABLE orders VALIDATE CONSTRAINT c;\nUPDATE orders SET n = 0 WHERE n IS NULL;\nCOMMIT;",
    ],
)
def test_safe_twins_get_no_hold_finding(sql):
    assert _held(sql) == []


@pytest.mark.parametrize(
    ("sql", "work", "lock", "severity"),
    [
        (
            "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\nCREATE INDEX orders_note ON orders (note);\nCOMMIT;",
            "CREATE INDEX on orders",
            "AccessExclusiveLock on public.orders, taken at line 2",
            "error",
        ),
        (
            "BEGIN;\nALTER TABLE orders ADD CONSTRAINT c CHECK (n > 0) NOT VALID;\n"
            "ALTER TABLE orders VALIDATE CONSTRAINT c;\nCOMMIT;",
            "VALIDATE CONSTRAINT c on orders",
            "on public.orders, taken at line 2",
            "error",
        ),
        (  # a write-blocking lock (ShareLock of CREATE INDEX) held through a backfill: reads go on
            "BEGIN;\nCREATE INDEX orders_n ON orders (n);\nDELETE FROM orders WHERE created_at < now();\nCOMMIT;",
            "DELETE FROM orders",
            "ShareLock on public.orders, taken at line 2",
            "warning",
        ),
        (  # a rewrite after a lock on another relation
            "BEGIN;\nDROP VIEW order_totals;\nALTER TABLE orders ALTER COLUMN n TYPE bigint;\nCOMMIT;",
            "on orders",
            "AccessExclusiveLock on public.order_totals, taken at line 2",
            "error",
        ),
        (  # INSERT ... SELECT copies a table while the lock is held
            "BEGIN;\nLOCK TABLE orders IN EXCLUSIVE MODE;\nINSERT INTO archive SELECT * FROM orders;\nCOMMIT;",
            "INSERT INTO archive",
            "ExclusiveLock on public.orders, taken at line 2",
            "warning",
        ),
    ],
)
def test_slow_work_under_a_held_lock(sql, work, lock, severity):
    [finding] = _held(sql)
    assert work in finding.message.split(" runs while ")[0] and lock in finding.message, finding.message
    assert finding.severity == severity


def test_a_transaction_opened_by_the_caller_holds_across_statements():
    """``in_transaction`` (alembic's transactional DDL): no BEGIN in the text, one transaction all the same."""
    sql = "ALTER TABLE orders ADD COLUMN note text;\nUPDATE orders SET note = 'x';"
    assert _held(sql) == []
    assert len(_held(sql, in_transaction=True)) == 1


def test_a_small_table_from_the_catalog_is_brief():
    facts = CatalogFacts(pg_version=16)
    facts.tables.add("public.orders")
    facts.estimated_rows["public.orders"] = 120
    sql = "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\nUPDATE orders SET note = 'x' WHERE note IS NULL;\nCOMMIT;"
    assert _held(sql, facts=facts) == []
    facts.estimated_rows["public.orders"] = 431_292
    assert len(_held(sql, facts=facts)) == 1


def test_refresh_materialized_view_concurrently_is_at_most_info():
    for prefix in ("", LT):
        for sql in ("REFRESH MATERIALIZED VIEW CONCURRENTLY order_stats", "BEGIN; SELECT 1; COMMIT;"):
            findings = [f for st in analyze_sql(prefix + sql) for f in st.findings]
            assert all(f.severity == "info" for f in findings), [(f.rule, f.severity) for f in findings]


@pytest.mark.parametrize(
    ("where", "narrow"),
    [
        ("id = 5", True),
        ("5 = id", True),
        ("account_id = 7", True),
        ("id IN (1, 2, 3)", True),
        ("o.id = ANY(ARRAY[1, 2])", True),
        ("id BETWEEN 1 AND 1000 AND note IS NULL", True),
        ("id >= 1000 AND id < 2000", True),
        ("ctid IN (SELECT ctid FROM orders WHERE note IS NULL LIMIT 500)", True),
        ("note IS NULL", False),
        ("status = 'shipped'", False),
        ("id > 1000", False),
        ("id = other_id", False),
        ("id = 1 OR note IS NULL", False),
        ("created_at >= now() - interval '1 year' AND created_at < now()", False),
        ("id IN (SELECT order_id FROM refunds)", False),
    ],
)
def test_narrow_key_predicate(where, narrow):
    [stmt] = parse_sql(f"UPDATE orders o SET note = 'x' WHERE {where}")
    assert narrow_predicate(stmt.node["whereClause"], key_columns("public.orders", None)) is narrow


def test_catalog_unique_columns_are_keys():
    from migtui.analysis import ConstraintFact

    facts = CatalogFacts(pg_version=16)
    facts.constraints["public.users"] = [
        ConstraintFact("users_email_key", "public.users", "u", definition="UNIQUE (email)")
    ]
    [stmt] = parse_sql("DELETE FROM users WHERE email = 'a@b.c'")
    assert narrow_predicate(stmt.node["whereClause"], key_columns("public.users", facts))
    assert not narrow_predicate(stmt.node["whereClause"], key_columns("public.users", None))


def test_retired_rule_ids_still_suppress():
    text = (
        '-- migtui: ignore=slow-statement-after-exclusive-lock reason="maintenance window"\n'
        '-- migtui: ignore=validate-in-same-transaction reason="tiny table"\n' + ISSUE_SQL
    )
    approvals, problems = parse_approvals(text)
    assert problems == [] and {a.rule for a in approvals} == {HELD}
    kept, ignored = apply_approvals(_statement(ISSUE_SQL, "UPDATE").findings, approvals)
    assert ignored == 1 and HELD not in {f.rule for f in kept}


# --- alembic's boundaries ------------------------------------------------------------------------------

ORDERS = "op.create_table('orders', sa.Column('id', sa.BigInteger, primary_key=True), sa.Column('n', sa.Integer))"
ADD = "op.add_column('orders', sa.Column('note', sa.Text()))"
BACKFILL = "op.execute(\"UPDATE orders SET note = 'n/a' WHERE note IS NULL\")"


def _lint_project(root: Path, revisions: list[Rev], per_migration: bool | None = None) -> dict:
    project = make_project(root, revisions)
    if per_migration is not None:
        env = project / "env.py"
        text = env.read_text()
        text = text.replace(
            "target_metadata=target_metadata,",
            f"target_metadata=target_metadata, transaction_per_migration={per_migration},",
        )
        env.write_text(text)
    report = run_lint(Settings(), LintOptions(paths=[str(project)]))
    return {f.revision: f for f in report.files}


def _held_in(file) -> list:
    return [f for st in file.statements for f in st.findings if f.rule == HELD]


def test_alembic_revision_transaction(tmp_path):
    files = _lint_project(tmp_path, [Rev("r0", ORDERS), Rev("r1", f"{ADD}\n{BACKFILL}")])
    [finding] = _held_in(files["r1"])
    assert "UPDATE orders runs while AccessExclusiveLock on public.orders, taken at line" in finding.message
    assert "autocommit_block" in finding.hint


def test_alembic_autocommit_block_ends_the_transaction(tmp_path):
    body = f"{ADD}\nwith op.get_context().autocommit_block():\n    {BACKFILL}"
    files = _lint_project(tmp_path, [Rev("r0", ORDERS), Rev("r1", body)])
    assert _held_in(files["r1"]) == []


def test_alembic_one_transaction_for_every_revision(tmp_path):
    """Stock env.py (no transaction_per_migration): r1's lock is still held while r2 backfills."""
    revisions = [Rev("r0", ORDERS), Rev("r1", ADD), Rev("r2", BACKFILL)]
    files = _lint_project(tmp_path / "one", revisions)
    [finding] = _held_in(files["r2"])
    assert "of revision r1, is held" in finding.message and "alembic upgrade" in finding.message
    assert finding.severity == "warning" and "transaction_per_migration" in finding.hint
    files = _lint_project(tmp_path / "per", revisions, per_migration=True)
    assert _held_in(files["r2"]) == []
