"""A server that stops answering: SIGSTOP every process of a dedicated server while ``up`` runs a revision.
``--timeout`` must still hold, client-side: exit 3 within the timeout plus the documented grace
(BLIND_GRACE, then HARD_EXIT_GRACE_SECONDS), one line, and the database rolled back once the server resumes.
Also: a DSN's ``connect_timeout`` against a port that accepts and never answers."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import psycopg
import pytest

from migtui.pg import harness, liveness
from migtui.runner.step import HARD_EXIT_GRACE_SECONDS
from tests.alembic_projects import Rev
from tests.conftest import run_main
from tests.faults.helpers import active_session, scalar, scoped_project, start_cli, wait_for


def _server_pids(cluster) -> list[int]:
    postmaster = int((Path(cluster.datadir) / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(entry))
    return pids


def _signal(pids: list[int], sig: int) -> list[int]:
    """Signal every pid that still exists (a backend may end between listing and signalling); returns those."""
    done = []
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue
        done.append(pid)
    return done


@pytest.fixture(scope="module")
def own_server():
    """A server of this module's own: it gets SIGSTOPped."""
    cluster = harness.start_cluster(16)
    yield cluster
    cluster.cleanup()


@pytest.mark.db
def test_up_timeout_holds_against_a_stopped_server(own_server, tmp_path):
    dsn = own_server.create_database("hang")
    project = scoped_project(
        tmp_path,
        [
            Rev("a1", "op.create_table('t', sa.Column('id', sa.Integer))"),
            Rev("a2", "op.execute('SELECT pg_sleep(60)')"),
        ],
    )
    timeout = 2.0
    child = start_cli("up", "--dsn", dsn, "--migrations", str(project), "--timeout", str(timeout))
    stopped: list[int] = []
    try:
        wait_for(lambda: active_session(dsn, "migtui up a2 @%"), what="a2 running")
        started = time.monotonic()  # a2 started a moment before: the bound below is a little generous
        stopped = _signal(_server_pids(own_server), signal.SIGSTOP)
        _out, err = child.communicate(timeout=timeout + HARD_EXIT_GRACE_SECONDS + 20)
        elapsed = time.monotonic() - started
    finally:
        _signal(stopped, signal.SIGCONT)
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 3, err
    assert elapsed < timeout + HARD_EXIT_GRACE_SECONDS + 2, elapsed
    line = err.strip()
    assert len(line.splitlines()) == 1 and "ran past its timeout of 2s" in line and "has not answered" in line
    # resumed, the server sees the client gone and rolls a2 back
    wait_for(lambda: not active_session(dsn, "migtui%"), timeout=15, what="a2's session to end")
    assert scalar(dsn, "SELECT version_num FROM alembic_version") == "a1"
    assert scalar(dsn, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0


def test_connect_timeout_in_the_dsn_is_honoured(tmp_path):
    """A listener that accepts and never answers: the DSN's connect_timeout=2 wins over the default 10 s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        started = time.monotonic()
        r = run_main(
            "status",
            "--dsn",
            f"postgresql://app@127.0.0.1:{port}/x?connect_timeout=2&sslmode=disable",
            "--migrations",
            str(scoped_project(tmp_path, [Rev("a1", "pass")])),
        )
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert r.returncode == 6, r.stderr
    assert 1.5 < elapsed < 5, elapsed


@pytest.mark.db
def test_a_server_restart_mid_revision_still_says_where_the_database_was_left(own_server, tmp_path):
    dsn = own_server.create_database("restart")
    project = scoped_project(
        tmp_path,
        [
            Rev("a1", "op.create_table('t', sa.Column('id', sa.Integer))"),
            Rev("a2", "op.execute('SELECT pg_sleep(60)')"),
        ],
    )
    child = start_cli("up", "--dsn", dsn, "--migrations", str(project))
    try:
        wait_for(lambda: active_session(dsn, "migtui up a2 @%"), what="a2 running")
        own_server.stop("fast")
        own_server.start()
        _out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 5, err
    line = err.strip()
    assert len(line.splitlines()) == 1 and "revision a2 (up) failed" in line and "database left at a1" in line, line
    assert scalar(dsn, "SELECT version_num FROM alembic_version") == "a1"


@pytest.mark.db
def test_a_server_that_stops_answering_the_lock_queries_is_exit_6_within_the_bound(own_server, tmp_path, capsys):
    """The run's own short queries (here: polling for the deploy lock) are bounded client-side too. In this
    process, so the process exit is recorded instead of taken; the server resumes afterwards."""
    import threading

    import psycopg

    from migtui.config import Settings
    from migtui.events import LockWait
    from migtui.pg.version_table import advisory_key
    from migtui.project.load import AlembicProject
    from migtui.runner.job import Runner

    dsn = own_server.create_database("stall")
    project = AlembicProject.load(scoped_project(tmp_path, [Rev("a1", "pass")]))
    events: list = []
    exits: list = []
    runner = Runner(project, dsn, Settings(dsn=dsn, advisory_lock_wait=2.0, progress_interval=0.2), events.append)
    runner.hard_exit = True
    runner.stall_seconds = 1.0
    runner.process_exit = lambda code: exits.append((code, time.monotonic()))
    holder = psycopg.connect(dsn, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (advisory_key("public", "alembic_version"),))
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(_capture(runner.upgrade)), daemon=True)
    started = time.monotonic()
    thread.start()
    stopped: list[int] = []
    try:
        wait_for(lambda: any(isinstance(e, LockWait) for e in events), what="the runner polling for the lock")
        stopped = _signal(_server_pids(own_server), signal.SIGSTOP)
        wait_for(lambda: bool(exits), timeout=10, what="the stall guard")
    finally:
        _signal(stopped, signal.SIGCONT)
        holder.close()
        thread.join(30)
    code, at = exits[0]
    assert code == 6 and at - started < 1.0 + 2.0 + 1.0  # stall bound + the lock wait it allows + slack
    err = capsys.readouterr().err
    assert "has not answered for 3s while taking the deploy advisory lock" in err
    assert outcome and not thread.is_alive()  # resumed, the run ended on its own


def _capture(fn):
    try:
        fn()
    except Exception as exc:
        return exc
    return None


@pytest.mark.db
def test_a_blackholed_network_during_the_lock_wait_is_exit_6_within_the_bound(own_server, tmp_path, capsys):
    """The same bound when the network, not the server, stops carrying packets (a TCP proxy that swallows
    everything from one moment on, closing nothing)."""
    import threading

    import psycopg

    from migtui.config import Settings
    from migtui.events import LockWait
    from migtui.pg.version_table import advisory_key
    from migtui.project.load import AlembicProject
    from migtui.runner.job import Runner
    from tests.faults.helpers import BlackholeProxy

    dsn = own_server.create_database("partition")
    proxy = BlackholeProxy(own_server.port)
    proxied = dsn.replace(f":{own_server.port}/", f":{proxy.port}/")
    project = AlembicProject.load(scoped_project(tmp_path, [Rev("a1", "pass")]))
    events: list = []
    exits: list = []
    settings = Settings(dsn=proxied, advisory_lock_wait=2.0, progress_interval=0.2)
    runner = Runner(project, proxied, settings, events.append)
    runner.hard_exit = True
    runner.stall_seconds = 1.0
    runner.process_exit = lambda code: exits.append((code, time.monotonic()))
    holder = psycopg.connect(dsn, autocommit=True)  # direct, not through the proxy
    holder.execute("SELECT pg_advisory_lock(%s)", (advisory_key("public", "alembic_version"),))
    thread = threading.Thread(target=lambda: _capture(runner.upgrade), daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        wait_for(lambda: any(isinstance(e, LockWait) for e in events), what="the runner polling for the lock")
        proxy.blackhole()
        wait_for(lambda: bool(exits), timeout=10, what="the stall guard")
    finally:
        holder.close()
        proxy.close()  # the runner's sockets close: its thread ends with a connection error
        thread.join(30)
    code, at = exits[0]
    assert code == 6 and at - started < 1.0 + 2.0 + 1.0
    assert "has not answered for 3s while taking the deploy advisory lock" in capsys.readouterr().err
    assert not thread.is_alive()
    # the server is fine: its session of the runner is gone once the proxy closed it
    wait_for(lambda: not active_session(dsn, "migtui%"), timeout=15, what="the runner's session to end")


# -- dry-run, drift and phase: every database call bounded by a probe of the server (migtui.pg.liveness) ---------


def _stop_on_first_call(monkeypatch, cluster, stopped: list[int]) -> None:
    """Stop the server the moment the job's first call on a connection to it begins (then it waits on a
    server that answers nothing), with the watch's bounds shortened."""
    from migtui.pg import liveness

    monkeypatch.setattr(liveness, "PROBE_AFTER_SECONDS", 1.0)
    monkeypatch.setattr(liveness, "PROBE_TIMEOUT_SECONDS", 2.0)
    begin = liveness._Watch.begin
    port = f":{cluster.port}"

    def stopping_begin(self, dsn: str) -> int:
        if port in dsn and not stopped:
            stopped.extend(_signal(_server_pids(cluster), signal.SIGSTOP))
            stopped.append(-1)  # marks "done" even if no pid was signalled
        return begin(self, dsn)

    monkeypatch.setattr(liveness._Watch, "begin", stopping_begin)


