"""Lint of phased revisions: the statements of expand (the offline render), migrate (one backfill batch) and
contract (the plan ``migtui phase run`` replays), each finding labelled with its phase, in every output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migtui.cli.main import main
from migtui.config import Settings
from migtui.lint.job import LintOptions, run_lint
from migtui.render.github import render_annotations
from migtui.render.markdown import lint_rows, render_markdown
from migtui.render.sarif import sarif_log
from migtui.render.text_lint import file_text, painter
from tests.alembic_projects import Rev, make_project

SAMPLE = Path(__file__).resolve().parents[2] / "db" / "migrations"

CREATE = """
op.create_table('owners', sa.Column('id', sa.BigInteger, primary_key=True))
op.create_table('items', sa.Column('id', sa.BigInteger, primary_key=True), sa.Column('v', sa.Integer),
                sa.Column('owner_id', sa.BigInteger))
"""
PHASED = "from migtui import phases\n"


def _file(report, revision: str):
    (found,) = [f for f in report.files if f.revision == revision]
    return found


def _by_phase(file) -> dict[str, list]:
    out: dict[str, list] = {}
    for st in file.statements:
        out.setdefault(file.phases.get(st.index), []).append(st)
    return out


@pytest.fixture(scope="module")
def sample_report():
    return run_lint(Settings(), LintOptions(paths=[str(SAMPLE)]))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("phased_lint")
    return make_project(
        root,
        [
            Rev("p1", CREATE, "op.drop_table('items')\nop.drop_table('owners')"),
            Rev(
                "p2",
                "phases.expand(change)",
                "phases.downgrade(change)",
                header=PHASED + "change = phases.change_column_type('items', 'v', 'bigint', rename_on_contract=True)",
            ),
            Rev(
                "p3",
                "phases.expand(change)",
                "phases.downgrade(change)",
                header=PHASED + "change = phases.add_foreign_key('items', ['owner_id'], 'owners', ['id'])",
            ),
            Rev(
                "p4",
                "phases.expand(change)",
                "phases.downgrade(change)",
                header=PHASED + "change = phases.raw_sql(expand=['ALTER TABLE items ADD COLUMN w int'], "
                "contract=['ALTER TABLE items DROP COLUMN owner_id'], abort=['ALTER TABLE items DROP COLUMN w'])",
            ),
            Rev(
                "p5",
                "phases.expand(change)",
                "phases.downgrade(change)",
                header=PHASED + "change = phases.set_not_null('items', 'w')",
            ),
            # runs at upgrade, before p5's contract validated its check: SET NOT NULL scans here
            Rev("p6", "op.alter_column('items', 'w', nullable=False)", "op.alter_column('items', 'w', nullable=True)"),
        ],
    )


@pytest.fixture(scope="module")
def project_report(project):
    return run_lint(Settings(), LintOptions(paths=[str(project)]))


def test_rename_0019_reports_each_phase(sample_report):
    file = _file(sample_report, "0019_users_full_name_to_legal")
    phases = _by_phase(file)
    assert set(phases) == {"expand", "migrate", "contract"}
    assert any('ADD COLUMN IF NOT EXISTS "legal_name"' in st.sql for st in phases["expand"])
    (batch,) = phases["migrate"]
    assert batch.sql.startswith('UPDATE "public"."users" SET "legal_name" = "legal_name"')
    assert [(lk.relation, lk.mode) for lk in batch.locks] == [("public.users", "RowExclusiveLock")]
    assert not batch.findings
    (drop,) = [st for st in phases["contract"] if 'DROP COLUMN IF EXISTS "full_name"' in st.sql]
    assert [(lk.relation, lk.mode) for lk in drop.locks] == [("public.users", "AccessExclusiveLock")]
    # the helper is the reviewed path for this drop: reported, approved, and in the contract phase
    (finding,) = [f for f in drop.findings if f.rule == "drop-column"]
    assert (finding.phase, finding.severity) == ("contract", "info")
    assert "full_name" in finding.message and "rename_column" in finding.approved
    # contract runs after expand: the statements keep that order, expand's first
    order = [file.phases[st.index] for st in file.statements]
    assert order == sorted(order, key=["expand", "migrate", "contract"].index)
    assert [st.index for st in file.statements] == list(range(len(file.statements)))
    # every finding of the revision carries the phase of its statement
    for st in file.statements:
        assert all(f.phase == file.phases[st.index] for f in st.findings)


def test_unique_0018_index_at_expand_constraint_at_contract(sample_report):
    file = _file(sample_report, "0018_accounts_owner_name_unique")
    phases = _by_phase(file)
    (index,) = [st for st in phases["expand"] if st.sql.startswith("CREATE UNIQUE INDEX CONCURRENTLY")]
    assert not index.transactional
    (attach,) = phases["contract"]
    assert "UNIQUE USING INDEX" in attach.sql and attach.transactional
    assert "migrate" not in phases  # nothing to backfill
    assert not [f for f in file.all_findings() if f.severity == "error"]


def test_ordinary_revisions_have_no_phase(sample_report):
    file = _file(sample_report, "0017_drop_users_username")
    assert not file.phases
    assert file.all_findings() and all(f.phase is None for f in file.all_findings())
    assert "phase" not in json.dumps(file.to_dict())


def test_type_change_contract_drop_is_approved(project_report):
    file = _file(project_report, "p2")
    phases = _by_phase(file)
    assert len(phases["migrate"]) == 1
    (drop,) = [f for f in file.all_findings() if f.rule == "drop-column"]
    assert (drop.phase, drop.severity) == ("contract", "info") and drop.approved
    # rename_on_contract renames the column the new application writes: a reader of v_new breaks at
    # contract (unless it reads through a version schema), which lint keeps as an error of the contract
    errors = [(f.rule, f.phase) for f in file.all_findings() if f.severity == "error"]
    assert errors == [("rename-column", "contract")]


def test_foreign_key_validated_at_contract(project_report):
    file = _file(project_report, "p3")
    phases = _by_phase(file)
    assert any(st.sql.startswith("ALTER") and "NOT VALID" in st.sql for st in phases["expand"])
    (validate,) = phases["contract"]
    assert "VALIDATE CONSTRAINT" in validate.sql
    assert [lk.mode for lk in validate.locks] == ["ShareUpdateExclusiveLock"]
    assert not [f for f in file.all_findings() if f.severity == "error"]


def test_raw_sql_contract_drop_needs_an_approval(project_report):
    file = _file(project_report, "p4")
    (drop,) = [f for f in file.all_findings() if f.rule == "drop-column"]
    assert (drop.phase, drop.severity, drop.approved) == ("contract", "error", None)
    assert project_report.exit_code == 1


def test_outputs_label_the_phase(project_report, sample_report):
    file = _file(sample_report, "0019_users_full_name_to_legal")
    text = file_text(file, painter(False), verbose=True)
    assert '[contract] ALTER TABLE "public"."users" DROP COLUMN IF EXISTS "full_name"' in text
    assert "[migrate] UPDATE" in text and "[expand] ALTER TABLE" in text

    data = file.to_dict()
    phases = {st["phase"] for st in data["statements"]}
    assert phases == {"expand", "migrate", "contract"}
    (drop,) = [f for st in data["statements"] for f in st["findings"] if f["rule"] == "drop-column"]
    assert drop["phase"] == "contract"

    findings = [f for f in project_report.findings if f.revision == "p4" and f.rule == "drop-column"]
    (result,) = sarif_log(findings)["runs"][0]["results"]
    assert result["properties"] == {"revision": "p4", "phase": "contract"}
    assert result["message"]["text"].startswith("[contract] ")
    assert "::[contract] drops column" in render_annotations(findings).replace("%3A", ":")
    assert "[contract] drops column" in render_markdown(project_report, lint_rows(project_report))
    event = findings[0].to_dict()
    assert event["phase"] == "contract"


def test_cli_json_has_phases(project, capsys):
    code = main(["lint", str(project), "--format", "json"])
    out = capsys.readouterr().out
    assert code == 1  # p4's unapproved drop
    data = json.loads(out)
    (p2,) = [f for f in data["files"] if f["revision"] == "p2"]
    assert [st["phase"] for st in p2["statements"]][-1] == "contract"
    assert "migrate" in [st["phase"] for st in p2["statements"]]


def test_tui_lint_view_labels_the_phase(sample_report):
    from migtui.tui.screens.lint import _message

    data = _file(sample_report, "0019_users_full_name_to_legal").to_dict()
    messages = [_message(f) for st in data["statements"] for f in st["findings"]]
    assert any(m.startswith("[contract] drops column public.users.full_name") for m in messages)
    assert _message({"message": "plain"}) == "plain"


def test_contract_knowledge_stays_with_its_revision(project_report):
    p5 = _file(project_report, "p5")
    contract = _by_phase(p5)["contract"]
    (set_not_null,) = [st for st in contract if "SET NOT NULL" in st.sql]
    assert not [f for f in set_not_null.findings if f.rule == "set-not-null-without-check"]  # VALIDATE came first
    p6 = _file(project_report, "p6")
    assert "set-not-null-without-check" in [f.rule for f in p6.all_findings()]
