"""dry-run against a real primary + streaming replica with 120k rows: counts, locks, failures, guarantees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from migtui.dryrun.job import DryRunOptions, run_dry_run
from migtui.events import DryRunStatement, Finding, Message, RunFinished
from migtui.project.load import AlembicProject
from tests.alembic_projects import Rev, make_project, project_settings
from tests.conftest import ROOT, run_cli, run_main
from tests.report_formats import parse_junit, validate_sarif

ROWS = 120_000

REVISIONS = [
    Rev(
        "a1",
        "op.execute('CREATE TABLE accounts (id int PRIMARY KEY, email text, status text, score int, parent_id int)')",
    ),
    Rev(
        "a2",
        "op.execute(\"UPDATE accounts SET status = 'x' WHERE id % 10 = 0\")\n"
        "op.execute('DELETE FROM accounts WHERE id > 117000')",
        message="touch rows",
    ),
    Rev(
        "a3",
        "op.alter_column('accounts', 'score', type_=sa.BigInteger())\n"
        "op.create_index('ix_status', 'accounts', ['status'])",
        message="widen score",
    ),
    Rev(
        "a4",
        "op.create_unique_constraint('uq_email', 'accounts', ['email'])\n"
        "op.create_foreign_key('fk_parent', 'accounts', 'accounts', ['parent_id'], ['id'])",
        message="constraints",
    ),
]


def _snapshot(server, dbname: str) -> dict:
    """Schema, row counts and write counters: what must not change."""
    schema = server.execute(
        "SELECT md5(string_agg(format('%s.%s %s %s %s', c.relnamespace::regnamespace, c.relname, c.relkind,"
        " c.relfilenode, a.attname || ':' || format_type(a.atttypid, a.atttypmod) || a.attnotnull), ',' ORDER BY"
        " c.oid, a.attnum)) FROM pg_class c LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
        " WHERE c.relnamespace = 'public'::regnamespace",
        dbname=dbname,
    )[0][0]
    rows = server.execute(
        "SELECT (SELECT count(*) FROM accounts), (SELECT string_agg(version_num, ',') FROM alembic_version),"
        " (SELECT count(*) FROM pg_constraint WHERE conrelid = 'accounts'::regclass)",
        dbname=dbname,
    )[0]
    counters = server.execute(
        "SELECT tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = %s",
        dbname=dbname,
        params=(dbname,),
    )[0]
    return {"schema": schema, "rows": rows, "counters": counters}


@pytest.fixture(scope="module")
def env(primary_and_replica, tmp_path_factory):
    from alembic import command

    primary, replica = primary_and_replica
    # the write counters must count only what the dry-run does: no autovacuum/autoanalyze writing pg_statistic
    # here meanwhile (its tuple updates count in pg_stat_database too)
    primary.execute("ALTER SYSTEM SET autovacuum = off")
    primary.execute("SELECT pg_reload_conf()")
    dbname = "dryrun_" + uuid.uuid4().hex[:8]
    dsn = primary.create_database(dbname)
    project_dir = make_project(tmp_path_factory.mktemp("dryrun"), REVISIONS)
    project = AlembicProject.load(project_dir)
    command.upgrade(project.config(dsn), "a1")
    primary.execute(
        "INSERT INTO accounts SELECT g, 'user' || (g % 60000) || '@example.com', 'active', g,"
        " CASE WHEN g % 1000 = 0 THEN g + 1000000 WHEN g % 7 = 0 THEN g - 1 END"
        f" FROM generate_series(1, {ROWS}) g; ANALYZE accounts",
        dbname=dbname,
    )
    primary.wait_for_replay(replica)
    try:
        yield {"primary": primary, "replica": replica, "db": dbname, "project": project, "dir": project_dir}
    finally:
        primary.drop_database(dbname)
        primary.execute("ALTER SYSTEM RESET autovacuum")
        primary.execute("SELECT pg_reload_conf()")


@pytest.fixture(scope="module")
def run(env, pg):
    """One dry-run through the engine (shadow on the shared test server), with before/after snapshots."""
    primary, replica, db = env["primary"], env["replica"], env["db"]
    before = {"primary": _snapshot(primary, db), "replica": _snapshot(replica, db)}
    events = []
    report = run_dry_run(
        project_settings(env["project"], replica_dsn=replica.dsn(db), dsn=primary.dsn(db)),
        DryRunOptions(scratch_server=pg, big_table_bytes=1024 * 1024),
        events.append,
    )
    primary.wait_for_replay(replica)
    after = {"primary": _snapshot(primary, db), "replica": _snapshot(replica, db)}
    leftovers = pg.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'migtui_shadow_%'")[0][0]
    return {"report": report, "events": events, "before": before, "after": after, "leftovers": leftovers}


def _statements(report, revision):
    return next(r for r in report.revisions if r["revision"] == revision)["statements"]


def _found(report, revision, statement):
    """The dry-run's findings about one statement (a statement report of ``revision``)."""
    return report.findings_for(revision, statement["index"])


