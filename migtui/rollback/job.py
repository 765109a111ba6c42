"""Rollback test: for every revision, upgrade, downgrade, upgrade again, and prove the schema comes back.

Per revision R, on one scratch database:

1. snapshot the schema (``before``); upgrade R; snapshot (``after_up``);
2. downgrade R; the schema must equal ``before``;
3. upgrade R again; the schema must equal ``after_up``.

A phased revision (``migtui.phases``; its upgrade is the expand, its downgrade before contract the abort)
thereby goes expand -> abort -> expand; then its migrate and contract phases are replayed from the plan it
stored, and where its contract is reversible it is downgraded (the schema must equal ``before``) and
expanded again. An irreversible contract is tested only on the last revision (later ones were written
against the expanded shape), and the database is left contracted.

Every step must succeed. Differences are catalog items (``migtui.catalog``) naming the object and the
attribute. With ``with_data``, a few rows are seeded into every table before and after each upgrade, and a
downgrade + upgrade round trip that loses rows or column values is reported as a warning.

A downgrade that leaves the schema exactly as the upgrade made it is a **no-op downgrade** (a deliberate
policy in many projects): its own status, a failure unless ``allow_noop_downgrades`` (then a warning),
never a cascade. The whole history is tested in one run: after a failing or no-op revision the database is
put back at the revision as its upgrade left it (``Checkpoint``: a template clone plus the upgrades since;
for a no-op downgrade only the version table's rows), and the next revision is tested from there. Only a
revision whose upgrade fails stops the run (nothing after it can be built); ``fail_fast`` stops at the
first failure instead.

The scratch database is a new database, created and dropped by the job, on an embedded server by default
(one server for the whole run, revisions applied in-process) or on the server ``settings.scratch_dsn``
names. ``settings.baseline`` (``migtui.project.baseline``) is applied to it before the first revision.
Used directly, ``RollbackTest`` runs in the database it is given; one whose version table is at a non-base
revision is refused unless ``force`` (then only the revisions after its current one are tested).

    report = run_rollback_test(settings, RollbackOptions(with_data=True), sink)
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from migtui.catalog import Difference, Snapshot, diff_snapshots, inspect_database
from migtui.errors import ExitCode, MigtuiError, ProjectError, RevisionCodeError, UsageError
from migtui.events import EventSink, Finding, Message, RunFinished, RunStarted, discard
from migtui.redact import error_line, redact_dsn

JOB = "rollback-test"

# Failure phases, in the order a revision goes through them (one name in text, JSON and JUnit).
PHASE_UPGRADE = "upgrade"
PHASE_DOWNGRADE = "downgrade"
PHASE_DOWNGRADE_SCHEMA = "schema after downgrade"
PHASE_REUPGRADE = "re-upgrade"
PHASE_REUPGRADE_SCHEMA = "schema after re-upgrade"
# a phased revision (migtui.phases) also goes through its later phases, replayed from the plan it stored
PHASE_CONTRACT = "migrate + contract"
PHASE_CONTRACT_DOWNGRADE = "downgrade after contract"
PHASE_CONTRACT_DOWNGRADE_SCHEMA = "schema after downgrade after contract"
PHASE_CONTRACT_REUPGRADE = "re-upgrade after contract"

PASSED = "passed"
FAILED = "failed"
NOOP_DOWNGRADE = "no-op downgrade"  # the downgrade ran and changed nothing the upgrade made
SKIPPED = "skipped"  # already applied (--force on a database at a revision) or not run after a fatal failure


@dataclass
class RevisionResult:
    revision: str
    description: str = ""
    status: str = SKIPPED
    failures: list[str] = field(default_factory=list)  # phases that failed
    error: str | None = None  # the step error (upgrade / downgrade / re-upgrade raised)
    downgrade_differences: list[Difference] = field(default_factory=list)  # before vs after downgrade
    reupgrade_differences: list[Difference] = field(default_factory=list)  # after upgrade vs after re-upgrade
    data_warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # upgrade, downgrade, re_upgrade, snapshots, total
    note: str = ""  # why skipped; for a phased revision, what its contract leg could not test
    phased: list[str] = field(default_factory=list)  # the phase sequences a phased revision went through
    contract_differences: list[Difference] = field(default_factory=list)  # before vs after downgrade from contract
    path: str = ""  # the revision file
    noop_allowed: bool = False  # a no-op downgrade is the project's policy: a warning, not a failure
    code_failed: bool = False  # its upgrade() raised in its own Python code (not the database): exit 7

    @property
    def ok(self) -> bool:
        return self.status != FAILED and (self.status != NOOP_DOWNGRADE or self.noop_allowed)

    def summary(self) -> str:
        """One line naming what broke, e.g. ``schema after downgrade: 2 differences``."""
        if self.status == PASSED:
            return "passed"
        if self.status == SKIPPED:
            return f"skipped: {self.note}" if self.note else "skipped"
        if self.status == NOOP_DOWNGRADE:
            return (
                "no-op downgrade: the schema after the downgrade is the schema after the upgrade "
                f"({count_differences(self.downgrade_differences)} from the schema before it)"
            )
        parts = []
        for phase in self.failures:
            if phase == PHASE_DOWNGRADE_SCHEMA:
                parts.append(f"{phase}: {count_differences(self.downgrade_differences)}")
            elif phase == PHASE_REUPGRADE_SCHEMA:
                parts.append(f"{phase}: {count_differences(self.reupgrade_differences)}")
            elif phase == PHASE_CONTRACT_DOWNGRADE_SCHEMA:
                parts.append(f"{phase}: {count_differences(self.contract_differences)}")
            else:
                parts.append(f"{phase} failed: {self.error}")
        return "; ".join(parts)

    def findings(self) -> list[Finding]:
        out = []
        if self.status == FAILED:
            out.append(
                Finding(
                    rule="rollback-test",
                    severity="error",
                    message=f"revision {self.revision}: {self.summary()}",
                    revision=self.revision,
                    path=self.path,
                )
            )
        if self.status == NOOP_DOWNGRADE:
            out.append(
                Finding(
                    rule="rollback-test/no-op-downgrade",
                    severity="warning" if self.noop_allowed else "error",
                    message=f"revision {self.revision}: {self.summary()}",
                    revision=self.revision,
                    path=self.path,
                )
            )
        for warning in self.data_warnings:
            out.append(
                Finding(
                    rule="rollback-test/data",
                    severity="warning",
                    message=f"revision {self.revision}: {warning}",
                    revision=self.revision,
                    path=self.path,
                )
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "description": self.description,
            "status": self.status,
            "failures": list(self.failures),
            "error": self.error,
            "downgrade_differences": [d.to_dict() for d in self.downgrade_differences],
            "reupgrade_differences": [d.to_dict() for d in self.reupgrade_differences],
            "phased": list(self.phased),
            "contract_differences": [d.to_dict() for d in self.contract_differences],
            "data_warnings": list(self.data_warnings),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "note": self.note,
            "code_failed": self.code_failed,
        }


def count_differences(items: list[Difference]) -> str:
    return f"{len(items)} difference" + ("" if len(items) == 1 else "s")


@dataclass
class RollbackReport:
    scratch: str  # the scratch database: redacted DSN, or "embedded PostgreSQL N"
    server_version: str = ""
    with_data: bool = False
    baseline: str | None = None  # the baseline applied before the first revision (file or callable)
    fail_fast: bool = False
    allow_noop_downgrades: bool = False
    revisions: list[RevisionResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.revisions)

    @property
    def failed(self) -> list[RevisionResult]:
        """Revisions that fail the test: a failed step or schema, or a no-op downgrade not allowed."""
        return [r for r in self.revisions if not r.ok]

    @property
    def exit_code(self) -> int:
        """7 when a revision's upgrade() failed in the project's own Python (the history cannot be built, which
        is not what rollback-test checks), else 1 for any failure. A downgrade() that raises stays 1: a
        downgrade that does not work is the finding this job exists for."""
        if any(r.code_failed for r in self.revisions):
            return int(ExitCode.PROJECT_ERROR)
        return 0 if self.ok else 1

    @property
    def job(self) -> str:
        return JOB

    @property
    def target(self) -> str:
        """What the job ran on: rollback-test never touches the target database, only its scratch one."""
        return self.scratch

    @property
    def noop_downgrades(self) -> list[RevisionResult]:
        return [r for r in self.revisions if r.status == NOOP_DOWNGRADE]

    @property
    def summary(self) -> str:
        failed = [r.revision for r in self.failed]
        noop = [r.revision for r in self.noop_downgrades]
        if failed:
            text = "failed: " + ", ".join(failed)
        else:
            text = "all revisions passed" if not noop else "no failures"
        if noop:
            text += f"; {len(noop)} no-op downgrade(s)"
        return text

    @property
    def findings(self) -> list[Finding]:
        """A failed revision is an error; rows or values a down+up round trip lost are warnings."""
        out = []
        for result in self.revisions:
            out.extend(result.findings())
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": JOB,
            "ok": self.ok,
            "scratch": self.scratch,
            "server_version": self.server_version,
            "with_data": self.with_data,
            "baseline": self.baseline,
            "fail_fast": self.fail_fast,
            "allow_noop_downgrades": self.allow_noop_downgrades,
            "seconds": round(self.seconds, 3),
            "passed": sum(r.status == PASSED for r in self.revisions),
            "failed": [r.revision for r in self.failed],
            "noop_downgrades": [r.revision for r in self.noop_downgrades],
            "skipped": sum(r.status == SKIPPED for r in self.revisions),
            "revisions": [r.to_dict() for r in self.revisions],
        }


# -- running one revision step ----------------------------------------------------------------------------

StepFunction = Callable[[Any, str, Any, str, str, EventSink], float]


def run_step(project: Any, dsn: str, settings: Any, revision: str, direction: str, sink: EventSink) -> float:
    """Apply (``up``) or revert (``down``) exactly one revision through the runner's one-step function (its
    timeout, lock_timeout retries, events and autocommit handling); raises MigtuiError on failure."""
    from migtui.runner.step import run_revision_step

    return run_revision_step(project, dsn, settings, revision, direction, sink=sink, job=JOB)


class _EnvRefused(Exception):
    """env.py failed outside any revision's own code (raised through the per-revision handlers, which record
    MigtuiErrors as the revision's failure)."""


