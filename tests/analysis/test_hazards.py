"""Statement-level hazards (issue 19): each form with its unsafe statement and its safe twin (pure, no database)."""

from __future__ import annotations

import pytest
from pglast.parser import parse_sql_json

from migtui.analysis import analyze_sql
from migtui.analysis.analyze import Analyzer, StatementInput
from migtui.analysis.classify import expression_volatility, option_enabled
from migtui.analysis.parse import parse_sql

LT = "SET lock_timeout = '2s';\n"


def _findings(sql: str, **options):
    return [f for st in analyze_sql(sql, **options) for f in st.findings]


def _rules(sql: str, **options) -> set[str]:
    return {f.rule for f in _findings(sql, **options)}


def _one(sql: str, rule: str, **options):
    found = [f for f in _findings(sql, **options) if f.rule == rule]
    assert len(found) == 1, (sql, [(f.rule, f.message) for f in _findings(sql, **options)])
    return found[0]


# --- inline constraints of ADD COLUMN ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql, rule, form, words",
    [
        ("ALTER TABLE orders ADD COLUMN code text UNIQUE", "unique-constraint-builds-index", "add-unique", "UNIQUE"),
        (
            "ALTER TABLE orders ADD COLUMN code text CONSTRAINT orders_code_key UNIQUE",
            "unique-constraint-builds-index",
            "add-unique",
            "UNIQUE",
        ),
        (
            "ALTER TABLE orders ADD COLUMN k bigint DEFAULT 0 PRIMARY KEY",
            "unique-constraint-builds-index",
            "add-primary-key",
            "PRIMARY KEY",
        ),
        ("ALTER TABLE orders ADD COLUMN qty int CHECK (qty > 0)", "constraint-missing-not-valid", "add-check", "CHECK"),
        (
            "ALTER TABLE orders ADD COLUMN customer_id bigint DEFAULT 1 REFERENCES customers (id)",
            "constraint-missing-not-valid",
            "add-foreign-key",
            "REFERENCES and a DEFAULT",
        ),
    ],
)
def test_inline_constraint_of_add_column_is_seen(sql, rule, form, words):
    [st] = analyze_sql(LT + sql)[1:]
    assert form in st.forms and "public.orders" in st.scans
    assert st.lock_on("public.orders") == "AccessExclusiveLock"
    finding = _one(LT + sql, rule)
    assert finding.severity == "error" and words in finding.message and "AccessExclusiveLock" in finding.message


def test_inline_unique_recipe_is_the_concurrent_index():
    finding = _one(LT + "ALTER TABLE orders ADD COLUMN code text UNIQUE", "unique-constraint-builds-index")
    assert "CREATE UNIQUE INDEX CONCURRENTLY" in finding.message and "USING INDEX" in finding.hint


@pytest.mark.parametrize(
    "sql",
    [
        # the safe recipe: add the column, build the index concurrently, attach it
        "ALTER TABLE orders ADD COLUMN code text;\n"
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS orders_code_key ON orders (code);\n"
        "ALTER TABLE orders ADD CONSTRAINT orders_code_key UNIQUE USING INDEX orders_code_key;",
        # CHECK: the column first, the constraint NOT VALID, validated later
        "ALTER TABLE orders ADD COLUMN qty int;\n"
        "ALTER TABLE orders ADD CONSTRAINT orders_qty_pos CHECK (qty > 0) NOT VALID;",
        # REFERENCES without a default: every value is NULL, nothing to check (measured: no scan)
        "ALTER TABLE orders ADD COLUMN customer_id bigint REFERENCES customers (id)",
        # a table created in the same file: nobody else sees it yet
        "CREATE TABLE t (id bigint);\nALTER TABLE t ADD COLUMN code text UNIQUE CHECK (code <> '');",
    ],
)
def test_inline_constraint_safe_twins(sql):
    rules = _rules(LT + sql)
    assert not rules & {"unique-constraint-builds-index", "constraint-missing-not-valid"}, rules


def test_inline_references_without_default_scans_nothing():
    [st] = analyze_sql("ALTER TABLE orders ADD COLUMN customer_id bigint REFERENCES customers (id)")
    assert st.forms == ["add-column"] and st.scans == []
    assert st.lock_on("public.customers") == "ShareRowExclusiveLock"


# --- boolean options read by value --------------------------------------------------------------------------


def _options(sql: str, key: str):
    import json

    [stmt] = json.loads(parse_sql_json(sql))["stmts"]
    [node] = stmt["stmt"].values()
    return node.get(key)


