"""Work a front end starts at launch, in a thread, before it imports Textual, for its first screen to take.

Importing Textual and building the app is a few hundred milliseconds in which the database is idle: a command
starts here what its first screen will read (``migtui tui``: the overview), and the screen's worker takes the
result by the same key instead of reading again. No textual here: this module is imported before it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

_lock = threading.Lock()
_started: dict[Hashable, tuple[threading.Event, list[Any]]] = {}


def start(key: Hashable, work: Callable[[], Any]) -> None:
    """Run ``work()`` in a daemon thread; ``take(key)`` gets its result (or raises its exception)."""
    done = threading.Event()
    outcome: list[Any] = []  # [result, exception]

    def run() -> None:
        try:
            outcome[:] = [work(), None]
        except BaseException as exc:  # handed to whoever takes it, raised there
            outcome[:] = [None, exc]
        finally:
            done.set()

    with _lock:
        _started[key] = (done, outcome)
    threading.Thread(target=run, name="migtui-prefetch", daemon=True).start()


def take(key: Hashable, timeout: float | None = None) -> tuple[bool, Any]:
    """``(True, result)`` of the work started under ``key`` (waiting for it to end), once; ``(False, None)``
    when none was started (or it outlives ``timeout``). Raises what the work raised."""
    with _lock:
        entry = _started.pop(key, None)
    if entry is None:
        return False, None
    done, outcome = entry
    if not done.wait(timeout):
        return False, None
    result, error = outcome
    if error is not None:
        raise error
    return True, result
