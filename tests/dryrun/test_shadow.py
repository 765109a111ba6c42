"""dry-run's shadow execution (errors, non-transactional statements, source lines) and replica lag."""

from __future__ import annotations

import uuid

import pytest

from migtui.dryrun.job import DryRunOptions, run_dry_run
from migtui.events import RevisionFailed
from migtui.project.load import AlembicProject
from tests.alembic_projects import Rev, make_project, project_settings

REVISIONS = [
    Rev("c1", "op.execute('CREATE TABLE items (id int PRIMARY KEY, name text)')"),
    Rev(
        "c2",
        "with op.get_context().autocommit_block():\n"
        "    op.execute('CREATE INDEX CONCURRENTLY ix_items_name ON items (name)')\n"
        "op.add_column('items', sa.Column('price', sa.Integer(), nullable=True))\n"
        "op.execute(\"UPDATE items SET name = 'x' WHERE id <= 10; DELETE FROM items WHERE id > 990\")\n"
        "op.bulk_insert(sa.table('items', sa.column('id', sa.Integer), sa.column('name', sa.Text)),"
        " [{'id': 5001, 'name': 'a'}, {'id': 5002, 'name': 'b'}, {'id': 5003, 'name': 'c'}])",
    ),
    Rev(
        "c3",
        "op.execute('ALTER TABLE items ADD COLUMN qty int')\nop.execute('UPDATE items SET no_such_column = 1')",
    ),
    Rev("c4", "op.execute('DROP TABLE items')"),
]


@pytest.fixture(scope="module")
def shadow_env(primary_and_replica, tmp_path_factory):
    from alembic import command

    primary, replica = primary_and_replica
    dbname = "dryrun_shadow_" + uuid.uuid4().hex[:8]
    dsn = primary.create_database(dbname)
    project_dir = make_project(tmp_path_factory.mktemp("dryrun_shadow"), REVISIONS)
    project = AlembicProject.load(project_dir)
    command.upgrade(project.config(dsn), "c1")
    primary.execute("INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 1000) g", dbname=dbname)
    primary.wait_for_replay(replica)
    yield {"primary": primary, "replica": replica, "db": dbname, "project": project}
    primary.drop_database(dbname)


def test_shadow_errors_non_transactional_statements_and_lines(shadow_env, pg):
    events = []
    report = run_dry_run(
        project_settings(shadow_env["project"], replica_dsn=shadow_env["replica"].dsn(shadow_env["db"])),
        DryRunOptions(scratch_server=pg),
        events.append,
    )
    c2, c3, c4 = report.revisions
    concurrently, add_column, two_in_one, bulk = c2["statements"]
    assert concurrently["sql"] == "CREATE INDEX CONCURRENTLY ix_items_name ON items (name)"
    assert concurrently["transactional"] is False and concurrently["observed_locks"] is None
    assert concurrently["line"] == 17 and add_column["line"] == 18  # the op.* lines in the revision file
    assert add_column["observed_locks"] == [
        {"relation": "items", "kind": "table", "mode": "AccessExclusiveLock", "created": False}
    ]
    assert two_in_one["rows"] == {"count": 20, "exact": True, "method": "count"}  # 10 updated + 10 deleted
    assert bulk["sql"].startswith("INSERT INTO items (id, name) VALUES (5001")  # the first parameter set
    assert bulk["rows"] == {"count": 3, "exact": True, "method": "static"}

    add_qty, bad_update = c3["statements"]
    assert add_qty["error"] is None
    assert 'column "no_such_column" of relation "items" does not exist' in bad_update["error"]
    assert [w.rule for w in report.findings_for("c3", bad_update["index"])] == ["fails-on-shadow"]
    assert c3["error"] and c4["reached"] is False and c4["statements"] == []
    assert [w.rule for w in report.findings_for("c4")] == ["not-reached"]
    assert [e.revision for e in events if isinstance(e, RevisionFailed)] == ["c3"]
    assert report.exit_code == 1


def test_replica_behind_the_primary_is_reported(shadow_env, pg):
    primary, replica, db = shadow_env["primary"], shadow_env["replica"], shadow_env["db"]
    replica.execute("SELECT pg_wal_replay_pause()")
    try:
        primary.execute("UPDATE alembic_version SET version_num = 'c2'", dbname=db)
        report = run_dry_run(
            project_settings(shadow_env["project"], replica_dsn=replica.dsn(db), dsn=primary.dsn(db)),
            DryRunOptions(scratch_server=pg),
        )
    finally:
        replica.execute("SELECT pg_wal_replay_resume()")
        primary.execute("UPDATE alembic_version SET version_num = 'c1'", dbname=db)
        primary.wait_for_replay(replica)
    replica = report.replica
    assert replica["current_revisions"] == ["c1"] and replica["primary_revisions"] == ["c2"]
    assert replica["lag"]["behind_primary_bytes"] > 0
    rules = [w.message for w in report.findings_for(report.revisions[0]["revision"]) if w.rule == "replica-lag"]
    assert any("the primary records revision c2, the replica c1" in m for m in rules)
    assert report.pending == ["c2", "c3", "c4"]  # what the replica records is what it dry-runs


