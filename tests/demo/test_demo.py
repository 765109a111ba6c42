"""``migtui demo --headless`` end to end: real primary + replica, sample migrations, data, tour, cleanup."""

from __future__ import annotations

import re
import socket

import pytest

from tests.conftest import default_sigint, run_cli, run_main


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.db
def test_demo_headless_tour_and_cleanup(external_dsn):
    if external_dsn:
        pytest.skip("the demo starts its own embedded servers")
    from migtui.demo.data import DEMO_STOP_REVISION

    proc = run_cli("demo", "--headless", "--scale", "2000", timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "Traceback" not in out + proc.stderr
    primary = re.search(r"^primary:\s+postgresql://\S+@127\.0\.0\.1:(\d+)/migtui_demo$", out, re.M)
    replica = re.search(r"^replica:\s+postgresql://\S+@127\.0\.0\.1:(\d+)/migtui_demo$", out, re.M)
    assert primary and replica, out
    assert f"applied {DEMO_STOP_REVISION}" in out
    pending = re.search(r"^pending:\s+(.+)$", out, re.M).group(1).split(", ")
    assert pending and DEMO_STOP_REVISION not in pending and pending != ["none"]
    assert "orders 2,000" in out
    # the tour ran status, which lists every pending revision
    status = out.split("== migtui status", 1)[1]
    assert all(rev in status for rev in pending)
    assert "demo tour finished" in out
    # servers are gone
    assert not _port_open(int(primary.group(1)))
    assert not _port_open(int(replica.group(1)))


def test_demo_rejects_a_tiny_scale():
    proc = run_main("demo", "--headless", "--scale", "5")
    assert proc.returncode == 2
    assert proc.stderr.startswith("migtui: error: --scale must be at least")


@pytest.mark.db
def test_demo_ctrl_c_during_setup_cleans_up(external_dsn):
    if external_dsn:
        pytest.skip("the demo starts its own embedded servers")
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "MIGTUI_DEBUG"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "migtui", "demo", "--headless", "--scale", "300000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
        cwd=ROOT,
        env=env,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("loading demo data"):
            break
    time.sleep(0.5)  # inside the data load
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    text = "".join(lines) + out
    assert proc.returncode == 130, text + err
    assert "Traceback" not in err and "interrupted" in err
    ports = [int(p) for p in re.findall(r"on 127\.0\.0\.1:(\d+)", text)]
    assert len(ports) == 2, text
    assert not any(_port_open(port) for port in ports)
