"""analyze_sql: the public API other jobs (dry-run) use; locks, rewrites, lines, transactions, errors."""

from __future__ import annotations

import pytest

from migtui.analysis import FORMS, CatalogFacts, ConstraintFact, analyze_sql
from migtui.analysis.lock_modes import MODES, blocks
from migtui.analysis.parse import SqlSyntaxError
from migtui.analysis.types import type_change_rewrites
from migtui.errors import ExitCode, UsageError


def test_statement_shape_lines_and_lock_names():
    sql = "-- header\n\nALTER TABLE shop.orders\n  ADD COLUMN t uuid DEFAULT gen_random_uuid();\nSELECT 1;\n"
    first, second = analyze_sql(sql)
    assert first.line == 3 and second.line == 5
    assert first.sql.startswith("ALTER TABLE shop.orders")
    assert [(lk.relation, lk.mode, lk.blocks) for lk in first.locks] == [
        ("shop.orders", "AccessExclusiveLock", ["reads", "writes", "ddl"])
    ]
    assert first.rewrites == ["shop.orders"] and first.scans == ["shop.orders"]
    assert first.transactional is False  # a raw file without BEGIN is not in a transaction
    data = first.to_dict()
    assert set(data) >= {"index", "line", "sql", "transactional", "locks", "rewrites", "scans", "findings"}
    assert {"rule", "severity", "message", "hint", "line"} <= set(data["findings"][0])


def test_mode_names_are_pg_locks_names_and_blocks_follow_conflict_table():
    assert MODES[0] == "AccessShareLock" and MODES[-1] == "AccessExclusiveLock"
    assert blocks("ShareUpdateExclusiveLock") == ["ddl"]
    assert blocks("ShareLock") == ["writes", "ddl"]
    assert blocks("RowExclusiveLock") == []
    assert blocks("ExclusiveLock") == ["writes", "ddl"]
    for form in FORMS.values():
        for _role, mode in form.locks:
            assert mode in MODES, (form.id, mode)


def test_foreign_key_locks_referenced_table_and_drop_table_locks_referenced_with_facts():
    [st] = analyze_sql("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES customers (id) NOT VALID")
    assert {lk.relation: lk.mode for lk in st.locks} == {
        "public.orders": "ShareRowExclusiveLock",
        "public.customers": "ShareRowExclusiveLock",
    }
    facts = CatalogFacts(tables={"public.orders", "public.customers"})
    facts.constraints["public.orders"] = [ConstraintFact("fk", "public.orders", "f", True, "public.customers")]
    [st] = analyze_sql("DROP TABLE orders", facts=facts)
    assert {lk.relation: lk.mode for lk in st.locks} == {
        "public.orders": "AccessExclusiveLock",
        "public.customers": "AccessExclusiveLock",
    }
    [st] = analyze_sql("ALTER TABLE orders DROP CONSTRAINT fk", facts=facts)
    assert st.lock_on("public.customers") == "AccessExclusiveLock"
    [st] = analyze_sql("ALTER TABLE orders DROP CONSTRAINT fk")  # no catalog: says what it assumed
    assert st.assumptions and "foreign key" in st.assumptions[0]


@pytest.mark.parametrize(
    ("old", "new", "rewrites"),
    [
        ("character varying(10)", "varchar(20)", False),
        ("character varying(10)", "text", False),
        ("VARCHAR(10)", "varchar", False),
        ("numeric(10, 2)", "numeric(12,2)", False),
        ("numeric(10, 2)", "numeric(12,3)", True),
        ("character varying(20)", "varchar(10)", True),
        ("integer", "bigint", True),
        ("cidr", "inet", False),
        (None, "bigint", None),
    ],
)
def test_binary_coercible_type_changes(old, new, rewrites):
    assert type_change_rewrites(old, new) is rewrites


def test_transactions_from_begin_commit():
    sts = analyze_sql("SELECT 1; BEGIN; SELECT 2; COMMIT; SELECT 3;")
    assert [s.transactional for s in sts] == [False, False, True, True, False]


def test_version_gates_and_range():
    [st] = analyze_sql("ALTER TABLE p DETACH PARTITION c CONCURRENTLY", pg_version=13)
    assert any("PostgreSQL >= 14" in f.message for f in st.findings)
    with pytest.raises(UsageError):
        analyze_sql("SELECT 1", pg_version=12)
    [st] = analyze_sql("ALTER TABLE p DETACH PARTITION c", pg_version=13)
    assert "detach-partition-non-concurrently" not in {f.rule for f in st.findings}  # no alternative before 14


def test_malformed_sql_names_file_and_line():
    with pytest.raises(SqlSyntaxError) as info:
        analyze_sql("SELECT 1;\n\nALTER TABLE orders ADD COLUMN;\n", path="db/x.sql")
    assert info.value.exit_code == ExitCode.USAGE
    assert info.value.message.startswith("db/x.sql:3: SQL syntax error")
