"""The dry-run job: what each pending migration would do on this database, without changing anything.

    report = run_dry_run(settings, DryRunOptions(), sink=print_event)

The inspected server is ``settings.replica_dsn`` (a primary, ``settings.dsn``, only with ``allow_primary``); with
both, the primary's recorded revision and WAL position are compared with the replica's.

1. The replica (a hot standby; a primary only with ``allow_primary``) is checked and its recorded revision
   read in read-only transactions; pending = the revisions after it (``migtui.dryrun.replica``).
2. Shadow execution on a scratch copy of the replica's schema captures each pending statement, its error and
   its observed locks/rewrites/scans (``migtui.dryrun.shadow``).
3. Per statement, on the replica, read-only and under a time budget: table size and row estimate, the exact
   number of rows an UPDATE/DELETE/INSERT ... SELECT touches (``migtui.analysis.row_count``; EXPLAIN when
   the budget runs out: ``exact: false``), will-it-fail checks (``migtui.dryrun.checks``), a duration
   estimate and lock-risk warnings (``migtui.dryrun.statement``), next to the linter's model for the same
   statement (``migtui.dryrun.static``). Each statement is emitted as a ``DryRunStatement`` event as it is done.
4. The report (``migtui.dryrun.report``) counts dry-run findings and unapproved destructive lint findings.
"""

from __future__ import annotations

import time
from typing import Any

from migtui.dryrun.holds import default_rates, hold_line, lock_holds, statement_seconds
from migtui.dryrun.options import DryRunOptions
from migtui.dryrun.report import JOB, DryRunReport
from migtui.dryrun.report import finding as _finding
from migtui.dryrun.statement import StatementAnalyzer, analyze_statement
from migtui.dryrun.static import blocking_lint_findings
from migtui.errors import ConnectionFailed, Interrupted, UsageError
from migtui.events import (
    DryRunReplica,
    DryRunStatement,
    EventSink,
    Finding,
    Message,
    RevisionFailed,
    RevisionFinished,
    RevisionStarted,
    RunFinished,
    RunStarted,
    discard,
)
from migtui.redact import redact_dsn

__all__ = ["DryRunOptions", "DryRunReport", "pending_revisions", "run_dry_run"]


def pending_revisions(project: Any, current: tuple[str, ...]) -> list[str]:
    """Revisions after ``current`` up to head, oldest first. UsageError for a revision the project lacks."""
    from migtui.project.status import UnknownRevision
    from migtui.project.status import pending_revisions as pending_after

    try:
        if len(current) > 1:
            pending_after(project, current)  # an unknown revision is the first thing to say
            raise UsageError(f"the target records {len(current)} heads ({', '.join(current)}): merge them first")
        return [info.revision for info in pending_after(project, current)]
    except UnknownRevision as exc:
        raise UsageError(
            f"the target records revision {exc.revision}, which is not in the migrations "
            f"({project.script_location}): is the project older than the database?"
        ) from None


def _servers(settings: Any, options: DryRunOptions) -> tuple[str, str | None]:
    """(the server to inspect, the primary to compare with) from the settings."""
    replica = settings.replica_dsn
    primary = settings.dsn
    if replica is None and options.allow_primary:
        replica, primary = primary, None
    if not replica:
        raise UsageError(
            "no replica given: pass --replica-dsn URL or set MIGTUI_REPLICA_DSN (or --allow-primary with --dsn)"
        )
    return replica, primary if primary and primary != replica else None


def _scratch_server(settings: Any, options: DryRunOptions) -> Any:
    """The server for the shadow databases: the one given, else ``scratch_dsn``'s, else None (embedded)."""
    if options.scratch_server is not None or not settings.scratch_dsn:
        return options.scratch_server
    from migtui.pg import harness
    from migtui.pg.connect import connect

    try:  # one clear line, naming which server, if unreachable
        connect(settings.scratch_dsn, application_name="migtui-dry-run-shadow").close()
    except ConnectionFailed as exc:
        raise ConnectionFailed(
            exc.message.replace("cannot connect to database", "cannot connect to the shadow server (--scratch-dsn)", 1)
        ) from None
    return harness.ExternalServer(settings.scratch_dsn)


# -- the job ------------------------------------------------------------------------------------------


