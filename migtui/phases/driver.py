"""Drive a phased revision: status, run (through every phase whose gate passes), advance, abort.

One driver per revision at a time: a session advisory lock keyed on the revision, held for the whole
command. If a runner dies (``kill -9``, lost connection), PostgreSQL releases its lock and the next
``migtui phase run`` resumes from the state in ``migtui.phase_state``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from migtui.errors import ExitCode, LockNotAcquired, MigtuiError, UsageError
from migtui.events import EventSink, Message, PhaseChanged, discard
from migtui.pg import advisory
from migtui.phases import state as st
from migtui.phases import versions
from migtui.phases.backfill import BackfillOptions, run_backfill
from migtui.phases.ddl import ConnectionExecutor, LockPolicy
from migtui.phases.gates import GateOptions, GateResult, contract_gates
from migtui.phases.model import Plan, Step
from migtui.phases.revision import find_change, plan_for, run_steps
from migtui.project.load import ENV_LOCK, no_logging_config

PHASE_ORDER = ("expand", "migrate", "contract")
ADVISORY_CLASS = advisory.PHASE_LOCK_CLASS  # per-revision driver lock (two-key form: class, hashtext(revision))

# phase reached -> the stage it completes
_DONE_STAGE = {
    st.EXPANDED: "expand",
    st.MIGRATING: "expand",
    st.MIGRATED: "migrate",
    st.CONTRACTING: "migrate",
    st.CONTRACTED: "contract",
}


# the patterns whose plan depends on what hangs on the replaced columns (carry-over, or its refusal)
_COLUMN_COPIES = ("rename_column", "change_column_type", "split_column", "merge_columns")


class GateRefused(MigtuiError):
    """A gate did not pass: the revision stays where it is (exit 1, like any failed check)."""

    exit_code = ExitCode.FINDINGS

    def __init__(self, message: str, results: list[GateResult]) -> None:
        super().__init__(message)
        self.results = results


@dataclass
class DriverOptions:
    backfill: BackfillOptions = field(default_factory=BackfillOptions)
    gates: GateOptions = field(default_factory=GateOptions)
    wait: float = 0.0  # seconds to keep re-checking a refused gate before giving up
    poll: float = 2.0


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class PhaseDriver:
    """``migtui phase`` on one database and one alembic project."""

    def __init__(
        self, dsn: str, project, settings, sink: EventSink = discard, options: DriverOptions | None = None
    ) -> None:
        self.dsn = dsn
        self.project = project
        self.settings = settings
        self.sink = sink
        self.options = options or DriverOptions()
        self.policy = LockPolicy.from_settings(settings)
        self.runner = runner_id()
        self._conn = None
        self._lock_pids: frozenset[int] = frozenset()  # backends holding our driver locks (see Runner.own_phase_locks)

    # -- connections -------------------------------------------------------------------------------
    @property
    def conn(self):
        if self._conn is None:
            from migtui.pg.connect import connect

            self._conn = connect(self.dsn, application_name="migtui-phase")
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def __enter__(self) -> PhaseDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- revisions ---------------------------------------------------------------------------------
    def resolve(self, revision: str):
        script = self.project.script
        try:
            rev = script.get_revision(revision)
        except Exception as exc:
            raise UsageError(f"unknown revision {revision!r}: {str(exc).splitlines()[0]}") from None
        if rev is None:
            raise UsageError(f"unknown revision {revision!r}")
        return rev

    def plan(self, revision: str) -> Plan:
        """The revision's plan: the one stored at expand (so contract/abort steps never shift while the
        table changes under them), else built now from the revision file and the catalog."""
        rev = self.resolve(revision)
        change = find_change(rev.module, rev.revision)
        stored = st.stored_plan(self.conn, rev.revision)
        if stored is not None:
            try:
                return Plan.from_dict(stored)
            except (KeyError, TypeError, ValueError):
                pass  # stored by another migtui version: rebuild
        return plan_for(change, rev.revision, self.conn)

    def _version_table(self) -> sql.Composable:
        if self.settings.version_table_schema:
            return sql.Identifier(self.settings.version_table_schema, self.settings.version_table)
        return sql.Identifier(self.settings.version_table)

    def applied_versions(self) -> list[str]:
        name = self._version_table().as_string(None)
        if not self.conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]:
            return []
        return [r[0] for r in self.conn.execute(sql.SQL("SELECT version_num FROM {}").format(self._version_table()))]

    @contextlib.contextmanager
    def driving(self, revision: str):
        """Hold the per-revision advisory lock (on a connection of its own) for a block."""
        from migtui.pg.connect import connect

        lock_conn = connect(self.dsn, application_name=f"migtui-phase-lock {revision}"[:63])
        try:
            if lock_conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                from migtui.redact import redact_dsn

                raise UsageError(
                    f"{redact_dsn(self.dsn)} is a read-only standby (pg_is_in_recovery() is true): "
                    f"drive revision {revision} on the primary"
                )
            got = lock_conn.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (ADVISORY_CLASS, revision)
            ).fetchone()[0]
            if not got:
                held = advisory.phase_lock_holders(lock_conn, [revision])
                holder = held[0] if held else None
                since = f", connected {holder.since}" if holder and holder.since else ""
                who = f" (pid {holder.pid}, {holder.application_name or 'another role'}{since})" if holder else ""
                raise LockNotAcquired(f"another migtui is driving revision {revision}{who}")
            self._lock_pids = self._lock_pids | {int(lock_conn.info.backend_pid)}
            try:
                self._refuse_during_deploy(lock_conn, revision)
                yield
            finally:
                self._lock_pids = self._lock_pids - {int(lock_conn.info.backend_pid)}
                # unlock explicitly: a closed connection's backend releases its locks only when it has
                # exited, which a driver started right after us could beat
                with contextlib.suppress(Exception):
                    lock_conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (ADVISORY_CLASS, revision))
        finally:
            with contextlib.suppress(Exception):
                lock_conn.close()

    def _refuse_during_deploy(self, lock_conn, revision: str) -> None:
        """A deploy (``migtui up``/``down``) of this version table running now: do not drive beside it.

        Taken after our own lock, as the deploy checks for driver locks after taking its own: of two runs
        starting together at least one sees the other and refuses.
        """
        from migtui.pg.version_table import VersionTable, advisory_key, resolved_schema

        table = VersionTable(self.settings.version_table, self.settings.version_table_schema)
        key = advisory_key(resolved_schema(lock_conn, table), table.table)
        held = advisory.held_by_other(lock_conn, key)
        if held:
            first = held[0]
            raise LockNotAcquired(
                f"a deploy holds the deploy advisory lock of this version table (pid {first.pid}, "
                f"{first.application_name or 'another role'}): phase runs of {revision} wait for it; "
                "retry when it has finished"
            )

    # -- status ------------------------------------------------------------------------------------
    def status(self, revision: str | None = None) -> list[dict[str, Any]]:
        if revision is None:
            states = st.all_states(self.conn)
            return [self._status_of(s.revision, s) for s in states]
        rev = self.resolve(revision)
        return [self._status_of(rev.revision, st.get(self.conn, rev.revision))]

    def _status_of(self, revision: str, state: st.PhaseState | None) -> dict[str, Any]:
        out: dict[str, Any] = {"revision": revision, "phase": state.phase if state else None}
        if state is None:
            out["applied"] = revision in self.applied_versions()
            return out
        out["state"] = state.to_dict()
        out["writes"] = st.write_counters(self.conn, revision).to_dict()
        try:
            plan = self.plan(revision)
        except MigtuiError as exc:
            out["gates"] = []
            out["plan_error"] = exc.message
            return out
        out["pattern"] = plan.pattern
        out["description"] = plan.description
        if plan.versions:
            out["versions"] = versions.status(self.conn, revision, plan.versions, state.phase)
        if state.phase in (st.EXPANDED, st.MIGRATING, st.MIGRATED, st.CONTRACTING):
            out["gates"] = [g.to_dict() for g in contract_gates(self.conn, plan, state, self.options.gates)]
        else:
            out["gates"] = []
        out["next"] = self.next_stage(state.phase)
        return out

    @staticmethod
    def next_stage(phase: str | None) -> str | None:
        return {
            None: "expand",
            st.EXPANDING: "expand",
            st.EXPANDED: "migrate",
            st.MIGRATING: "migrate",
            st.MIGRATED: "contract",
            st.CONTRACTING: "contract",
            st.ABORTED: "expand",
        }.get(phase)

    # -- run / advance -----------------------------------------------------------------------------
    def run(self, revision: str, until: str = "contract") -> st.PhaseState:
        """Go through expand, migrate and contract as far as ``until``, stopping at a refused gate."""
        if until not in PHASE_ORDER:
            raise UsageError(f"--until must be one of {', '.join(PHASE_ORDER)}")
        rev = self.resolve(revision)
        revision = rev.revision
        target = PHASE_ORDER.index(until)
        with self.driving(revision):
            while True:
                current = st.get(self.conn, revision)
                phase = current.phase if current else None
                done = PHASE_ORDER.index(_DONE_STAGE[phase]) if phase in _DONE_STAGE else -1
                if phase == st.CONTRACTED or done >= target:
                    break
                if phase in (None, st.EXPANDING, st.ABORTED):
                    self._expand(rev)
                elif phase in (st.EXPANDED, st.MIGRATING):
                    self._migrate(revision)
                elif phase in (st.MIGRATED, st.CONTRACTING):
                    self._contract(revision)
                elif phase == st.ABORTING:
                    raise st.PhaseConflict(
                        f"revision {revision} was being aborted: finish with 'migtui phase abort {revision}'"
                    )
                else:  # pragma: no cover
                    raise st.PhaseConflict(f"revision {revision} is in unknown phase {phase}")
        return st.require(self.conn, revision)

    def advance(self, revision: str) -> st.PhaseState:
        """Exactly one stage forward (expand, migrate or contract), if its gate passes."""
        rev = self.resolve(revision)
        current = st.get(self.conn, rev.revision)
        stage = self.next_stage(current.phase if current else None)
        if stage is None:
            raise st.PhaseConflict(f"revision {rev.revision} is {current.phase}: nothing to advance")
        return self.run(rev.revision, until=stage)

    def _expand(self, rev) -> None:
        """Apply the revision with migtui's runner (its upgrade() runs phases.expand) if the database is right
        below it: deploy advisory lock, per-revision timeout, lock_timeout + retries."""
        from migtui.runner.job import Runner

        applied = self.applied_versions()
        downs = rev.down_revision
        downs = tuple(downs) if isinstance(downs, (tuple, list)) else ((downs,) if downs else ())
        if rev.revision in applied:
            state = st.get(self.conn, rev.revision)
            if state is None and not self._is_phased(rev, downs):
                raise UsageError(
                    f"revision {rev.revision} is not a phased revision and is already applied: "
                    "there is nothing for 'migtui phase' to do; nothing was changed"
                )
            raise st.PhaseConflict(
                f"revision {rev.revision} is applied but its phase state is {state.phase if state else 'missing'}: "
                f"'migtui down' below it, then apply it again"
            )
        if sorted(applied) != sorted(downs):
            at = ", ".join(applied) or "base"
            raise UsageError(
                f"database is at {at}, not at {', '.join(downs) or 'base'} (right below {rev.revision}): "
                "apply the earlier revisions first with 'migtui up'"
            )
        if not self._is_phased(rev, downs):
            raise UsageError(
                f"revision {rev.revision} is not a phased revision (its upgrade() does not call "
                "phases.expand(change)): apply it with 'migtui up'; nothing was changed"
            )
        previous = st.get(self.conn, rev.revision)
        runner = Runner(self.project, self.dsn, self.settings, self.sink)
        runner.own_phase_locks = self._lock_pids
        runner.upgrade(rev.revision)
        state = st.get(self.conn, rev.revision)
        if state is None or state.phase != st.EXPANDED:
            raise UsageError(
                f"revision {rev.revision} did not record itself as phased: its upgrade() must call "
                "phases.expand(change)"
            )
        self.sink(PhaseChanged(rev.revision, st.EXPANDED, previous.phase if previous else None))

    def _is_phased(self, rev, downs: tuple[str, ...]) -> bool:
        """Render the revision's upgrade offline (alembic --sql; no database) and look for the expand marker
        ``phases.expand()`` writes, so a plain revision is refused before anything runs."""
        import contextlib
        import io

        from alembic import command

        from migtui.project.render import OFFLINE_URL

        buffer = io.StringIO()
        cfg = self.project.config(OFFLINE_URL)
        cfg.output_buffer = buffer
        target = f"{downs[0]}:{rev.revision}" if len(downs) == 1 else rev.revision
        with contextlib.redirect_stdout(io.StringIO()):
            with ENV_LOCK, no_logging_config():
                command.upgrade(cfg, target, sql=True)
        return f"-- migtui phased revision {rev.revision}: expand" in buffer.getvalue()

    def _migrate(self, revision: str) -> None:
        plan = self._complete_offline_plan(revision, self.plan(revision))
        current = st.require(self.conn, revision)
        if current.phase == st.EXPANDED:
            st.transition(self.conn, revision, st.EXPANDED, st.MIGRATING, runner=self.runner)
            self.sink(PhaseChanged(revision, st.MIGRATING, st.EXPANDED))
        else:  # resume: we hold the driver lock, so the previous runner is gone
            st.transition(self.conn, revision, st.MIGRATING, st.MIGRATING, runner=self.runner)
            self.sink(
                Message(
                    f"{revision}: resuming the backfill at cursor {current.cursor} "
                    f"({current.rows_done} rows done by {current.runner or 'a previous run'})"
                )
            )
        if plan.backfill is not None:
            run_backfill(self.conn, revision, plan.backfill, self.runner, self.policy, self.options.backfill, self.sink)
        if plan.migrate:  # the carried indexes and constraints, once every row has its new shape
            self._run_recorded_steps(revision, "migrate", plan.migrate, st.MIGRATING)
        st.transition(self.conn, revision, st.MIGRATING, st.MIGRATED, runner=self.runner)
        self.sink(PhaseChanged(revision, st.MIGRATED, st.MIGRATING))

    def _run_recorded_steps(self, revision: str, stage: str, steps: list[Step], phase: str, start: int = 0) -> None:
        """Run a stage's steps from ``start``, recording each step done (drift's expected schema of a revision
        caught mid-stage, and where a resume starts) and the error that stops one (one line, resumable)."""
        executor = ConnectionExecutor(self.conn, self.policy, self.sink)
        try:
            run_steps(
                executor,
                revision,
                stage,
                steps,
                self.sink,
                start=start,
                on_done=lambda n: st.set_step(self.conn, revision, phase, n),
            )
        except MigtuiError as exc:
            st.record_error(self.conn, revision, exc.message)
            raise
        except Exception as exc:
            from migtui.errors import MigrationFailed
            from migtui.redact import error_line

            st.record_error(self.conn, revision, error_line(exc, driver_error=True))
            raise MigrationFailed(
                f"{stage} of {revision} failed: {error_line(exc, driver_error=True)}; "
                f"fix it and run 'migtui phase run {revision}' to resume"
            ) from None

    def _complete_offline_plan(self, revision: str, plan: Plan) -> Plan:
        """A plan stored by an offline (``--sql``) expand was built without the catalog, so it carries nothing
        from the replaced columns. Rebuild it online (CarryRefused, nothing changed, when something cannot be
        carried), run its expand steps (each idempotent: the ones already done change nothing, the carried
        ones are added) and store it, so contract never drops what the old column had."""
        if plan.catalog_read or plan.pattern not in _COLUMN_COPIES:
            return plan
        rev = self.resolve(revision)
        online = plan_for(find_change(rev.module, rev.revision), rev.revision, self.conn)
        if online.to_dict() | {"catalog_read": False} == plan.to_dict():
            st.store_plan(self.conn, rev.revision, online.to_dict())
            return online
        self.sink(Message(f"{revision}: the plan was rendered offline; completing its expand with the catalog"))
        run_steps(ConnectionExecutor(self.conn, self.policy, self.sink), revision, "expand", online.expand, self.sink)
        st.store_plan(self.conn, rev.revision, online.to_dict())
        return online

    def check_gates(self, revision: str, plan: Plan) -> list[GateResult]:
        """Contract gates now; with ``wait`` re-check until they pass or the wait is over."""
        deadline = time.monotonic() + self.options.wait
        while True:
            state = st.require(self.conn, revision)
            results = contract_gates(self.conn, plan, state, self.options.gates, self.sink)
            failed = [r for r in results if not r.passed]
            if not failed:
                return results
            if time.monotonic() >= deadline:
                raise GateRefused(
                    f"{revision}: contract refused by gate {failed[0].gate}: {failed[0].evidence}", results
                )
            self.sink(Message(f"{revision}: waiting for gate {failed[0].gate}: {failed[0].evidence}"))
            time.sleep(min(self.options.poll, max(0.05, deadline - time.monotonic())))

    def _contract(self, revision: str) -> None:
        plan = self.plan(revision)
        current = st.require(self.conn, revision)
        if current.phase == st.MIGRATED:
            if self.options.wait > 0:  # poll until the gates pass (or the wait is over) before claiming
                self.check_gates(revision, plan)
            st.transition(self.conn, revision, st.MIGRATED, st.CONTRACTING, runner=self.runner)
            self.sink(PhaseChanged(revision, st.CONTRACTING, st.MIGRATED))
            # re-check right before taking locks; a late old-path write sends us back to migrated
            try:
                state = st.require(self.conn, revision)
                results = contract_gates(self.conn, plan, state, self.options.gates, self.sink)
                failed = [r for r in results if not r.passed]
                if failed:
                    raise GateRefused(
                        f"{revision}: contract refused by gate {failed[0].gate}: {failed[0].evidence}", results
                    )
            except BaseException:  # refused, or the check itself failed: nothing was locked, back to migrated
                st.transition(self.conn, revision, st.CONTRACTING, st.MIGRATED)
                self.sink(PhaseChanged(revision, st.MIGRATED, st.CONTRACTING))
                raise
            start = 0
        else:
            start = current.step
            self.sink(Message(f"{revision}: resuming contract at step {start + 1}"))
        self._run_recorded_steps(revision, "contract", plan.contract, st.CONTRACTING, start=start)
        st.transition(self.conn, revision, st.CONTRACTING, st.CONTRACTED, runner=self.runner)
        self.sink(PhaseChanged(revision, st.CONTRACTED, st.CONTRACTING))

    # -- abort -------------------------------------------------------------------------------------
    def abort(self, revision: str) -> st.PhaseState:
        """Restore the original shape (before contract only) and un-apply the revision in alembic."""
        rev = self.resolve(revision)
        revision = rev.revision
        with self.driving(revision):
            current = st.require(self.conn, revision)
            if current.phase not in st.ABORTABLE:
                raise st.PhaseConflict(
                    f"revision {revision} is {current.phase}: abort is only possible before contract"
                    + ("; use 'migtui down' to run its reverse" if current.phase == st.CONTRACTED else "")
                )
            applied = self.applied_versions()
            if applied and revision not in applied and current.phase != st.EXPANDING:
                raise UsageError(
                    f"database is at {', '.join(applied)}, not at {revision}: downgrade the later revisions first"
                )
            plan = self.plan(revision)
            previous = current.phase
            st.transition(self.conn, revision, st.ABORTABLE, st.ABORTING, runner=self.runner)
            self.sink(PhaseChanged(revision, st.ABORTING, previous))
            executor = ConnectionExecutor(self.conn, self.policy, self.sink)
            run_steps(executor, revision, "abort", plan.abort, self.sink)
            downs = rev.down_revision
            down = downs[0] if isinstance(downs, (tuple, list)) else downs
            with self.conn.transaction():
                if revision in applied:
                    if down:
                        self.conn.execute(
                            sql.SQL("UPDATE {} SET version_num = %s WHERE version_num = %s").format(
                                self._version_table()
                            ),
                            (down, revision),
                        )
                    else:
                        self.conn.execute(
                            sql.SQL("DELETE FROM {} WHERE version_num = %s").format(self._version_table()), (revision,)
                        )
                st.transition(self.conn, revision, st.ABORTING, st.ABORTED, runner=self.runner)
                self.conn.execute(sql.SQL("DELETE FROM {} WHERE revision = %s").format(st.WRITES_TABLE), (revision,))
            self.sink(PhaseChanged(revision, st.ABORTED, st.ABORTING))
        return st.require(self.conn, revision)
