"""Every lint rule: an unsafe statement that triggers it and the safe form that does not (pure, no database)."""

from __future__ import annotations

import pytest

from migtui.analysis import CatalogFacts, ConstraintFact, analyze_sql
from migtui.analysis.rules import LINT_RULES, RULES

LT = "SET lock_timeout = '2s';\n"


def _facts(**columns: dict[str, str]) -> CatalogFacts:
    facts = CatalogFacts(pg_version=16)
    for table, cols in columns.items():
        name = f"public.{table}"
        facts.tables.add(name)
        facts.column_types[name] = dict(cols)
    return facts


def _with_check(facts: CatalogFacts, table: str, name: str, definition: str, validated: bool = True) -> CatalogFacts:
    facts.constraints.setdefault(f"public.{table}", []).append(
        ConstraintFact(name, f"public.{table}", "c", validated, None, definition)
    )
    return facts


ORDERS = {"orders": {"id": "bigint", "n": "integer", "v": "character varying(20)", "s": "text"}}

# rule id -> (unsafe SQL, safe SQL, options for analyze_sql)
CASES: dict[str, tuple[str, str, dict]] = {
    "drop-table": ("DROP TABLE orders", "CREATE TABLE t (id bigint); DROP TABLE t", {}),
    "drop-column": (
        "ALTER TABLE orders DROP COLUMN n",
        "CREATE TABLE t (a int, b int); ALTER TABLE t DROP COLUMN b",
        {},
    ),
    "drop-schema": ("DROP SCHEMA archive", "CREATE SCHEMA archive", {}),
    "drop-constraint": (
        "ALTER TABLE orders DROP CONSTRAINT orders_n_check",
        "CREATE TABLE t (a int CONSTRAINT c CHECK (a > 0)); ALTER TABLE t DROP CONSTRAINT c",
        {},
    ),
    "truncate": ("TRUNCATE orders", "DELETE FROM orders WHERE id < 100", {}),
    "truncate-cascade": ("TRUNCATE orders CASCADE", "TRUNCATE orders", {}),
    "narrowing-type-change": (
        "ALTER TABLE orders ALTER COLUMN v TYPE varchar(10)",
        "ALTER TABLE orders ALTER COLUMN v TYPE varchar(40)",
        {"facts": ORDERS},
    ),
    "ban-drop-database": ("DROP DATABASE shop", "CREATE SCHEMA shop", {}),
    "add-column-volatile-default": (
        "ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid()",
        "ALTER TABLE orders ADD COLUMN seen_at timestamptz DEFAULT now()",
        {},
    ),
    "add-column-serial": (
        "ALTER TABLE orders ADD COLUMN seq bigserial",
        "ALTER TABLE orders ADD COLUMN seq bigint",
        {},
    ),
    "add-column-identity": (
        "ALTER TABLE orders ADD COLUMN k bigint GENERATED ALWAYS AS IDENTITY",
        "CREATE TABLE t (a int); ALTER TABLE t ADD COLUMN k bigint GENERATED ALWAYS AS IDENTITY",
        {},
    ),
    "add-column-stored-generated": (
        "ALTER TABLE orders ADD COLUMN d int GENERATED ALWAYS AS (n * 2) STORED",
        "ALTER TABLE orders ADD COLUMN d int GENERATED ALWAYS AS (n * 2) VIRTUAL",
        {"pg_version": 18},
    ),
    "add-column-not-null-without-default": (
        "ALTER TABLE orders ADD COLUMN qty int NOT NULL",
        "ALTER TABLE orders ADD COLUMN qty int NOT NULL DEFAULT 0",
        {},
    ),
    "set-not-null-without-check": (
        "ALTER TABLE orders ALTER COLUMN n SET NOT NULL",
        "ALTER TABLE orders ALTER COLUMN n SET NOT NULL",
        {"safe_facts": "n_not_null_check"},
    ),
    "constraint-missing-not-valid": (
        "ALTER TABLE orders ADD CONSTRAINT orders_n_pos CHECK (n > 0)",
        "ALTER TABLE orders ADD CONSTRAINT orders_n_pos CHECK (n > 0) NOT VALID",
        {},
    ),
    "unique-constraint-builds-index": (
        "ALTER TABLE orders ADD CONSTRAINT orders_n_key UNIQUE (n)",
        "ALTER TABLE orders ADD CONSTRAINT orders_n_key UNIQUE USING INDEX orders_n_idx",
        {},
    ),
    "exclusion-constraint-builds-index": (
        "ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, span WITH &&)",
        "CREATE TABLE bookings (room int, span tstzrange);\n"
        "ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, span WITH &&)",
        {},
    ),
    "type-change-rewrites": (
        "ALTER TABLE orders ALTER COLUMN n TYPE bigint",
        "ALTER TABLE orders ALTER COLUMN v TYPE text",
        {"facts": ORDERS},
    ),
    "create-index-non-concurrently": (
        "CREATE INDEX orders_n_idx ON orders (n)",
        "CREATE INDEX CONCURRENTLY orders_n_idx ON orders (n)",
        {},
    ),
    "drop-index-non-concurrently": ("DROP INDEX orders_n_idx", "DROP INDEX CONCURRENTLY orders_n_idx", {}),
    "reindex-non-concurrently": ("REINDEX INDEX orders_n_idx", "REINDEX INDEX CONCURRENTLY orders_n_idx", {}),
    "concurrently-in-transaction": (
        "BEGIN; CREATE INDEX CONCURRENTLY orders_n_idx ON orders (n); COMMIT;",
        "CREATE INDEX CONCURRENTLY orders_n_idx ON orders (n);",
        {},
    ),
    "rename-column": (
        "ALTER TABLE orders RENAME COLUMN n TO quantity",
        "CREATE TABLE t (a int); ALTER TABLE t RENAME COLUMN a TO b",
        {},
    ),
    "rename-table": ("ALTER TABLE orders RENAME TO purchases", "CREATE TABLE t (a int); ALTER TABLE t RENAME TO u", {}),
    "vacuum-full": ("VACUUM FULL orders", "VACUUM orders", {}),
    "cluster": ("CLUSTER orders USING orders_pkey", "ANALYZE orders", {}),
    "refresh-materialized-view-blocking": (
        "REFRESH MATERIALIZED VIEW order_totals",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY order_totals",
        {},
    ),
    "detach-partition-non-concurrently": (
        "ALTER TABLE events DETACH PARTITION events_2020",
        "ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY",
        {},
    ),
    "attach-partition-without-check": (
        "ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
        "ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
        {"safe_facts": "partition_check"},
    ),
    "set-logged-unlogged": (
        "ALTER TABLE orders SET UNLOGGED",
        "CREATE TABLE t (a int); ALTER TABLE t SET UNLOGGED",
        {},
    ),
    "set-tablespace": (
        "ALTER TABLE orders SET TABLESPACE fast",
        "CREATE TABLE t (a int); ALTER TABLE t SET TABLESPACE fast",
        {},
    ),
    "set-access-method": (
        "ALTER TABLE orders SET ACCESS METHOD heap2",
        "CREATE TABLE t (a int); ALTER TABLE t SET ACCESS METHOD heap2",
        {},
    ),
    "lock-table": ("LOCK TABLE orders IN SHARE MODE", "SELECT count(*) FROM orders", {}),
    "unbatched-update": ("UPDATE orders SET n = 0", "UPDATE orders SET n = 0 WHERE id BETWEEN 1 AND 1000", {}),
    "unbatched-delete": ("DELETE FROM orders", "DELETE FROM orders WHERE id BETWEEN 1 AND 1000", {}),
    "slow-statement-while-lock-held": (
        "BEGIN; ALTER TABLE orders ADD COLUMN note text;\n"
        "ALTER TABLE customers ADD CONSTRAINT c CHECK (age > 0); COMMIT;",
        "BEGIN; ALTER TABLE orders ADD COLUMN note text; COMMIT;\n"
        "BEGIN; ALTER TABLE customers ADD CONSTRAINT c CHECK (age > 0); COMMIT;",
        {},
    ),
    "lock-timeout-missing": (
        "ALTER TABLE orders ADD COLUMN note text",
        "SET lock_timeout = '2s'; ALTER TABLE orders ADD COLUMN note text",
        {"no_prefix": True},
    ),
    "blocking-lock": (
        "ALTER TABLE orders ADD COLUMN note text",
        "CREATE INDEX CONCURRENTLY orders_n_idx ON orders (n)",
        {},
    ),
    "transaction-nesting": ("BEGIN; BEGIN; SELECT 1; COMMIT;", "BEGIN; SELECT 1; COMMIT;", {}),
    "uncommitted-transaction": ("BEGIN; SELECT 1;", "BEGIN; SELECT 1; COMMIT;", {}),
    "identifier-too-long": (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_created_at_status_shipping_country_region_idx "
        "ON orders (customer_id)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_created_status_country_region_idx "
        "ON orders (customer_id)",
        {},
    ),
    "prefer-bigint-over-int": (
        "CREATE TABLE t (id int PRIMARY KEY)",
        "CREATE TABLE t (id bigint PRIMARY KEY)",
        {},
    ),
    "prefer-text-field": ("CREATE TABLE t (name varchar(50))", "CREATE TABLE t (name text)", {}),
    "prefer-timestamptz": ("CREATE TABLE t (at timestamp)", "CREATE TABLE t (at timestamptz)", {}),
    "prefer-identity": (
        "CREATE TABLE t (id bigserial PRIMARY KEY)",
        "CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)",
        {},
    ),
    "ban-char-field": ("CREATE TABLE t (code char(3))", "CREATE TABLE t (code text)", {}),
    "prefer-jsonb": ("CREATE TABLE t (doc json)", "CREATE TABLE t (doc jsonb)", {}),
    "ban-drop-not-null": (
        "ALTER TABLE orders ALTER COLUMN n DROP NOT NULL",
        "CREATE TABLE t (a int NOT NULL); ALTER TABLE t ALTER COLUMN a DROP NOT NULL",
        {},
    ),
    "ban-create-domain-with-constraint": (
        "CREATE DOMAIN positive AS int CHECK (VALUE > 0)",
        "CREATE DOMAIN positive AS int",
        {},
    ),
    "ban-alter-domain-with-add-constraint": (
        "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0)",
        "ALTER DOMAIN positive RENAME TO plus",
        {},
    ),
    "prefer-robust-statements": (
        "CREATE INDEX CONCURRENTLY orders_n_idx ON orders (n)",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_n_idx ON orders (n)",
        {},
    ),
    "multiple-alter-table": (
        "BEGIN; ALTER TABLE orders ADD COLUMN a int; ALTER TABLE orders ADD COLUMN b int; COMMIT;",
        "BEGIN; ALTER TABLE orders ADD COLUMN a int, ADD COLUMN b int; COMMIT;",
        {},
    ),
    "creating-enum": ("CREATE TYPE mood AS ENUM ('ok', 'meh')", "CREATE TABLE t (mood text)", {}),
    "primary-key-using-index": (
        "ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_id_idx",
        "ALTER TABLE orders ADD CONSTRAINT orders_id_key UNIQUE USING INDEX orders_id_idx",
        {},
    ),
    "unsupported-by-version": (
        "ALTER TABLE orders ADD CONSTRAINT orders_n_nn NOT NULL n NOT VALID",
        "ALTER TABLE orders ADD CONSTRAINT orders_n_nn NOT NULL n NOT VALID",
        {"pg_version": 17, "safe_version": 18},
    ),
    "unanalyzable-statement": ("DO $$ BEGIN PERFORM 1; END $$", "SELECT 1", {}),
    "alter-type-add-value-in-transaction": (
        "BEGIN; ALTER TYPE mood ADD VALUE 'meh'; COMMIT;",
        "ALTER TYPE mood ADD VALUE 'meh';",
        {},
    ),
    # statement-level hazards (issue 19); every form with its twin in test_hazards.py
    "reindex-system": ("REINDEX SYSTEM", "REINDEX INDEX CONCURRENTLY orders_n_idx", {}),
    "statement-timeout-missing": (
        "ALTER TABLE orders ADD COLUMN t uuid DEFAULT gen_random_uuid()",
        "SET statement_timeout = '5min';\nALTER TABLE orders ADD COLUMN t uuid DEFAULT gen_random_uuid()",
        {},
    ),
    "commit-in-migration": (
        "UPDATE orders SET n = 1 WHERE id = 1; COMMIT;",
        "UPDATE orders SET n = 1 WHERE id = 1;",
        {"in_transaction": True},
    ),
    "rollback-in-migration": (
        "BEGIN; UPDATE orders SET n = 1 WHERE id = 1; ROLLBACK;",
        "BEGIN; UPDATE orders SET n = 1 WHERE id = 1; COMMIT;",
        {},
    ),
}