def test_pending_is_computed_from_the_replica(run):
    report = run["report"]
    assert report.pending == ["a2", "a3", "a4"]
    assert report.replica["role"] == "replica"
    assert report.replica["current_revisions"] == ["a1"]
    assert report.replica["lag"]["wal_receiver"] == "streaming"


def test_exact_counts_for_update_and_delete_match_the_truth(run, env):
    update, delete = _statements(run["report"], "a2")
    truth_update = env["primary"].execute("SELECT count(*) FROM accounts WHERE id % 10 = 0", dbname=env["db"])[0][0]
    truth_delete = env["primary"].execute("SELECT count(*) FROM accounts WHERE id > 117000", dbname=env["db"])[0][0]
    assert update["rows"] == {
        "count": truth_update,
        "exact": True,
        "method": "count",
        "seconds": pytest.approx(update["rows"]["seconds"]),
    }
    assert update["rows"]["count"] == 12_000
    assert delete["rows"]["count"] == truth_delete == 3_000 and delete["rows"]["exact"] is True
    assert update["observed_locks"][0] == {
        "relation": "accounts",
        "kind": "table",
        "mode": "RowExclusiveLock",
        "created": False,
    }
    assert update["table_bytes"] > 5_000_000 and update["table_rows_estimate"] == ROWS


def test_rewrite_is_reported_with_access_exclusive_lock(run):
    alter, index = _statements(run["report"], "a3")
    # the linter's model, with the replica's catalog facts (score is int4: int4 -> int8 rewrites)
    assert alter["locks"] == [
        {"relation": "public.accounts", "mode": "AccessExclusiveLock", "blocks": ["reads", "writes", "ddl"]}
    ]
    assert alter["rewrites"] == ["public.accounts"] and "type-change-rewrites" in [f["rule"] for f in alter["findings"]]
    # a statement's findings have the shape lint's JSON gives them, not the event's
    (rewrite,) = [f for f in alter["findings"] if f["rule"] == "type-change-rewrites"]
    assert list(rewrite)[:5] == ["rule", "severity", "message", "hint", "line"] and "event" not in rewrite
    assert alter["lock_differences"] == [] and index["lock_differences"] == []  # the model matches the shadow
    assert alter["sql"] == "ALTER TABLE accounts ALTER COLUMN score TYPE BIGINT"
    assert {"relation": "accounts", "kind": "table", "mode": "AccessExclusiveLock", "created": False} in alter[
        "observed_locks"
    ]
    assert alter["rewrite"] is True and alter["observed_rewrite"] == ["accounts"]
    assert alter["rows"] == {"count": ROWS, "exact": False, "method": "estimate"}
    assert alter["estimated_seconds"] > 0
    assert any(w.rule == "lock-risk" for w in _found(run["report"], "a3", alter))
    assert index["rewrite"] is False
    assert {"relation": "accounts", "kind": "table", "mode": "ShareLock", "created": False} in index["observed_locks"]


