"""Lint never gives up on a history (issue 12): revisions that cannot be rendered offline are rendered online on a
scratch database, or reported as ``unanalyzable-revision`` while the rest of the history is still linted; and what
earlier revisions established (NOT NULL, types, indexes, foreign keys) is carried forward."""

from __future__ import annotations

import pytest

from migtui.config import Settings
from migtui.lint.job import LintOptions, run_lint
from tests.alembic_projects import Rev, make_project

CREATE = (
    "op.create_table('orders', sa.Column('id', sa.BigInteger, primary_key=True), "
    "sa.Column('code', sa.String(20)), sa.Column('qty', sa.Integer, nullable=False))"
)
READS_DB = (
    "n = op.get_bind().execute(sa.text('SELECT count(*) FROM orders')).scalar()\n"
    "op.add_column('orders', sa.Column('note', sa.Text))\n"
    "op.execute(f\"COMMENT ON TABLE orders IS 'had {n} rows'\")"
)
ALWAYS_RAISES = "raise RuntimeError('this revision is broken on purpose')"
LATER = "op.create_index('ix_orders_code', 'orders', ['code'])"


def _lint(project, settings: Settings | None = None, **kw):
    return run_lint(settings or Settings(), LintOptions(paths=[str(project)], **kw))


def _by_rev(report):
    return {f.revision: f for f in report.files}


def _rules(file) -> list[str]:
    return [f.rule for f in file.all_findings()]


# --- build item 1: online rendering, unanalyzable revisions ------------------------------------------------------


def test_revision_reading_the_database_is_rendered_online(tmp_path, pg):
    project = make_project(tmp_path, [Rev("h1", CREATE), Rev("h2", READS_DB), Rev("h3", LATER)])
    report = _lint(project, Settings(scratch_dsn=pg.dsn("postgres")))
    files = _by_rev(report)
    assert not [f for f in report.findings if f.rule == "unanalyzable-revision"]
    forms = [form for st in files["h2"].statements for form in st.forms]
    assert "add-column" in forms, forms  # the statements it sent on the scratch database
    assert any("COMMENT ON TABLE" in st.sql and "had 0 rows" in st.sql for st in files["h2"].statements)
    source = next(project.glob("versions/*h2.py")).read_text().splitlines()
    assert source[files["h2"].statements[0].line - 1].lstrip().startswith("n = op.get_bind()")  # the line that sent it
    assert "create-index-non-concurrently" in _rules(files["h3"])  # the history goes on after it
    assert not [d for d in pg.execute("SELECT datname FROM pg_database") if d[0].startswith("migtui_lint_")]


def test_revision_that_fails_both_ways_gets_one_finding_and_the_rest_is_linted(tmp_path, pg):
    project = make_project(tmp_path, [Rev("u1", CREATE), Rev("u2", ALWAYS_RAISES), Rev("u3", LATER)])
    report = _lint(project, Settings(scratch_dsn=pg.dsn("postgres")))
    files = _by_rev(report)
    (finding,) = files["u2"].all_findings()
    assert finding.rule == "unanalyzable-revision" and finding.severity == "warning"
    assert "offline: RuntimeError" in finding.message and "online" in finding.message
    assert "broken on purpose" in finding.message and "\n" not in finding.message
    assert files["u2"].statements == []
    assert "create-index-non-concurrently" in _rules(files["u3"])
    assert report.exit_code == (1 if report.counts()["error"] else 0)  # by the findings, never 2
    assert _lint(project, Settings(scratch_dsn=pg.dsn("postgres")), fail_on="warning").exit_code == 1


def test_without_a_server_the_finding_says_so(tmp_path):
    """Not marked db: the harness may not start a server, as on a machine without PostgreSQL."""
    project = make_project(tmp_path, [Rev("s1", CREATE), Rev("s2", READS_DB), Rev("s3", LATER)])
    report = _lint(project)
    files = _by_rev(report)
    (finding,) = [f for f in files["s2"].all_findings() if f.rule == "unanalyzable-revision"]
    assert "no scratch server" in finding.message
    assert "create-index-non-concurrently" in _rules(files["s3"])