@pytest.mark.parametrize(
    "sql, key, name, value",
    [
        ("REINDEX (CONCURRENTLY false) INDEX i", "params", "concurrently", False),
        ("REINDEX (CONCURRENTLY) INDEX i", "params", "concurrently", True),
        ("REINDEX (CONCURRENTLY on) INDEX i", "params", "concurrently", True),
        ("REINDEX (VERBOSE) INDEX i", "params", "concurrently", None),
        ("VACUUM (FULL FALSE) t", "options", "full", False),
        ("VACUUM (FULL 0) t", "options", "full", False),
        ("VACUUM (FULL 1) t", "options", "full", True),
        ("VACUUM (FULL, FULL off) t", "options", "full", False),
        ("VACUUM FULL t", "options", "full", True),
        ("CLUSTER (VERBOSE off) t", "params", "verbose", False),
        ("ANALYZE (VERBOSE true) t", "options", "verbose", True),
        ("EXPLAIN (ANALYZE false) SELECT 1", "options", "analyze", False),
    ],
)
def test_option_enabled_reads_the_value(sql, key, name, value):
    assert option_enabled(_options(sql, key), name) is value


@pytest.mark.parametrize(
    "unsafe, safe, form, rule",
    [
        (
            "REINDEX (CONCURRENTLY false) INDEX orders_n_idx",
            "REINDEX (CONCURRENTLY true) INDEX orders_n_idx",
            "reindex",
            "reindex-non-concurrently",
        ),
        ("VACUUM (FULL true) orders", "VACUUM (FULL false) orders", "vacuum-full", "vacuum-full"),
        ("VACUUM (FULL) orders", "VACUUM (FULL 0, VERBOSE) orders", "vacuum-full", "vacuum-full"),
        (
            "EXPLAIN (ANALYZE) UPDATE orders SET n = 0",  # EXPLAIN ANALYZE runs the UPDATE
            "EXPLAIN (ANALYZE false) UPDATE orders SET n = 0",
            "update-all-rows",
            "unbatched-update",
        ),
    ],
)
def test_boolean_options_decide_the_form(unsafe, safe, form, rule):
    [st] = analyze_sql(unsafe)
    assert form in st.forms and rule in {f.rule for f in st.findings}
    [st] = analyze_sql(safe)
    assert form not in st.forms and rule not in {f.rule for f in st.findings}


def test_reindex_concurrently_false_locks_like_plain_reindex():
    [st] = analyze_sql("REINDEX (CONCURRENTLY false) INDEX orders_n_idx")
    assert st.forms == ["reindex"] and st.lock_on("public.orders_n_idx") == "AccessExclusiveLock"
    assert st.transactional is False and "concurrently-in-transaction" not in {f.rule for f in st.findings}
    [st] = analyze_sql("BEGIN; REINDEX (CONCURRENTLY false) INDEX orders_n_idx; COMMIT;")[1:2]
    assert "concurrently-in-transaction" not in {f.rule for f in st.findings}


# --- REINDEX of system catalogs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql", ["REINDEX SYSTEM", "REINDEX SCHEMA pg_catalog", "REINDEX TABLE pg_catalog.pg_class", "REINDEX SYSTEM app"]
)
def test_reindex_system_gets_no_concurrently_advice(sql):
    findings = _findings(sql)
    rules = {f.rule for f in findings}
    assert "reindex-system" in rules and "reindex-non-concurrently" not in rules
    assert not any("CONCURRENTLY" in f.hint for f in findings), [(f.rule, f.hint) for f in findings]


def test_reindex_system_concurrently_fails():
    finding = _one("REINDEX TABLE CONCURRENTLY pg_catalog.pg_class", "reindex-system")
    assert finding.severity == "error" and "fails" in finding.message


@pytest.mark.parametrize("sql", ["REINDEX TABLE CONCURRENTLY orders", "REINDEX DATABASE CONCURRENTLY shop"])
def test_reindex_of_user_tables_is_not_system(sql):
    assert "reindex-system" not in _rules(sql)


# --- statement_timeout ------------------------------------------------------------------------------------------

REWRITE = "ALTER TABLE orders ALTER COLUMN n TYPE bigint"