def test_failures_are_flagged_with_the_true_counts(run, env):
    unique, fk = _statements(run["report"], "a4")
    dupes = env["primary"].execute(
        "SELECT count(*) FROM (SELECT email FROM accounts GROUP BY email HAVING count(*) > 1) d", dbname=env["db"]
    )[0][0]
    orphans = env["primary"].execute(
        "SELECT count(*) FROM accounts c WHERE parent_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM accounts p WHERE p.id = c.parent_id)",
        dbname=env["db"],
    )[0][0]
    assert dupes > 0 and orphans > 0
    assert [c["violations"] for c in unique["checks"]] == [dupes]
    assert [c["violations"] for c in fk["checks"]] == [orphans]
    assert [w.rule for w in _found(run["report"], "a4", unique) if w.severity == "error"] == ["would-fail-unique"]
    assert [w.rule for w in _found(run["report"], "a4", fk) if w.severity == "error"] == ["would-fail-foreign-key"]
    assert run["report"].exit_code == 1


def test_events_stream_each_statement(run):
    events = run["events"]
    statements = [e for e in events if isinstance(e, DryRunStatement)]
    assert [(e.revision, e.index) for e in statements] == [
        ("a2", 0),
        ("a2", 1),
        ("a3", 0),
        ("a3", 1),
        ("a4", 0),
        ("a4", 1),
    ]
    assert sum(1 for e in events if isinstance(e, Finding) and e.severity == "error") == 2
    assert isinstance(events[-1], RunFinished) and events[-1].exit_code == 1


def test_nothing_changed_on_either_server(run):
    assert run["after"] == run["before"]
    assert run["leftovers"] == 0
    load = run["report"].load
    assert load["queries"] > 0 and load["timeouts"] == 0


def test_budget_fallback_marks_estimates_not_exact(env, pg):
    report = run_dry_run(
        project_settings(env["project"], replica_dsn=env["replica"].dsn(env["db"])),
        DryRunOptions(scratch_server=pg, count_budget=0.001),
    )
    update, delete = _statements(report, "a2")
    assert update["rows"]["exact"] is False and update["rows"]["method"] == "explain"
    assert update["rows"]["count"] > 0  # the planner's guess for "id % 10 = 0" (not the truth: 12,000)
    # the DELETE's index range scan may finish within even 1 ms: exact then, else the histogram's estimate
    assert delete["rows"]["count"] == pytest.approx(3_000, rel=0 if delete["rows"]["exact"] else 0.5)
    assert any(w.rule == "row-count-estimated" for w in _found(report, "a2", update))
    assert report.load["timeouts"] >= 1


def test_cli_json_shape_and_exit_code(env, pg):
    # the test servers trust local users: the password is accepted and ignored, and must never be printed
    with_password = env["replica"].dsn(env["db"]).replace("postgres@", "postgres:Sup3rS3cret@")
    proc = run_cli(
        "dry-run",
        "--replica-dsn",
        with_password,
        "--migrations",
        str(env["dir"]),
        "--format",
        "json",
        "--scratch-dsn",
        pg.dsn(),
    )
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data["exit_code"] == 1 and data["summary"]["errors"] == 2
    stmt = data["revisions"][0]["statements"][0]
    for key in ("sql", "rows", "table_bytes", "estimated_seconds", "observed_locks", "findings"):
        assert key in stmt
    errors = [f for f in data["findings"] if f["severity"] == "error"]
    assert len(errors) == 2 and all(f["revision"] == "a4" and "statement" in f and f["hint"] for f in errors)
    assert set(data["summary"]) >= {"errors", "warnings", "info"}
    assert stmt["rows"]["count"] == 12_000 and stmt["rows"]["exact"] is True
    assert "Sup3rS3cret" not in proc.stdout + proc.stderr and data["replica"]["dsn"].count("***") == 1