def _run_against_a_stopped_server(monkeypatch, cluster, dsn: str, job: str, fn, on_resume=None) -> tuple[list, float]:
    """Run ``fn`` in a thread with the watch enabled (exit recorded, not taken); returns (exits, seconds from
    the stop to the recorded exit). The server resumes afterwards and the job's sessions are ended."""
    import threading

    from migtui.pg import liveness

    exits: list = []
    stopped: list[int] = []
    _stop_on_first_call(monkeypatch, cluster, stopped)
    liveness.enable(
        job, lambda event: None, exit=lambda code: exits.append((code, time.monotonic())), cleanup=lambda: None
    )
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(_capture(fn)), daemon=True)
    try:
        thread.start()
        wait_for(lambda: bool(stopped), timeout=60, what="the job's first call")
        stopped_at = time.monotonic()
        wait_for(lambda: bool(exits), timeout=15, what="the liveness watch")
    finally:
        liveness.disable()
        if on_resume is not None:
            on_resume()
        _signal([pid for pid in stopped if pid > 0], signal.SIGCONT)
        wait_for(lambda: scalar(dsn, "SELECT 1") == 1, what="the server to answer again")
        scalar(
            dsn,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name LIKE 'migtui%%' AND pid <> pg_backend_pid()",
        )
        thread.join(60)
    assert not thread.is_alive()
    return exits, exits[0][1] - stopped_at