@pytest.mark.parametrize(
    "prefix, version, expected",
    [
        ("", 16, True),
        ("SET statement_timeout = '5min';\n", 16, False),
        ("SET LOCAL statement_timeout = 300000;\n", 16, False),
        ("SET statement_timeout = 0;\n", 16, True),  # 0 turns it off
        ("SET statement_timeout = '5min';\nRESET statement_timeout;\n", 16, True),
        ("SET transaction_timeout = '5min';\n", 17, False),  # PostgreSQL >= 17 bounds the transaction
        ("SET transaction_timeout = '5min';\n", 16, True),  # before 17 the setting does not exist
    ],
)
def test_statement_timeout_rule(prefix, version, expected):
    assert ("statement-timeout-missing" in _rules(LT + prefix + REWRITE, pg_version=version)) is expected


def test_transaction_timeout_before_17_is_unsupported():
    finding = _one("SET transaction_timeout = '5min'", "unsupported-by-version", pg_version=16)
    assert "17" in finding.message
    assert "unsupported-by-version" not in _rules("SET transaction_timeout = '5min'", pg_version=17)


def test_statement_timeout_once_per_file_and_only_for_slow_strong_locks():
    sql = LT + REWRITE + ";\n" + REWRITE.replace("n TYPE", "id TYPE") + ";"
    assert [f.rule for f in _findings(sql)].count("statement-timeout-missing") == 1
    # brief lock, or a slow statement holding nothing that blocks writes: nothing to bound
    assert "statement-timeout-missing" not in _rules(LT + "ALTER TABLE orders ADD COLUMN note text")
    assert "statement-timeout-missing" not in _rules(LT + "CREATE INDEX CONCURRENTLY i ON orders (n)")
    # a slow statement while a strong lock taken earlier in the transaction is held
    held = LT + "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\nUPDATE orders SET n = 0;\nCOMMIT;"
    finding = _one(held, "statement-timeout-missing")
    assert "public.orders" in finding.message and finding.line == 4


def test_statement_timeout_set_by_the_runner():
    """An alembic revision run by migtui's runner is cancelled after --timeout (lint passes it in)."""
    analyzer = Analyzer(16, alembic=True, in_transaction=True, lock_timeout_set=True, statement_timeout_set=True)
    results = analyzer.analyze(parse_sql(REWRITE))
    assert "statement-timeout-missing" not in {f.rule for st in results for f in st.findings}


# --- COMMIT / ROLLBACK inside a migration ------------------------------------------------------------------------


def test_rollback_after_begin_is_an_error():
    finding = _one("BEGIN;\nUPDATE orders SET n = 1 WHERE id = 1;\nROLLBACK;", "rollback-in-migration")
    assert finding.severity == "error" and finding.line == 3 and "line 1" in finding.message


@pytest.mark.parametrize(
    "sql",
    [
        "BEGIN;\nUPDATE orders SET n = 1 WHERE id = 1;\nCOMMIT;",
        "BEGIN;\nSAVEPOINT s;\nUPDATE orders SET n = 1 WHERE id = 1;\nROLLBACK TO SAVEPOINT s;\nCOMMIT;",
        "UPDATE orders SET n = 1 WHERE id = 1;\nCOMMIT;",  # no transaction open: a no-op with a warning
        "BEGIN;\nUPDATE orders SET n = 1 WHERE id = 1;\nEND;",
    ],
)
def test_transaction_control_safe_twins(sql):
    assert not _rules(sql) & {"rollback-in-migration", "commit-in-migration"}


def test_commit_in_a_file_run_in_a_transaction():
    sql = "UPDATE orders SET n = 1 WHERE id = 1;\nCOMMIT;\nUPDATE orders SET n = 2 WHERE id = 2;"
    finding = _one(sql, "commit-in-migration", in_transaction=True)
    assert finding.severity == "warning" and finding.line == 2
    assert "rollback-in-migration" in _rules("ROLLBACK;", in_transaction=True)


def _revision(sql: str) -> set[str]:
    """One alembic revision: alembic's own BEGIN is outside the statements (the lint job handles it)."""
    analyzer = Analyzer(16, alembic=True, in_transaction=True, lock_timeout_set=True, statement_timeout_set=True)
    return {f.rule for st in analyzer.analyze(StatementInput(p) for p in parse_sql(sql)) for f in st.findings}


def test_commit_and_rollback_in_an_alembic_revision():
    assert "commit-in-migration" in _revision("UPDATE orders SET n = 1 WHERE id = 1; COMMIT;")
    assert "rollback-in-migration" in _revision("UPDATE orders SET n = 1 WHERE id = 1; ROLLBACK;")
    assert not _revision("UPDATE orders SET n = 1 WHERE id = 1;") & {"commit-in-migration", "rollback-in-migration"}


# --- re-run safety outside a transaction -------------------------------------------------------------------------