class Checkpoint:
    """A template clone of the scratch database, so a failed (or no-op) downgrade does not end the run.

    The clone is taken before the first revision and again after each recovery, never on the passing path
    (a clone costs as much as several revisions). To put the database back at revision R: re-create it from
    the clone and upgrade, without testing, the revisions applied since the clone was taken (R included);
    then clone again, so the next recovery replays only what came after R.

    ``server`` is a harness Cluster or ExternalServer on which the job owns ``dbname``; a clone needs no
    other session on its source, so the caller closes its connections to it first.
    """

    def __init__(self, server: Any, dbname: str) -> None:
        self.server = server
        self.dbname = dbname
        self.clone = f"{dbname}_ckpt"
        self.taken = False
        self.since: list[str] = []  # revisions upgraded since the clone was taken, in order

    def save(self) -> None:
        self.server.drop_database(self.clone)
        # a template needs no other session on it: an env.py that never closes its connection (CKAN's opens one
        # per run and leaves it to the garbage collector) leaves one behind. Every session on the job's own
        # scratch database is the job's, so ending them is safe
        self.server.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            params=(self.dbname,),
        )
        self.server.create_database(self.clone, template=self.dbname)
        self.taken = True
        self.since = []

    def restore(self) -> None:
        self.server.drop_database(self.dbname)
        self.server.create_database(self.dbname, template=self.clone)

    def drop(self) -> None:
        self.server.drop_database(self.clone)


