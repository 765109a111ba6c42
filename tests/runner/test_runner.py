"""The runner's engine API on real PostgreSQL: Runner.upgrade/downgrade/current/pending and run_revision_step."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from migtui.config import Settings
from migtui.errors import LockNotAcquired, MigrationFailed, MigrationTimeout, UsageError
from migtui.events import LockWait, Message, Progress, RevisionFailed, RevisionStarted, StatementStarted
from migtui.pg import advisory
from migtui.pg.version_table import advisory_key
from migtui.project.load import AlembicProject
from migtui.runner.job import Runner, run_revision_step
from tests.alembic_projects import Rev, make_project

CREATE_T = "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True), sa.Column('v', sa.Text))"


def settings_for(dsn: str, **overrides) -> Settings:
    base = {"dsn": dsn, "timeout": 20.0, "progress_interval": 0.5, "lock_retry_delay": 0.1}
    base.update(overrides)
    return Settings(**base)


class Recorder:
    """An EventSink that keeps every event (thread-safe: the watchdog emits too)."""

    def __init__(self) -> None:
        self.events: list = []
        self._lock = threading.Lock()

    def __call__(self, event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind):
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]


def scalar(dsn: str, sql: str, params=None):
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        row = cur.fetchone() if cur.description else None
        return row[0] if row else None


def advisory_locks_held(dsn: str) -> int:
    return scalar(
        dsn,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )


def test_upgrade_downgrade_roundtrip_with_stock_env(tmp_path, fresh_db):
    project = AlembicProject.load(
        make_project(
            tmp_path,
            [
                Rev("a1", CREATE_T, "op.drop_table('t')", message="create t"),
                Rev(
                    "a2",
                    'op.execute("CREATE TABLE seen AS SELECT application_name AS app, '
                    "current_setting('lock_timeout') AS lt FROM pg_stat_activity WHERE pid = pg_backend_pid()\")",
                    "op.drop_table('seen')",
                ),
                Rev("a3", "op.add_column('t', sa.Column('w', sa.Integer))", "op.drop_column('t', 'w')"),
            ],
        )
    )
    sink = Recorder()
    runner = Runner(project, fresh_db, settings_for(fresh_db, lock_timeout=1.5), sink)
    assert runner.current() == ()
    assert [r.revision for r in runner.pending()] == ["a1", "a2", "a3"]

    result = runner.upgrade()
    assert result.applied == ["a1", "a2", "a3"] and result.direction == "up" and not result.already_current
    assert runner.current() == ("a3",) and runner.pending() == []
    # the session running a revision names migtui and the revision, and runs under lock_timeout
    tag = advisory.scope_tag(advisory_key("public", "alembic_version"))
    assert scalar(fresh_db, "SELECT app || ' ' || lt FROM seen") == f"migtui up a2 @{tag} 1500ms"
    statements = sink.of(StatementStarted)
    assert [s.revision for s in statements] == ["a1", "a2", "a3"]  # the revisions' SQL, not alembic's bookkeeping
    assert "ADD COLUMN w" in statements[-1].sql and statements[-1].transactional
    assert advisory_locks_held(fresh_db) == 0

    again = runner.upgrade()
    assert again.already_current and again.applied == []

    assert runner.downgrade("-1").applied == ["a3"]
    assert runner.current() == ("a2",)
    assert (
        scalar(fresh_db, "SELECT count(*) FROM information_schema.columns WHERE table_name='t' AND column_name='w'")
        == 0
    )
    assert runner.downgrade("base").applied == ["a2", "a1"]
    assert runner.current() == ()
    assert scalar(fresh_db, "SELECT to_regclass('t') IS NULL") is True
    with pytest.raises(UsageError):
        runner.downgrade("")
    with pytest.raises(UsageError, match="zzz"):
        runner.upgrade("zzz")


def test_timeout_cancels_statement_and_rolls_back(tmp_path, fresh_db):
    project = AlembicProject.load(
        make_project(
            tmp_path,
            [
                Rev("a1", CREATE_T, "op.drop_table('t')"),
                Rev("a2", "op.create_table('half', sa.Column('id', sa.Integer))\nop.execute('SELECT pg_sleep(30)')"),
            ],
        )
    )
    sink = Recorder()
    runner = Runner(project, fresh_db, settings_for(fresh_db, timeout=1.5, progress_interval=0.4), sink)
    started = time.monotonic()
    with pytest.raises(MigrationTimeout, match="a2") as info:
        runner.upgrade()
    elapsed = time.monotonic() - started
    assert elapsed < 6, elapsed
    assert info.value.exit_code == 3
    assert "database left at a1" in info.value.message
    assert runner.current() == ("a1",)  # a1 committed, a2 rolled back
    assert scalar(fresh_db, "SELECT to_regclass('half') IS NULL") is True
    assert advisory_locks_held(fresh_db) == 0
    progress = sink.of(Progress)
    assert progress and all(p.revision == "a2" for p in progress)
    assert any("pg_sleep" in p.statement for p in progress)
    failed = sink.of(RevisionFailed)
    assert [f.revision for f in failed] == ["a2"] and failed[0].rolled_back


def test_timeout_interrupts_python_code_in_a_revision(tmp_path, fresh_db):
    project = AlembicProject.load(
        make_project(
            tmp_path, [Rev("a1", "op.create_table('half', sa.Column('id', sa.Integer))\nimport time\ntime.sleep(30)")]
        )
    )
    runner = Runner(project, fresh_db, settings_for(fresh_db, timeout=1.0))
    started = time.monotonic()
    with pytest.raises(MigrationTimeout):
        runner.upgrade()
    assert time.monotonic() - started < 6
    assert runner.current() == ()
    assert scalar(fresh_db, "SELECT to_regclass('half') IS NULL") is True
    assert advisory_locks_held(fresh_db) == 0


def test_lock_timeout_retries_never_block_other_writers(tmp_path, fresh_db):
    """A DDL queued behind a long transaction gives up per lock_timeout; writers wait at most ~lock_timeout."""
    project = AlembicProject.load(
        make_project(
            tmp_path,
            [
                Rev("a1", CREATE_T, "op.drop_table('t')"),
                Rev("a2", "op.add_column('t', sa.Column('w', sa.Integer))", "op.drop_column('t', 'w')"),
            ],
        )
    )
    lock_timeout = 0.6
    Runner(project, fresh_db, settings_for(fresh_db)).upgrade("a1")

    long_tx = psycopg.connect(fresh_db, application_name="long-report")
    long_tx.execute("SELECT count(*) FROM t")  # AccessShareLock held until commit
    blocker_pid = long_tx.info.backend_pid

    waits: list[float] = []
    stop = threading.Event()

    def writer() -> None:
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            while not stop.is_set():
                t0 = time.monotonic()
                conn.execute("INSERT INTO t (v) VALUES ('x')")
                waits.append(time.monotonic() - t0)
                time.sleep(0.02)

    thread = threading.Thread(target=writer)
    thread.start()
    sink = Recorder()
    settings = settings_for(fresh_db, lock_timeout=lock_timeout, lock_retries=2, progress_interval=0.3)
    try:
        with pytest.raises(MigrationFailed) as info:
            Runner(project, fresh_db, settings, sink).upgrade()
    finally:
        stop.set()
        thread.join()
    assert info.value.exit_code == 5
    assert f"pid {blocker_pid}" in info.value.message and "long-report" in info.value.message
    assert [e.attempt for e in sink.of(RevisionStarted) if e.revision == "a2"] == [1, 2, 3]
    assert any(w.holder_pid == blocker_pid for w in sink.of(LockWait) if w.what == "relation")
    assert any(f"pid {blocker_pid}" in p.waiting_for for p in sink.of(Progress))
    assert len(waits) > 10
    assert max(waits) < lock_timeout + 0.9, f"a writer waited {max(waits):.2f}s behind the queued DDL"
    assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a1"

    # the blocker commits during the retries: the revision then goes through. Commit once the first attempt
    # has given up (not after a fixed delay: on a loaded machine the first attempt may start after it)
    sink = Recorder()

    def commit_during_retries() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(e.attempt >= 2 for e in sink.of(RevisionStarted)):
            time.sleep(0.02)
        long_tx.commit()

    committer = threading.Thread(target=commit_during_retries)
    committer.start()
    settings = settings_for(fresh_db, lock_timeout=lock_timeout, lock_retries=5, lock_retry_delay=0.3)
    try:
        result = Runner(project, fresh_db, settings, sink).upgrade()
    finally:
        committer.join()  # never close a connection another thread may still be using (libpq crashes)
        long_tx.close()
    assert result.applied == ["a2"]
    assert max(e.attempt for e in sink.of(RevisionStarted)) >= 2


def test_failed_concurrent_index_reports_invalid_index(tmp_path, fresh_db):
    project = AlembicProject.load(
        make_project(
            tmp_path,
            [
                Rev(
                    "a1", CREATE_T + "\nop.execute(\"INSERT INTO t (v) VALUES ('dup'), ('dup')\")", "op.drop_table('t')"
                ),
                Rev(
                    "a2",
                    "with op.get_context().autocommit_block():\n"
                    "    op.execute('CREATE UNIQUE INDEX CONCURRENTLY t_v_key ON t (v)')",
                    "op.execute('DROP INDEX t_v_key')",
                ),
            ],
        )
    )
    sink = Recorder()
    runner = Runner(project, fresh_db, settings_for(fresh_db), sink)
    with pytest.raises(MigrationFailed) as info:
        runner.upgrade()
    assert "INVALID index" in info.value.message and "t_v_key" in info.value.message
    assert "could not create unique index" in info.value.message
    assert runner.current() == ("a1",)
    failed = sink.of(RevisionFailed)
    assert failed and failed[0].rolled_back is False  # the concurrent build ran outside the transaction
    statements = sink.of(StatementStarted)
    assert any(not s.transactional and "CONCURRENTLY" in s.sql for s in statements)


def test_advisory_lock_held_elsewhere_exits_4_naming_the_holder(tmp_path, fresh_db):
    project = AlembicProject.load(make_project(tmp_path, [Rev("a1", CREATE_T)]))
    holder = psycopg.connect(fresh_db, autocommit=True, application_name="other-deploy")
    try:
        assert advisory.try_lock(holder, advisory_key("public", "alembic_version"))
        sink = Recorder()
        runner = Runner(project, fresh_db, settings_for(fresh_db, advisory_lock_wait=0.8), sink)
        with pytest.raises(LockNotAcquired) as info:
            runner.upgrade()
        assert info.value.exit_code == 4
        assert f"pid {holder.info.backend_pid}" in info.value.message and "other-deploy" in info.value.message
        waits = sink.of(LockWait)
        assert waits and waits[0].what == "advisory" and waits[0].holder_application == "other-deploy"
        assert runner.current() == ()
    finally:
        holder.close()


def test_run_revision_step_is_reusable_alone(tmp_path, fresh_db):
    project = AlembicProject.load(
        make_project(tmp_path, [Rev("a1", CREATE_T, "op.drop_table('t')"), Rev("a2", "op.execute('SELECT 1/0')")])
    )
    settings = settings_for(fresh_db)
    sink = Recorder()
    assert run_revision_step(project, fresh_db, settings, "a1", "up", sink=sink, job="rollback-test") >= 0
    assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a1"
    with pytest.raises(MigrationFailed, match="division by zero"):
        run_revision_step(project, fresh_db, settings, "a2", "up")
    run_revision_step(project, fresh_db, settings, "a1", "down")
    assert scalar(fresh_db, "SELECT count(*) FROM alembic_version") == 0
    assert scalar(fresh_db, "SELECT to_regclass('t') IS NULL") is True


def test_timeout_from_a_worker_thread(tmp_path, fresh_db):
    """The TUI runs the runner in a worker thread: no signals there, the statement is still cancelled."""
    project = AlembicProject.load(make_project(tmp_path, [Rev("a1", "op.execute('SELECT pg_sleep(30)')")]))
    outcome: list[BaseException | None] = []

    def work() -> None:
        try:
            Runner(project, fresh_db, settings_for(fresh_db, timeout=1.0)).upgrade()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=15)
    assert time.monotonic() - started < 6
    assert len(outcome) == 1 and isinstance(outcome[0], MigrationTimeout)
    assert advisory_locks_held(fresh_db) == 0


def test_database_at_a_revision_the_project_lacks(tmp_path, fresh_db):
    project = AlembicProject.load(make_project(tmp_path, [Rev("a1", CREATE_T)]))
    scalar(fresh_db, "CREATE TABLE alembic_version AS SELECT 'feedface'::varchar(32) AS version_num")
    runner = Runner(project, fresh_db, settings_for(fresh_db))
    assert runner.current() == ("feedface",)
    with pytest.raises(UsageError, match="feedface"):
        runner.upgrade()
    assert advisory_locks_held(fresh_db) == 0


def test_left_over_migration_session_is_ended_before_running(tmp_path, fresh_db):
    """A migration session of a runner that is gone (still holding locks) is ended, then the run proceeds."""
    project = AlembicProject.load(
        make_project(tmp_path, [Rev("a1", CREATE_T), Rev("a2", "op.add_column('t', sa.Column('w', sa.Integer))")])
    )
    Runner(project, fresh_db, settings_for(fresh_db)).upgrade("a1")
    tag = advisory.scope_tag(advisory_key("public", "alembic_version"))
    orphan = psycopg.connect(fresh_db, application_name=f"migtui up a2 @{tag}")
    orphan.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")  # as if a2 were half-way, its runner dead
    sink = Recorder()
    runner = Runner(project, fresh_db, settings_for(fresh_db, lock_timeout=0.5, lock_retries=0), sink)
    runner.orphan_wait = 0.5
    try:
        assert runner.upgrade().applied == ["a2"]
    finally:
        orphan.close()
    warnings = [m.text for m in sink.of(Message) if m.level == "warning"]
    assert any("terminated left-over migration session" in w and f"migtui up a2 @{tag}" in w for w in warnings), (
        warnings
    )


def test_role_passwords_in_revisions_never_reach_events(tmp_path, fresh_db):
    import uuid

    from migtui.render.events import json_line, text_line

    role = "r_" + uuid.uuid4().hex[:10]
    project = AlembicProject.load(
        make_project(
            tmp_path,
            [
                Rev(
                    "a1",
                    f"op.execute(\"CREATE ROLE {role} LOGIN PASSWORD 'hunter22'\")",
                    f"op.execute('DROP ROLE {role}')",
                )
            ],
        )
    )
    sink = Recorder()
    runner = Runner(project, fresh_db, settings_for(fresh_db), sink)
    runner.upgrade()
    try:
        assert sink.of(StatementStarted), "the CREATE ROLE statement was reported"
        for event in sink.events:
            assert "hunter22" not in repr(event)
            assert "hunter22" not in json_line(event) and "hunter22" not in (text_line(event) or "")
    finally:
        runner.downgrade("base")


def test_progress_reports_a_concurrent_index_build_waiting_for_writers(tmp_path, fresh_db):
    project = AlembicProject.load(
        make_project(
            tmp_path,
            [
                Rev("a1", CREATE_T),
                Rev(
                    "a2",
                    "with op.get_context().autocommit_block():\n"
                    "    op.execute('CREATE INDEX CONCURRENTLY t_v_idx ON t (v)')",
                ),
            ],
        )
    )
    Runner(project, fresh_db, settings_for(fresh_db)).upgrade("a1")
    writer = psycopg.connect(fresh_db, application_name="open-writer")
    writer.execute("INSERT INTO t (v) VALUES ('x')")  # an open write transaction: CIC must wait for it
    writer_pid = writer.info.backend_pid
    committer = threading.Timer(1.5, writer.commit)
    committer.start()
    sink = Recorder()
    settings = settings_for(fresh_db, lock_timeout=10, progress_interval=0.3)
    try:
        assert Runner(project, fresh_db, settings, sink).upgrade().applied == ["a2"]
    finally:
        committer.join()  # never close a connection another thread may still be using (libpq crashes)
        writer.close()
    reports = [p for p in sink.of(Progress) if p.progress]
    assert any("create index concurrently" in p.progress and "waiting for" in p.progress for p in reports), reports
    assert any(f"pid {writer_pid}" in p.waiting_for for p in sink.of(Progress))
    assert scalar(fresh_db, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_v_idx'::regclass") is True


def test_custom_version_table_with_the_repo_env(fresh_db):
    """db/migrations' env.py honours version_table / version_table_schema; the runner reads the same table."""
    from tests.conftest import ROOT

    scalar(fresh_db, "CREATE SCHEMA ops")
    project = AlembicProject.load(ROOT / "db" / "migrations")
    first_two = [r.revision for r in project.revisions()][:2]
    settings = settings_for(fresh_db, version_table="deploy_version", version_table_schema="ops")
    runner = Runner(project, fresh_db, settings)
    assert runner.upgrade(first_two[1]).applied == first_two
    assert runner.current() == (first_two[1],)
    assert scalar(fresh_db, "SELECT version_num FROM ops.deploy_version") == first_two[1]
    assert scalar(fresh_db, "SELECT to_regclass('alembic_version') IS NULL") is True
    assert runner.downgrade("base").applied == list(reversed(first_two))
    assert runner.current() == ()


