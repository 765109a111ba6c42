"""The PostgreSQL harness itself: versions, replica, templates, cleanup."""

from __future__ import annotations

import os

import pytest

from migtui.pg import harness


def test_a_test_not_marked_db_cannot_start_a_server():
    """tests/conftest.py enforces the db mark: here (no server fixture, no mark) a start is refused."""
    assert os.environ.get(harness.NO_SERVERS_ENV) == "1"
    with pytest.raises(harness.HarnessError, match="not marked db"):
        harness.start_cluster(16)


def test_sixteen_and_eighteen_run(pg16, pg18):
    assert pg16.execute("SHOW server_version_num")[0][0].startswith("16")
    assert pg18.execute("SHOW server_version_num")[0][0].startswith("18")


def test_replica_is_a_streaming_standby(primary_and_replica):
    primary, replica = primary_and_replica
    assert replica.execute("SELECT pg_is_in_recovery()")[0][0] is True
    primary.execute("CREATE TABLE IF NOT EXISTS harness_probe AS SELECT generate_series(1, 500) AS g")
    primary.wait_for_replay(replica)
    assert replica.execute("SELECT count(*) FROM harness_probe")[0][0] == 500
    senders = primary.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0][0]
    assert senders >= 1


def test_clone_database_from_template(pg):
    name = "tpl_harness_test"
    pg.drop_database(name)
    pg.create_database(name)
    pg.execute("CREATE TABLE t (id int primary key); INSERT INTO t VALUES (1), (2)", dbname=name)
    clone = name + "_clone"
    pg.create_database(clone, template=name)
    try:
        assert pg.execute("SELECT count(*) FROM t", dbname=clone)[0][0] == 2
    finally:
        pg.drop_database(clone)
        pg.drop_database(name)


@pytest.mark.db
def test_cleanup_removes_files_and_stops():
    cluster = harness.start_cluster(16)
    base = cluster.owns_dir
    assert base is not None and base.exists()
    cluster.cleanup()
    assert not base.exists()
    assert not cluster.running


@pytest.mark.db
def test_cluster_is_reaped_when_its_process_is_killed(tmp_path):
    """kill -9 of the process that started a cluster: the reaper stops the server and deletes its files."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    script = (
        "from migtui.pg import harness; import time, sys\n"
        "c = harness.start_cluster(16)\n"
        "print(c.port, c.owns_dir, flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    port, owns_dir = proc.stdout.readline().split()
    assert os.path.isdir(owns_dir)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while os.path.exists(owns_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(owns_dir), "cluster files left behind after kill -9"
    import socket

    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", int(port))) != 0, "server still listening after kill -9"