# rules about the alembic revision file / approvals: tested in test_lint_alembic.py
FILE_RULES = {
    "missing-downgrade",
    "approval-missing-reason",
    "approval-unknown-rule",
    "approval-wrong-kind",
    "approval-unused",
    "unanalyzable-revision",  # a revision rendered neither offline nor online: tests/lint/test_history.py
}


def _safe_facts(kind: str) -> CatalogFacts:
    if kind == "n_not_null_check":
        return _with_check(_facts(**ORDERS), "orders", "orders_n_nn", "CHECK ((n IS NOT NULL))")
    if kind == "partition_check":
        facts = _facts(events={"at": "timestamp with time zone"}, events_2026={"at": "timestamp with time zone"})
        return _with_check(facts, "events_2026", "bound", "CHECK (at >= '2026-01-01' AND at < '2027-01-01')")
    raise AssertionError(kind)


def _rules(sql: str, **options) -> set[str]:
    return {f.rule for st in analyze_sql(sql, **options) for f in st.findings}


def test_every_rule_has_a_case():
    assert set(CASES) | FILE_RULES == set(LINT_RULES)


def test_registry_describes_every_rule():
    """Every rule of every job has a known severity, a why and a hint (SARIF's descriptions, the docs)."""
    assert {r.job for r in RULES.values()} == {"lint", "dry-run", "drift", "rollback-test"}
    for rule in RULES.values():
        assert rule.severity in ("error", "warning", "info") and rule.why and rule.hint, rule.id


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_on_unsafe_and_not_on_safe(rule_id):
    unsafe, safe, options = CASES[rule_id]
    prefix = "" if options.get("no_prefix") else LT
    version = options.get("pg_version", 16)
    facts = _facts(**options["facts"]) if "facts" in options else None
    start = {"in_transaction": options.get("in_transaction", False)}
    assert rule_id in _rules(prefix + unsafe, pg_version=version, facts=facts, **start), f"{rule_id} missed: {unsafe}"
    safe_facts = _safe_facts(options["safe_facts"]) if "safe_facts" in options else facts
    version = options.get("safe_version", version)
    if rule_id == "blocking-lock":
        return  # checked with severities below
    safe_rules = _rules(prefix + safe, pg_version=version, facts=safe_facts, **start)
    assert rule_id not in safe_rules, f"{rule_id} false alarm: {safe}"