def _run_in_thread(fn):
    outcome: list = []

    def work() -> None:
        try:
            outcome.append(fn())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


def test_cancel_from_another_thread_rolls_back_and_releases(tmp_path, fresh_db):
    """What the TUI's abort does: Runner.cancel() from the UI thread while a worker runs the migration."""
    from migtui.errors import Interrupted

    project = AlembicProject.load(
        make_project(
            tmp_path,
            [
                Rev("a1", CREATE_T),
                Rev("a2", "op.create_table('half', sa.Column('id', sa.Integer))\nop.execute('SELECT pg_sleep(30)')"),
            ],
        )
    )
    runner = Runner(project, fresh_db, settings_for(fresh_db))
    thread, outcome = _run_in_thread(runner.upgrade)
    deadline = time.monotonic() + 20
    active = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'migtui up a2 @%' AND state = 'active'"
    while scalar(fresh_db, active) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cancelled_at = time.monotonic()
    runner.cancel()
    thread.join(timeout=10)
    assert time.monotonic() - cancelled_at < 2
    assert len(outcome) == 1 and isinstance(outcome[0], Interrupted) and outcome[0].exit_code == 130
    assert "database left at a1" in outcome[0].message
    assert runner.current() == ("a1",)
    assert scalar(fresh_db, "SELECT to_regclass('half') IS NULL") is True
    assert advisory_locks_held(fresh_db) == 0