# -- the job ----------------------------------------------------------------------------------------------


class RollbackTest:
    """Runs the rollback test of ``project`` on the database ``dsn`` (which the caller provides and owns)."""

    def __init__(
        self,
        project: Any,
        dsn: str,
        settings: Any,
        *,
        sink: EventSink = discard,
        force: bool = False,
        with_data: bool = False,
        exclude: tuple[str, ...] = (),
        step: StepFunction = run_step,
        scratch_label: str | None = None,
        fail_fast: bool = False,
        allow_noop_downgrades: bool = False,
        checkpoint: Checkpoint | None = None,
        baseline: str | None = None,
    ) -> None:
        self.project = project
        self.dsn = dsn
        self.settings = settings
        self.sink = sink
        self.force = force
        self.with_data = with_data
        self.exclude = exclude
        self.step = step
        self.scratch_label = scratch_label or (redact_dsn(dsn) or "")
        self.fail_fast = fail_fast
        self.allow_noop_downgrades = allow_noop_downgrades
        self.checkpoint = checkpoint
        self.baseline = baseline
        self._conn: Any = None  # one connection for every catalog snapshot
        self._current: Snapshot | None = None  # snapshot of the schema as it is now, if still valid
        self._last: str | None = None  # the last revision of the run
        self._still_as_upgraded = False  # after a downgrade that raised: the schema is the upgrade's
        self._versions_after_up: tuple[str, ...] | None = None  # the version table's rows after the last upgrade

    def _snapshot(self) -> Snapshot:
        if self._conn is None or self._conn.closed:
            from migtui.pg.connect import connect

            self._conn = connect(self.dsn, application_name=f"migtui {JOB} [catalog]")
        snap = inspect_database(
            self._conn,
            version_table=self.settings.version_table,
            version_table_schema=self.settings.version_table_schema,
        )
        self._current = snap
        return snap

    def _run_step(self, revision: str, direction: str) -> float:
        self._current = None  # the schema is about to change
        try:
            return self.step(self.project, self.dsn, self.settings, revision, direction, self.sink)
        except ProjectError as exc:
            if isinstance(exc, RevisionCodeError):
                raise
            # env.py itself failed or refused the connection: no revision can be tested, so the run stops with
            # the project's error (exit 7) rather than a report of every revision failing the same way
            raise _EnvRefused(exc.message) from None

    def _diff(self, expected: Snapshot, actual: Snapshot) -> list[Difference]:
        return diff_snapshots(expected, actual, exclude=self.exclude)

    def current_revisions(self) -> tuple[str, ...]:
        """Revision ids in the target's version table; () when the table is missing or empty."""
        from psycopg import sql

        from migtui.pg.connect import connect

        with connect(self.dsn, application_name=f"migtui {JOB}") as conn:
            schema = self.settings.version_table_schema
            name = self.settings.version_table
            regclass = f"{schema}.{name}" if schema else name
            found = conn.execute("SELECT to_regclass(%s)", (_quote_regclass(schema, name),)).fetchone()
            if not found or found[0] is None:
                return ()
            table = sql.Identifier(schema, name) if schema else sql.Identifier(name)
            try:
                rows = conn.execute(sql.SQL("SELECT version_num FROM {}").format(table)).fetchall()
            except Exception as exc:
                raise UsageError(f"cannot read version table {regclass}: {str(exc).splitlines()[0]}") from None
            return tuple(sorted(str(r[0]) for r in rows))

    def _version_table(self) -> Any:
        from psycopg import sql

        schema, name = self.settings.version_table_schema, self.settings.version_table
        return sql.Identifier(schema, name) if schema else sql.Identifier(name)

    def _read_versions(self) -> tuple[str, ...] | None:
        """The version table's rows, or None where it is not where the settings say (an env.py with its own
        version table): then a no-op downgrade is recovered from the clone instead."""
        import psycopg
        from psycopg import sql

        from migtui.pg.connect import connect

        with connect(self.dsn, application_name=f"migtui {JOB}") as conn:
            query = sql.SQL("SELECT version_num FROM {} ORDER BY 1").format(self._version_table())
            try:
                return tuple(str(row[0]) for row in conn.execute(query).fetchall())
            except psycopg.Error:
                return None

    def _write_versions(self, versions: tuple[str, ...]) -> None:
        from psycopg import sql

        from migtui.pg.connect import connect

        with connect(self.dsn, application_name=f"migtui {JOB}") as conn, conn.transaction():
            table = self._version_table()
            conn.execute(sql.SQL("DELETE FROM {}").format(table))
            for version in versions:
                conn.execute(sql.SQL("INSERT INTO {} (version_num) VALUES (%s)").format(table), (version,))

    def server_version(self) -> str:
        from migtui.pg.connect import connect

        with connect(self.dsn, application_name=f"migtui {JOB}") as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])

    def _close_catalog(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def run(self) -> RollbackReport:
        try:
            return self._run()
        except _EnvRefused as exc:
            self.sink(RunFinished(job=JOB, ok=False, exit_code=int(ExitCode.PROJECT_ERROR), summary=str(exc)))
            raise ProjectError(f"rollback-test cannot run: {exc}") from None
        finally:
            self._close_catalog()
            if self.checkpoint is not None and self.checkpoint.taken:
                with contextlib.suppress(Exception):
                    self.checkpoint.drop()

    def _run(self) -> RollbackReport:
        started = time.perf_counter()
        revisions = self.project.revisions()
        report = RollbackReport(
            scratch=self.scratch_label,
            with_data=self.with_data,
            baseline=self.baseline,
            fail_fast=self.fail_fast,
            allow_noop_downgrades=self.allow_noop_downgrades,
        )
        report.server_version = self.server_version()
        current = self.current_revisions()
        applied: set[str] = set()
        if current:
            where = ", ".join(current)
            if not self.force:
                raise UsageError(
                    f"refusing to run the rollback test on a database at revision {where} "
                    "(it holds a migrated schema); use a scratch database, or --force to test only the "
                    "revisions after it"
                )
            applied = self._applied_revisions(current)
        self.sink(RunStarted(job=JOB, target=self.scratch_label, revisions=tuple(r.revision for r in revisions)))
        if self.checkpoint is not None:
            self._close_catalog()  # a template clone needs no other session on its source
            self.checkpoint.save()
        fatal: str | None = None
        self._last = revisions[-1].revision if revisions else None
        for info in revisions:
            result = RevisionResult(
                info.revision, info.description, path=str(info.path), noop_allowed=self.allow_noop_downgrades
            )
            report.revisions.append(result)
            if info.revision in applied:
                result.note = "already applied to the target database"
                continue
            if fatal is not None:
                result.note = f"not run: {fatal}"
                continue
            fatal = self._test_revision(result)
            if fatal is None and result.status in (FAILED, NOOP_DOWNGRADE):
                fatal = self._go_on_after(result)
            self.sink(
                Message(
                    text=f"{result.revision}: {result.summary()} ({result.seconds.get('total', 0.0):.2f}s)",
                    level="info" if result.ok else "error",
                )
            )
            for finding in result.findings():
                self.sink(finding)
        report.seconds = time.perf_counter() - started
        self.sink(RunFinished(job=JOB, ok=report.ok, exit_code=report.exit_code, summary=report.summary))
        return report

    def _go_on_after(self, result: RevisionResult) -> str | None:
        """After a failed or no-op downgrade: put the database back at the revision, as its upgrade left it,
        so the next revision is tested on the schema it expects; or the reason the run stops."""
        if self.fail_fast and not result.ok:
            return f"--fail-fast: stopped after revision {result.revision} failed"
        if result.failures == [PHASE_DOWNGRADE] and self._still_as_upgraded:
            return None  # the downgrade raised and rolled back: the database is still at the revision
        if result.status == NOOP_DOWNGRADE and not self.with_data and self._versions_after_up is not None:
            # the schema is the upgrade's; only the version table went back: put back what the upgrade wrote
            t = time.perf_counter()
            try:
                self._write_versions(self._versions_after_up)
            except Exception as exc:
                return f"cannot put back the version table after revision {result.revision}: {error_line(exc)}"
            result.seconds["restore"] = time.perf_counter() - t
            return None
        if self.checkpoint is None or not self.checkpoint.taken:
            return f"revision {result.revision} left the database between revisions"
        t = time.perf_counter()
        self._close_catalog()
        try:
            self.checkpoint.restore()
            self._current = None
            for revision in self.checkpoint.since:
                self.step(self.project, self.dsn, self.settings, revision, "up", discard)
            self.checkpoint.save()
        except Exception as exc:
            reason = getattr(exc, "message", None) or error_line(exc)
            return f"cannot rebuild the database up to revision {result.revision}: {reason}"
        result.seconds["restore"] = time.perf_counter() - t
        return None

    def _applied_revisions(self, current: tuple[str, ...]) -> set[str]:
        from migtui.project.status import UnknownRevision, applied_revisions, check_known

        try:
            check_known(self.project, current)
        except UnknownRevision as exc:
            raise UsageError(f"the database is at revision {exc.revision!r}, which is not in the migrations") from None
        return applied_revisions(self.project.revisions(), current)

    def _test_revision(self, result: RevisionResult) -> str | None:
        """Test one revision, filling ``result``. Returns a reason to stop the run, or None to go on."""
        rev = result.revision
        t_total = time.perf_counter()
        snap_seconds = 0.0

        def snapshot() -> Snapshot:
            nonlocal snap_seconds
            t = time.perf_counter()
            snap = self._snapshot()
            snap_seconds += time.perf_counter() - t
            return snap

        def finish(stop: str | None) -> str | None:
            result.seconds["snapshots"] = snap_seconds
            result.seconds["total"] = time.perf_counter() - t_total
            result.status = FAILED if result.failures else PASSED
            return stop

        seeder = None
        if self.with_data:
            from migtui.rollback.seed_data import DataSeeder

            seeder = DataSeeder(self.dsn, self.settings)
            seeder.seed()
        before = self._current or snapshot()  # the previous revision's last snapshot is still exact

        # 1. upgrade
        try:
            result.seconds["upgrade"] = self._run_step(rev, "up")
        except MigtuiError as exc:
            result.failures.append(PHASE_UPGRADE)
            result.error = exc.message
            result.code_failed = isinstance(exc, RevisionCodeError)
            return finish(f"revision {rev} failed to upgrade")
        after_up = snapshot()
        self._versions_after_up = self._read_versions()
        if self.checkpoint is not None:
            self.checkpoint.since.append(rev)
        counts_up = None
        if seeder is not None:
            seeder.seed()
            counts_up = seeder.counts()

        # 2. downgrade: back to exactly the schema before
        if not callable(getattr(self._module(rev), "downgrade", None)):
            # OpenStack's revisions, for one, define upgrade() only: their policy is no downgrades. Running it
            # would fail inside alembic with an AttributeError pointing at env.py; say what is missing instead
            result.failures.append(PHASE_DOWNGRADE)
            result.error = f"revision {rev} defines no downgrade(): it cannot be rolled back"
            self._still_as_upgraded = True  # nothing ran: the database is as the upgrade left it
            return finish(None)
        try:
            result.seconds["downgrade"] = self._run_step(rev, "down")
        except MigtuiError as exc:
            result.failures.append(PHASE_DOWNGRADE)
            result.error = exc.message
            # rolled back, so still at this revision, unless part of it ran outside the transaction
            self._still_as_upgraded = not self._diff(after_up, snapshot())
            return finish(None)
        after_down = snapshot()
        result.downgrade_differences = self._diff(before, after_down)
        if result.downgrade_differences and not self._diff(after_up, after_down):
            # the downgrade ran and undid nothing: a deliberate policy, not a broken downgrade; the database
            # is at the schema of this revision with the version of its parent, so there is no re-upgrade
            finish(None)
            result.status = NOOP_DOWNGRADE
            return None
        if result.downgrade_differences:
            result.failures.append(PHASE_DOWNGRADE_SCHEMA)

        # 3. upgrade again: back to exactly the schema after the first upgrade
        try:
            result.seconds["re_upgrade"] = self._run_step(rev, "up")
        except MigtuiError as exc:
            result.failures.append(PHASE_REUPGRADE)
            result.error = exc.message
            result.code_failed = isinstance(exc, RevisionCodeError)
            return finish(None)
        result.reupgrade_differences = self._diff(after_up, snapshot())
        if result.reupgrade_differences:
            result.failures.append(PHASE_REUPGRADE_SCHEMA)
        if seeder is not None and counts_up is not None:
            new = {name for kind, name in after_up.objects if kind in ("table", "column")} - {
                name for kind, name in before.objects if kind in ("table", "column")
            }
            result.data_warnings = seeder.losses(counts_up, seeder.counts(), new)
        recorded = self._recorded_phase(rev)
        if recorded is None:
            return finish(None)
        result.phased.append("expand -> abort (downgrade) -> expand")
        return finish(self._contract_leg(result, recorded, before, after_up, snapshot))

    def _module(self, revision: str) -> Any:
        return self.project.script.get_revision(revision).module

    # -- phased revisions ---------------------------------------------------------------------------------

    def _recorded_phase(self, revision: str):
        """(revision, phase, step, plan) when ``revision`` recorded itself as phased (expanded), else None."""
        from migtui.pg.connect import connect
        from migtui.runner import phased

        with connect(self.dsn, application_name=f"migtui {JOB}") as conn:
            for recorded in phased.read_phases(conn):
                if recorded[0] == revision and recorded[1] == "expanded":
                    return recorded
        return None

    def _contract_leg(self, result: RevisionResult, recorded, before: Snapshot, after_up: Snapshot, snapshot):
        """expand -> migrate -> contract (replayed from the stored plan) -> downgrade -> expand again, where
        the contract is reversible. Returns a reason to stop the run, or None."""
        from migtui.pg.connect import connect
        from migtui.runner import phased

        rev, _, _, plan = recorded
        reversible = plan.get("reverse_contract") is not None
        if not reversible and rev != self._last:
            result.note = (
                "contract not tested: it cannot be downgraded after contract "
                f"({plan.get('irreversible_reason') or 'not reversible'}) and later revisions were written "
                "against its expanded shape"
            )
            return None
        self._current = None
        t = time.perf_counter()
        try:
            with connect(self.dsn, application_name=f"migtui {JOB} [phases]") as conn:
                conn.autocommit = True
                phased.replay(conn, rev, "contracted", 0, plan, what=f"{rev} contract")
                phased.record_phase(conn, rev, "contracted")
        except MigtuiError as exc:
            result.failures.append(PHASE_CONTRACT)
            result.error = exc.message
            return f"revision {rev} failed its migrate + contract phases"
        result.seconds["contract"] = time.perf_counter() - t
        if not reversible:
            result.phased.append("expand -> migrate -> contract (not reversible; left contracted)")
            result.note = f"contracted and left so: {plan.get('irreversible_reason') or 'not reversible'}"
            return None
        try:
            result.seconds["contract_downgrade"] = self._run_step(rev, "down")
        except MigtuiError as exc:
            result.failures.append(PHASE_CONTRACT_DOWNGRADE)
            result.error = exc.message
            return f"revision {rev} could not be downgraded after contract"
        result.contract_differences = self._diff(before, snapshot())
        if result.contract_differences:
            result.failures.append(PHASE_CONTRACT_DOWNGRADE_SCHEMA)
        try:
            self._run_step(rev, "up")
        except MigtuiError as exc:
            result.failures.append(PHASE_CONTRACT_REUPGRADE)
            result.error = exc.message
            return f"revision {rev} could not be upgraded again after its downgrade from contract"
        if self._diff(after_up, snapshot()):
            result.failures.append(PHASE_REUPGRADE_SCHEMA)
        result.phased.append("expand -> migrate -> contract -> downgrade -> expand")
        return None


def _quote_regclass(schema: str | None, name: str) -> str:
    def q(part: str) -> str:
        return '"' + part.replace('"', '""') + '"'

    return f"{q(schema)}.{q(name)}" if schema else q(name)


# -- scratch database ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RollbackOptions:
    force: bool = False  # test a database at a revision: only the revisions after it
    with_data: bool = False  # seed rows; warn when a down+up round trip loses rows or values
    exclude: tuple[str, ...] = ()  # attributes or kinds not to compare (owner, grants, comment, ...)
    fail_fast: bool = False  # stop at the first failing revision (default: test the whole history)
    allow_noop_downgrades: bool = False  # a downgrade that changes nothing is the policy: warn, do not fail


def run_rollback_test(
    settings: Any, options: RollbackOptions | None = None, sink: EventSink = discard
) -> RollbackReport:
    """The rollback test on a new database, created and dropped here, on the server ``settings.scratch_dsn``
    names, or without one on an embedded server started for it (one that has the extensions the project
    creates). The baseline, if any, is applied first."""
    from migtui.pg import harness
    from migtui.project.baseline import check_baseline, required_extensions
    from migtui.project.load import load_project

    options = options or RollbackOptions()
    project = load_project(settings)
    project.revisions()  # load and check the graph first: a usage error before any server starts
    check_baseline(settings)
    extensions = required_extensions(project, settings)
    kwargs: dict[str, Any] = {
        "sink": sink,
        "force": options.force,
        "with_data": options.with_data,
        "exclude": options.exclude,
        "fail_fast": options.fail_fast,
        "allow_noop_downgrades": options.allow_noop_downgrades,
    }
    if settings.scratch_dsn:
        server: Any = _scratch_server(settings.scratch_dsn)
        harness.check_server_extensions(server, extensions)
        label = f"scratch server {redact_dsn(settings.scratch_dsn)}"
        return _run_on(server, project, settings, label, sink, kwargs)
    t = time.perf_counter()
    bins = _scratch_binaries(settings, extensions)
    cluster = harness.start_cluster(bins.pg_version, pg_bin=str(bins.bin_dir))
    try:
        why = f" (it has {', '.join(extensions)})" if extensions else ""
        sink(Message(text=f"started PostgreSQL {cluster.pg_version}{why} in {time.perf_counter() - t:.1f}s"))
        return _run_on(cluster, project, settings, f"embedded PostgreSQL {cluster.pg_version}", sink, kwargs)
    finally:
        cluster.cleanup()


def _scratch_binaries(settings: Any, extensions: tuple[str, ...]) -> Any:
    """The embedded server's build: ``--pg-version`` is honoured as asked (a build of that major lacking an
    extension the project needs is refused in one line); without it, a build that has the extensions."""
    from migtui.pg import harness

    if settings.pg_version is None or settings.pg_bin:
        return harness.find_binaries_with(None, extensions, settings.pg_bin)
    bins = harness.find_binaries(settings.pg_version)
    lacking = [name for name in extensions if name not in harness.extension_names(bins)]
    if lacking:
        where = f"the PostgreSQL {bins.pg_version} in {bins.bin_dir}"
        raise UsageError(harness.missing_extensions_remedy(lacking, where) + "; or leave out --pg-version")
    return bins


def _scratch_server(dsn: str) -> Any:
    """The ``--scratch-dsn`` server; ConnectionFailed (exit 6) with a one-line, redacted message."""
    import psycopg

    from migtui.errors import ConnectionFailed
    from migtui.pg import harness
    from migtui.pg.connect import describe_error

    try:
        return harness.ExternalServer(dsn)
    except psycopg.Error as exc:
        raise ConnectionFailed(f"cannot connect to the scratch server: {describe_error(exc)}") from None


def _run_on(server: Any, project: Any, settings: Any, label: str, sink: EventSink, kwargs: dict) -> RollbackReport:
    """Create the scratch database on ``server``, apply the baseline, run the test, drop the database."""
    from migtui.project.baseline import apply_baseline

    name = f"migtui_rollback_{uuid.uuid4().hex[:10]}"
    try:
        dsn = server.create_database(name)
    except Exception as exc:
        raise MigtuiError(f"cannot create the scratch database on {label}: {error_line(exc)}") from None
    try:
        baseline = apply_baseline(settings, dsn)
        if baseline:
            sink(Message(text=f"applied the baseline {baseline}"))
        checkpoint = Checkpoint(server, name)
        job = RollbackTest(
            project, dsn, settings, scratch_label=label, checkpoint=checkpoint, baseline=baseline, **kwargs
        )
        return job.run()
    finally:
        with contextlib.suppress(Exception):
            server.drop_database(name)
        with contextlib.suppress(Exception):
            server.drop_database(f"{name}_ckpt")


# -- report formats ----------------------------------------------------------------------------------------
