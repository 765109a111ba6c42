"""migtui.pg.monitor against a real server with a real lock queue."""

from __future__ import annotations

import contextlib
import json
import threading

import psycopg
import pytest

from migtui.errors import ConnectionFailed
from migtui.pg.monitor import (
    MONITOR_APPLICATION_NAME,
    LockEdge,
    Monitor,
    build_lock_tree,
    lock_tree_lines,
)
from tests.conftest import run_cli, run_main
from tests.monitor_scenarios import blocked_chain, wait_until


def test_lock_tree_of_a_real_blocked_chain(fresh_db):
    with blocked_chain(fresh_db) as chain, Monitor(fresh_db, interval=1.0) as monitor:
        snap = monitor.sample()
        # the monitor leaves itself out
        assert snap.own_pid not in {s.pid for s in snap.sessions}
        assert snap.own_pid not in {lk.pid for lk in snap.locks}

        ddl = snap.session(chain.ddl_pid)
        assert ddl is not None and set(ddl.blocked_by) == set(chain.holders)
        assert ddl.wait_event_type == "Lock"
        reader = snap.session(chain.reader_pid)
        assert reader is not None and reader.blocked_by == (chain.ddl_pid,)
        assert {s.pid for s in snap.blocked} == {chain.ddl_pid, chain.reader_pid}
        assert set(snap.blocking_pids) == {*chain.holders, chain.ddl_pid}

        # the tree: both holders are roots, the ALTER appears under each, the reader under the ALTER
        assert sorted(n.pid for n in snap.lock_tree) == sorted(chain.holders)
        for root in snap.lock_tree:
            assert root.edge is None
            (ddl_node,) = root.children
            assert ddl_node.pid == chain.ddl_pid
            assert ddl_node.edge.wanted_mode == "AccessExclusiveLock"
            assert ddl_node.edge.blocker_mode == "AccessShareLock" and ddl_node.edge.blocker_granted
            assert ddl_node.edge.target == "public.monitored"
            (reader_node,) = ddl_node.children
            assert reader_node.pid == chain.reader_pid
            assert reader_node.edge.wanted_mode == "AccessShareLock"
            assert reader_node.edge.blocker_granted is False  # the ALTER is only queued ahead of it
        # waiting locks carry their wait time
        waiting = [lk for lk in snap.locks if lk.pid == chain.ddl_pid and not lk.granted]
        assert waiting and waiting[0].wait_seconds is not None and waiting[0].wait_seconds >= 0

        text = "\n".join(lock_tree_lines(snap))
        assert f"pid {chain.ddl_pid} [test-ddl]" in text
        holder_pid = min(chain.holders)
        assert (
            f"waits for AccessExclusiveLock on public.monitored: blocked by AccessShareLock held by pid {holder_pid}"
            " (idle in transaction " in text
        )
        assert (
            f"waits for AccessShareLock on public.monitored: queued behind pid {chain.ddl_pid}'s "
            "AccessExclusiveLock request (active " in text
        )

        # holders are idle in transaction with a transaction age
        holder = snap.session(chain.holders[0])
        assert holder.state == "idle in transaction" and holder.xact_age is not None
        assert holder in snap.long_transactions(0.0, relations={"public.monitored"})
        assert snap.long_transactions(3600.0) == ()
        json.dumps(snap.to_dict())


def test_monitor_connection_is_named_and_bounded(fresh_db):
    with Monitor(fresh_db, interval=0.5) as monitor:
        snap = monitor.sample()
        assert snap.lock_tree == () and snap.blocked == ()
        with psycopg.connect(fresh_db, autocommit=True) as other:
            row = other.execute(
                "SELECT application_name FROM pg_stat_activity WHERE pid = %s", (snap.own_pid,)
            ).fetchone()
            assert row == (MONITOR_APPLICATION_NAME,)
        assert monitor._conn.execute("SHOW statement_timeout").fetchone()[0] == "400ms"


@contextlib.contextmanager
def _altered_and_updated(dsn: str):
    """The issue's case: A alters ``accounts`` and updates a row (holds AccessExclusiveLock and
    RowExclusiveLock, idle in transaction); B's UPDATE waits. Yields (a_pid, b_pid)."""
    setup = psycopg.connect(dsn, autocommit=True)
    setup.execute("CREATE TABLE accounts (id int primary key, balance int)")
    setup.execute("INSERT INTO accounts VALUES (1, 0), (2, 0)")
    a = psycopg.connect(dsn, application_name="test-a")
    b = psycopg.connect(dsn, autocommit=True, application_name="test-b")
    errors: list[str] = []

    def update() -> None:
        try:
            b.execute("UPDATE accounts SET balance = 2 WHERE id = 2")
        except psycopg.Error as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=update, daemon=True)
    try:
        a.execute("ALTER TABLE accounts ADD COLUMN note text")
        a.execute("UPDATE accounts SET balance = 1 WHERE id = 1")
        a_pid = a.execute("SELECT pg_backend_pid()").fetchone()[0]
        b_pid = b.execute("SELECT pg_backend_pid()").fetchone()[0]
        thread.start()
        assert wait_until(
            lambda: setup.execute("SELECT cardinality(pg_blocking_pids(%s))", (b_pid,)).fetchone()[0] == 1
        )
        yield a_pid, b_pid
    finally:
        a.rollback()
        thread.join(10)
        a.close()
        b.close()
        setup.execute("DROP TABLE accounts")
        setup.close()


