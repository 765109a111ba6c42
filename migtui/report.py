"""The job API every front end calls: ``run_<job>(settings, options, sink) -> Report``.

``settings`` (``migtui.config.Settings``) hold the target: ``dsn``, ``replica_dsn``, ``migrations``,
timeouts. ``options`` are the job's own choices, a frozen ``<Job>Options`` dataclass in the job's package. The
sink receives typed events (``migtui.events``) as the job goes. Every report answers the same few questions
(``Report``); each job's report adds its own fields and JSON.

A run that can be stopped from another thread (the TUI's cancel key) takes a ``Cancel`` token in its options:
the job registers how to stop what it is doing, and the front end calls ``cancel()``.

``one_line_errors`` is the error policy of every command-line entry (``migtui`` and the backend's deploy
entry): an expected failure is one secret-free line and its exit code, never a traceback.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from migtui.errors import ExitCode, MigtuiError
from migtui.redact import redact

if TYPE_CHECKING:  # the events module is for the jobs: a front end's start-up need not import it
    from migtui.events import Finding


@runtime_checkable
class Report(Protocol):
    """What every job returns. ``target`` is redacted (no password); ``summary`` is one line."""

    @property
    def job(self) -> str: ...

    @property
    def target(self) -> Any: ...

    @property
    def summary(self) -> str: ...

    @property
    def findings(self) -> list[Finding]: ...

    @property
    def exit_code(self) -> int: ...

    def to_dict(self) -> dict[str, Any]: ...


class Cancel:
    """A cancel handle a front end passes to a job through its options.

    The job registers what stops its current work (``on_cancel``: the runner's ``cancel``, a query's cancel);
    ``cancel()`` from any thread runs those and marks the token, and the job then ends with ``Interrupted``.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on cancel (at once if already cancelled)."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


def interrupt_on_stop_signals() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main thread, whatever the parent left them at.

    A shell starts background jobs with SIGINT ignored and Python then installs no handler of its own; a deploy
    system stops a run with SIGTERM, whose default ends the process at once (143) without rolling back the
    running revision or removing a throwaway server. Both unwind the job instead: the running statement is
    cancelled and rolled back, locks are released, servers removed, and ``one_line_errors`` exits 130.
    """
    import signal

    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)


def report_and_exit(
    sink: Callable[[Any], None],
    job: str,
    code: int,
    message: str,
    exit: Callable[[int], Any] = os._exit,
    before_exit: Callable[[], None] | None = None,
) -> None:
    """The last resort of a command whose server stopped answering: ``run_finished`` through ``sink`` (best
    effort: the one line must still reach stderr), ``migtui: error: <message>``, ``before_exit`` (clean-up), then
    the process ends with ``code`` without waiting for the server."""
    from migtui.events import RunFinished

    try:
        try:
            sink(RunFinished(job=job, ok=False, exit_code=code, summary=message))
            sys.stdout.flush()
        except Exception:
            pass
        print(f"migtui: error: {message}", file=sys.stderr, flush=True)
        if before_exit is not None:
            before_exit()
    finally:
        exit(code)


def one_line_errors(prog: str, run: Callable[[], int], *, internal_hint: str = "") -> int:
    """``run()``'s exit code, with every failure as one line on stderr prefixed ``prog``.

    ``MigtuiError`` -> its message and exit code; Ctrl-C -> 130; a closed stdout (``| head``) -> 0; anything
    else is a bug: ``internal error`` and exit 70, with the traceback only under ``MIGTUI_DEBUG``.
    """
    try:
        return int(run())
    except MigtuiError as exc:
        # an operator's stop is not an error: the same "interrupted" line as a bare Ctrl-C, with what it left
        kind = "interrupted" if exc.exit_code == ExitCode.INTERRUPTED else "error"
        text = redact(exc.message)
        if kind == "interrupted" and text.startswith("interrupted"):
            text = text[len("interrupted") :].lstrip(": ")
        print(f"{prog}: {kind}: {text}" if text else f"{prog}: {kind}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitCode.OK)
    except Exception as exc:
        if os.environ.get("MIGTUI_DEBUG"):
            raise
        lines = str(exc).strip().splitlines()
        detail = redact(lines[0]) if lines else ""
        print(f"{prog}: internal error: {exc.__class__.__name__}: {detail}{internal_hint}", file=sys.stderr)
        return int(ExitCode.INTERNAL)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a job that builds many small acyclic objects.

    Lint's parse trees and results, drift's catalog snapshots: every collection would walk all the live ones
    again, for nothing. Reference counting still frees everything, so memory does not grow. The collector's
    state is restored afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
