"""Shared pieces of the fault-injection suite: projects whose env.py honours the version-table settings,
a CLI child started in the background, and small SQL helpers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from tests.alembic_projects import Rev, make_project
from tests.conftest import ROOT

STOCK_CONFIGURE = "context.configure(\n            connection=connection, target_metadata=target_metadata\n        )"
SCOPED_CONFIGURE = (
    "context.configure(\n            connection=connection, target_metadata=target_metadata,\n"
    "            version_table=config.get_main_option('version_table') or 'alembic_version',\n"
    "            version_table_schema=config.get_main_option('version_table_schema') or None,\n        )"
)


def scoped_project(root: Path, revisions: list[Rev]) -> Path:
    """A stock project whose env.py uses the version table migtui is configured with (as db/migrations does)."""
    location = make_project(root, revisions)
    env = location / "env.py"
    text = env.read_text()
    assert STOCK_CONFIGURE in text
    env.write_text(text.replace(STOCK_CONFIGURE, SCOPED_CONFIGURE))
    return location


def scalar(dsn: str, query: str, params=None):
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(query, params)
        row = cur.fetchone() if cur.description else None
        return row[0] if row else None


def ignore_sigint() -> None:
    """``preexec_fn``: what a shell's background job starts with, SIGINT ignored (inherited by the child).
    migtui installs its own handler, so Ctrl-C must still stop it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_cli(*args: str, env: dict[str, str] | None = None, preexec_fn=None) -> subprocess.Popen:
    """``python -m migtui ARGS`` in the background, in its own process group."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("MIGTUI_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "migtui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        cwd=str(ROOT),
        start_new_session=True,
        preexec_fn=preexec_fn,
    )


def wait_for(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def active_session(dsn: str, like: str) -> bool:
    return bool(
        scalar(
            dsn,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s AND state = 'active'",
            (like,),
        )
    )
