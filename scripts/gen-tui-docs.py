#!/usr/bin/env python3
"""Regenerate the screens and the keys table of docs/tui.md from the real TUI on the demo's servers.

    PYTHONPATH=. python scripts/gen-tui-docs.py [--scale 1000000] [--sizes 80x24,200x50] [--check]

Starts the demo's servers (``migtui.demo.job.run_demo``: an embedded primary and a streaming replica, the sample
project applied up to DEMO_STOP_REVISION, the demo data), runs ``python -m migtui tui`` on them in a tmux pane
of each size, drives it with send-keys through the main views (Migrations, help, Lint, Dry-run, the apply
confirmation, Monitor with a blocked session, Phases, Drift after two hand changes) and captures each with
capture-pane. Each capture replaces the block between ``<!-- screen:<view>-<size> -->`` and
``<!-- /screen -->`` in docs/tui.md; the keys table between ``<!-- keys -->`` and ``<!-- /keys -->`` comes from
the app's BINDINGS (``migtui.tui.keys_doc``). A marker without a capture, or a capture without a marker, is an
error: nothing is written then.

The tmux server (its own socket), the blocking sessions and the demo's servers are removed on exit, on an
error and on Ctrl-C / SIGTERM. Needs tmux.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "tui.md"
SCREEN_BLOCK = re.compile(r"(<!-- screen:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /screen -->)", re.S)
KEYS_BLOCK = re.compile(r"(<!-- keys -->\n)(?P<body>.*?)(<!-- /keys -->)", re.S)
BUSY = ("loading…", "linting…", "rendering…", "connecting…")


class Pane:
    """One tmux server on a socket of its own, one session running the TUI."""

    def __init__(self, socket: str, width: int, height: int, command: str) -> None:
        self.tmux = ["tmux", "-L", socket]
        self.size = f"{width}x{height}"
        new = [*self.tmux, "new-session", "-d", "-s", "tui", "-x", str(width), "-y", str(height), command]
        for _ in range(20):  # the previous pane's server on this socket may still be exiting (kill-server)
            if subprocess.run(new, capture_output=True).returncode == 0:
                return
            time.sleep(0.25)
        subprocess.run(new, check=True)

    def text(self) -> str:
        out = subprocess.run([*self.tmux, "capture-pane", "-p", "-t", "tui"], capture_output=True, text=True)
        lines = [line.rstrip() for line in out.stdout.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)

    def keys(self, *keys: str) -> None:
        for key in keys:
            subprocess.run([*self.tmux, "send-keys", "-t", "tui", key], check=True)
            time.sleep(0.15)

    def wait(self, what: str, ready: Callable[[str], bool], timeout: float = 120.0) -> str:
        """The screen once ``ready(screen)`` holds and it has stopped changing (nothing still loading)."""
        deadline = time.monotonic() + timeout
        previous, same = None, 0
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if ready(text) and not any(mark in text for mark in BUSY):
                same = same + 1 if text == previous else 0
                if same >= 3:
                    return text
            else:
                same = 0
            previous = text
            time.sleep(0.25)
        raise RuntimeError(f"{what} at {self.size}: not ready after {timeout:.0f}s; the pane shows:\n{text}")

    def home(self) -> None:
        """Escape until the Migrations view is back (a dialog and its view may both need closing)."""
        for _ in range(4):
            self.keys("Escape")
            try:
                self.wait("the Migrations view", lambda s: "revisions," in s and "Reload" in s, timeout=5)
                return
            except RuntimeError:
                continue
        raise RuntimeError(f"cannot get back to the Migrations view at {self.size}:\n{self.text()}")

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


def blocker(dsn: str) -> Callable[[], None]:
    """A session holding SHARE on accounts (idle in transaction) and one whose UPDATE waits for it; returns
    the function that ends both (rolled back: nothing is written)."""
    import psycopg

    holder = psycopg.connect(dsn, application_name="app-report")
    holder.execute("LOCK TABLE accounts IN SHARE MODE")
    writer = psycopg.connect(dsn, application_name="app-writer")
    done = threading.Event()

    def write() -> None:
        try:
            writer.execute("UPDATE accounts SET id = id WHERE id = 1")
        except psycopg.Error:
            pass
        finally:
            done.set()

    threading.Thread(target=write, daemon=True).start()

    def release() -> None:
        holder.rollback()
        done.wait(10)
        for conn in (writer, holder):
            try:
                conn.rollback()
            finally:
                conn.close()

    return release


def hand_changes(dsn: str) -> Callable[[], None]:
    """Two changes made by hand on the target (drift): an extra index and a changed column default."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True, application_name="gen-tui-docs") as conn:
        conn.execute("CREATE INDEX hand_orders_created_idx ON orders (created_at)")
        conn.execute("ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'paid'")

    def undo() -> None:
        with psycopg.connect(dsn, autocommit=True, application_name="gen-tui-docs") as conn:
            conn.execute("DROP INDEX IF EXISTS hand_orders_created_idx")
            conn.execute("ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'pending'::order_status")

    return undo