LATER = ";\nUPDATE orders SET n = 1 WHERE id = 7;"


@pytest.mark.parametrize(
    "unsafe, safe",
    [
        ("CREATE TABLE t (id bigint)", "CREATE TABLE IF NOT EXISTS t (id bigint)"),
        ("ALTER TABLE orders ADD COLUMN note text", "ALTER TABLE orders ADD COLUMN IF NOT EXISTS note text"),
        ("CREATE INDEX orders_n_idx ON orders (n)", "CREATE INDEX IF NOT EXISTS orders_n_idx ON orders (n)"),
        (
            "CREATE INDEX CONCURRENTLY orders_n_idx ON orders (n)",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_n_idx ON orders (n)",
        ),
        ("DROP TABLE old_orders", "DROP TABLE IF EXISTS old_orders"),
        ("DROP INDEX orders_n_idx", "DROP INDEX IF EXISTS orders_n_idx"),
        ("DROP INDEX CONCURRENTLY orders_n_idx", "DROP INDEX CONCURRENTLY IF EXISTS orders_n_idx"),
        ("ALTER TABLE orders DROP COLUMN note", "ALTER TABLE orders DROP COLUMN IF EXISTS note"),
        ("DROP VIEW v", "DROP VIEW IF EXISTS v"),
        ("DROP SEQUENCE s", "DROP SEQUENCE IF EXISTS s"),
        ("DROP TYPE mood", "DROP TYPE IF EXISTS mood"),
        ("DROP TRIGGER trg ON orders", "DROP TRIGGER IF EXISTS trg ON orders"),
        ("DROP SCHEMA archive", "DROP SCHEMA IF EXISTS archive"),
    ],
)
def test_rerun_safety_outside_a_transaction(unsafe, safe):
    finding = _one(LT + unsafe + LATER, "prefer-robust-statements")
    assert "re-run" in finding.message and "EXISTS" in finding.message and finding.line == 2
    assert "prefer-robust-statements" not in _rules(LT + safe + LATER)
    if "CONCURRENTLY" not in unsafe:
        # inside a transaction a failure rolls everything back: the re-run starts from scratch
        assert "prefer-robust-statements" not in _rules(LT + "BEGIN;\n" + unsafe + ";" + LATER + "\nCOMMIT;")
        # the last statement: nothing after it can fail, and it is atomic on its own
        assert "prefer-robust-statements" not in _rules(LT + unsafe)
    else:  # a CONCURRENTLY build that fails halfway leaves an INVALID index: its own re-run fails
        assert "prefer-robust-statements" in _rules(LT + unsafe)


def test_rerun_safety_in_an_autocommit_block():
    analyzer = Analyzer(16, alembic=True, lock_timeout_set=True, statement_timeout_set=True)
    sql = "CREATE TABLE t (id bigint)" + LATER
    outside = analyzer.analyze([StatementInput(p, transactional=False) for p in parse_sql(sql)])
    assert "prefer-robust-statements" in {f.rule for st in outside for f in st.findings}
    inside = Analyzer(16, alembic=True).analyze([StatementInput(p, transactional=True) for p in parse_sql(sql)])
    assert "prefer-robust-statements" not in {f.rule for st in inside for f in st.findings}


def test_rename_trigger_is_not_a_drop_for_rerun_safety():
    assert "prefer-robust-statements" not in _rules(LT + "ALTER TRIGGER trg ON orders RENAME TO trg2")


# --- type advice for ALTER COLUMN ... TYPE, and defaults ---------------------------------------------------------


@pytest.mark.parametrize(
    "unsafe, safe, rule",
    [
        (
            "ALTER TABLE orders ALTER COLUMN v TYPE varchar(40)",
            "ALTER TABLE orders ALTER COLUMN v TYPE text",
            "prefer-text-field",
        ),
        (
            "ALTER TABLE orders ALTER COLUMN at TYPE timestamp",
            "ALTER TABLE orders ALTER COLUMN at TYPE timestamptz",
            "prefer-timestamptz",
        ),
        (
            "ALTER TABLE orders ALTER COLUMN at TYPE timestamp(3) without time zone",
            "ALTER TABLE orders ALTER COLUMN at TYPE timestamp(3) with time zone",
            "prefer-timestamptz",
        ),
        (
            "ALTER TABLE orders ALTER COLUMN ats TYPE timestamp[]",
            "ALTER TABLE orders ALTER COLUMN ats TYPE timestamptz[]",
            "prefer-timestamptz",
        ),
        ("CREATE TABLE t (ats timestamp[])", "CREATE TABLE t (ats timestamptz[])", "prefer-timestamptz"),
        (
            "ALTER TABLE orders ADD COLUMN ats timestamp[]",
            "ALTER TABLE orders ADD COLUMN ats timestamptz[]",
            "prefer-timestamptz",
        ),
        (
            "ALTER TABLE orders ALTER COLUMN doc TYPE json",
            "ALTER TABLE orders ALTER COLUMN doc TYPE jsonb",
            "prefer-jsonb",
        ),
    ],
)
def test_type_advice_on_alter_column_type(unsafe, safe, rule):
    assert rule in _rules(LT + unsafe)
    assert rule not in _rules(LT + safe)