def test_blocking_lock_severity_depends_on_work_and_timeout():
    def severity(sql):
        [finding] = [f for st in analyze_sql(sql) for f in st.findings if f.rule == "blocking-lock"]
        return finding.severity, finding.message

    assert severity(LT + "ALTER TABLE orders ADD COLUMN note text")[0] == "info"  # brief, bounded
    sev, message = severity("ALTER TABLE orders ADD COLUMN note text")
    assert sev == "warning" and "without lock_timeout" in message
    sev, message = severity(LT + "ALTER TABLE orders ADD COLUMN t uuid DEFAULT gen_random_uuid()")
    assert sev == "warning" and "rewritten" in message
    assert "blocking-lock" not in _rules(LT + "CREATE INDEX CONCURRENTLY i ON orders (n)")


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE orders ADD COLUMN note text",  # nullable ADD COLUMN
        "ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new'",  # constant default (PG >= 11)
        "ALTER TABLE orders ADD COLUMN seen timestamptz DEFAULT now()",  # now() is stable
        "CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n int);\n"
        "CREATE INDEX t_n ON t (n);\nALTER TABLE t ADD CONSTRAINT t_n_pos CHECK (n > 0);",  # new table
        "ALTER TABLE orders ADD CONSTRAINT c CHECK (n > 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT c;",
        "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;",
        "CREATE UNIQUE INDEX CONCURRENTLY orders_n_key ON orders (n);\n"
        "ALTER TABLE orders ADD CONSTRAINT orders_n_key UNIQUE USING INDEX orders_n_key;",
        "DROP INDEX CONCURRENTLY IF EXISTS orders_n_idx;",
    ],
)
def test_no_errors_or_warnings_on_safe_patterns(sql):
    findings = [f for st in analyze_sql(LT + sql) for f in st.findings if f.severity != "info"]
    assert findings == [], [(f.rule, f.message) for f in findings]