@pytest.mark.db
def test_drift_against_a_stopped_server_is_exit_6_within_the_bound(own_server, tmp_path, monkeypatch, capsys):
    from migtui.config import Settings
    from migtui.drift.job import DriftOptions, run_drift

    dsn = own_server.create_database("hang_drift")
    project = scoped_project(tmp_path, [Rev("a1", "op.create_table('t', sa.Column('id', sa.Integer))")])
    settings = Settings(dsn=dsn, migrations=str(project))
    exits, waited = _run_against_a_stopped_server(
        monkeypatch, own_server, dsn, "drift", lambda: run_drift(settings, DriftOptions(use_cache=False))
    )
    assert exits[0][0] == 6 and waited < 1.0 + 2.0 + 1.5, (exits, waited)
    assert "nor a new connection for 2s" in capsys.readouterr().err


@pytest.mark.db
def test_phase_run_against_a_stopped_server_is_exit_6_within_the_bound(own_server, tmp_path, monkeypatch, capsys):
    from tests.phases.test_phases import BASE_SQL, driver, project

    dsn = own_server.create_database("hang_phase")
    scalar(dsn, BASE_SQL)
    proj = project(tmp_path, "change = phases.rename_column('users', 'email', 'email_address')\n")
    events: list = []
    exits, waited = _run_against_a_stopped_server(
        monkeypatch, own_server, dsn, "phase", lambda: driver(dsn, proj, events).run("b2")
    )
    assert exits[0][0] == 6 and waited < 1.0 + 2.0 + 1.5, (exits, waited)
    assert "nor a new connection for 2s" in capsys.readouterr().err