def test_with_dsn_only_the_pending_range_is_rendered(tmp_path, pg, fresh_db):
    """The database is at s2: s2 reads the database and is not renderable offline, but it is applied, so lint
    neither renders it nor needs a server; only s3 is linted."""
    project = make_project(tmp_path, [Rev("p1", CREATE), Rev("p2", READS_DB), Rev("p3", LATER)])
    name = fresh_db.rsplit("/", 1)[-1].split("?")[0]
    pg.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)", dbname=name)
    pg.execute("INSERT INTO alembic_version VALUES ('p2')", dbname=name)
    report = run_lint(Settings(dsn=fresh_db), LintOptions(paths=[str(project)]))
    assert [f.revision for f in report.files] == ["p3"]
    assert not [f for f in report.findings if f.rule == "unanalyzable-revision"]


def test_missing_application_module_is_a_project_error(tmp_path):
    from migtui.errors import ExitCode, MigtuiError

    project = make_project(tmp_path, [Rev("m1", CREATE, header="import myapp_models_that_do_not_exist")])
    with pytest.raises(MigtuiError) as info:
        _lint(project)
    assert info.value.exit_code == ExitCode.PROJECT_ERROR
    assert "000_m1.py" in info.value.message and "myapp_models_that_do_not_exist" in info.value.message


# --- build item 7: knowledge across the run -------------------------------------------------------------------


def test_set_not_null_on_columns_already_not_null(tmp_path):
    project = make_project(
        tmp_path,
        [
            Rev(
                "k1",
                "op.create_table('t', sa.Column('a', sa.Integer), sa.Column('b', sa.Integer), "
                "sa.Column('c', sa.Integer, nullable=False), sa.PrimaryKeyConstraint('a', 'b'))",
            ),
            Rev(
                "k2",
                "op.alter_column('t', 'a', nullable=False)\n"  # primary key
                "op.alter_column('t', 'c', nullable=False)\n",  # NOT NULL in CREATE TABLE
            ),
            Rev("k3", "op.add_column('t', sa.Column('d', sa.Integer))\n"),
            Rev("k4", "op.alter_column('t', 'd', nullable=False)"),  # fires: d is nullable
            Rev("k5", "op.alter_column('t', 'd', nullable=False)"),  # already NOT NULL from k4
            Rev("k6", "op.alter_column('legacy', 'x', nullable=False, existing_nullable=False)"),
            Rev("k7", "op.alter_column('legacy', 'y', nullable=False, existing_nullable=True)"),  # fires
        ],
    )
    files = _by_rev(_lint(project))
    assert "set-not-null-without-check" not in _rules(files["k2"])
    assert "set-not-null-without-check" in _rules(files["k4"])
    assert "set-not-null-without-check" not in _rules(files["k5"])
    assert "set-not-null-without-check" not in _rules(files["k6"])
    assert "set-not-null-without-check" in _rules(files["k7"])


def test_drop_not_null_makes_the_column_nullable_again(tmp_path):
    project = make_project(
        tmp_path,
        [
            Rev("d1", CREATE),
            Rev("d2", "op.alter_column('orders', 'qty', nullable=True)"),
            Rev("d3", "op.alter_column('orders', 'qty', nullable=False)"),
        ],
    )
    assert "set-not-null-without-check" in _rules(_by_rev(_lint(project))["d3"])


def test_types_carried_forward_decide_narrowing(tmp_path):
    project = make_project(
        tmp_path,
        [
            Rev("t1", CREATE),  # code varchar(20)
            Rev("t2", "op.alter_column('orders', 'code', type_=sa.String(9), existing_type=sa.String(9))"),
        ],
    )
    t2 = _by_rev(_lint(project))["t2"]
    assert "narrowing-type-change" in _rules(t2)
    (finding,) = [f for f in t2.all_findings() if f.rule == "narrowing-type-change"]
    assert "20" in finding.message and "9" in finding.message


def test_drop_index_locks_its_table(tmp_path):
    project = make_project(
        tmp_path, [Rev("i1", CREATE), Rev("i2", LATER), Rev("i3", "op.drop_index('ix_orders_code')")]
    )
    (st,) = _by_rev(_lint(project))["i3"].statements
    assert "public.orders" in {lk.relation for lk in st.locks}, st.locks
    assert not any("table of index" in a for a in st.assumptions)