def capture_all(demo, size: tuple[int, int], socket: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    width, height = size
    suffix = f"{width}x{height}"
    command = (
        f"cd {ROOT} && PYTHONPATH={ROOT} exec {sys.executable} -m migtui tui --dsn '{demo.dsn}' "
        f"--replica-dsn '{demo.replica_dsn}' --migrations '{demo.settings.migrations}'"
    )
    pane = Pane(socket, width, height, command)
    shots: dict[str, str] = {}
    try:

        def shot(name: str, ready: Callable[[str], bool], timeout: float = 120.0) -> None:
            shots[f"{name}-{suffix}"] = pane.wait(name, ready, timeout)
            print(f"captured {name}-{suffix}", flush=True)

        shot("migrations", lambda s: "revisions," in s and " at " in s and "Lint" in s)
        pane.keys("?")
        shot("help", lambda s: "command palette" in s)
        pane.home()
        pane.keys("l")
        shot("lint", lambda s: "Re-lint" in s)
        pane.home()
        pane.keys("d")
        shot("dry-run", lambda s: any(w in s for w in ("DONE", "FINDINGS", "FAILED")), timeout=600)
        pane.home()
        pane.keys("a")
        shot("apply-confirm", lambda s: "Upgrade to head?" in s)
        pane.home()
        release = blocker(demo.dsn)
        try:
            pane.keys("m")
            shot("monitor", lambda s: "1 blocked" in s and "app-writer" in s)
            pane.home()
        finally:
            release()
        pane.keys("p")
        shot("phases", lambda s: "Advance" in s)
        pane.home()
        undo = hand_changes(demo.dsn)
        try:
            pane.keys("s")
            shot("drift", lambda s: "DRIFT ·" in s or "NO DRIFT" in s or "ERROR" in s, timeout=600)
            pane.home()
        finally:
            undo()
        pane.keys("q")
    finally:
        pane.close()
    return shots


def rewrite(doc: str, shots: dict[str, str], keys: str, sizes: list[str]) -> str:
    """``doc`` with the captured screens of ``sizes`` ("80x24") and the keys table; other sizes' blocks kept."""
    names = [m.group("name") for m in SCREEN_BLOCK.finditer(doc) if m.group("name").rsplit("-", 1)[1] in sizes]
    missing = sorted(set(names) - set(shots))
    unused = sorted(set(shots) - set(names))
    if missing or unused:
        raise RuntimeError(f"docs/tui.md markers without a capture: {missing}; captures without a marker: {unused}")

    def fill(m: re.Match) -> str:
        name = m.group("name")
        return f"{m.group(1)}```\n{shots[name]}\n```\n{m.group(4)}" if name in shots else m.group(0)

    doc = SCREEN_BLOCK.sub(fill, doc)
    if not KEYS_BLOCK.search(doc):
        raise RuntimeError("docs/tui.md has no <!-- keys --> block")
    return KEYS_BLOCK.sub(lambda m: f"{m.group(1)}{keys}{m.group(3)}", doc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=None, help="demo orders (default: the demo's, 1,000,000)")
    parser.add_argument("--sizes", default="80x24,200x50", help="terminal sizes, comma-separated WxH")
    parser.add_argument("--keys-only", action="store_true", help="rewrite only the keys table (no servers)")
    args = parser.parse_args()

    from migtui.tui.keys_doc import keys_markdown

    if args.keys_only:
        doc = DOC.read_text(encoding="utf-8")
        DOC.write_text(KEYS_BLOCK.sub(lambda m: f"{m.group(1)}{keys_markdown()}{m.group(3)}", doc), encoding="utf-8")
        return 0
    if not shutil.which("tmux"):
        print("gen-tui-docs: tmux is not installed", file=sys.stderr)
        return 2
    sizes = [tuple(int(n) for n in size.split("x")) for size in args.sizes.split(",")]

    from migtui.config import Settings
    from migtui.demo.job import DEFAULT_SCALE, DemoOptions, run_demo
    from migtui.events import Message

    socket = f"migtui-docs-{os.getpid()}"
    shots: dict[str, str] = {}

    def then(demo) -> int:  # type: ignore[no-untyped-def]
        for size in sizes:
            shots.update(capture_all(demo, size, socket))
        return 0

    def say(event) -> None:  # type: ignore[no-untyped-def]
        if isinstance(event, Message):
            print(event.text, flush=True)

    def stop(signum, frame) -> None:  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # the demo's clean-up and the pane's close run on the way out

    signal.signal(signal.SIGTERM, stop)
    settings = Settings(migrations=str(ROOT / "db" / "migrations"))
    try:
        report = run_demo(settings, DemoOptions(scale=args.scale or DEFAULT_SCALE, then=then), say)
    except KeyboardInterrupt:
        print("gen-tui-docs: interrupted; servers stopped, docs/tui.md unchanged", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"gen-tui-docs: {exc}", file=sys.stderr)
        print("servers stopped, docs/tui.md unchanged", file=sys.stderr)
        return 1
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
    if report.exit_code != 0:
        return int(report.exit_code)
    try:
        text = rewrite(DOC.read_text(encoding="utf-8"), shots, keys_markdown(), args.sizes.split(","))
    except RuntimeError as exc:
        print(f"gen-tui-docs: {exc}", file=sys.stderr)
        return 1
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {len(shots)} screens and the keys table to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
