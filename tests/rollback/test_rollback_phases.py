"""rollback-test drives a phased revision through expand -> abort -> expand, then migrate -> contract ->
downgrade -> expand where its contract is reversible (and contract only, on the last revision, where not)."""

from __future__ import annotations

import uuid
from pathlib import Path

from migtui.config import load_settings
from migtui.project.load import AlembicProject
from migtui.render.rollback import report_text
from migtui.rollback.job import PHASE_CONTRACT_DOWNGRADE_SCHEMA, PHASE_CONTRACT_REUPGRADE, RollbackTest
from tests.alembic_projects import Rev, make_project
from tests.conftest import ROOT

BASE = (
    'op.execute("CREATE TABLE accounts (id bigserial PRIMARY KEY, email text, nick text);'
    " INSERT INTO accounts (email, nick) SELECT 'a' || g || '@x', CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' END"
    ' FROM generate_series(1, 30) g")'
)


def _phased(rev: str, change: str) -> Rev:
    return Rev(
        rev,
        "phases.expand(change)",
        "phases.downgrade(change)",
        header=f"from migtui import phases\n\nchange = {change}\n",
    )


def _run(pg, project_dir: Path):
    name = "t_rbp_" + uuid.uuid4().hex[:10]
    dsn = pg.create_database(name)
    try:
        return RollbackTest(AlembicProject.load(project_dir), dsn, load_settings({}, env={})).run()
    finally:
        pg.drop_database(name)


def test_phased_revisions_go_through_abort_and_contract(pg, tmp_path):
    project_dir = make_project(
        tmp_path,
        [
            Rev("a1", BASE, 'op.execute("DROP TABLE accounts")'),
            _phased("b2", "phases.add_unique_constraint('accounts', ['email'])"),
            _phased("c3", "phases.set_not_null('accounts', 'nick', fill=\"'anon'\")"),
            _phased("d4", "phases.rename_column('accounts', 'email', 'email_address')"),
        ],
    )
    report = _run(pg, project_dir)
    assert report.ok, report_text(report)
    by_rev = {r.revision: r for r in report.revisions}
    for rev in ("b2", "c3"):
        assert by_rev[rev].phased == [
            "expand -> abort (downgrade) -> expand",
            "expand -> migrate -> contract -> downgrade -> expand",
        ], rev
        assert "contract" in by_rev[rev].seconds
    assert by_rev["d4"].phased == [
        "expand -> abort (downgrade) -> expand",
        "expand -> migrate -> contract (not reversible; left contracted)",
    ]
    assert "rename_column" in by_rev["d4"].note
    assert by_rev["a1"].phased == []
    text = report_text(report)
    assert "phased: expand -> migrate -> contract -> downgrade -> expand" in text


def test_an_irreversible_contract_before_the_last_revision_is_not_tested(pg, tmp_path):
    project_dir = make_project(
        tmp_path,
        [
            Rev("a1", BASE, 'op.execute("DROP TABLE accounts")'),
            _phased("b2", "phases.rename_column('accounts', 'nick', 'nickname')"),
            Rev("c3", 'op.execute("CREATE INDEX acc_nick ON accounts (nick)")', 'op.execute("DROP INDEX acc_nick")'),
        ],
    )
    report = _run(pg, project_dir)
    assert report.ok, report_text(report)
    b2 = report.revisions[1]
    assert b2.phased == ["expand -> abort (downgrade) -> expand"]
    assert b2.note.startswith("contract not tested: it cannot be downgraded after contract")


def test_a_broken_reverse_of_contract_is_found(pg, tmp_path):
    """A raw_sql revision whose reverse_contract forgets the index: the schema after the downgrade from
    contract differs from the one before the upgrade."""
    change = (
        "phases.raw_sql(expand=['CREATE INDEX CONCURRENTLY acc_email ON accounts (email)'], "
        "contract=['ALTER TABLE accounts ADD COLUMN flag int'], abort=['DROP INDEX CONCURRENTLY acc_email'], "
        "reverse_contract=['ALTER TABLE accounts DROP COLUMN flag'])"
    )
    project_dir = make_project(tmp_path, [Rev("a1", BASE, 'op.execute("DROP TABLE accounts")'), _phased("b2", change)])
    report = _run(pg, project_dir)
    b2 = report.revisions[1]
    assert not report.ok
    # the index left behind also makes the expand after it fail
    assert b2.failures == [PHASE_CONTRACT_DOWNGRADE_SCHEMA, PHASE_CONTRACT_REUPGRADE]
    assert any("acc_email" in d.describe() for d in b2.contract_differences)


def test_sample_project_phased_revisions(pg):
    report = _run(pg, ROOT / "db" / "migrations")
    assert report.ok, report_text(report)
    by_rev = {r.revision: r for r in report.revisions}
    assert by_rev["0018_accounts_owner_name_unique"].phased[-1] == (
        "expand -> migrate -> contract -> downgrade -> expand"
    )
    assert by_rev["0019_users_full_name_to_legal"].phased[-1] == (
        "expand -> migrate -> contract (not reversible; left contracted)"
    )
