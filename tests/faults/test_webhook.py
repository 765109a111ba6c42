"""The drift alert webhook: malformed URLs are usage errors before any work, and a server that trickles its
answer cannot hold drift past the webhook's total timeout."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from migtui.drift.alert import post_report
from tests.conftest import run_main


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/", "http://[::1/", "ftp://example.com/hook"])
def test_a_malformed_webhook_url_is_a_usage_error(url):
    r = run_main(
        "drift", "--dsn", "postgresql://u@127.0.0.1:1/x", "--migrations", "db/migrations", "--alert-webhook", url
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("migtui: error: --alert-webhook") and len(r.stderr.strip().splitlines()) == 1
    assert "internal error" not in r.stderr


def test_a_trickling_webhook_server_is_bounded_by_the_total_timeout():
    """urllib's timeout is per socket read: a header line every 0.3 s would never trip a 1 s timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.wait(0.3):
                try:
                    conn.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    return

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        started = time.monotonic()
        delivered, detail = post_report(f"http://127.0.0.1:{port}/hook?token=SECRET", {"drift": True}, timeout=1.0)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        listener.close()
    assert not delivered and "no answer within 1s" in detail and "SECRET" not in detail
    assert elapsed < 1.5
