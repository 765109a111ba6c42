"""Work a front end starts at launch, before it imports Textual, for its first screen to take.

Importing Textual and building the app is a few hundred milliseconds in which the database is idle: a command
starts here what its first screen will read (``migtui tui``: the overview), and the screen's worker takes the
result by the same key instead of reading again.

Where the platform has ``fork`` and the process has no other thread yet, the work runs in a forked child: it
imports psycopg and reads while this process imports Textual, on the other CPU, instead of taking turns with it
for the interpreter's lock. The child hands back its result pickled, with its libpq reading of the DSNs this
process deferred (``migtui.redact.parse_deferred``: the child imports psycopg anyway); any failure there (the
child dies, the result does not pickle) reads as "nothing was started", and the screen reads for itself.
Elsewhere the work runs in a thread. No textual here: this module is imported before it.
"""

from __future__ import annotations

import atexit
import os
import pickle
import threading
from collections.abc import Callable, Hashable
from typing import Any

_lock = threading.Lock()
_started: dict[Hashable, tuple[threading.Event, list[Any]]] = {}


def start(key: Hashable, work: Callable[[], Any], fork: bool = False) -> None:
    """Run ``work()`` (in a forked child with ``fork`` where it can, else in a daemon thread); ``take(key)`` gets
    its result (or raises its exception; a forked child's failure reads as nothing started)."""
    done = threading.Event()
    outcome: list[Any] = []  # [result, exception]
    with _lock:
        _started[key] = (done, outcome)
    if fork and hasattr(os, "fork") and threading.active_count() == 1:
        try:
            _start_child(work, done, outcome)
            return
        except OSError:  # no process to spare (EAGAIN, ENOMEM): the thread below
            pass

    def run() -> None:
        try:
            outcome[:] = [work(), None]
        except BaseException as exc:  # handed to whoever takes it, raised there
            outcome[:] = [None, exc]
        finally:
            done.set()

    threading.Thread(target=run, name="migtui-prefetch", daemon=True).start()


def _start_child(work: Callable[[], Any], done: threading.Event, outcome: list[Any]) -> None:
    from migtui import redact

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, never runs this process's atexit work or flushes its buffers
        status = 1
        try:
            os.close(read_end)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)  # nothing it does may draw on the operator's terminal
            os.dup2(devnull, 2)
            read = redact.parse_deferred(stop=True)
            payload = pickle.dumps((work(), read), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)

    def reap() -> None:  # the app ended before the child did (a hung connect): it must not outlive it
        try:
            os.kill(pid, 9)
        except OSError:
            pass

    atexit.register(reap)

    def collect() -> None:  # reads while the child works (a full pipe would stop it), then reaps it
        chunks = []
        try:
            with os.fdopen(read_end, "rb") as pipe:
                while chunk := pipe.read(1 << 16):
                    chunks.append(chunk)
            _, status = os.waitpid(pid, 0)
            atexit.unregister(reap)
            if status == 0 and chunks:
                result, read = pickle.loads(b"".join(chunks))
                redact.adopt(read)
                outcome[:] = [result, None]
        except Exception:  # nothing usable came back: take() says nothing was started
            outcome[:] = []
        finally:
            done.set()

    threading.Thread(target=collect, name="migtui-prefetch", daemon=True).start()


def take(key: Hashable, timeout: float | None = None) -> tuple[bool, Any]:
    """``(True, result)`` of the work started under ``key`` (waiting for it to end), once; ``(False, None)``
    when none was started, a forked child brought nothing back, or it outlives ``timeout`` (then it can still
    be taken later). Raises what the work raised (in a thread)."""
    with _lock:
        entry = _started.get(key)
    if entry is None:
        return False, None
    done, outcome = entry
    if not done.wait(timeout):
        return False, None
    with _lock:
        if _started.pop(key, None) is None:  # another caller took it meanwhile
            return False, None
    if not outcome:
        return False, None
    result, error = outcome
    if error is not None:
        raise error
    return True, result


def monitor_sample_key(dsn: str) -> tuple[str, str]:
    return ("monitor-sample", dsn)


def start_monitor_sample(dsn: str, interval: float) -> None:
    """The standalone monitor's first sample, read while Textual is imported (the panel takes it by
    ``monitor_sample_key``; its own connection polls after it)."""

    def work():  # type: ignore[no-untyped-def]
        from migtui.pg.monitor import Monitor

        with Monitor(dsn, interval) as monitor:
            return monitor.sample()

    start(monitor_sample_key(dsn), work, fork=True)