@pytest.mark.parametrize(
    "default, volatile",
    [
        ("now()", False),
        ("pg_catalog.now()", False),
        ("CURRENT_TIMESTAMP", False),
        ("now(123)", True),  # no such signature: another function, volatility unknown
        ("app.now()", True),  # a function of another schema
        ("date_trunc('day')", True),
        ("date_trunc('day', now())", False),
        ("lower('A', 'B')", True),
        ("random()", True),
    ],
)
def test_default_functions_are_matched_by_signature(default, volatile):
    sql = f"ALTER TABLE orders ADD COLUMN at timestamptz DEFAULT {default}"
    assert ("add-column-volatile-default" in _rules(LT + sql)) is volatile


def test_unknown_signature_is_named_with_its_arguments():
    finding = _one(LT + "ALTER TABLE orders ADD COLUMN at timestamptz DEFAULT now(123)", "add-column-volatile-default")
    assert "now(1 argument)" in finding.message and "now()" not in finding.message
    [st] = analyze_sql(LT + "ALTER TABLE orders ADD COLUMN at timestamptz DEFAULT now(123)")[1:]
    assert any("now(1 argument)" in a for a in st.assumptions)
    assert expression_volatility(None) == ([], [])


# --- the same through lint of an alembic project (rendered offline, no database) ---------------------------------


def _lint_project(root, revisions, **settings) -> set[tuple[str | None, str]]:
    from migtui.config import Settings
    from migtui.lint.job import LintOptions, run_lint
    from tests.alembic_projects import make_project

    project = make_project(root, revisions)
    report = run_lint(Settings(**settings), LintOptions(paths=[str(project)]))
    return {(file.revision, f.rule) for file in report.files for f in file.all_findings()}


def test_alembic_revision_commit_and_rollback(tmp_path):
    from tests.alembic_projects import Rev

    # a stock env.py renders every revision in one transaction: one project each, so neither ends the other's
    commit = Rev(
        "r1",
        """
        op.execute('UPDATE orders SET n = 1 WHERE id = 7')
        op.execute('COMMIT')
        op.execute('UPDATE orders SET n = 2 WHERE id = 8')
        """,
        "pass",
    )
    assert ("r1", "commit-in-migration") in _lint_project(tmp_path / "a", [commit])
    rollback = Rev("r1", "op.execute('UPDATE orders SET n = 1 WHERE id = 7')\nop.execute('ROLLBACK')", "pass")
    assert ("r1", "rollback-in-migration") in _lint_project(tmp_path / "b", [rollback])
    plain = Rev("r1", "op.execute('UPDATE orders SET n = 1 WHERE id = 7')", "pass")
    assert not {rule for _r, rule in _lint_project(tmp_path / "c", [plain])} & {
        "commit-in-migration",
        "rollback-in-migration",
    }


def test_alembic_autocommit_block_rerun_and_statement_timeout(tmp_path):
    from tests.alembic_projects import Rev

    rev = Rev(
        "r1",
        """
        with op.get_context().autocommit_block():
            op.execute('CREATE TABLE audit (id bigint)')
            op.execute('CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_n_idx ON orders (n)')
        op.execute('ALTER TABLE orders ALTER COLUMN n TYPE bigint')
        """,
        "pass",
    )
    found = _lint_project(tmp_path / "a", [rev])
    assert ("r1", "prefer-robust-statements") in found  # CREATE TABLE in autocommit_block, a statement follows
    # migtui's runner sets lock_timeout and cancels a revision after --timeout (default 30 s)
    assert not {rule for _r, rule in found} & {"statement-timeout-missing", "lock-timeout-missing"}
    found = _lint_project(tmp_path / "b", [rev], timeout=0)  # no per-revision timeout: nothing bounds the rewrite
    assert ("r1", "statement-timeout-missing") in found
