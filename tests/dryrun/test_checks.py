"""Will-it-fail checks: which DDL validates existing rows (pure), and the read-only queries on real data."""

from __future__ import annotations

import pytest
from pglast import parse_sql

from migtui.dryrun.checks import checks_for, run_check
from migtui.dryrun.session import ReadOnlySession


def _checks(sql: str):
    return checks_for(parse_sql(sql)[0].stmt)


def test_constraints_that_validate_rows_are_found():
    found = _checks(
        "ALTER TABLE s.t ADD CONSTRAINT u UNIQUE NULLS NOT DISTINCT (a, b), ALTER COLUMN c SET NOT NULL,"
        " ADD FOREIGN KEY (x) REFERENCES p (id), ADD CHECK (a > 0), ADD PRIMARY KEY (id),"
        " ADD COLUMN d int NOT NULL"
    )
    assert [(c.rule, c.table.text, c.what) for c in found] == [
        ("would-fail-unique", "s.t", "UNIQUE (a, b)"),
        ("would-fail-not-null", "s.t", "SET NOT NULL (c)"),
        ("would-fail-foreign-key", "s.t", "FOREIGN KEY (x)"),
        ("would-fail-check", "s.t", "CHECK (a > 0)"),
        ("would-fail-primary-key", "s.t", "PRIMARY KEY (id)"),
        ("would-fail-add-not-null-column", "s.t", "ADD COLUMN d NOT NULL"),
    ]
    assert found[0].nulls_not_distinct


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (x) REFERENCES p NOT VALID",
        "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID",
        "ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX u_idx",
        "ALTER TABLE t ADD COLUMN d int NOT NULL DEFAULT 0",
        "ALTER TABLE t ADD COLUMN d int",
        "CREATE INDEX i ON t (a)",
        "UPDATE t SET a = 1",
    ],
)
def test_nothing_to_check(sql):
    assert _checks(sql) == []


def test_unique_index_keeps_expressions_and_predicate():
    (check,) = _checks("CREATE UNIQUE INDEX CONCURRENTLY i ON t (lower(email), b) WHERE deleted IS NULL")
    assert check.columns == ("b",) and check.expressions == ("lower(email)",)
    assert check.predicate == "deleted IS NULL"


@pytest.fixture
def data(fresh_db, pg):
    pg.execute(
        "CREATE TABLE parent (id int PRIMARY KEY);"
        " CREATE TABLE child (id int, email text, parent_id int, n int, deleted boolean);"
        " INSERT INTO parent SELECT generate_series(1, 10);"
        " INSERT INTO child SELECT g, 'U' || (g % 40), CASE WHEN g % 25 = 0 THEN 99 ELSE g % 10 + 1 END,"
        "   CASE WHEN g % 50 = 0 THEN NULL ELSE g END, g % 2 = 0 FROM generate_series(1, 100) g",
        dbname=fresh_db.rsplit("/", 1)[1],
    )
    with ReadOnlySession(fresh_db) as session:
        yield session


@pytest.mark.parametrize(
    ("sql", "violations"),
    [
        ("ALTER TABLE child ADD CONSTRAINT u UNIQUE (email)", 40),  # 40 emails, each 2-3 times
        ("CREATE UNIQUE INDEX u ON child (lower(email))", 40),
        ("CREATE UNIQUE INDEX u ON child (email) WHERE deleted", 20),  # even ids: emails U0,U2,...: 20 groups
        ("CREATE UNIQUE INDEX u ON child (id)", 0),
        ("ALTER TABLE child ADD PRIMARY KEY (n)", 2),  # no duplicates, 2 NULLs
        ("ALTER TABLE child ALTER COLUMN n SET NOT NULL", 2),
        ("ALTER TABLE child ADD FOREIGN KEY (parent_id) REFERENCES parent", 4),
        ("ALTER TABLE child ADD FOREIGN KEY (parent_id) REFERENCES parent (id)", 4),
        ("ALTER TABLE child ADD CHECK (n < 90)", 10),  # n = 90..99 (n at 100 is NULL: passes)
        ("ALTER TABLE child ADD COLUMN z int NOT NULL", 1),
    ],
)
def test_checks_count_real_violations(data, sql, violations):
    (check,) = _checks(sql)
    result = run_check(data, check, timeout=5)
    assert result.failure is None and result.count == violations


def test_missing_table_is_not_checkable(data):
    (check,) = _checks("ALTER TABLE created_later ALTER COLUMN a SET NOT NULL")
    result = run_check(data, check, timeout=5)
    assert result.count is None and result.failure.reason == "missing"


def test_validate_constraint_is_checked_on_the_replica(primary_and_replica, pg, tmp_path):
    """NOT VALID now, VALIDATE later: the VALIDATE is checked against the rows, whether the NOT VALID
    constraint was added earlier in the same dry-run or already exists on the replica."""
    import uuid

    from alembic import command

    from migtui.dryrun.job import DryRunOptions, run_dry_run
    from migtui.project.load import AlembicProject
    from tests.alembic_projects import Rev, make_project, project_settings

    primary, replica = primary_and_replica
    name = "dryrun_valid_" + uuid.uuid4().hex[:8]
    dsn = primary.create_database(name)
    revisions = [
        Rev("v1", "op.execute('CREATE TABLE items (id int PRIMARY KEY, name text, parent int)')"),
        Rev(
            "v2",
            "op.execute('ALTER TABLE items ADD CONSTRAINT name_short CHECK (length(name) < 4) NOT VALID')\n"
            "op.execute('ALTER TABLE items ADD CONSTRAINT parent_fk FOREIGN KEY (parent) REFERENCES items NOT VALID')",
        ),
        Rev(
            "v3",
            "op.execute('ALTER TABLE items VALIDATE CONSTRAINT name_short')\n"
            "op.execute('ALTER TABLE items VALIDATE CONSTRAINT parent_fk')",
        ),
    ]
    try:
        project = AlembicProject.load(make_project(tmp_path, revisions))
        cfg = project.config(dsn)
        cfg.config_file_name = None
        command.upgrade(cfg, "v1")
        primary.execute(
            "INSERT INTO items SELECT g, 'n' || g, CASE WHEN g % 100 = 0 THEN g + 5000 END"
            " FROM generate_series(1, 1000) g",
            dbname=name,
        )
        primary.wait_for_replay(replica)
        expected = {"would-fail-check": 901, "would-fail-foreign-key": 10}  # names n100..n1000; parents > 1000

        def validations(report):
            (v3,) = [r for r in report.revisions if r["revision"] == "v3"]
            return {c["rule"]: c["violations"] for s in v3["statements"] for c in s["checks"]}

        in_same_run = run_dry_run(
            project_settings(project, replica_dsn=replica.dsn(name)), DryRunOptions(scratch_server=pg)
        )
        assert validations(in_same_run) == expected
        assert in_same_run.revisions[0]["statements"][0]["checks"] == []  # NOT VALID itself checks nothing
        command.upgrade(cfg, "v2")
        primary.wait_for_replay(replica)
        from_catalog = run_dry_run(
            project_settings(project, replica_dsn=replica.dsn(name)), DryRunOptions(scratch_server=pg)
        )
        assert from_catalog.pending == ["v3"] and validations(from_catalog) == expected
        assert from_catalog.exit_code == 1
    finally:
        primary.drop_database(name)