def test_cli_text_streams_statements(env, pg):
    proc = run_cli(
        "dry-run",
        "--replica-dsn",
        env["replica"].dsn(env["db"]),
        "--migrations",
        str(env["dir"]),
        "--scratch-dsn",
        pg.dsn(),
        "--format",
        "text",
    )
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "pending: a2, a3, a4" in out
    assert "rows 12,000 (exact)" in out
    assert "locks AccessExclusiveLock accounts · rewrite" in out
    assert "ERROR [would-fail-unique]" in out
    assert out.count("[would-fail-unique]") == 1  # with its statement, not again as a finding event


def test_report_findings_as_sarif_and_junit(run):
    from migtui.render.dryrun import junit_text, sarif_json

    report = run["report"]
    sarif = validate_sarif(json.loads(sarif_json(report)))
    errors = [r for r in sarif["results"] if r["level"] == "error"]
    assert sorted(r["ruleId"] for r in errors) == ["would-fail-foreign-key", "would-fail-unique"]
    location = errors[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("003_a4.py") and location["region"]["startLine"] > 0
    rules = {r["id"]: r for r in sarif["tool"]["driver"]["rules"]}
    assert rules["would-fail-unique"]["shortDescription"]["text"]  # described by the registry
    suite = parse_junit(junit_text(report))
    cases = suite.findall("testcase")
    assert len(cases) == 3 and all("(revision a" in c.get("name") for c in cases)
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == 1 and "(revision a4)" in failed[0].get("name")
    assert "would-fail-unique" in failed[0].find("failure").text
    summary = report.to_dict()["summary"]
    assert (summary["errors"], summary["warnings"], summary["info"]) == (
        report.count("error"),
        report.count("warning"),
        report.count("info"),
    )


def test_cli_github_annotations(env, pg):
    proc = run_cli(
        "dry-run",
        "--replica-dsn",
        env["replica"].dsn(env["db"]),
        "--migrations",
        str(env["dir"]),
        "--scratch-dsn",
        pg.dsn(),
        "--format",
        "github",
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 2 and "003_a4.py" in errors[0]


def test_cli_sarif(env, pg):
    proc = run_cli(
        "dry-run",
        "--replica-dsn",
        env["replica"].dsn(env["db"]),
        "--migrations",
        str(env["dir"]),
        "--scratch-dsn",
        pg.dsn(),
        "--format",
        "sarif",
    )
    assert proc.returncode == 1, proc.stderr
    results = validate_sarif(json.loads(proc.stdout))["results"]
    assert sum(1 for r in results if r["level"] == "error") == 2


def test_primary_given_as_replica_is_refused_then_allowed_read_only(env, pg):
    primary, db = env["primary"], env["db"]
    proc = run_main("dry-run", "--replica-dsn", primary.dsn(db), "--migrations", str(env["dir"]))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--allow-primary" in proc.stderr and "is a primary" in proc.stderr
    before = _snapshot(primary, db)
    proc = run_cli(
        "dry-run",
        "--replica-dsn",
        primary.dsn(db),
        "--allow-primary",
        "--migrations",
        str(env["dir"]),
        "--scratch-dsn",
        pg.dsn(),
        "--format",
        "json",
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["replica"]["role"] == "primary"
    assert _snapshot(primary, db) == before


def test_unreachable_replica_is_one_line_without_password(env):
    proc = run_main(
        "dry-run", "--replica-dsn", "postgresql://app:s3cret@127.0.0.1:1/app", "--migrations", str(env["dir"])
    )
    assert proc.returncode == 6
    assert proc.stderr.count("\n") == 1 and "s3cret" not in proc.stderr
    assert proc.stderr.startswith("migtui: error: cannot connect")


def test_replica_without_version_table_is_one_line(env):
    proc = run_main("dry-run", "--replica-dsn", env["replica"].dsn("postgres"), "--migrations", str(env["dir"]))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no version table alembic_version" in proc.stderr


def test_no_replica_given_is_a_usage_error(env):
    proc = run_main(
        "dry-run", "--migrations", str(env["dir"]), env={"MIGTUI_REPLICA_DSN": "", "MIGTUI_REPLICA_URL": ""}
    )
    assert proc.returncode == 2 and "no replica given" in proc.stderr


def test_script_wraps_the_cli_for_ci(env, pg):
    script = ROOT / "scripts" / "db-dry-run.sh"
    proc = subprocess.run(
        [
            "bash",
            str(script),
            "--replica-dsn",
            env["replica"].dsn(env["db"]),
            "--migrations",
            str(env["dir"]),
            "--scratch-dsn",
            pg.dsn(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(ROOT),
        env={**os.environ, "MIGTUI": f"{sys.executable} -m migtui", "GITHUB_ACTIONS": "true", "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 1, proc.stderr
    assert sum(1 for line in proc.stdout.splitlines() if line.startswith("::error ")) == 2


def test_busy_table_on_the_primary_is_a_lock_risk(env, pg, run):
    import psycopg

    (alter, _index) = _statements(run["report"], "a3")
    assert alter["table_activity"] == {"sessions": 0, "oldest_transaction_seconds": 0.0}
    with psycopg.connect(env["primary"].dsn(env["db"])) as reader:  # an open transaction reading accounts
        reader.execute("SELECT count(*) FROM accounts WHERE id < 10").fetchone()
        report = run_dry_run(
            project_settings(
                env["project"], replica_dsn=env["replica"].dsn(env["db"]), dsn=env["primary"].dsn(env["db"])
            ),
            DryRunOptions(scratch_server=pg),
        )
        reader.rollback()
    alter, index = _statements(report, "a3")
    assert alter["table_activity"]["sessions"] == 1
    busy = [w.message for w in _found(report, "a3", alter) if "hold locks on accounts" in w.message]
    assert busy and "ACCESS EXCLUSIVE lock request would queue behind them and block every query" in busy[0]
    assert index["table_activity"]["sessions"] == 1  # CREATE INDEX: SHARE lock blocks writes
    assert _statements(report, "a2")[0]["table_activity"] is None  # UPDATE: RowExclusiveLock, no queue risk


def test_lock_holds_last_until_the_commit(run):
    """a3's ALTER TYPE takes AccessExclusiveLock and its CREATE INDEX runs before the COMMIT: one hold through
    both statements, estimated from rates measured on the scratch server; a2's DML blocks nobody."""
    data = json.loads(json.dumps(run["report"].to_dict(), default=str))
    by_rev = {r["revision"]: r for r in data["revisions"]}
    assert by_rev["a2"]["lock_holds"] == []
    [hold] = by_rev["a3"]["lock_holds"]
    assert hold["relation"] == "public.accounts" and hold["mode"] == "AccessExclusiveLock"
    assert hold["blocks"] == ["reads", "writes", "ddl"]
    assert hold["taken_by"]["index"] == 0 and hold["taken_by"]["statement"] == "ALTER TABLE"
    assert hold["released_by"]["statement"] == "COMMIT" and hold["through"] == 2
    assert hold["estimate_complete"] is True and hold["estimated_seconds"] > 0
    rates = data["shadow"]["rates"]
    assert rates["source"] == "measured"
    assert {"update_rows_s", "delete_rows_s", "rewrite_mb_s", "index_mb_s", "fk_rows_s"} <= set(rates["measured"])
    # a4's UNIQUE builds its index under ShareRowExclusive/AccessExclusive: held through the FOREIGN KEY's scan
    a4 = by_rev["a4"]["lock_holds"]
    assert a4 and a4[0]["relation"] == "public.accounts" and a4[0]["through"] == 2
    # a hold through later statements is a lock risk once it lasts --lock-risk-seconds (default 1)
    through = [f for f in run["report"].findings_for("a3", 0) if f.rule == "lock-risk" and "through 2" in f.message]
    assert bool(through) == (hold["estimated_seconds"] >= 1.0), (hold, through)
    texts = [e.text for e in run["events"] if isinstance(e, Message)]
    assert any(t.strip().startswith("AccessExclusiveLock on public.accounts blocks reads, writes, ddl") for t in texts)
