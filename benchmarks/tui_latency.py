"""TUI responsiveness, measured on a real server with the repo's sample project and demo data.

    PYTHONPATH=. python benchmarks/tui_latency.py [--scale 100000] [--samples 30] [--launches 5] [--launch-only]

Prints:
1. launch to first paint: a real ``python -m migtui tui`` and ``python -m migtui monitor`` in a tmux pane at
   80x24, from spawning the process to the first frame on the terminal and to the first screen with data read
   from the database (the revisions with their state; the monitor's sessions, one of them this script's),
   from the checkout's compiled bytecode (written into its ``__pycache__`` first, as an install has it);
2. in-process (headless Textual): app start to the first composed screen and to the loaded overview;
3. while ``0014`` is blocked behind another session's ACCESS SHARE lock on ``orders`` (apply view open, the
   monitor polling every 0.25 s): key-handling latency (press ``?`` until the help screen is the active screen,
   ``escape`` until it is gone) and event-loop lag (a callback scheduled every 20 ms, how late it runs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT  # the migtui the launches run (--code: another checkout, to compare)
sys.path.insert(0, str(ROOT))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fmt_ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"n={len(ms)} p50={statistics.median(ms):.1f} ms p95={pct(ms, 95):.1f} ms max={max(ms):.1f} ms"


def python_loop_ms() -> float:
    """A pure-Python loop's time: a virtual machine's cores are not always as fast (the host's other guests), and
    launch times follow it; quoted with the figures so runs at different times can be compared."""
    started = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i
    return (time.perf_counter() - started) * 1000


def cpu_seconds(pid: int) -> tuple[float, float] | None:
    """User + system CPU time the process has used so far, and that of its children it has reaped (the child
    that read the first screen's data: migtui.tui.prefetch) (/proc, Linux; 10 ms resolution)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def tmux_launch(dsn: str, runs: int, command: str, first_marker: tuple[str, ...], ready) -> tuple[list, list, list]:
    """Launch ``python -m migtui <command>`` ``runs`` times in a fresh tmux pane at 80x24; return the seconds from
    spawning the process to the first frame (a ``first_marker`` on screen), to ``ready(screen)``: the first
    screen with data read from the database, and the CPU seconds the process had used by then, with those of
    the child it forked to read the first screen's data (reaped by then: migtui.tui.prefetch), which runs on the
    other core meanwhile. The pane is read every 10 ms (``capture-pane`` is a process of its own: polling
    faster adds load to the machine being measured)."""
    sock = f"migtui-bench-{os.getpid()}-{command.split()[0]}"
    tmux = ["tmux", "-L", sock]
    subprocess.run([*tmux, "new-session", "-d", "-s", "keepalive", "sleep 600"], check=True)
    firsts, readies, cpus = [], [], []
    try:
        for i in range(runs):
            session = f"migtui-bench-{os.getpid()}-{i}"
            go = ROOT / f".bench-go-{os.getpid()}"
            cmd = (
                f"cd {CODE} && while [ ! -e {go} ]; do sleep 0.005; done; PYTHONPATH={CODE} exec {sys.executable} "
                f"-m migtui {command} --dsn '{dsn}'"
            )
            subprocess.run([*tmux, "new-session", "-d", "-s", session, "-x", "80", "-y", "24", cmd], check=True)
            time.sleep(0.3)  # the pane's shell is up and waiting for the go file
            pid = int(
                subprocess.run(
                    [*tmux, "list-panes", "-t", session, "-F", "#{pane_pid}"], capture_output=True, text=True
                ).stdout.split()[0]
            )  # the shell, which execs python
            before = cpu_seconds(pid)  # the pane's shell so far: its wait loop's sleep processes are its children
            go.touch()
            t0 = time.monotonic()
            first = done = None
            deadline = t0 + 30
            try:
                while time.monotonic() < deadline and done is None:
                    screen = subprocess.run(
                        [*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True
                    ).stdout
                    now = time.monotonic()
                    if first is None and any(marker in screen for marker in first_marker):
                        first = now - t0
                    if ready(screen):
                        done = now - t0
                        cpu = cpu_seconds(pid)
                        if cpu is not None and before is not None:
                            cpus.append((cpu[0], cpu[1] - before[1]))
                        first = done if first is None else first
                    time.sleep(0.01)
            finally:
                go.unlink(missing_ok=True)
                subprocess.run([*tmux, "kill-session", "-t", session], capture_output=True)
            if first is not None:
                firsts.append(first)
            if done is not None:
                readies.append(done)
            time.sleep(0.2)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    return firsts, readies, cpus


def tmux_first_paint(dsn: str, runs: int) -> None:
    if not shutil.which("tmux"):
        print("tmux not installed: skipping the terminal launch measurement")
        return
    firsts, readies, cpus = tmux_launch(
        dsn,
        runs,
        f"tui --migrations {ROOT / 'db/migrations'}",
        ("Reload", "loading"),
        lambda screen: "revisions," in screen and "pending" in screen and " at " in screen,
    )
    print(f"migtui tui: launch -> first frame on the terminal (tmux 80x24): {fmt_ms(firsts)}")
    print(f"migtui tui: launch -> revisions with database state on screen: {fmt_ms(readies)}")
    print(f"migtui tui: CPU time used by then, the process:               {fmt_ms([c[0] for c in cpus])}")
    print(f"migtui tui: CPU time used by then, its reaped children:       {fmt_ms([c[1] for c in cpus])}")
    firsts, readies, cpus = tmux_launch(
        dsn, runs, "monitor", ("connecting", "Monitor"), lambda screen: "sessions ·" in screen and "bench-" in screen
    )
    print(f"migtui monitor: launch -> first frame on the terminal:          {fmt_ms(firsts)}")
    print(f"migtui monitor: launch -> sessions on screen:                   {fmt_ms(readies)}")
    print(f"migtui monitor: CPU time used by then, the process:          {fmt_ms([c[0] for c in cpus])}")
    print(f"migtui monitor: CPU time used by then, its reaped children:  {fmt_ms([c[1] for c in cpus])}")


async def in_process(settings) -> None:
    from migtui.tui.app import MigtuiApp
    from tests.tui_helpers import screen_text

    starts, readies = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        app = MigtuiApp(settings)
        async with app.run_test(size=(80, 24)) as pilot:
            starts.append(time.perf_counter() - t0)
            while "revisions," not in screen_text(app):
                await pilot.pause(0.005)
            readies.append(time.perf_counter() - t0)
    print(f"in-process: app start -> first composed screen:      {fmt_ms(starts)}")
    print(f"in-process: app start -> overview loaded on screen:  {fmt_ms(readies)}")


async def blocked_latency(settings, samples: int) -> None:
    import psycopg
    from textual import events

    from migtui.tui.app import MigtuiApp
    from migtui.tui.screens.apply import ApplyScreen, ConfirmScreen
    from migtui.tui.screens.help import HelpScreen
    from migtui.tui.widgets.monitor_panel import MonitorPanel
    from tests.tui_helpers import screen_text

    holder = psycopg.connect(settings.dsn, application_name="bench-holder")
    holder.execute("SELECT count(*) FROM orders")  # ACCESS SHARE on orders, transaction left open
    try:
        app = MigtuiApp(settings)
        async with app.run_test(size=(80, 24)) as pilot:
            while "revisions," not in screen_text(app):
                await pilot.pause(0.01)
            app.action_apply("0014_orders_archived_at")
            while not isinstance(app.screen, ConfirmScreen):
                await pilot.pause(0.01)
            confirm = app.screen
            if confirm.typed:  # the holder's lock on orders (pre-flight) asks for the database's name
                await pilot.pause(0.2)  # the dialog mounted and its input focused
                confirm.query_one("#confirm-input").value = confirm.typed
            confirm.action_confirm()
            while not isinstance(app.screen, ApplyScreen):
                await pilot.pause(0.01)
            apply = app.screen
            assert isinstance(apply, ApplyScreen)
            panel = apply.query_one(MonitorPanel)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (panel.sample and panel.sample.blocked):
                await pilot.pause(0.02)
            blocked = panel.sample.blocked if panel.sample else ()
            print(f"blocked: {[(s.pid, s.application_name, s.wait) for s in blocked]}")

            # event-loop lag while the runner waits and the monitor polls
            loop = asyncio.get_running_loop()
            lags: list[float] = []
            for _ in range(150):
                target = loop.time() + 0.02
                fut = loop.create_future()
                loop.call_at(target, lambda f=fut: f.done() or f.set_result(loop.time()))
                fired = await fut
                lags.append(max(0.0, fired - target))

            # keys go in the way a terminal's keys do (through the driver), without Pilot's idle waits
            def send(key: str, char: str | None) -> None:
                event = events.Key(key, char)
                event.set_sender(app)
                app._driver.send_message(event)

            async def until(predicate) -> None:
                while not predicate():
                    await asyncio.sleep(0)

            themes, opens, painted, closes = [], [], [], []
            for _ in range(samples):
                before = app.theme
                t0 = time.perf_counter()
                send("t", "t")
                await until(lambda before=before: app.theme != before)
                themes.append(time.perf_counter() - t0)
                await asyncio.sleep(0.03)
                t0 = time.perf_counter()
                send("question_mark", "?")
                await until(lambda: isinstance(app.screen, HelpScreen))
                opens.append(time.perf_counter() - t0)
                await until(lambda: any(w.size.height > 0 for w in app.screen.query("#help")))
                painted.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                send("escape", None)
                await until(lambda: not isinstance(app.screen, HelpScreen))
                closes.append(time.perf_counter() - t0)
                await asyncio.sleep(0.05)
            still_blocked = bool(panel.sample and panel.sample.blocked)
            print(f"monitor polls during the run: {panel.polls} (still blocked at the end: {still_blocked})")
            print(f"event-loop lag (20 ms timer) while blocked:        {fmt_ms(lags)}")
            print(f"key 't' -> theme switched, while blocked:          {fmt_ms(themes)}")
            print(f"key '?' -> help screen active, while blocked:      {fmt_ms(opens)}")
            print(f"key '?' -> help laid out, while blocked:           {fmt_ms(painted)}")
            print(f"key 'escape' -> back to apply view, while blocked: {fmt_ms(closes)}")
            t0 = time.perf_counter()
            await pilot.press("c")
            while apply.state not in ("cancelled", "failed", "done"):
                await pilot.pause(0.01)
            print(f"cancel -> run ended ({apply.state}): {(time.perf_counter() - t0) * 1000:.0f} ms")
    finally:
        holder.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=100_000, help="demo orders (default 100000)")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--launches", type=int, default=5)
    parser.add_argument("--launch-only", action="store_true", help="only the launch-to-first-screen measurements")
    parser.add_argument("--code", type=Path, help="launch the migtui of this checkout (e.g. a worktree of main)")
    args = parser.parse_args()
    if args.code:  # the launches and the in-process measurements run that checkout's migtui
        global CODE
        CODE = args.code.resolve()
        sys.path.insert(0, str(CODE))

    # the launches run from cached bytecode, as an installed package does (pip compiles it at install; an
    # editable checkout writes it on its first run, unless PYTHONDONTWRITEBYTECODE forbids it)
    import compileall

    compileall.compile_dir(str(CODE / "migtui"), quiet=1)

    import psycopg

    from migtui.config import Settings
    from migtui.demo.data import DEMO_STOP_REVISION, load_demo_data
    from migtui.pg import harness
    from migtui.project.load import AlembicProject
    from migtui.runner.job import Runner

    harness.install_signal_cleanup()
    cluster = harness.start_cluster(16)
    try:
        dsn = cluster.create_database("bench")
        settings = Settings(
            dsn=dsn,
            migrations=str(ROOT / "db/migrations"),
            monitor_interval=0.25,
            lock_timeout=60.0,
            lock_retries=0,
            timeout=120.0,
        )
        Runner(AlembicProject.load(settings.migrations), dsn, settings).upgrade(DEMO_STOP_REVISION)
        load_demo_data(dsn, args.scale)
        print(
            f"PostgreSQL {cluster.pg_version}, sample project at {DEMO_STOP_REVISION}, {args.scale:,} orders; "
            f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
            f"this core's speed: {python_loop_ms():.0f} ms for 3,000,000 Python additions"
        )
        holder = psycopg.connect(dsn, application_name="bench-holder")  # a session for the monitor to show
        try:
            tmux_first_paint(dsn, args.launches)
        finally:
            holder.close()
        print(f"load average after the launches: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.launch_only:
            return 0
        asyncio.run(in_process(settings))
        asyncio.run(blocked_latency(settings, args.samples))
    finally:
        cluster.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