@pytest.mark.db
def test_dry_run_against_a_stopped_server_is_exit_6_within_the_bound(own_server, tmp_path, monkeypatch, capsys):
    from migtui.config import Settings
    from migtui.dryrun.job import DryRunOptions, run_dry_run

    dsn = own_server.create_database("hang_dry_run")
    scalar(dsn, "CREATE TABLE t (id int); CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
    scalar(dsn, "INSERT INTO alembic_version VALUES ('a1')")
    project = scoped_project(
        tmp_path,
        [
            Rev("a1", "op.create_table('t', sa.Column('id', sa.Integer))"),
            Rev("a2", "op.execute('UPDATE t SET id = id + 1')"),
        ],
    )
    settings = Settings(dsn=dsn, migrations=str(project))
    exits, waited = _run_against_a_stopped_server(
        monkeypatch, own_server, dsn, "dry-run", lambda: run_dry_run(settings, DryRunOptions(allow_primary=True))
    )
    assert exits[0][0] == 6 and waited < 1.0 + 2.0 + 1.5, (exits, waited)
    assert "nor a new connection for 2s" in capsys.readouterr().err


# -- the real process exit of dry-run, drift and `phase run` (the CLI's liveness.enable) -------------------------
# One database per command on this module's server. Each command runs as `python -m migtui` (its own process
# group), held inside a call to the server by a lock the test holds: drift and dry-run's pg_dump read a view's
# definition, which waits for the test's ACCESS EXCLUSIVE lock on the view; the phase's backfill waits for a row
# the test locked. Once all three wait, every process of the server is SIGSTOPped: each command must exit 6 with
# one error line within liveness.BOUND_SECONDS + CLEANUP_SECONDS of the stop, leaving no process of its group and,
# once the server resumes, no session. The three run at once: the module pays one bound, not three.

SLACK_SECONDS = 2.0  # process start-up of the probe thread's connection, the test's own polling
UP_TIMEOUT_SECONDS = 4  # `up` through the blackhole: more than the test's poll between a2's start and the fault


def _waiting_on_a_lock(dsn: str, like: str) -> bool:
    return bool(
        scalar(
            dsn,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND application_name LIKE %s",
            (like,),
        )
    )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _held_runs(cluster, root: Path, fault: str) -> dict[str, tuple]:
    """Start the three commands, then inject ``fault`` while each waits on the server: ``stop`` (SIGSTOP of every
    server process) or ``blackhole`` (the commands reach the server through a BlackholeProxy that then swallows
    every packet both ways, the server itself fine). {command: (returncode, stderr, seconds from the fault to the
    exit, group left behind, dsn)}. The server resumes (the proxy closes) before this returns."""
    from tests.faults.helpers import BlackholeProxy
    from tests.phases.test_phases import BASE_SQL
    from tests.phases.test_phases import project as phased_project

    holders: list[psycopg.Connection] = []
    children: dict[str, tuple] = {}
    stopped: list[int] = []
    results: dict[str, tuple] = {}
    proxy = BlackholeProxy(cluster.port) if fault == "blackhole" else None
    try:
        plain = scoped_project(
            root / "plain",
            [
                Rev("a1", "op.create_table('t', sa.Column('id', sa.Integer))"),
                Rev("a2", "op.add_column('t', sa.Column('w', sa.Integer))"),  # pending: what dry-run runs
            ],
        )
        dsns = {name: cluster.create_database(f"cli_{fault}_{name.replace('-', '_')}") for name in ("dry-run", "drift")}
        for dsn in dsns.values():
            assert run_main("up", "a1", "--dsn", dsn, "--migrations", str(plain)).returncode == 0
            scalar(dsn, "CREATE VIEW v AS SELECT id FROM t")
            holder = psycopg.connect(dsn)
            holder.execute("LOCK TABLE v IN ACCESS EXCLUSIVE MODE")
            holders.append(holder)
        # the phase: expand applied by `up`, then a row of users locked so migrate's backfill waits for it
        dsns["phase"] = cluster.create_database(f"cli_{fault}_phase")
        scalar(dsns["phase"], BASE_SQL)
        phased = phased_project(root / "phased", "change = phases.rename_column('users', 'email', 'email_address')\n")
        assert run_main("up", "--dsn", dsns["phase"], "--migrations", str(phased)).returncode == 0
        holder = psycopg.connect(dsns["phase"])
        holder.execute("SELECT id FROM users WHERE id = 1 FOR UPDATE")
        holders.append(holder)

        if proxy is not None:  # `up` too: a revision running when the network goes, exit 3 by the hard exit
            dsns["up"] = cluster.create_database("cli_blackhole_up")
            sleeping = scoped_project(
                root / "sleeping",
                [
                    Rev("a1", "op.create_table('t', sa.Column('id', sa.Integer))"),
                    Rev("a2", "op.execute('SELECT pg_sleep(60)')"),
                ],
            )
        commands = {
            "dry-run": ("dry-run", "--allow-primary", "--migrations", str(plain)),
            "drift": ("drift", "--migrations", str(plain), "--no-cache"),
            "phase": ("phase", "run", "b2", "--migrations", str(phased), "--lock-timeout", "60"),
        }
        for name, args in commands.items():
            dsn = dsns[name] if proxy is None else dsns[name].replace(f":{cluster.port}/", f":{proxy.port}/")
            assert dsn != dsns[name] or proxy is None
            children[name] = start_cli(*args, "--dsn", dsn)
        waits = {"dry-run": "pg_dump%", "drift": "migtui drift%", "phase": "migtui%"}
        for name, like in waits.items():
            if children[name].poll() is not None:
                raise AssertionError(f"{name} ended before the fault: {children[name].communicate()}")
            wait_for(
                lambda dsn=dsns[name], like=like: _waiting_on_a_lock(dsn, like),
                timeout=60,
                what=f"{name} waiting on its lock",
            )
        if proxy is not None:  # started last: its timeout counts from a2's start, the fault follows at once
            children["up"] = start_cli(
                "up",
                "--migrations",
                str(sleeping),
                "--timeout",
                str(UP_TIMEOUT_SECONDS),
                "--dsn",
                dsns["up"].replace(f":{cluster.port}/", f":{proxy.port}/"),
            )
            wait_for(lambda: active_session(dsns["up"], "migtui up a2 @%"), timeout=60, what="up running a2")
        faulted_at = time.monotonic()
        if proxy is None:
            stopped = _signal(_server_pids(cluster), signal.SIGSTOP)
        else:
            proxy.blackhole()
        bound = liveness.BOUND_SECONDS + liveness.CLEANUP_SECONDS + SLACK_SECONDS
        for name, child in children.items():
            try:
                _out, err = child.communicate(timeout=max(0.1, faulted_at + bound + 10 - time.monotonic()))
            except Exception:
                err = "(still running)"
            elapsed = time.monotonic() - faulted_at
            time.sleep(0.2)  # what the exit leaves: the process group, a moment later
            results[name] = (child.returncode, err, elapsed, _group_alive(child.pid), dsns[name])
    finally:
        _signal(stopped, signal.SIGCONT)
        if proxy is not None:
            proxy.close()  # what the server sees once the partition heals: the commands' connections gone
        for child in children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.communicate()
        for holder in holders:
            holder.close()
    return results


@pytest.fixture(scope="module")
def stopped_runs(own_server, tmp_path_factory):
    return _held_runs(own_server, tmp_path_factory.mktemp("hang_cli"), "stop")


@pytest.fixture(scope="module")
def blackholed_runs(own_server, tmp_path_factory):
    return _held_runs(own_server, tmp_path_factory.mktemp("blackhole_cli"), "blackhole")


@pytest.mark.db
@pytest.mark.parametrize("command", ["dry-run", "drift", "phase"])
@pytest.mark.parametrize("fault", ["stop", "blackhole"])
def test_a_silent_server_ends_the_real_process_with_exit_6_within_the_bound(request, fault, command):
    """``stop``: the server SIGSTOPped; ``blackhole``: the network to it swallows everything (server fine)."""
    runs = request.getfixturevalue("stopped_runs" if fault == "stop" else "blackholed_runs")
    code, err, elapsed, group_left, dsn = runs[command]
    assert code == 6, (code, err)
    errors = [line for line in err.strip().splitlines() if line.startswith("migtui:")]
    # one error line, the last (phase's text mode prints its progress lines on stderr before it)
    assert len(errors) == 1 and "has not answered" in errors[0] and err.strip().endswith(errors[0]), err
    assert elapsed < liveness.BOUND_SECONDS + liveness.CLEANUP_SECONDS + SLACK_SECONDS, elapsed
    assert not group_left  # no pg_dump, no throwaway server, nothing of the command's process group
    # resumed (the partition healed), the server sees the client gone: no session of the command is left
    wait_for(
        lambda: (
            not scalar(
                dsn,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND (application_name LIKE 'migtui%%' OR application_name = 'pg_dump')",
            )
        ),
        timeout=15,
        what=f"{command}'s sessions to end",
    )
    assert scalar(dsn, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
    if command == "phase":  # expanded, the backfill held at its first batch: not migrated, no row rewritten
        assert scalar(dsn, "SELECT phase FROM migtui.phase_state WHERE revision = 'b2'") in ("expanded", "migrating")
        assert scalar(dsn, "SELECT count(*) FROM users WHERE email_address IS NOT NULL") == 0
    else:  # nothing written to the target: still at a1, a2's column absent
        assert scalar(dsn, "SELECT version_num FROM alembic_version") == "a1"
        assert scalar(dsn, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'w'") == 0


@pytest.mark.db
def test_a_blackholed_network_during_a_revision_ends_up_with_exit_3_within_timeout_and_grace(blackholed_runs):
    """``up --timeout 4`` with a2 running when the proxy starts swallowing everything: the watchdog's cancel
    goes nowhere, so the hard exit ends it (the same bound as against a stopped server)."""
    code, err, elapsed, group_left, dsn = blackholed_runs["up"]
    assert code == 3, (code, err)
    line = err.strip()
    assert len(line.splitlines()) == 1, err
    assert f"ran past its timeout of {UP_TIMEOUT_SECONDS}s" in line and "has not answered" in line, line
    assert elapsed < UP_TIMEOUT_SECONDS + HARD_EXIT_GRACE_SECONDS + SLACK_SECONDS, elapsed
    assert not group_left
    # the partition healed (the proxy closed): the server rolls a2 back, no session or lock left
    wait_for(lambda: not active_session(dsn, "migtui%"), timeout=15, what="a2's session to end")
    assert scalar(dsn, "SELECT version_num FROM alembic_version") == "a1"
    assert scalar(dsn, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