@pytest.mark.parametrize("approved", [False, True], ids=["unapproved", "approved"])
def test_destructive_statement_fails_the_dry_run_unless_approved(shadow_env, pg, tmp_path, approved):
    header = '# migtui: approve=drop-column reason="name moved to a new table in release 12"' if approved else ""
    project = AlembicProject.load(
        make_project(tmp_path, [REVISIONS[0], Rev("d2", "op.drop_column('items', 'name')", header=header)])
    )
    report = run_dry_run(
        project_settings(project, replica_dsn=shadow_env["replica"].dsn(shadow_env["db"])),
        DryRunOptions(scratch_server=pg),
    )
    (drop,) = report.revisions[0]["statements"]
    (finding,) = [f for f in drop["findings"] if f["rule"] == "drop-column"]
    if approved:
        assert finding["severity"] == "info" and finding["approved"].startswith("name moved")
        assert report.exit_code == 0
    else:
        assert finding["severity"] == "error"
        assert report.exit_code == 1 and [f.rule for f in report.findings] == ["drop-column"]


def test_primary_target_of_another_major_says_so(pg18, pg, tmp_path):
    """PostgreSQL 18 target (a primary, --allow-primary), shadow on a 16 server: reported, and still works."""
    from alembic import command

    from migtui.events import Message

    name = "dryrun_mm_" + uuid.uuid4().hex[:8]
    dsn = pg18.create_database(name)
    try:
        project = AlembicProject.load(
            make_project(
                tmp_path,
                [
                    Rev("m1", "op.execute('CREATE TABLE t (id int PRIMARY KEY, v int)')"),
                    Rev("m2", "op.execute('ALTER TABLE t ADD COLUMN w int NOT NULL')"),
                ],
            )
        )
        cfg = project.config(dsn)
        cfg.config_file_name = None
        command.upgrade(cfg, "m1")
        pg18.execute("INSERT INTO t VALUES (1, 1)", dbname=name)
        events = []
        report = run_dry_run(
            project_settings(project, replica_dsn=dsn),
            DryRunOptions(allow_primary=True, scratch_server=pg),
            events.append,
        )
    finally:
        pg18.drop_database(name)
    assert report.replica["role"] == "primary" and report.replica["pg_version"] == 18
    assert report.shadow["same_pg_version"] is False and report.shadow["restore_warnings"] == []
    assert "shadow runs PostgreSQL 16; the target is 18" in [e.text for e in events if isinstance(e, Message)]
    assert [f.rule for f in report.findings] == ["would-fail-add-not-null-column"]


def test_nothing_pending_and_unknown_revision(shadow_env, tmp_path):
    from migtui.errors import UsageError

    replica_dsn = shadow_env["replica"].dsn(shadow_env["db"])
    up_to_date = AlembicProject.load(make_project(tmp_path / "current", [REVISIONS[0]]))
    report = run_dry_run(project_settings(up_to_date, replica_dsn=replica_dsn))
    assert report.pending == [] and report.revisions == [] and report.exit_code == 0
    other = AlembicProject.load(make_project(tmp_path / "other", [Rev("x1", "pass")]))
    with pytest.raises(UsageError, match="records revision c1, which is not in the migrations"):
        run_dry_run(project_settings(other, replica_dsn=replica_dsn))


def test_phased_revisions_statements_are_captured(primary_and_replica, pg):
    """The expand phase of the repo's phased revisions (0018, 0019) runs through the migration connection,
    so dry-run's shadow sees and reports each of its statements (unique index build, dual-write trigger)."""
    from alembic import command

    from tests.conftest import ROOT

    primary, replica = primary_and_replica
    dbname = "dryrun_phased_" + uuid.uuid4().hex[:8]
    dsn = primary.create_database(dbname)
    try:
        project = AlembicProject.load(ROOT / "db" / "migrations")
        command.upgrade(project.config(dsn), "0017_drop_users_username")
        primary.wait_for_replay(replica)
        report = run_dry_run(
            project_settings(project, replica_dsn=replica.dsn(dbname)),
            DryRunOptions(scratch_server=pg),
            lambda _e: None,
        )
        by_revision = {rev["revision"]: rev for rev in report.revisions}
        unique = " ".join(s["sql"] for s in by_revision["0018_accounts_owner_name_unique"]["statements"])
        rename = " ".join(s["sql"] for s in by_revision["0019_users_full_name_to_legal"]["statements"])
        assert "CREATE UNIQUE INDEX CONCURRENTLY" in unique
        assert "legal_name" in rename and "TRIGGER" in rename.upper()
        # every phase: the expand statements labelled, then what migrate and contract will run, with locks
        for rev in ("0018_accounts_owner_name_unique", "0019_users_full_name_to_legal"):
            phases = [s["phase"] for s in by_revision[rev]["statements"]]
            assert phases[0] == "expand" and "contract" in phases, (rev, phases)
            assert phases == sorted(phases, key=("expand", "migrate", "contract").index)
        contract = [s for s in by_revision["0019_users_full_name_to_legal"]["statements"] if s["phase"] == "contract"]
        swap = next(s for s in contract if "DROP COLUMN" in s["sql"])
        assert "full_name" in swap["sql"]
        assert ("users", "AccessExclusiveLock") in {
            (lock["relation"], lock["mode"]) for lock in swap["observed_locks"] or []
        }, swap
        backfill = [s for s in by_revision["0019_users_full_name_to_legal"]["statements"] if s["phase"] == "migrate"]
        assert backfill and backfill[0]["sql"].startswith("UPDATE")
        attach = next(
            s for s in by_revision["0018_accounts_owner_name_unique"]["statements"] if s["phase"] == "contract"
        )
        assert "USING INDEX" in attach["sql"]
        assert report.exit_code == 0 or all(
            f.statement is None or by_revision[f.revision]["statements"][f.statement]["phase"] in (None, "expand")
            for f in report.findings
        )
    finally:
        primary.drop_database(dbname)
