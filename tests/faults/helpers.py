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


class BlackholeProxy:
    """A TCP proxy on 127.0.0.1 to a server; ``blackhole()`` makes it swallow all traffic both ways from then
    on, without closing anything (what a network partition looks like to the client: no RST, no FIN)."""

    def __init__(self, target_port: int) -> None:
        import socket
        import threading

        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.dropping = threading.Event()
        self.closed = threading.Event()
        self.sockets: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src, dst) -> None:
        while not self.closed.is_set():
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            if not self.dropping.is_set():
                try:
                    dst.sendall(data)
                except OSError:
                    return

    def blackhole(self) -> None:
        self.dropping.set()

    def close(self) -> None:
        self.closed.set()
        import socket

        for sock in [self.listener, *self.sockets]:
            try:  # shutdown first: it sends the FIN and wakes the pump blocked in recv on it
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
