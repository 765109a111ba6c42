"""A client-side bound on every database call of a command-line run, whatever the call's own duration.

A query can legitimately run for minutes (a row count, a backfill batch, a ``CREATE INDEX CONCURRENTLY`` of a
phase), so its duration alone says nothing. What does: whether the server still answers a *new* connection.
A SIGSTOPped server or a blackholed network accepts nothing and answers nothing (TCP keepalives do not help
against a stopped server: its kernel still acknowledges them; ``statement_timeout`` is enforced by the server
itself).

So, once enabled (``enable``, by the CLI for dry-run, drift and ``phase``), every call on a connection opened
by ``migtui.pg.connect.connect`` is registered while it waits. When one has waited ``PROBE_AFTER_SECONDS``,
a probe thread opens a fresh connection to the same server (``connect_timeout``) and runs ``SELECT 1``; a
probe that has not answered within ``PROBE_TIMEOUT_SECONDS`` means the server is gone: one line, a
``run_finished`` event with exit 6, the process's clean-up (throwaway servers) given ``CLEANUP_SECONDS``,
then exit 6 without waiting for the server. Bound from the moment the server stops answering:
``PROBE_AFTER_SECONDS + PROBE_TIMEOUT_SECONDS + TICK_SECONDS`` (``BOUND_SECONDS``) plus the clean-up.

Never enabled in the TUI or a library caller: nothing here ends a process it does not own.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

PROBE_AFTER_SECONDS = 5.0  # a call waiting this long gets the server probed on a fresh connection
PROBE_TIMEOUT_SECONDS = 5.0  # a probe unanswered this long: the server is not answering
TICK_SECONDS = 0.5
CLEANUP_SECONDS = 5.0  # the clean-up (atexit: throwaway servers) may take this long before the exit
BOUND_SECONDS = PROBE_AFTER_SECONDS + PROBE_TIMEOUT_SECONDS + TICK_SECONDS


class _Watch:
    def __init__(
        self, job: str, sink: Callable[[Any], None], exit: Callable[[int], None], cleanup: Callable[[], None]
    ) -> None:
        self.job = job
        self.sink = sink
        self.exit = exit
        self.cleanup = cleanup
        self.lock = threading.Lock()
        self.calls: dict[int, tuple[float, str]] = {}  # call id -> (started, dsn)
        self.probes: dict[str, tuple[float, threading.Event]] = {}  # dsn -> (started, answered)
        self.ids = itertools.count()
        self.fired = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="migtui-liveness", daemon=True)
        self.thread.start()

    def begin(self, dsn: str) -> int:
        call = next(self.ids)
        with self.lock:
            self.calls[call] = (time.monotonic(), dsn)
        return call

    def end(self, call: int) -> None:
        with self.lock:
            self.calls.pop(call, None)

    def _run(self) -> None:
        while not self.stop.wait(TICK_SECONDS):
            now = time.monotonic()
            with self.lock:
                waiting = {dsn for started, dsn in self.calls.values() if now - started >= PROBE_AFTER_SECONDS}
                for dsn in list(self.probes):
                    started, answered = self.probes[dsn]
                    if answered.is_set():
                        del self.probes[dsn]
                    elif now - started >= PROBE_TIMEOUT_SECONDS and dsn in waiting:
                        self._fire(now - min(s for s, d in self.calls.values() if d == dsn))
                        return
                for dsn in waiting - set(self.probes):
                    answered = threading.Event()
                    self.probes[dsn] = (now, answered)
                    threading.Thread(target=probe, args=(dsn, answered), name="migtui-probe", daemon=True).start()

    def _fire(self, waited: float) -> None:
        from migtui.errors import ExitCode
        from migtui.report import report_and_exit

        self.fired = True
        message = (
            f"the server has not answered for {waited:.0f}s, nor a new connection for {PROBE_TIMEOUT_SECONDS:g}s: "
            "exiting without waiting for it (nothing this command started there is left running once the "
            "server sees the connection gone)"
        )

        def cleanup() -> None:
            worker = threading.Thread(target=self.cleanup, name="migtui-cleanup", daemon=True)
            worker.start()
            worker.join(CLEANUP_SECONDS)

        report_and_exit(self.sink, self.job, int(ExitCode.CONNECTION), message, self.exit, cleanup)


def probe(dsn: str, answered: threading.Event) -> None:
    """Set ``answered`` once the server behind ``dsn`` (a libpq DSN) answers a new connection; a refusal or an
    error is an answer too (a call waiting on that server then fails by itself), silence and a connect timeout
    are not. Blocks until then, or until libpq gives up connecting."""
    import psycopg

    # libpq's own connect_timeout outlasts the watch's bound, so only an answer (or a refusal, which is one:
    # the call waiting on that server then fails by itself) sets ``answered``; silence never does
    try:
        with psycopg.connect(
            dsn, autocommit=True, connect_timeout=int(PROBE_TIMEOUT_SECONDS) + 10, application_name="migtui-probe"
        ) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        if "timeout" in str(exc).lower():
            return
    except Exception:
        pass
    answered.set()


_watch: _Watch | None = None


def enable(
    job: str,
    sink: Callable[[Any], None],
    exit: Callable[[int], None] | None = None,
    cleanup: Callable[[], None] | None = None,
) -> None:
    """Bound every database call of this process from now on (see the module's docstring). ``exit`` is how the
    process ends (``os._exit``), ``cleanup`` what runs first (the atexit handlers: throwaway servers); a test
    passes a recorder and a no-op."""
    import atexit
    import os

    global _watch
    disable()
    _watch = _Watch(job, sink, exit or os._exit, cleanup or atexit._run_exitfuncs)


@contextlib.contextmanager
def watching(job: str, sink: Callable[[Any], None]) -> Iterator[None]:
    """``enable`` for the duration of one command (a command run in a test process must not leave it on)."""
    enable(job, sink)
    try:
        yield
    finally:
        disable()


@contextlib.contextmanager
def waiting_on(dsn: str) -> Iterator[None]:
    """Register a wait on the server of ``dsn`` that is not a call on a connection of ours: a client program
    (``pg_dump``) talking to it. Bounded like a call while a watch is enabled; nothing otherwise."""
    watch = _watch
    if watch is None:
        yield
        return
    from migtui.pg.dsn import libpq_dsn

    call = watch.begin(libpq_dsn(dsn))
    try:
        yield
    finally:
        watch.end(call)


def disable() -> None:
    global _watch
    if _watch is not None:
        _watch.stop.set()
        _watch = None


def guarded_connection_class() -> type:
    """A psycopg ``Connection`` whose every wait is registered with the watch while one is enabled."""
    global _Guarded
    if _Guarded is None:
        import psycopg

        class Guarded(psycopg.Connection):
            _migtui_dsn = ""

            def wait(self, gen, *args, **kwargs):  # type: ignore[override]
                watch = _watch
                if watch is None or not self._migtui_dsn:
                    return super().wait(gen, *args, **kwargs)
                call = watch.begin(self._migtui_dsn)
                try:
                    return super().wait(gen, *args, **kwargs)
                finally:
                    watch.end(call)

        _Guarded = Guarded
    return _Guarded


_Guarded: type | None = None
