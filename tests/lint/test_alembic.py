"""Lint on alembic projects: offline rendering mapped to op.* lines, transaction boundaries, downgrades,
approvals, and broken revision files."""

from __future__ import annotations

from pathlib import Path

import pytest

from migtui.config import Settings
from migtui.errors import UsageError
from migtui.lint.job import LintOptions, run_lint
from tests.alembic_projects import Rev, make_project

CREATE = (
    "op.create_table('orders', sa.Column('id', sa.BigInteger, primary_key=True), "
    "sa.Column('code', sa.String(10)), sa.Column('qty', sa.Integer))"
)


def _lint(project: Path, **kw):
    return run_lint(Settings(), LintOptions(paths=[str(project)], **kw))


def _line_of(path: str, needle: str) -> int:
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def _rules(file) -> list[str]:
    return [f.rule for f in file.all_findings()]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("alembic_lint")
    return make_project(
        root,
        [
            Rev("r1", CREATE, "op.drop_table('orders')"),
            Rev(
                "r2",
                """
                op.add_column('orders', sa.Column('note', sa.Text()))
                op.alter_column('orders', 'code', type_=sa.String(20), existing_type=sa.String(10))
                op.alter_column('orders', 'qty', type_=sa.BigInteger())
                with op.get_context().autocommit_block():
                    op.create_index('orders_note', 'orders', ['note'], postgresql_concurrently=True)
                op.create_index('orders_qty', 'orders', ['qty'], postgresql_concurrently=True)
                op.create_check_constraint('qty_pos', 'orders', 'qty > 0', postgresql_not_valid=True)
                op.execute('ALTER TABLE orders VALIDATE CONSTRAINT qty_pos')
                """,
                "op.drop_column('orders', 'note')",
            ),
            Rev("r3", "op.drop_column('orders', 'note')", "pass"),
            Rev("r4", "op.execute('SELECT 1')", "raise NotImplementedError()"),
            Rev("r5", "op.execute('SELECT 1')", '"""nothing to undo"""'),
        ],
    )


@pytest.fixture(scope="module")
def report(project):
    return _lint(project)


def test_statements_map_to_op_lines(report):
    r2 = next(f for f in report.files if f.revision == "r2")
    lines = {st.sql.split()[0] + " " + st.sql.split()[-1]: st.line for st in r2.statements}
    assert r2.statements[0].line == _line_of(r2.path, "op.add_column('orders'")
    cic = next(st for st in r2.statements if "orders_note" in st.sql)
    assert cic.line == _line_of(r2.path, "op.create_index('orders_note'")
    validate = next(st for st in r2.statements if "VALIDATE" in st.sql)
    assert validate.line == _line_of(r2.path, "VALIDATE CONSTRAINT qty_pos")
    assert lines  # every statement has a line
    assert all(st.line >= 1 for st in r2.statements)


def test_autocommit_block_is_outside_the_transaction(report):
    r2 = next(f for f in report.files if f.revision == "r2")
    inside = next(st for st in r2.statements if "orders_note" in st.sql)
    outside = next(st for st in r2.statements if "orders_qty" in st.sql)
    assert inside.transactional is False and "concurrently-in-transaction" not in _rules_of(inside)
    assert outside.transactional is True and "concurrently-in-transaction" in _rules_of(outside)
    validate = next(st for st in r2.statements if "VALIDATE" in st.sql)
    # the NOT VALID ADD took a lock that lasts until the transaction ends: the validation scan runs under it
    assert "slow-statement-while-lock-held" in _rules_of(validate)


def _rules_of(statement) -> list[str]:
    return [f.rule for f in statement.findings]


def test_existing_type_decides_rewrite(report):
    r2 = next(f for f in report.files if f.revision == "r2")
    widen = next(st for st in r2.statements if "code TYPE" in st.sql)
    assert widen.forms == ["alter-column-type-no-rewrite"] and widen.rewrites == []
    qty = next(st for st in r2.statements if "qty TYPE" in st.sql)
    assert qty.rewrites == ["public.orders"] and "type-change-rewrites" in _rules_of(qty)
    # the type before the change is known from r1's create_table (earlier revisions are carried forward)
    assert any("int4 -> int8" in f.message for f in qty.findings) and not qty.assumptions


def test_new_table_in_same_revision_is_not_flagged(report):
    r1 = next(f for f in report.files if f.revision == "r1")
    assert not [f for f in r1.all_findings() if f.severity == "error"]


def test_missing_downgrades(report):
    by_rev = {f.revision: f for f in report.files}
    assert "missing-downgrade" not in _rules(by_rev["r1"])
    assert "missing-downgrade" not in _rules(by_rev["r2"])
    for rev in ("r3", "r4", "r5"):  # pass, raise NotImplementedError, docstring only
        finding = next(f for f in by_rev[rev].findings if f.rule == "missing-downgrade")
        assert finding.severity == "error"
        assert finding.line == _line_of(by_rev[rev].path, "def downgrade")
    assert "drop-column" in _rules(by_rev["r3"])
    assert report.exit_code == 1


