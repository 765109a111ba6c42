"""Zero-downtime phased revisions on real PostgreSQL, with a concurrent writer running.

Each helper pattern end to end (expand, old/new writes in sync, backfill, gates, contract), abort from each
phase, kill -9 mid-backfill then resume, gates refusing while old-path writes continue.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from migtui.config import Settings
from migtui.errors import ExitCode, LockNotAcquired
from migtui.phases import state as st
from migtui.phases.backfill import BackfillOptions
from migtui.phases.driver import DriverOptions, GateRefused, PhaseDriver
from migtui.phases.events import BackfillProgress, BackfillThrottled, GateChecked
from migtui.phases.gates import GateOptions
from migtui.project.load import AlembicProject
from tests.alembic_projects import Rev, make_project, render_offline
from tests.conftest import ROOT, default_sigint, run_cli, run_main

ROWS = 3000
BASE_SQL = f"""
CREATE TABLE users (id bigserial PRIMARY KEY, full_name text, email text NOT NULL, score int, nick text);
INSERT INTO users (full_name, email, score, nick)
  SELECT 'First' || g || ' Last' || g, 'u' || g || '@example.com', g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'n' || g END
  FROM generate_series(1, {ROWS}) g;
CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint, amount int NOT NULL);
INSERT INTO orders (user_id, amount) SELECT (g % {ROWS}) + 1, g FROM generate_series(1, {ROWS}) g;
ANALYZE users; ANALYZE orders;
CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY);
INSERT INTO alembic_version VALUES ('a1');
"""

_templates: dict[int, str] = {}


def _template(server) -> str:
    if server.pg_version not in _templates:
        name = "phases_tpl_" + uuid.uuid4().hex[:8]
        server.create_database(name)
        server.execute(BASE_SQL, dbname=name)
        _templates[server.pg_version] = name
    return _templates[server.pg_version]


@pytest.fixture
def db(request, pg):
    """(server, dsn, dbname): a clone of the base schema (alembic at a1), on pg or the pg_any server.

    ``pg`` is a parameter (not looked up by name) so the fixture closure shows a server and the test is marked db.
    """
    server = request.getfixturevalue("pg_any") if "pg_any" in request.fixturenames else pg
    name = "t_" + uuid.uuid4().hex[:12]
    dsn = server.create_database(name, template=_template(server))
    yield server, dsn, name
    server.drop_database(name)


def project(tmp_path: Path, header: str) -> Path:
    return make_project(
        tmp_path,
        [
            Rev("a1", "op.execute(" + repr(BASE_SQL.split("CREATE TABLE alembic_version")[0]) + ")", "pass"),
            Rev(
                "b2", "phases.expand(change)", "phases.downgrade(change)", header="from migtui import phases\n" + header
            ),
        ],
    )


SETTINGS = Settings(lock_timeout=0.5, lock_retries=3, lock_retry_delay=0.1)


def driver(dsn: str, proj: Path, events: list, quiet: float = 0.5, wait: float = 0.0, **backfill) -> PhaseDriver:
    opts = DriverOptions(
        backfill=BackfillOptions(**{"batch_size": 400, **backfill}),
        gates=GateOptions(quiet_window=quiet),
        wait=wait,
        poll=0.2,
    )
    return PhaseDriver(dsn, AlembicProject.load(proj), SETTINGS, events.append, opts)


def q(dsn: str, query: str, params=None, path: str | None = None):
    options = f"-c migtui.write_path={path}" if path else None
    with psycopg.connect(dsn, autocommit=True, options=options) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else cur.rowcount


def columns(dsn: str, table: str) -> list[str]:
    rows = q(
        dsn,
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        (table,),
    )
    return [r[0] for r in rows]


class Writer(threading.Thread):
    """A concurrent application: runs ``statements`` in a loop (autocommit), recording errors and latency."""

    def __init__(self, dsn: str, statements: list[str], path: str | None = None, app: str = "app-old") -> None:
        super().__init__(daemon=True)
        self.dsn, self.statements, self.path, self.app = dsn, statements, path, app
        self.stop_event = threading.Event()
        self.ok = 0
        self.errors: list[str] = []
        self.max_latency = 0.0

    def run(self) -> None:
        options = f"-c migtui.write_path={self.path}" if self.path else None
        with psycopg.connect(self.dsn, autocommit=True, options=options, application_name=self.app) as conn:
            i = 0
            while not self.stop_event.is_set():
                stmt = self.statements[i % len(self.statements)]
                i += 1
                t0 = time.monotonic()
                try:
                    conn.execute(stmt, {"i": i})
                    self.ok += 1
                except psycopg.Error as exc:
                    self.errors.append(str(exc).splitlines()[0])
                self.max_latency = max(self.max_latency, time.monotonic() - t0)
                time.sleep(0.003)

    def stop(self) -> Writer:
        self.stop_event.set()
        self.join(10)
        return self


OLD_USER_WRITES = [
    "INSERT INTO users (full_name, email, score) VALUES ('Old ' || %(i)s || ' Writer', 'old' || %(i)s || '@x', %(i)s)",
    "UPDATE users SET email = 'upd' || %(i)s || '@x', score = %(i)s WHERE id = 1 + (%(i)s * 7) %% 3000",
]


# -- patterns end to end --------------------------------------------------------------------------


def test_rename_column_end_to_end_with_writers(db, tmp_path, pg_any):
    server, dsn, _ = db
    proj = project(
        tmp_path, "change = phases.rename_column('users', 'email', 'email_address', old_application=['app-old%'])\n"
    )
    events: list = []
    old = Writer(dsn, OLD_USER_WRITES)
    old.start()
    with driver(dsn, proj, events) as d:
        d.run("b2", until="expand")
        ok_at_expand = old.ok
        assert st.get(d.conn, "b2").phase == st.EXPANDED
        assert "email_address" in columns(dsn, "users")
        # old path: old application writes email -> email_address derived
        (rid,) = q(dsn, "INSERT INTO users (email) VALUES ('o@x') RETURNING id")[0]
        assert q(dsn, "SELECT email_address FROM users WHERE id = %s", (rid,)) == [("o@x",)]
        q(dsn, "UPDATE users SET email = 'o2@x' WHERE id = %s", (rid,))
        assert q(dsn, "SELECT email_address FROM users WHERE id = %s", (rid,)) == [("o2@x",)]
        # new path: new application writes email_address -> email derived (explicit session setting)
        (nid,) = q(dsn, "INSERT INTO users (email_address) VALUES ('n@x') RETURNING id", path="new")[0]
        assert q(dsn, "SELECT email FROM users WHERE id = %s", (nid,)) == [("n@x",)]
        q(dsn, "UPDATE users SET email_address = 'n2@x' WHERE id = %s", (nid,), path="new")
        assert q(dsn, "SELECT email FROM users WHERE id = %s", (nid,)) == [("n2@x",)]
        # without the setting the trigger guesses: only the new column written -> new path
        (hid,) = q(dsn, "INSERT INTO users (email_address) VALUES ('h@x') RETURNING id")[0]
        assert q(dsn, "SELECT email FROM users WHERE id = %s", (hid,)) == [("h@x",)]
        q(dsn, "UPDATE users SET email_address = 'h2@x' WHERE id = %s", (hid,))
        assert q(dsn, "SELECT email FROM users WHERE id = %s", (hid,)) == [("h2@x",)]
        # backfill while the old application keeps writing
        d.run("b2", until="migrate")
        assert any(isinstance(e, BackfillProgress) for e in events)
        assert q(dsn, "SELECT count(*) FROM users WHERE email_address IS DISTINCT FROM email")[0][0] == 0
        # gates refuse: old-path writes continue and an old-application session is connected
        with pytest.raises(GateRefused) as refused:
            d.run("b2")
        failed = {r.gate for r in refused.value.results if not r.passed}
        assert failed == {"old_writes_quiet", "no_old_sessions"}
        assert st.get(d.conn, "b2").phase == st.MIGRATED
        # deploy the new application version: old writer stops, new-path writer runs through contract
        old.stop()
        new = Writer(
            dsn,
            ["UPDATE users SET email_address = 'new' || %(i)s || '@x' WHERE id = 1 + %(i)s %% 3000"],
            path="new",
            app="app-new",
        )
        new.start()
        time.sleep(0.6)
        new_ok_before_contract = new.ok
        d.run("b2")
        new.stop()
        assert st.get(d.conn, "b2").phase == st.CONTRACTED
        counters = st.write_counters(d.conn, "b2")
    assert old.errors == [] and new.errors == [], (old.errors[:3], new.errors[:3])
    assert old.ok > 10 and new.ok > 10
    assert counters.old_writes >= old.ok - ok_at_expand and counters.new_writes >= new_ok_before_contract > 0
    assert "email" not in columns(dsn, "users") and "email_address" in columns(dsn, "users")
    assert q(
        dsn, "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'email_address'"
    )[0][0]
    assert q(dsn, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'users'::regclass AND NOT tgisinternal")[0][0] == 0
    assert q(dsn, "SELECT count(*) FROM users")[0][0] >= ROWS + old.ok // 2
    gates = [e for e in events if isinstance(e, GateChecked)]
    assert any(g.gate == "old_writes_quiet" and not g.passed for g in gates)
    if server.pg_version >= 18:  # NOT NULL NOT VALID -> VALIDATE: a validated not-null constraint, no helper CHECK
        assert (
            q(
                dsn,
                "SELECT count(*) FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype = 'n' "
                "AND conname LIKE 'users_email_address_not_null%%' AND convalidated",
            )[0][0]
            == 1
        )


def test_change_column_type_with_rename_on_contract(db, tmp_path):
    _, dsn, _ = db
    proj = project(
        tmp_path,
        "change = phases.change_column_type('orders', 'amount', 'bigint', new_column='amount_big', "
        "rename_on_contract=True)\n",
    )
    writer = Writer(
        dsn,
        [
            "INSERT INTO orders (user_id, amount) VALUES (1, %(i)s)",
            "UPDATE orders SET amount = amount + 1 WHERE id = 1 + %(i)s %% 3000",
        ],
    )
    writer.start()
    with driver(dsn, proj, []) as d:
        d.run("b2", until="migrate")
        assert q(dsn, "SELECT count(*) FROM orders WHERE amount_big IS DISTINCT FROM amount::bigint")[0][0] == 0
        (nid,) = q(dsn, "INSERT INTO orders (user_id, amount_big) VALUES (2, 77) RETURNING id", path="new")[0]
        assert q(dsn, "SELECT amount FROM orders WHERE id = %s", (nid,)) == [(77,)]
        writer.stop()
        before = q(dsn, "SELECT sum(amount::numeric), count(*) FROM orders")[0]
        time.sleep(0.6)
        d.run("b2")
    assert writer.errors == []
    assert q(
        dsn,
        "SELECT format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
        "WHERE attrelid = 'orders'::regclass AND attname = 'amount'",
    ) == [("bigint", True)]
    assert "amount_big" not in columns(dsn, "orders")
    assert q(dsn, "SELECT sum(amount::numeric), count(*) FROM orders")[0] == before


def test_split_column(db, tmp_path):
    _, dsn, _ = db
    proj = project(
        tmp_path,
        "change = phases.split_column('users', 'full_name', {'first_name': ('text', \"split_part(full_name, ' ', 1)\"),"
        " 'last_name': ('text', \"split_part(full_name, ' ', 2)\")}, merge_back=\"first_name || ' ' || last_name\")\n",
    )
    with driver(dsn, proj, []) as d:
        d.run("b2", until="migrate")
        assert q(dsn, "SELECT first_name, last_name FROM users WHERE id = 5") == [("First5", "Last5")]
        (nid,) = q(
            dsn, "INSERT INTO users (email, first_name, last_name) VALUES ('s@x', 'Ada', 'L') RETURNING id", path="new"
        )[0]
        assert q(dsn, "SELECT full_name FROM users WHERE id = %s", (nid,)) == [("Ada L",)]
        (oid,) = q(dsn, "INSERT INTO users (email, full_name) VALUES ('t@x', 'Bo Ek') RETURNING id")[0]
        assert q(dsn, "SELECT first_name, last_name FROM users WHERE id = %s", (oid,)) == [("Bo", "Ek")]
        time.sleep(0.6)
        d.run("b2")
    assert "full_name" not in columns(dsn, "users")
    assert q(dsn, "SELECT count(*) FROM users WHERE first_name IS NULL")[0][0] == 0


def test_set_not_null_with_fill(db, tmp_path, pg_any):
    server, dsn, _ = db
    proj = project(tmp_path, "change = phases.set_not_null('users', 'nick', fill=\"'anon'\")\n")
    assert q(dsn, "SELECT count(*) FROM users WHERE nick IS NULL")[0][0] == ROWS // 10
    writer = Writer(dsn, ["INSERT INTO users (email, nick) VALUES ('w' || %(i)s || '@x', NULL)"])
    writer.start()
    with driver(dsn, proj, []) as d:
        d.run("b2", until="expand")
        # the old application's NULLs are filled, not refused
        (rid,) = q(dsn, "INSERT INTO users (email) VALUES ('z@x') RETURNING id")[0]
        assert q(dsn, "SELECT nick FROM users WHERE id = %s", (rid,)) == [("anon",)]
        d.run("b2", until="migrate")
        assert q(dsn, "SELECT count(*) FROM users WHERE nick IS NULL")[0][0] == 0
        writer.stop()
        time.sleep(0.6)
        d.run("b2")
    assert writer.errors == [] and writer.ok > 0
    assert q(dsn, "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'nick'")[0][0]
    with pytest.raises(psycopg.errors.NotNullViolation):
        q(dsn, "INSERT INTO users (email, nick) VALUES ('x@x', NULL)")
    if server.pg_version >= 18:  # the NOT VALID NOT NULL constraint was validated, not a CHECK
        assert (
            q(
                dsn,
                "SELECT count(*) FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype = 'n' "
                "AND conname LIKE 'users_nick_not_null%%' AND convalidated",
            )[0][0]
            == 1
        )
    else:
        assert (
            q(dsn, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype = 'c'")[0][0] == 0
        )


def test_add_not_null_column(db, tmp_path):
    _, dsn, _ = db
    proj = project(tmp_path, "change = phases.add_not_null_column('users', 'email_lower', 'text', 'lower(email)')\n")
    writer = Writer(dsn, OLD_USER_WRITES)
    writer.start()
    with driver(dsn, proj, []) as d:
        d.run("b2", until="migrate")
        writer.stop()
        assert q(dsn, "SELECT count(*) FROM users WHERE email_lower IS NULL")[0][0] == 0
        time.sleep(0.6)
        d.run("b2")
    assert writer.errors == []
    assert q(dsn, "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'email_lower'")[
        0
    ][0]
    # reversible after contract: the downgrade drops the column
    from alembic import command

    command.downgrade(AlembicProject.load(proj).config(dsn), "a1")
    assert "email_lower" not in columns(dsn, "users")


def test_add_unique_constraint_concurrently(db, tmp_path):
    _, dsn, _ = db
    proj = project(tmp_path, "change = phases.add_unique_constraint('users', ['email'])\n")
    writer = Writer(dsn, ["INSERT INTO users (email) VALUES ('uniq' || %(i)s || '@x')"])
    writer.start()
    with driver(dsn, proj, []) as d:
        d.run("b2")
    writer.stop()
    assert writer.errors == []
    assert q(dsn, "SELECT contype FROM pg_constraint WHERE conname = 'users_email_key'") == [("u",)]
    with pytest.raises(psycopg.errors.UniqueViolation):
        q(dsn, "INSERT INTO users (email) VALUES ('u1@example.com')")


def test_unique_with_duplicates_fails_cleanly(db, tmp_path):
    _, dsn, _ = db
    q(dsn, "INSERT INTO users (email) VALUES ('u1@example.com')")
    proj = project(tmp_path, "change = phases.add_unique_constraint('users', ['email'])\n")
    result = run_cli("phase", "run", "b2", "--dsn", dsn, "--migrations", str(proj), env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == ExitCode.MIGRATION_FAILED, result.stderr
    assert "Traceback" not in result.stderr and "users_email_key" in result.stderr
    assert q(dsn, "SELECT count(*) FROM pg_class WHERE relname = 'users_email_key'")[0][0] == 0  # no INVALID leftover
    assert q(dsn, "SELECT version_num FROM alembic_version") == [("a1",)]


def test_add_foreign_key_gate_refuses_orphans(db, tmp_path):
    _, dsn, _ = db
    q(dsn, "INSERT INTO orders (user_id, amount) VALUES (999999, 1)")
    proj = project(tmp_path, "change = phases.add_foreign_key('orders', ['user_id'], 'users', ['id'])\n")
    writer = Writer(dsn, ["INSERT INTO orders (user_id, amount) VALUES (1 + %(i)s %% 3000, %(i)s)"])
    writer.start()
    with driver(dsn, proj, []) as d:
        d.run("b2", until="migrate")
        # NOT VALID already checks new writes
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            q(dsn, "INSERT INTO orders (user_id, amount) VALUES (888888, 1)")
        with pytest.raises(GateRefused) as refused:
            d.run("b2")
        assert next(r.evidence for r in refused.value.results if r.gate == "no_orphans").startswith("1 rows")
        q(dsn, "DELETE FROM orders WHERE user_id = 999999")
        d.run("b2")
    writer.stop()
    assert writer.errors == []
    assert q(dsn, "SELECT convalidated FROM pg_constraint WHERE conname = 'orders_user_id_fkey'") == [(True,)]


# -- abort, crash, resume -----------------------------------------------------------------------


CATALOG_SQL = """
SELECT 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' ' || a.attnotnull
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relname IN ('users', 'orders') AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL SELECT 'con ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated FROM pg_constraint
WHERE conrelid IN ('users'::regclass, 'orders'::regclass)
UNION ALL SELECT 'idx ' || indexrelid::regclass::text FROM pg_index
WHERE indrelid IN ('users'::regclass, 'orders'::regclass)
UNION ALL SELECT 'trg ' || tgname FROM pg_trigger WHERE NOT tgisinternal
UNION ALL SELECT 'fn ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'migtui'
ORDER BY 1
"""

ABORT_PATTERNS = {
    "rename": "phases.rename_column('users', 'email', 'email_address')",
    "type": "phases.change_column_type('orders', 'amount', 'bigint')",
    "not_null": "phases.set_not_null('users', 'nick', fill=\"'anon'\")",
    "new_column": "phases.add_not_null_column('users', 'email_lower', 'text', 'lower(email)')",
    "unique": "phases.add_unique_constraint('users', ['email'])",
    "foreign_key": "phases.add_foreign_key('orders', ['user_id'], 'users', ['id'])",
}


@pytest.mark.parametrize("until", ["expand", "migrate"])
@pytest.mark.parametrize("pattern", sorted(ABORT_PATTERNS))
def test_abort_restores_original_shape(db, tmp_path, pattern, until):
    _, dsn, _ = db
    proj = project(tmp_path, f"change = {ABORT_PATTERNS[pattern]}\n")
    before = q(dsn, CATALOG_SQL)
    score_before, rows_before = q(dsn, "SELECT sum(score), count(*) FROM users")[0]
    writer = Writer(dsn, ["UPDATE users SET score = score + 1 WHERE id = 1 + %(i)s %% 3000"])
    writer.start()
    with driver(dsn, proj, []) as d:
        d.run("b2", until=until)
        assert st.get(d.conn, "b2").phase == (st.EXPANDED if until == "expand" else st.MIGRATED)
        if pattern == "rename":  # a new-application write during the phase survives the abort (old column)
            (nid,) = q(dsn, "INSERT INTO users (email_address) VALUES ('keep@x') RETURNING id", path="new")[0]
        d.abort("b2")
        assert st.get(d.conn, "b2").phase == st.ABORTED
    writer.stop()
    assert writer.errors == []
    assert q(dsn, CATALOG_SQL) == before
    assert q(dsn, "SELECT version_num FROM alembic_version") == [("a1",)]
    # no write lost: every update of the concurrent writer is there (+1 each), no row gone
    assert q(dsn, "SELECT sum(score), count(*) FROM users")[0] == (
        score_before + writer.ok,
        rows_before + (1 if pattern == "rename" else 0),
    )
    if pattern == "rename":
        assert q(dsn, "SELECT email FROM users WHERE id = %s", (nid,)) == [("keep@x",)]
    # and it can be applied again from scratch
    with driver(dsn, proj, []) as d:
        d.run("b2", until="expand")
        assert st.get(d.conn, "b2").phase == st.EXPANDED


def test_alembic_downgrade_aborts_before_contract(db, tmp_path):
    _, dsn, _ = db
    from alembic import command

    proj = project(tmp_path, "change = phases.add_foreign_key('orders', ['user_id'], 'users', ['id'])\n")
    cfg = AlembicProject.load(proj).config(dsn)
    command.upgrade(cfg, "b2")
    assert q(dsn, "SELECT phase FROM migtui.phase_state") == [("expanded",)]
    command.downgrade(cfg, "a1")
    assert q(dsn, "SELECT count(*) FROM pg_constraint WHERE conname = 'orders_user_id_fkey'")[0][0] == 0
    assert q(dsn, "SELECT count(*) FROM pg_class WHERE relname = 'orders_user_id_idx'")[0][0] == 0
    # nothing of migtui is left: upgrade + downgrade is an exact round trip
    assert q(dsn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'migtui'")[0][0] == 0


def _start_backfill_subprocess(dsn: str, proj: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "migtui",
            "phase",
            "run",
            "b2",
            "--until",
            "migrate",
            "--dsn",
            dsn,
            "--migrations",
            str(proj),
            "--batch-size",
            "50",
            "--max-batch-size",
            "50",
            "--pause",
            "0.05",
            "--format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
        cwd=str(ROOT),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _kill_mid_backfill(dsn: str, proj: Path, sig: int = signal.SIGKILL) -> int:
    with driver(dsn, proj, []) as d:
        d.run("b2", until="expand")
    proc = _start_backfill_subprocess(dsn, proj)
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline:
        rows = q(dsn, "SELECT rows_done FROM migtui.phase_state WHERE revision = 'b2' AND phase = 'migrating'")
        done = rows[0][0] if rows else 0
        if done >= 500:
            break
        time.sleep(0.05)
    os.kill(proc.pid, sig)
    code = proc.wait(10)
    if sig == signal.SIGINT:  # Ctrl-C: one line, exit 130, the batch in flight rolled back
        assert code == ExitCode.INTERRUPTED, proc.stderr.read()
        assert "Traceback" not in proc.stderr.read()
    assert 500 <= done < ROWS, done
    return done


def test_kill9_mid_backfill_then_resume(db, tmp_path):
    _, dsn, _ = db
    proj = project(tmp_path, "change = phases.rename_column('users', 'email', 'email_address')\n")
    writer = Writer(dsn, OLD_USER_WRITES)
    writer.start()
    _kill_mid_backfill(dsn, proj)
    state = q(dsn, "SELECT phase, cursor, rows_done, cursor_end FROM migtui.phase_state WHERE revision = 'b2'")[0]
    assert state[0] == "migrating" and state[1] is not None
    stored_cursor = state[1][0]
    # rows beyond the cursor are not backfilled yet (the crash really interrupted it)
    assert (
        q(
            dsn,
            "SELECT count(*) FROM users WHERE id > %s AND id <= %s AND email_address IS NULL",
            (stored_cursor, ROWS),
        )[0][0]
        > 0
    )
    events: list = []
    with driver(dsn, proj, events) as d:
        d.run("b2", until="migrate")  # the killed runner's advisory lock is gone: resume at once
        final = st.get(d.conn, "b2")
    writer.stop()
    assert final.phase == st.MIGRATED
    assert final.counters["backfill_runs"] == 1 and final.counters["backfill_batches"] > 0  # the resumed run
    progress = [e for e in events if isinstance(e, BackfillProgress)]
    assert progress and progress[0].rows_done > state[2]  # continued from the stored cursor, not from zero
    assert final.rows_done - state[2] <= state[3][0] - stored_cursor  # the resumed run only covered what was left
    assert q(dsn, "SELECT count(*) FROM users WHERE email_address IS DISTINCT FROM email")[0][0] == 0
    assert writer.errors == []


def test_abort_from_migrating_after_crash(db, tmp_path):
    _, dsn, _ = db
    proj = project(tmp_path, "change = phases.rename_column('users', 'email', 'email_address')\n")
    _kill_mid_backfill(dsn, proj)
    result = run_cli("phase", "abort", "b2", "--dsn", dsn, "--migrations", str(proj), env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert "email_address" not in columns(dsn, "users")
    assert q(dsn, "SELECT phase FROM migtui.phase_state") == [("aborted",)]
    assert q(dsn, "SELECT version_num FROM alembic_version") == [("a1",)]


# -- state machine, throttling, CLI -------------------------------------------------------------


def test_transitions_are_compare_and_set(db, tmp_path):
    _, dsn, _ = db
    proj = project(tmp_path, "change = phases.rename_column('users', 'email', 'email_address')\n")
    with driver(dsn, proj, []) as d:
        d.run("b2", until="expand")
        st.transition(d.conn, "b2", st.EXPANDED, st.MIGRATING, runner="someone-else")
        with pytest.raises(st.PhaseConflict, match="is in phase migrating, not expanded"):
            st.transition(d.conn, "b2", st.EXPANDED, st.MIGRATING, runner="me")
        # a second driver while the first holds the revision's lock
        with d.driving("b2"):
            other = driver(dsn, proj, [])
            with pytest.raises(LockNotAcquired, match="another migtui is driving revision b2"):
                other.run("b2")
            other.close()
    result = run_cli("phase", "abort", "b2", "--dsn", dsn, "--migrations", str(proj), env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0  # migrating with a dead runner: abort takes over


def test_backfill_backs_off_while_sessions_wait_for_locks(db, tmp_path):
    _, dsn, _ = db
    proj = project(tmp_path, "change = phases.rename_column('users', 'email', 'email_address')\n")
    events: list = []
    with driver(dsn, proj, events, max_lock_waiters=1) as d:
        d.run("b2", until="expand")
        holder = psycopg.connect(dsn)
        holder.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        waiters = [Writer(dsn, ["SELECT count(*) FROM orders"]) for _ in range(2)]
        for w in waiters:
            w.start()
        thread = threading.Thread(target=d.run, args=("b2", "migrate"))
        thread.start()
        time.sleep(1.0)
        throttled = [e for e in events if isinstance(e, BackfillThrottled)]
        assert throttled and "waiting for locks" in throttled[0].reason
        assert q(dsn, "SELECT rows_done FROM migtui.phase_state")[0][0] == 0  # no progress while throttled
        holder.rollback()
        holder.close()
        thread.join(30)
        for w in waiters:
            w.stop()
        assert st.get(d.conn, "b2").phase == st.MIGRATED


def test_cli_status_json_and_exit_codes(db, tmp_path):
    _, dsn, _ = db
    proj = project(tmp_path, "change = phases.rename_column('users', 'email', 'email_address')\n")
    env = {"PYTHONPATH": str(ROOT)}
    # the project's root: its alembic.ini (the stock one, alembic's logger at INFO) is what env.py's fileConfig reads
    common = ["--dsn", dsn, "--migrations", str(proj.parent)]
    assert (proj.parent / "alembic.ini").is_file()
    for expected in ("expanded", "migrated"):  # advance: exactly one stage per call
        r = run_cli("phase", "advance", "b2", *common, env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"b2: {expected}"
        # text mode is text, the runner's events (the expand applies b2 through it) included
        assert r.stderr.strip() and not any(line.lstrip().startswith("{") for line in r.stderr.splitlines()), r.stderr
        assert "INFO" not in r.stderr and "[alembic" not in r.stderr, r.stderr  # the stock env.py's fileConfig
    assert "b2 up in" in r.stderr or "b2: expanded -> migrat" in r.stderr
    q(dsn, "UPDATE users SET email = 'late@x' WHERE id = 1")  # an old-path write right now
    r = run_cli("phase", "run", "b2", "--quiet-window", "30", *common, env=env)
    assert r.returncode == ExitCode.FINDINGS
    assert "refused by gate old_writes_quiet" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("phase", "status", "b2", "--format", "json", "--quiet-window", "30", *common, env=env)
    assert r.returncode == 0
    import json

    entry = json.loads(r.stdout)["phases"][0]
    assert entry["phase"] == "migrated" and entry["writes"]["old_writes"] == 1
    assert {g["gate"]: g["passed"] for g in entry["gates"]}["old_writes_quiet"] is False
    r = run_cli("phase", "status", *common, env=env)  # every phased revision of the database
    assert r.returncode == 0 and r.stdout.startswith("b2  rename_column  public.users")
    assert "gate      REFUSED old_writes_quiet" in r.stdout
    assert run_main("phase", "run", "zz9", *common, env=env).returncode == ExitCode.USAGE
    assert run_main("phase", "run", "a1", *common, env=env).returncode == ExitCode.USAGE  # not phased
    assert run_main("phase", "run", "b2", "--migrations", str(proj), env=env).returncode == ExitCode.USAGE
    r = run_main(
        "phase", "abort", "b2", "--dsn", dsn.replace("127.0.0.1", "127.0.0.1:1"), "--migrations", str(proj), env=env
    )
    assert r.returncode in (ExitCode.CONNECTION, ExitCode.USAGE)


def test_offline_sql_renders_expand(tmp_path):
    proj = project(tmp_path, "change = phases.add_unique_constraint('users', ['email'])\n")
    text = render_offline(proj, "a1:b2")
    assert 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "users_email_key"' in text
    assert "migtui phase run b2" in text


# -- the repository's own sample phased revisions ------------------------------------------------


def test_sample_phased_revisions_of_db_migrations(pg, tmp_path):
    from alembic import command

    from migtui.demo.data import DEMO_STOP_REVISION, load_demo_data

    migrations = ROOT / "db" / "migrations"
    name = "t_" + uuid.uuid4().hex[:12]
    dsn = pg.create_database(name)
    try:
        command.upgrade(AlembicProject.load(migrations).config(dsn), DEMO_STOP_REVISION)
        load_demo_data(dsn, scale=2000)
        env = {"PYTHONPATH": str(ROOT)}
        common = ["--dsn", dsn, "--migrations", str(migrations)]
        up = run_cli("up", *common, env=env)
        assert up.returncode == 0, up.stderr
        assert q(dsn, "SELECT revision, phase FROM migtui.phase_state ORDER BY revision") == [
            ("0018_accounts_owner_name_unique", "expanded"),
            ("0019_users_full_name_to_legal", "expanded"),
        ]
        old = Writer(dsn, ["UPDATE users SET full_name = 'Old App ' || %(i)s WHERE id = 1 + %(i)s %% 200"])
        old.start()
        time.sleep(0.3)
        refused = run_cli("phase", "run", "0019_users_full_name_to_legal", "--quiet-window", "2", *common, env=env)
        assert refused.returncode == ExitCode.FINDINGS, refused.stderr
        assert "old_writes_quiet" in refused.stderr
        old.stop()
        assert old.errors == []
        time.sleep(0.6)
        done = run_cli("phase", "run", "0019_users_full_name_to_legal", "--quiet-window", "0.5", *common, env=env)
        assert done.returncode == 0, done.stderr
        assert "contracted" in done.stdout
        done = run_cli("phase", "run", "0018_accounts_owner_name_unique", *common, env=env)
        assert done.returncode == 0, done.stderr
        assert "full_name" not in columns(dsn, "users")
        assert q(dsn, "SELECT count(*) FROM users WHERE legal_name LIKE 'Old App %%'")[0][0] > 0
        assert q(dsn, "SELECT contype FROM pg_constraint WHERE conname = 'uq_accounts_owner_id_name'") == [("u",)]
    finally:
        pg.drop_database(name)


def test_phase_new_writes_a_revision_from_the_template(tmp_path):
    import shutil

    target = tmp_path / "migrations"
    shutil.copytree(ROOT / "db" / "migrations", target, ignore=shutil.ignore_patterns("__pycache__"))
    r = run_main(
        "phase",
        "new",
        "-m",
        "split the name",
        "--rev-id",
        "0099_split",
        "--migrations",
        str(target),
        env={"PYTHONPATH": str(ROOT)},
    )
    assert r.returncode == 0, r.stderr
    created = Path(r.stdout.strip())
    text = created.read_text()
    assert created.name == "0099_split.py" and "phases.expand(change)" in text
    assert "down_revision: str | Sequence[str] | None = '0019_users_full_name_to_legal'" in text
    assert AlembicProject.load(target).head() == "0099_split"


def test_contract_waits_under_lock_timeout_and_retries(db, tmp_path):
    """A long reader blocks contract's ACCESS EXCLUSIVE: contract gives up after lock_timeout (writers queued
    behind it wait no longer than that), retries with back-off, and succeeds once the reader is gone."""
    _, dsn, _ = db
    proj = project(tmp_path, "change = phases.rename_column('users', 'email', 'email_address')\n")
    events: list = []
    with driver(dsn, proj, events) as d:
        d.run("b2", until="migrate")
        time.sleep(0.6)
        reader = psycopg.connect(dsn)
        reader.execute("SELECT count(*) FROM users")  # ACCESS SHARE held until the transaction ends
        writer = Writer(dsn, ["UPDATE users SET score = %(i)s WHERE id = 7"], path="new", app="app-new")
        writer.start()
        releaser = threading.Timer(1.2, reader.rollback)
        releaser.start()
        d.run("b2")
        releaser.join()
        reader.close()
        writer.stop()
        assert st.get(d.conn, "b2").phase == st.CONTRACTED
    waits = [e for e in events if e.kind == "lock_wait"]
    assert waits and "lock_timeout 0.5s hit" in waits[0].detail
    assert writer.errors == []
    # queued behind the waiting DDL for at most ~lock_timeout (0.5 s), never for the reader's 1.2 s
    assert writer.max_latency < 0.5 + 0.3, writer.max_latency


def test_contract_gives_up_after_retries_and_resumes(db, tmp_path):
    _, dsn, _ = db
    proj = project(tmp_path, "change = phases.add_unique_constraint('users', ['email'])\n")
    with driver(dsn, proj, []) as d:
        d.run("b2", until="migrate")
        reader = psycopg.connect(dsn)
        reader.execute("SELECT count(*) FROM users")
        from migtui.errors import MigrationFailed

        with pytest.raises(MigrationFailed, match=r"lock not acquired within lock_timeout 0\.5s after 4 attempts"):
            d.run("b2")
        state = st.get(d.conn, "b2")
        assert state.phase == st.CONTRACTING and "lock_timeout" in state.error
        reader.rollback()
        reader.close()
        d.run("b2")  # resumes the contract at its stored step
        assert st.get(d.conn, "b2").phase == st.CONTRACTED


def test_backfill_backs_off_on_replication_lag(primary_and_replica, tmp_path):
    primary, replica = primary_and_replica
    name = "t_" + uuid.uuid4().hex[:12]
    primary.create_database(name)
    dsn = primary.dsn(name)
    try:
        primary.execute(BASE_SQL, dbname=name)
        primary.wait_for_replay(replica)
        proj = project(tmp_path, "change = phases.rename_column('users', 'email', 'email_address')\n")
        events: list = []
        replica.execute("SELECT pg_wal_replay_pause()")
        with driver(dsn, proj, events, max_lag_bytes=64 * 1024, batch_size=200, max_batch_size=200) as d:
            d.run("b2", until="expand")
            failures: list[BaseException] = []

            def migrate() -> None:
                try:
                    d.run("b2", "migrate")
                except BaseException as exc:  # reported by the assertions below
                    failures.append(exc)

            thread = threading.Thread(target=migrate)
            thread.start()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(isinstance(e, BackfillThrottled) for e in events):
                time.sleep(0.05)
            throttled = [e for e in events if isinstance(e, BackfillThrottled)]
            assert throttled, (
                failures,
                [e.kind for e in events][-5:],
                thread.is_alive(),
                primary.execute(
                    "SELECT state, sent_lsn::text, replay_lsn::text, pg_current_wal_lsn()::text "
                    "FROM pg_stat_replication"
                ),
            )
            assert "replication lag" in throttled[0].reason and throttled[0].replication_lag_bytes > 0
            stuck = q(dsn, "SELECT rows_done FROM migtui.phase_state")[0][0]
            time.sleep(0.5)
            assert q(dsn, "SELECT rows_done FROM migtui.phase_state")[0][0] == stuck < ROWS  # held back
            replica.execute("SELECT pg_wal_replay_resume()")
            thread.join(60)
            assert st.get(d.conn, "b2").phase == st.MIGRATED
    finally:
        replica.execute("SELECT pg_wal_replay_resume()")
        primary.drop_database(name)


def test_interrupted_contract_resumes_with_the_plan_stored_at_expand(db, tmp_path):
    """After a crash between contract steps (old column already dropped), the resume must use the plan
    recorded at expand, not one rebuilt from the changed catalog."""
    from migtui.phases.ddl import ConnectionExecutor
    from migtui.phases.revision import run_steps

    _, dsn, _ = db
    proj = project(tmp_path, "change = phases.rename_column('users', 'email', 'email_address')\n")
    with driver(dsn, proj, []) as d:
        d.run("b2", until="migrate")
        plan = d.plan("b2")
        assert len(plan.contract) == 6  # NOT NULL (4 steps, email was NOT NULL), drop trigger+column, drop function
        st.transition(d.conn, "b2", st.MIGRATED, st.CONTRACTING, runner="crashed-runner")
        run_steps(ConnectionExecutor(d.conn, d.policy), "b2", "contract", plan.contract[:5], d.sink)
        st.set_step(d.conn, "b2", st.CONTRACTING, 5)  # "crash" before the last step
        assert "email" not in columns(dsn, "users")
        d.run("b2")
        assert st.get(d.conn, "b2").phase == st.CONTRACTED
    assert q(dsn, "SELECT count(*) FROM pg_proc WHERE proname = 'sync_b2'")[0][0] == 0
    assert q(
        dsn, "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'email_address'"
    )


def test_ctrl_c_mid_backfill_exits_130_and_resumes(db, tmp_path):
    _, dsn, _ = db
    proj = project(tmp_path, "change = phases.rename_column('users', 'email', 'email_address')\n")
    _kill_mid_backfill(dsn, proj, signal.SIGINT)
    phase, cursor = q(dsn, "SELECT phase, cursor FROM migtui.phase_state")[0]
    assert phase == "migrating" and cursor[0] >= 500
    r = run_cli(
        "phase",
        "run",
        "b2",
        "--until",
        "migrate",
        "--dsn",
        dsn,
        "--migrations",
        str(proj),
        env={"PYTHONPATH": str(ROOT)},
    )
    assert r.returncode == 0, r.stderr
    assert "resuming the backfill at cursor" in r.stderr
    assert q(dsn, "SELECT count(*) FROM users WHERE email_address IS DISTINCT FROM email")[0][0] == 0


RAW_CHANGE = """change = phases.raw_sql(
    expand=["CREATE INDEX CONCURRENTLY IF NOT EXISTS users_score_idx ON users (score)",
            "ALTER TABLE users ADD CONSTRAINT users_score_positive CHECK (score > 0) NOT VALID"],
    contract=["ALTER TABLE users VALIDATE CONSTRAINT users_score_positive"],
    abort=["ALTER TABLE users DROP CONSTRAINT IF EXISTS users_score_positive",
           "DROP INDEX CONCURRENTLY IF EXISTS users_score_idx"],
    checks=[phases.Check("no_bad_scores", "SELECT count(*) FROM users WHERE score <= 0", "rows with score <= 0")],
    description="score index and positive check",
)
"""


def test_raw_sql_steps(db, tmp_path):
    _, dsn, _ = db
    q(dsn, "UPDATE users SET score = 0 WHERE id = 3")
    proj = project(tmp_path, RAW_CHANGE)
    with driver(dsn, proj, []) as d:
        d.run("b2", until="migrate")
        assert q(dsn, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_score_idx'::regclass") == [(True,)]
        with pytest.raises(GateRefused, match="no_bad_scores: 1 rows with score <= 0"):
            d.run("b2")
        q(dsn, "UPDATE users SET score = 3 WHERE id = 3")
        d.run("b2")
    assert q(dsn, "SELECT convalidated FROM pg_constraint WHERE conname = 'users_score_positive'") == [(True,)]
    from alembic import command

    with pytest.raises(Exception, match="cannot be downgraded: raw_sql: no reverse_contract given"):
        command.downgrade(AlembicProject.load(proj).config(dsn), "a1")


def test_backfill_terminates_under_heavy_inserts(db, tmp_path):
    _, dsn, _ = db
    proj = project(tmp_path, "change = phases.rename_column('users', 'email', 'email_address')\n")
    inserters = [
        Writer(dsn, ["INSERT INTO users (email) SELECT 'bulk' || g FROM generate_series(1, 20) g"]) for _ in range(3)
    ]
    for w in inserters:
        w.start()
    events: list = []
    with driver(dsn, proj, events, batch_size=100, max_batch_size=100) as d:
        d.run("b2", until="expand")
        t0 = time.monotonic()
        d.run("b2", until="migrate")
        took = time.monotonic() - t0
        final = st.get(d.conn, "b2")
    for w in inserters:
        w.stop()
    assert final.phase == st.MIGRATED and final.cursor == final.cursor_end
    assert all(w.errors == [] for w in inserters) and sum(w.ok for w in inserters) > 20
    # rows inserted while (and after) the backfill ran were derived by the trigger, not chased by the backfill
    assert q(dsn, "SELECT count(*) FROM users WHERE id > %s", (final.cursor_end[0],))[0][0] > 0
    assert q(dsn, "SELECT count(*) FROM users WHERE email_address IS DISTINCT FROM email")[0][0] == 0
    assert took < 30


def test_phase_run_refuses_a_plain_revision_before_changing_anything(fresh_db):
    """`phase run` on a revision that does not call phases.expand(): exit 2, one line, database untouched."""
    from migtui.config import load_settings
    from migtui.project.load import AlembicProject
    from migtui.runner.job import Runner

    migrations = ROOT / "db" / "migrations"
    Runner(AlembicProject.load(migrations), fresh_db, load_settings({"dsn": fresh_db}, env={})).upgrade(
        "0013_display_name_not_null"
    )
    r = run_main("phase", "run", "0014_orders_archived_at", "--dsn", fresh_db, "--migrations", str(migrations))
    assert r.returncode == ExitCode.USAGE, r.stderr
    assert "not a phased revision" in r.stderr and "nothing was changed" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert q(fresh_db, "SELECT version_num FROM alembic_version") == [("0013_display_name_not_null",)]
    # an applied plain revision: nothing to do, and no advice to revert it
    r = run_main("phase", "run", "0013_display_name_not_null", "--dsn", fresh_db, "--migrations", str(migrations))
    assert r.returncode == ExitCode.USAGE, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "not a phased revision and is already applied" in r.stderr and "down" not in r.stderr, r.stderr
    assert q(fresh_db, "SELECT version_num FROM alembic_version") == [("0013_display_name_not_null",)]
    columns = q(
        fresh_db,
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'archived_at'",
    )
    assert columns == [(0,)]