def run_dry_run(settings: Any, options: DryRunOptions | None = None, sink: EventSink = discard) -> DryRunReport:
    """Run the whole dry-run; emits events as it goes and returns the report. Changes nothing anywhere."""
    from migtui.dryrun.replica import inspect_replica
    from migtui.dryrun.session import ReadOnlySession
    from migtui.dryrun.shadow import run_shadow
    from migtui.project.load import load_project

    options = options or DryRunOptions()
    replica_dsn, primary_dsn = _servers(settings, options)
    project = load_project(settings)
    scratch_server = _scratch_server(settings, options)
    started = time.monotonic()
    project.script  # noqa: B018 - load and check the revision graph before touching any database
    session = ReadOnlySession(replica_dsn, statement_timeout=options.statement_timeout)
    if options.cancel is not None:
        options.cancel.on_cancel(session.cancel)
    primary = None
    primary_warning = None
    if primary_dsn:
        try:
            primary = ReadOnlySession(primary_dsn, statement_timeout=options.statement_timeout)
        except ConnectionFailed as exc:
            primary_warning = f"cannot compare with the primary: {exc.message}"
    try:
        replica = inspect_replica(
            replica_dsn,
            session,
            allow_primary=options.allow_primary,
            version_table=settings.version_table,
            version_table_schema=settings.version_table_schema,
            primary=primary,
        )
        if primary_warning:
            replica.warnings.append(primary_warning)
        pending = pending_revisions(project, replica.current_revisions)
        target = redact_dsn(settings.dsn) or ""
        sink(RunStarted(job=JOB, target=target, revisions=tuple(pending)))
        sink(DryRunReplica(replica=replica.to_dict(), pending=tuple(pending)))
        for text in replica.warnings:
            sink(Message(text=text, level="warning"))
        report = DryRunReport(target=target, replica=replica.to_dict(), pending=pending)

        def report_finding(finding: Finding, revision: str, path: str | None, stmt: dict | None = None) -> None:
            finding.revision, finding.path = revision, path
            if stmt is not None:
                finding.line, finding.statement = stmt["line"], stmt["index"]
            report.findings.append(finding)
            sink(finding)

        if not pending:
            report.seconds = time.monotonic() - started
            report.load = _load(session)
            sink(RunFinished(job=JOB, ok=True, exit_code=0, summary="nothing pending"))
            return report
        sink(Message(text="shadow: copying the schema (pg_dump --schema-only) and running the pending revisions"))
        shadow = run_shadow(
            target_dsn=replica_dsn,
            target_pg_version=replica.pg_version,
            project=project,
            pending=pending,
            version_table=settings.version_table,
            version_table_schema=settings.version_table_schema,
            current_revisions=replica.current_revisions,
            settings=settings,
            statement_timeout=options.statement_timeout,
            server=scratch_server,
            pg_bin=settings.pg_bin,
            calibrate_rates=options.calibrate,
        )
        report.shadow = shadow.to_dict()
        captured = sum(len(r.statements) for r in shadow.revisions)
        sink(
            Message(
                text=f"shadow: {captured} statement(s) captured on PostgreSQL {shadow.shadow_pg_version} in "
                f"{shadow.seconds:.1f}s; analysing them on the {replica.role}"
            )
        )
        if not shadow.same_pg_version:
            sink(
                Message(
                    text=f"shadow runs PostgreSQL {shadow.shadow_pg_version}; the target is {replica.pg_version}",
                    level="warning",
                )
            )
        for text in shadow.restore_warnings:
            sink(Message(text=f"shadow schema restore: {text}", level="warning"))
        rates = shadow.rates if shadow.rates is not None else default_rates()
        if shadow.calibration_error:
            sink(
                Message(
                    text=f"calibration on the scratch server failed ({shadow.calibration_error}): lock hold "
                    "estimates use default rates",
                    level="warning",
                )
            )
        analyzer = StatementAnalyzer(
            session, options, primary if primary is not None else (session if replica.role == "primary" else None)
        )
        model = _static_model(replica_dsn, replica.pg_version, options, sink)
        infos = {r.revision: r for r in project.revisions()}
        reached = True
        for index, rev_id in enumerate(pending):
            info = infos.get(rev_id)
            shadow_rev = shadow.revision(rev_id)
            sink(RevisionStarted(revision=rev_id, direction="up", description=info.description if info else ""))
            rev_report: dict[str, Any] = {
                "revision": rev_id,
                "description": info.description if info else "",
                "path": str(info.path) if info else None,
                "reached": reached,
                "shadow_seconds": round(shadow_rev.seconds, 4) if shadow_rev else None,
                "error": shadow_rev.error if shadow_rev else None,
                "statements": [],
            }
            # the revision's own findings, reported after its statements'
            rev_findings = (
                [_finding("replica-lag" if "behind" in t or "replayed" in t else "target", t) for t in replica.warnings]
                if index == 0
                else []
            )
            if not reached:
                rev_findings.append(_finding("not-reached", "not analysed: an earlier revision fails on the shadow"))
            if index == 0 and shadow.error:
                rev_findings.append(_finding("shadow-failed", f"the upgrade failed on the shadow: {shadow.error}"))
            rev_model = model.revision(rev_report["path"]) if model is not None else None
            for stmt in shadow_rev.statements if shadow_rev and reached else []:
                _check_cancel(options)
                # migrate/contract steps come from the phases engine (lock_timeout, retries), not the revision
                # file: observed on the shadow, not linted as the file's statements
                later = stmt.phase in ("migrate", "contract")
                static = (
                    rev_model.statement(stmt.sql, stmt.line, stmt.transactional) if rev_model and not later else None
                )
                stmt_report, found = analyze_statement(analyzer, stmt, static=static)
                rev_report["statements"].append(stmt_report)
                sink(DryRunStatement(revision=rev_id, index=stmt.index, report=stmt_report))
                for finding in [*blocking_lint_findings(stmt_report), *found]:
                    report_finding(finding, rev_id, rev_report["path"], stmt_report)
            rev_report["lock_holds"] = lock_holds(
                rev_report["statements"],
                [
                    statement_seconds(st, analyzer.stats.get(st["table"]) if st["table"] else None, rates)
                    for st in rev_report["statements"]
                ],
            )
            for hold in rev_report["lock_holds"]:  # a hold through later statements, not seen per statement
                if (
                    hold["through"] > 1
                    and "writes" in hold["blocks"]
                    and hold["estimated_seconds"] >= options.lock_risk_seconds
                ):
                    taker = next(st for st in rev_report["statements"] if st["index"] == hold["taken_by"]["index"])
                    waits = "every read and write" if "reads" in hold["blocks"] else "every write"
                    message = (
                        f"holds {hold['mode']} on {hold['relation']} from line {hold['taken_by']['line']} until "
                        f"{hold['released_by']['statement']}, through {hold['through']} statements: "
                        f"~{hold['estimated_seconds']:.1f}s during which {waits} of the table waits"
                    )
                    hint = "commit before the slow statements (a separate revision, a batched backfill)"
                    report_finding(_finding("lock-risk", message, hint), rev_id, rev_report["path"], taker)
            if rev_report["lock_holds"]:
                how = "rates measured on the scratch server" if rates.source == "measured" else "default rates"
                sink(Message(text=f"  lock holds (estimated from {how}):"))
                for hold in rev_report["lock_holds"]:
                    sink(Message(text=f"    {hold_line(hold)}"))
            if shadow_rev and shadow_rev.error and not any(s["error"] for s in rev_report["statements"]):
                failed = f"the revision fails on the shadow: {shadow_rev.error}"
                rev_findings.append(_finding("fails-on-shadow", failed))
            for finding in rev_findings:
                report_finding(finding, rev_id, rev_report["path"])
            report.revisions.append(rev_report)
            if shadow_rev and shadow_rev.error:
                sink(
                    RevisionFailed(revision=rev_id, direction="up", error=shadow_rev.error, seconds=shadow_rev.seconds)
                )
                reached = False
            else:
                sink(
                    RevisionFinished(revision=rev_id, direction="up", seconds=shadow_rev.seconds if shadow_rev else 0.0)
                )
        _check_cancel(options)
        report.throughput = analyzer.throughput.to_dict()
        report.load = _load(session)
        report.seconds = time.monotonic() - started
        sink(RunFinished(job=JOB, ok=report.exit_code == 0, exit_code=report.exit_code, summary=report.summary))
        return report
    finally:
        session.close()
        if primary is not None:
            primary.close()


def _check_cancel(options: DryRunOptions) -> None:
    if options.cancel is not None and options.cancel.cancelled:
        raise Interrupted("dry-run cancelled")


def _load(session: Any) -> dict[str, Any]:
    s = session.stats
    return {
        "queries": s.queries,
        "query_seconds": round(s.seconds, 3),
        "timeouts": s.timeouts,
        "recovery_conflicts": s.recovery_conflicts,
        "reconnects": s.reconnects,
    }


def _static_model(dsn: str, pg_version: int, options: DryRunOptions, sink: EventSink) -> Any:
    """The linter's lock model with the target's catalog facts."""
    from migtui.dryrun.static import StaticModel, load_facts

    facts, why = load_facts(dsn, options.statement_timeout)
    if facts is None:
        sink(
            Message(text=f"no catalog facts from the target ({why}): the lock model assumes the worst", level="warning")
        )
    return StaticModel(pg_version, facts)