def test_approvals_and_ignores(tmp_path):
    project = make_project(
        tmp_path,
        [
            Rev("a1", CREATE, "op.drop_table('orders')"),
            Rev(
                "a2",
                "op.drop_column('orders', 'code')\nop.alter_column('orders', 'qty', new_column_name='quantity')",
                "op.add_column('orders', sa.Column('code', sa.String(10)))",
                header='# migtui: approve=drop-column reason="code moved to products in release 41"\n'
                '# migtui: ignore=rename-column reason="readers switched in release 40"\n'
                '# migtui: ignore=prefer-text-field reason="nothing to match"',
            ),
            Rev(
                "a3",
                "op.drop_column('orders', 'quantity')",
                "op.add_column('orders', sa.Column('quantity', sa.Integer))",
                header='# migtui: approve=drop-column\n# migtui: approve=no-such-rule reason="x"\n'
                '# migtui: ignore=drop-table reason="wrong kind"',
            ),
        ],
    )
    report = _lint(project)
    a2 = next(f for f in report.files if f.revision == "a2")
    approved = next(f for f in a2.all_findings() if f.rule == "drop-column")
    assert approved.severity == "info" and approved.approved == "code moved to products in release 41"
    assert "rename-column" not in _rules(a2) and a2.ignored == 1
    unused = next(f for f in a2.findings if f.rule == "approval-unused")
    assert unused.severity == "warning" and "prefer-text-field" in unused.message
    assert not [f for f in a2.all_findings() if f.severity == "error"]

    a3 = next(f for f in report.files if f.revision == "a3")
    rules = _rules(a3)
    assert "approval-missing-reason" in rules and "approval-unknown-rule" in rules
    assert "approval-wrong-kind" in rules
    drop = next(f for f in a3.all_findings() if f.rule == "drop-column")
    assert drop.severity == "error"  # an approval without a reason does not approve
    assert report.totals()["approved"] == 1 and report.totals()["ignored"] == 1


@pytest.mark.parametrize(
    ("upgrade", "needle", "expect"),
    [
        ("op.add_column('orders' sa.Column('x', sa.Integer))", "op.add_column", "syntax error in revision file"),
        ("op.execute('ALTR TABLE orders ADD COLUMN x int')", "ALTR TABLE", "renders is invalid"),
    ],
)
def test_broken_revision_files_give_one_line_naming_file_and_line(tmp_path, upgrade, needle, expect):
    project = make_project(tmp_path, [Rev("b1", CREATE, "op.drop_table('orders')"), Rev("b2", upgrade, "pass")])
    with pytest.raises(UsageError) as info:
        _lint(project)
    message = info.value.message
    path = next(project.glob("versions/*b2.py"))
    assert expect in message and "\n" not in message
    assert f"{path.name}:{_line_of(str(path), needle)}" in message, message


def test_not_null_pattern_across_revisions_is_safe(tmp_path):
    """NOT VALID CHECK in one revision, VALIDATE + SET NOT NULL + drop the CHECK in the next: no errors."""
    project = make_project(
        tmp_path,
        [
            Rev("n1", CREATE, "op.drop_table('orders')"),
            Rev(
                "n2",
                "op.create_check_constraint('qty_nn', 'orders', 'qty IS NOT NULL', postgresql_not_valid=True)",
                "op.drop_constraint('qty_nn', 'orders', type_='check')",
            ),
            Rev(
                "n3",
                "op.execute('ALTER TABLE orders VALIDATE CONSTRAINT qty_nn')\n"
                "op.alter_column('orders', 'qty', nullable=False)\n"
                "op.drop_constraint('qty_nn', 'orders', type_='check')",
                "op.alter_column('orders', 'qty', nullable=True)",
            ),
            Rev(
                "n4",
                "op.alter_column('orders', 'code', nullable=False)",
                "op.alter_column('orders', 'code', nullable=True)",
            ),
        ],
    )
    report = _lint(project)
    by_rev = {f.revision: f for f in report.files}
    n3 = by_rev["n3"]
    assert [st.forms for st in n3.statements] == [
        ["validate-constraint"],
        ["set-not-null-with-check"],
        ["drop-constraint"],
    ]
    assert not [f for f in n3.all_findings() if f.severity == "error"]
    # without the CHECK, SET NOT NULL is still an error
    assert "set-not-null-without-check" in _rules(by_rev["n4"])


def test_a_revision_with_a_coding_cookie_is_linted_as_python_reads_it(tmp_path):
    """``up`` imports a latin-1 revision with a coding cookie; lint must read it the same way."""
    project = make_project(
        tmp_path,
        [
            Rev("b1", CREATE, "op.drop_table('orders')"),
            Rev("b2", "op.execute(\"UPDATE orders SET code = 'café'\")", "pass", header="# approved by Zoë\n"),
        ],
    )
    path = next(project.glob("versions/*b2.py"))
    path.write_bytes(("# -*- coding: latin-1 -*-\n" + path.read_text()).encode("latin-1"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # the file really is not UTF-8
    report = _lint(project)
    b2 = next(f for f in report.files if f.revision == "b2")
    assert any("café" in s.sql for s in b2.statements), [s.sql for s in b2.statements]
    assert _rules(b2) == [] or "missing-downgrade" in _rules(b2)

    path.write_bytes(path.read_bytes().replace(b"latin-1", b"no-such-codec", 1))
    with pytest.raises(UsageError) as info:
        _lint(project)
    assert "unknown encoding: no-such-codec" in info.value.message and "\n" not in info.value.message
