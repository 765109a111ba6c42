"""Run phase steps: every DDL under ``lock_timeout`` with a bounded, jittered retry.

Two executors share one retry policy:

- ``ConnectionExecutor``: migtui's own autocommit psycopg connection (``migtui phase run|advance|abort``);
  each transactional step is its own short transaction.
- ``AlembicExecutor``: inside a revision's ``upgrade()``/``downgrade()`` (``migtui up``/``down``, plain
  ``alembic upgrade``); transactional steps run in a savepoint of alembic's transaction, non-transactional
  ones (``CONCURRENTLY``) in ``autocommit_block()``. Offline (``--sql``) it only emits the SQL.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from migtui.errors import MigrationFailed
from migtui.events import EventSink, LockWait, discard
from migtui.phases.model import Step

T = TypeVar("T")


@dataclass(frozen=True)
class LockPolicy:
    lock_timeout: float = 2.0  # seconds each DDL may wait for its lock
    retries: int = 5  # further attempts after the first lock_timeout
    retry_delay: float = 1.0  # base back-off, doubled per attempt, with +-50% jitter
    max_delay: float = 30.0

    @classmethod
    def from_settings(cls, settings: Any) -> LockPolicy:
        return cls(settings.lock_timeout, settings.lock_retries, settings.lock_retry_delay)

    def delay(self, attempt: int) -> float:
        base = min(self.max_delay, self.retry_delay * (2 ** (attempt - 1)))
        return base * random.uniform(0.5, 1.5)

    @property
    def lock_timeout_ms(self) -> int:
        return 0 if self.lock_timeout <= 0 else max(1, int(self.lock_timeout * 1000))  # 0: none, as --timeout


def is_lock_timeout(exc: BaseException) -> bool:
    import psycopg.errors

    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return True
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps driver errors
    return isinstance(orig, psycopg.errors.LockNotAvailable)


def retry_on_lock_timeout(
    attempt_fn: Callable[[], T],
    policy: LockPolicy,
    *,
    what: str,
    sink: EventSink = discard,
    before_retry: Callable[[], None] | None = None,
) -> T:
    """Call ``attempt_fn``; on lock_timeout wait (jittered exponential back-off) and try again, at most
    ``policy.retries`` more times. Raises MigrationFailed (exit 5) when the retries are exhausted."""
    attempt = 1
    while True:
        try:
            return attempt_fn()
        except Exception as exc:
            if not is_lock_timeout(exc):
                raise
            if attempt > policy.retries:
                raise MigrationFailed(
                    f"{what}: lock not acquired within lock_timeout {policy.lock_timeout:g}s after {attempt} attempts"
                ) from None
            delay = policy.delay(attempt)
            sink(
                LockWait(
                    what="relation",
                    detail=f"{what}: lock_timeout {policy.lock_timeout:g}s hit (attempt {attempt}/"
                    f"{policy.retries + 1}); retrying in {delay:.2f}s",
                    waited_seconds=policy.lock_timeout,
                )
            )
            time.sleep(delay)
            if before_retry is not None:
                before_retry()
            attempt += 1


class ConnectionExecutor:
    """Steps on an autocommit psycopg connection owned by migtui."""

    online = True

    def __init__(self, conn, policy: LockPolicy, sink: EventSink = discard) -> None:
        self.conn = conn
        self.policy = policy
        self.sink = sink

    def query_value(self, query: str) -> Any:
        return self.conn.execute(query).fetchone()[0]

    def run_step(self, step: Step, what: str) -> bool:
        """Run ``step``; returns False if its ``skip_if`` said it was already done."""
        if step.skip_if and self.query_value(step.skip_if):
            return False
        if step.transactional:

            def attempt() -> None:
                with self.conn.transaction():
                    self.conn.execute(
                        "SELECT set_config('lock_timeout', %s, true)", (f"{self.policy.lock_timeout_ms}ms",)
                    )
                    self.conn.execute(step.sql)

            retry_on_lock_timeout(attempt, self.policy, what=what, sink=self.sink)
            return True

        def attempt_outside() -> None:
            if step.cleanup:
                self.conn.execute(step.cleanup)
            self.conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{self.policy.lock_timeout_ms}ms",))
            try:
                self.conn.execute(step.sql)
            finally:
                self.conn.execute("RESET lock_timeout")

        try:
            retry_on_lock_timeout(attempt_outside, self.policy, what=what, sink=self.sink)
        except Exception:
            if step.cleanup:  # leave no INVALID index behind
                try:
                    self.conn.execute(step.cleanup)
                except Exception:
                    pass
            raise
        return True


class AlembicExecutor:
    """Steps inside an alembic migration context (online or offline)."""

    def __init__(self, policy: LockPolicy, sink: EventSink = discard) -> None:
        from alembic import op

        self.op = op
        self.context = op.get_context()
        self.online = not self.context.as_sql
        self.policy = policy
        self.sink = sink
        self.raw = None
        if self.online:
            bind = op.get_bind()
            driver = getattr(bind.connection, "driver_connection", None)
            if driver is not None and type(driver).__module__.startswith("psycopg"):
                self.raw = driver

    def _exec(self, query: str) -> Any:
        """Run ``query`` on the migration's own SQLAlchemy connection, not the raw driver connection, so the
        runner's statement events (progress, TUI, dry-run's shadow capture) see every phase step.
        ``no_parameters`` makes the driver run it as is (a ``%`` in the SQL stays literal)."""
        return self.op.get_bind().execution_options(no_parameters=True).exec_driver_sql(query)

    def query_value(self, query: str) -> Any:
        if not self.online:
            return None
        return self._exec(query).fetchone()[0]

    def run_step(self, step: Step, what: str) -> bool:
        if not self.online:
            if step.transactional:
                self.op.execute(step.sql)
            else:
                with self.context.autocommit_block():
                    self.op.execute(step.sql)
            return True
        if step.skip_if and self.query_value(step.skip_if):
            return False
        if step.transactional:
            previous = self.query_value("SELECT current_setting('lock_timeout')")

            def attempt() -> None:
                self._exec("SAVEPOINT migtui_phase_step")
                try:
                    self._exec(f"SELECT set_config('lock_timeout', '{self.policy.lock_timeout_ms}ms', true)")
                    self._exec(step.sql)
                except Exception:
                    self._exec("ROLLBACK TO SAVEPOINT migtui_phase_step")
                    raise
                self._exec("RELEASE SAVEPOINT migtui_phase_step")

            try:
                retry_on_lock_timeout(attempt, self.policy, what=what, sink=self.sink)
            finally:
                self._exec(f"SELECT set_config('lock_timeout', '{previous}', true)")
            return True

        def attempt_outside() -> None:
            with self.context.autocommit_block():
                if step.cleanup:
                    self._exec(step.cleanup)
                self._exec(f"SET lock_timeout = '{self.policy.lock_timeout_ms}ms'")
                try:
                    self._exec(step.sql)
                finally:
                    self._exec("RESET lock_timeout")

        try:
            retry_on_lock_timeout(attempt_outside, self.policy, what=what, sink=self.sink)
        except Exception:
            if step.cleanup:
                try:
                    with self.context.autocommit_block():
                        self._exec(step.cleanup)
                except Exception:
                    pass
            raise
        return True