def test_the_conflicting_held_lock_is_named_not_a_compatible_one(fresh_db):
    """B wants RowExclusiveLock; A holds RowExclusiveLock (compatible) and AccessExclusiveLock (the conflict)."""
    with _altered_and_updated(fresh_db) as (a_pid, b_pid), Monitor(fresh_db) as monitor:
        snap = monitor.sample()
        held = {lk.mode for lk in snap.locks_of(a_pid) if lk.relation == "public.accounts" and lk.granted}
        assert {"AccessExclusiveLock", "RowExclusiveLock"} <= held  # both held: the wrong one was pickable
        (edge,) = snap.edges
        assert (edge.waiter, edge.blocker) == (b_pid, a_pid)
        assert edge.wanted_mode == "RowExclusiveLock" and edge.blocker_mode == "AccessExclusiveLock"
        assert edge.blocker_state == "idle in transaction" and not edge.queued
        text = "\n".join(lock_tree_lines(snap))
        assert (
            f"waits for RowExclusiveLock on public.accounts: blocked by AccessExclusiveLock held by pid {a_pid}"
            " (idle in transaction " in text
        )
        assert "blocked by RowExclusiveLock" not in text

        proc = run_cli("monitor", "--once", "--dsn", fresh_db)
        assert proc.returncode == 0, proc.stderr
        assert f"blocked by AccessExclusiveLock held by pid {a_pid} (idle in transaction " in proc.stdout
        proc = run_cli("monitor", "--once", "--format", "json", "--dsn", fresh_db)
        (wait,) = json.loads(proc.stdout)["waits"]
        assert wait["waiter"] == b_pid and wait["blocker"] == a_pid
        assert wait["wanted_mode"] == "RowExclusiveLock" and wait["blocker_mode"] == "AccessExclusiveLock"
        assert wait["queued"] is False and wait["blocker_state"] == "idle in transaction"
        assert wait["description"].startswith("waits for RowExclusiveLock on public.accounts: blocked by")


def test_the_queue_case_is_worded_as_a_queue(fresh_db):
    """Three sessions: holders, ALTER queued, reader behind the ALTER's request (it holds nothing)."""
    with blocked_chain(fresh_db) as chain:
        proc = run_cli("monitor", "--once", "--format", "json", "--dsn", fresh_db)
        assert proc.returncode == 0, proc.stderr
        waits = json.loads(proc.stdout)["waits"]
        (reader,) = [w for w in waits if w["waiter"] == chain.reader_pid]
        assert reader["blocker"] == chain.ddl_pid and reader["queued"] is True
        assert reader["blocker_mode"] == "AccessExclusiveLock"
        assert f"queued behind pid {chain.ddl_pid}'s AccessExclusiveLock request" in reader["description"]
        ddl = [w for w in waits if w["waiter"] == chain.ddl_pid]
        assert {w["blocker"] for w in ddl} == set(chain.holders) and not any(w["queued"] for w in ddl)
        proc = run_cli("monitor", "--once", "--dsn", fresh_db)
        assert f"queued behind pid {chain.ddl_pid}'s AccessExclusiveLock request" in proc.stdout


def test_build_lock_tree_cuts_cycles():
    edges = [
        LockEdge(1, 2, "ShareLock", "transaction 9", "ExclusiveLock", True),
        LockEdge(2, 1, "ShareLock", "transaction 8", "ExclusiveLock", True),
    ]
    (root,) = build_lock_tree(edges)
    assert root.pid == 1 and root.children[0].pid == 2 and root.children[0].children[0].cycle


def test_monitor_unreachable_is_one_line(tmp_path):
    with pytest.raises(ConnectionFailed):
        Monitor("postgresql://nobody:secret@127.0.0.1:1/x").sample()
    proc = run_main("monitor", "--once", "--dsn", "postgresql://nobody:secret@127.0.0.1:1/x")
    assert proc.returncode == 6
    assert "secret" not in proc.stderr and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_monitor_once_json_and_text(fresh_db):
    with blocked_chain(fresh_db, with_reader=False) as chain:
        proc = run_cli("monitor", "--once", "--format", "json", "--dsn", fresh_db)
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert chain.ddl_pid in data["blocked"]
        assert sorted(n["pid"] for n in data["lock_tree"]) == sorted(chain.holders)
        proc = run_cli("monitor", "--once", "--dsn", fresh_db)
        assert proc.returncode == 0, proc.stderr
        assert "LOCK TREE" in proc.stdout and f"pid {chain.ddl_pid}" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["monitor", "--once"], "no database"),
        (["monitor", "--once", "--dsn", "postgresql://x@127.0.0.1:1/x", "--monitor-interval", "0"], "positive"),
        (["monitor", "--once", "--dsn", "mysql://x@127.0.0.1/x"], "unsupported database URL scheme"),
        (["demo", "--headless", "--pg-bin", "/nonexistent"], "no postgres binary"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    env = {"MIGTUI_DSN": "", "MIGTUI_DATABASE_URL": ""}
    proc = run_main(*args, env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and message in proc.stderr and "Traceback" not in proc.stderr