def test_dropping_a_foreign_key_created_earlier_locks_the_referenced_table(tmp_path):
    project = make_project(
        tmp_path,
        [
            Rev("f1", "op.create_table('customers', sa.Column('id', sa.BigInteger, primary_key=True))"),
            Rev(
                "f2",
                "op.create_table('orders', sa.Column('id', sa.BigInteger, primary_key=True), "
                "sa.Column('customer_id', sa.BigInteger), "
                "sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='orders_customer_fk'))",
            ),
            Rev(
                "f3",
                "op.create_table('lines', sa.Column('id', sa.BigInteger, primary_key=True), "
                "sa.Column('order_id', sa.BigInteger))\n"
                "op.create_foreign_key('lines_order_fk', 'lines', 'orders', ['order_id'], ['id'])",
            ),
            Rev(
                "f4",
                "op.drop_constraint('orders_customer_fk', 'orders', type_='foreignkey')\n"
                "op.drop_constraint('lines_order_fk', 'lines', type_='foreignkey')",
            ),
        ],
    )
    first, second = _by_rev(_lint(project))["f4"].statements
    assert first.forms == ["drop-foreign-key"] and second.forms == ["drop-foreign-key"]
    assert "public.customers" in {lk.relation for lk in first.locks}
    assert "public.orders" in {lk.relation for lk in second.locks}
    assert not first.assumptions and not second.assumptions


def test_with_a_catalog_assumptions_never_say_no_catalog(tmp_path, fresh_db):
    project = make_project(
        tmp_path,
        [
            Rev(
                "w1",
                "op.drop_index('ix_unknown')\n"
                "op.drop_constraint('unknown_fk', 'orders', type_='foreignkey')\n"
                "op.drop_constraint('some_check', 'orders')\n"
                "op.alter_column('orders', 'qty', nullable=False)",
            )
        ],
    )
    report = run_lint(Settings(dsn=fresh_db), LintOptions(paths=[str(project)], all_revisions=True))
    assumptions = [a for st in report.files[0].statements for a in st.assumptions]
    assert assumptions  # what could not be known is still said ...
    assert not [a for a in assumptions if "no catalog" in a], assumptions  # ... by what was known


def test_env_py_that_cannot_import_its_application_is_a_project_error(tmp_path):
    from migtui.errors import ExitCode, MigtuiError

    project = make_project(tmp_path, [Rev("e1", CREATE)])
    env_py = project / "env.py"
    env_py.write_text("import myapp_settings_that_do_not_exist\n" + env_py.read_text())
    with pytest.raises(MigtuiError) as info:
        _lint(project)
    assert info.value.exit_code == ExitCode.PROJECT_ERROR
    assert "env.py" in info.value.message and "myapp_settings_that_do_not_exist" in info.value.message


def test_unrendered_bound_parameters_send_the_revision_online(tmp_path):
    """An ``op.execute(table.update().values(...))`` without literal binds renders ``SET flag=%(flag)s``: not SQL.
    The revision goes to online rendering (here: no server, so the finding says so) instead of exit 2."""
    update = (
        "t = sa.table('orders', sa.column('qty', sa.Integer))\n"
        "op.execute(t.update().where(t.c.qty == None).values(qty=0))"
    )
    project = make_project(tmp_path, [Rev("b1", CREATE), Rev("b2", update), Rev("b3", LATER)])
    env_py = project / "env.py"
    assert "literal_binds=True," in env_py.read_text()
    env_py.write_text(env_py.read_text().replace("literal_binds=True,", ""))  # as some projects' env.py
    files = _by_rev(_lint(project))
    (finding,) = [f for f in files["b2"].all_findings() if f.rule == "unanalyzable-revision"]
    assert "bound parameters" in finding.message and "no scratch server" in finding.message
    assert "create-index-non-concurrently" in _rules(files["b3"])


def test_env_py_rendering_for_another_dialect_is_not_linted_as_postgresql(tmp_path):
    """An env.py that builds its own engine from its own settings (here SQLite) renders SQLite's SQL offline:
    never linted as PostgreSQL; every revision goes online (no server here: the findings say both reasons)."""
    project = make_project(tmp_path, [Rev("q1", CREATE), Rev("q2", LATER)])
    env_py = project / "env.py"
    text = env_py.read_text()
    assert "url=url," in text
    env_py.write_text(text.replace("url=url,", "url='sqlite://',"))
    report = _lint(project)
    assert [f.statements for f in report.files] == [[], []]
    for finding in report.findings:
        assert finding.rule == "unanalyzable-revision"
        assert "renders for sqlite" in finding.message and "no scratch server" in finding.message