def test_cancel_while_waiting_for_the_advisory_lock(tmp_path, fresh_db):
    from migtui.errors import Interrupted

    project = AlembicProject.load(make_project(tmp_path, [Rev("a1", CREATE_T)]))
    holder = psycopg.connect(fresh_db, autocommit=True)
    try:
        assert advisory.try_lock(holder, advisory_key("public", "alembic_version"))
        runner = Runner(project, fresh_db, settings_for(fresh_db, advisory_lock_wait=30))
        thread, outcome = _run_in_thread(runner.upgrade)
        time.sleep(0.5)
        runner.cancel()
        thread.join(timeout=5)
        assert len(outcome) == 1 and isinstance(outcome[0], Interrupted)
    finally:
        holder.close()
    assert runner.current() == ()


@pytest.mark.parametrize(("seconds", "shown"), [(0, "0"), (0.0004, "1ms"), (1.5, "1500ms")])
def test_lock_timeout_zero_means_none_like_timeout_zero(tmp_path, fresh_db, seconds, shown):
    project = AlembicProject.load(
        make_project(
            tmp_path,
            [Rev("a1", "op.execute(\"CREATE TABLE seen AS SELECT current_setting('lock_timeout') AS lt\")")],
        )
    )
    Runner(project, fresh_db, settings_for(fresh_db, lock_timeout=seconds)).upgrade()
    assert scalar(fresh_db, "SELECT lt FROM seen") == shown
