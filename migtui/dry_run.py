"""The dry-run job: what each pending migration would do on this database, without changing anything.

    report = dry_run(project, replica_dsn, settings, sink=print_event, options=DryRunOptions())

1. The target (a hot standby; a primary only with ``allow_primary``) is checked and its recorded revision
   read in read-only transactions; pending = the revisions after it (``migtui.dryrun.target``).
2. Shadow execution on a scratch copy of the target's schema captures each pending statement, its error and
   its observed locks/rewrites/scans (``migtui.dryrun.shadow``).
3. Per statement, on the target, read-only and under a time budget: table size and row estimate, the exact
   number of rows an UPDATE/DELETE/INSERT ... SELECT touches (``migtui.analysis.row_count``; EXPLAIN when
   the budget runs out: ``exact: false``), will-it-fail checks (``migtui.dryrun.checks``), a duration
   estimate and lock-risk warnings. Each statement is emitted as a ``DryRunStatement`` event as it is done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from migtui.dryrun.static import LINT_KEYS, lock_differences
from migtui.errors import ConnectionFailed, ExitCode, UsageError
from migtui.events import (
    DryRunStatement,
    DryRunTarget,
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
from migtui.render.events import redact_sql

JOB = "dry-run"
MB = 1024 * 1024
STRONG_LOCKS = ("AccessExclusiveLock", "ExclusiveLock", "ShareRowExclusiveLock", "ShareLock")


@dataclass
class DryRunOptions:
    allow_primary: bool = False
    count_budget: float = 5.0  # statement_timeout for each row count / will-it-fail query, seconds
    statement_timeout: float = 30.0  # every other query on the target, seconds
    shadow_server: Any = None  # an existing server for the scratch databases (default: start an embedded one)
    pg_bin: str | None = None
    scan_mb_s: float = 200.0  # configured sequential-read throughput, MB/s (replaced by a measurement)
    write_mb_s: float = 50.0  # configured rewrite / index-build throughput, MB/s
    big_table_bytes: int = 100 * MB  # ACCESS EXCLUSIVE on a table this big is a lock risk
    lock_risk_seconds: float = 1.0  # ... and so is holding it for this long
    primary_dsn: str | None = None  # compare revision and WAL position with the primary


@dataclass
class Throughput:
    scan_mb_s: float
    write_mb_s: float
    source: str = "configured"  # "configured" | "measured"

    def to_dict(self) -> dict[str, Any]:
        return {"scan_mb_s": round(self.scan_mb_s, 1), "write_mb_s": round(self.write_mb_s, 1), "source": self.source}


@dataclass
class DryRunReport:
    target: dict[str, Any]
    pending: list[str]
    revisions: list[dict[str, Any]] = field(default_factory=list)
    shadow: dict[str, Any] | None = None
    throughput: dict[str, Any] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)  # what the dry-run did on the target
    seconds: float = 0.0

    @property
    def findings(self) -> list[dict[str, Any]]:
        """Every dry-run warning, plus the linter's findings that fail a dry-run (destructive, not approved)."""
        out = []
        for rev in self.revisions:
            out += [{**w, "revision": rev["revision"]} for w in rev.get("warnings", [])]
            for stmt in rev["statements"]:
                where = {"revision": rev["revision"], "statement": stmt["index"], "line": stmt["line"]}
                out += [{**w, **where} for w in stmt["warnings"]]
                out += [{**f, **where} for f in blocking_lint_findings(stmt)]
        return out

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f["severity"] == "error")

    @property
    def exit_code(self) -> int:
        return int(ExitCode.FINDINGS if self.errors else ExitCode.OK)

    def to_dict(self) -> dict[str, Any]:
        findings = self.findings
        return {
            "job": JOB,
            "target": self.target,
            "pending": self.pending,
            "revisions": self.revisions,
            "shadow": self.shadow,
            "throughput": self.throughput,
            "load": self.load,
            "summary": {
                "revisions": len(self.revisions),
                "statements": sum(len(r["statements"]) for r in self.revisions),
                "errors": sum(1 for f in findings if f["severity"] == "error"),
                "warnings": sum(1 for f in findings if f["severity"] == "warning"),
                "seconds": round(self.seconds, 3),
            },
            "exit_code": self.exit_code,
        }


def _warning(rule: str, severity: str, message: str, hint: str = "") -> dict[str, str]:
    return {"rule": rule, "severity": severity, "message": message, "hint": hint}


def pending_revisions(project: Any, current: tuple[str, ...]) -> list[str]:
    """Revisions after ``current`` up to head, oldest first. UsageError for a revision the project lacks."""
    script = project.script
    known = {r.revision for r in project.revisions()}
    for rev in current:
        if rev not in known:
            raise UsageError(
                f"the target records revision {rev}, which is not in the migrations "
                f"({project.script_location}): is the project older than the database?"
            )
    head = project.head()
    if head is None:
        return []
    lower = current[0] if len(current) == 1 else None
    if len(current) > 1:
        raise UsageError(f"the target records {len(current)} heads ({', '.join(current)}): merge them first")
    revs = list(script.iterate_revisions(head, lower))
    return [r.revision for r in reversed(revs)]


# -- per-statement analysis --------------------------------------------------------------------------


def _parse(sql_text: str) -> list[Any]:
    """The statements in one captured execute (usually one; ``op.execute("A; B")`` sends several)."""
    from pglast import parse_sql
    from pglast.parser import ParseError

    try:
        return [raw.stmt for raw in parse_sql(sql_text)]
    except ParseError:
        return []


def _merge_rows(parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Rows of several DML statements sent in one execute: the sum, exact only if every part is."""
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    counts = [p.get("count") for p in parts]
    exact = all(p.get("exact") for p in parts) and None not in counts
    total = None if None in counts else sum(counts)
    return {"count": total, "exact": exact, "method": "+".join(sorted({p["method"] for p in parts}))}


def _statement_kind(node: Any) -> str | None:
    if node is None:
        return None
    from pglast.stream import RawStream

    name = type(node).__name__
    try:  # "ALTER TABLE", "CREATE INDEX", "UPDATE", ...: the first words of the statement
        words = RawStream()(node).split()
    except Exception:
        return name
    first = " ".join(words[:2]).upper() if words and words[0].upper() in ("ALTER", "CREATE", "DROP") else None
    return first or (words[0].upper() if words else name)


def _main_table(node: Any) -> str | None:
    from pglast import ast

    from migtui.dryrun.checks import TableRef

    rel = getattr(node, "relation", None)
    if isinstance(node, ast.AlterTableStmt | ast.IndexStmt | ast.UpdateStmt | ast.DeleteStmt | ast.InsertStmt) and (
        isinstance(rel, ast.RangeVar)
    ):
        return TableRef.of(rel).text
    return None


class _Analyzer:
    def __init__(self, session: Any, options: DryRunOptions, primary: Any = None) -> None:
        from migtui.dryrun.stats import StatsCache

        self.session = session
        self.primary = primary  # where live table activity is read (the primary), if we can see it
        self._activity: dict[str, Any] = {}
        self.options = options
        self.stats = StatsCache(session)
        self.throughput = Throughput(options.scan_mb_s, options.write_mb_s)
        self._measured = False

    # rows ------------------------------------------------------------------------------------------
    def rows(self, node: Any, warnings: list[dict[str, str]]) -> dict[str, Any] | None:
        from migtui.analysis.row_count import count_query_for_node
        from migtui.dryrun.session import QueryFailed

        query = count_query_for_node(node) if node is not None else None
        if query is None:
            return None
        if query.static_count is not None:
            return {"count": query.static_count, "exact": not query.upper_bound, "method": "static"}
        started = time.monotonic()
        try:
            count = int(self.session.scalar(query.count_sql, timeout=self.options.count_budget) or 0)
            seconds = time.monotonic() - started
            self._measure(query.table, seconds)
            return {"count": count, "exact": not query.upper_bound, "method": "count", "seconds": round(seconds, 3)}
        except QueryFailed as exc:
            if exc.reason == "missing":
                return {
                    "count": None,
                    "exact": False,
                    "method": "unavailable",
                    "note": "depends on objects an earlier statement creates: " + exc.message,
                }
            if exc.reason == "recovery_conflict":
                warnings.append(
                    _warning(
                        "recovery-conflict",
                        "warning",
                        f"the replica cancelled the row count (recovery conflict): {exc.message}",
                        "retry later, or raise max_standby_streaming_delay on the replica",
                    )
                )
            elif exc.reason == "timeout":
                warnings.append(
                    _warning(
                        "row-count-estimated",
                        "info",
                        f"counting rows took longer than the {self.options.count_budget:g}s budget: "
                        "planner estimate used",
                        "raise --count-budget for an exact count",
                    )
                )
            else:
                warnings.append(_warning("row-count-failed", "warning", f"cannot count rows: {exc.message}"))
            estimate = self._explain_rows(query.rows_sql)
            return {"count": estimate, "exact": False, "method": "explain" if estimate is not None else "unavailable"}

    def _explain_rows(self, rows_sql: str | None) -> int | None:
        from migtui.dryrun.session import QueryFailed

        if not rows_sql:
            return None
        try:
            plan = self.session.scalar("EXPLAIN (FORMAT JSON) " + rows_sql, timeout=self.options.count_budget)
        except QueryFailed:
            return None
        try:
            return int(plan[0]["Plan"]["Plan Rows"])
        except (TypeError, KeyError, IndexError, ValueError):
            return None

    def _measure(self, table: str, seconds: float) -> None:
        """A count that read a whole big table gives a measured sequential-read throughput."""
        stats = self.stats.get(table)
        if stats is None or stats.heap_bytes < 8 * MB or seconds < 0.02:
            return
        rate = stats.heap_bytes / MB / seconds
        if not self._measured or rate > self.throughput.scan_mb_s:
            ratio = self.options.write_mb_s / self.options.scan_mb_s
            self.throughput = Throughput(rate, rate * ratio, "measured")
            self._measured = True

    def activity(self, table: str) -> dict[str, Any] | None:
        from migtui.dryrun.target import table_activity

        if self.primary is None:
            return None
        if table not in self._activity:
            self._activity[table] = table_activity(self.primary, table)
        return self._activity[table]

    # will it fail ---------------------------------------------------------------------------------
    def checks(self, node: Any, warnings: list[dict[str, str]]) -> list[dict[str, Any]]:
        from migtui.dryrun.checks import checks_for, run_check

        out = []
        for check in checks_for(node) if node is not None else []:
            result = run_check(self.session, check, timeout=self.options.count_budget)
            entry: dict[str, Any] = {
                "rule": check.rule,
                "what": check.what,
                "table": check.table.text,
                "violations": result.count,
            }
            if result.fails:
                warnings.append(
                    _warning(
                        check.rule,
                        "error",
                        check.message(result.count or 0),
                        "fix the data first (or add the constraint NOT VALID and validate later)",
                    )
                )
            elif result.failure is not None and result.failure.reason != "missing":
                entry["error"] = result.failure.message
                warnings.append(
                    _warning(
                        "check-incomplete",
                        "warning",
                        f"could not verify {check.what} on {check.table.text}: {result.failure.message}",
                    )
                )
            elif result.failure is not None:
                entry["note"] = "not checkable on the target: " + result.failure.message
            out.append(entry)
        return out


def _strongest(locks: list[dict[str, str]] | None, table: str | None) -> str | None:
    order = [
        "AccessShareLock",
        "RowShareLock",
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ]
    modes = [lk["mode"] for lk in locks or [] if table is None or lk["relation"] == table]
    ranked = [m for m in modes if m in order]
    return max(ranked, key=order.index) if ranked else None


def _same_relation(a: str | None, b: str | None) -> bool:
    """Same relation, whether or not one side spells out the public schema."""
    if a is None or b is None:
        return False
    strip = lambda s: s.split(".", 1)[1] if s.startswith("public.") else s  # noqa: E731
    return strip(a) == strip(b)


def analyze_statement(analyzer: _Analyzer, shadow_stmt: Any, *, static: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON statement report for one captured statement (see docs/dry-run.md)."""
    sql_text = shadow_stmt.sql
    nodes = _parse(sql_text)
    node = next((n for n in nodes if _main_table(n) is not None), nodes[0] if nodes else None)
    warnings: list[dict[str, str]] = []
    table = _main_table(node)
    observed = [lk.to_dict() for lk in shadow_stmt.observed_locks] if shadow_stmt.observed_locks is not None else None
    if table is None and observed:  # e.g. DROP TABLE, LOCK, CLUSTER: the table it locks strongly
        strong = ("ShareUpdateExclusiveLock", "ShareLock", *STRONG_LOCKS)
        tables = [lk for lk in observed if lk["kind"] == "table" and lk["mode"] in strong]
        strongest = _strongest(tables, None)
        table = next((lk["relation"] for lk in tables if lk["mode"] == strongest), None)
    stats = analyzer.stats.get(table) if table else None
    resolved = stats.table if stats else table
    if resolved is None:
        rewrite, scan = bool(shadow_stmt.rewritten), bool(shadow_stmt.scanned)
    else:
        rewrite = any(_same_relation(t, resolved) for t in shadow_stmt.rewritten)
        scan = any(_same_relation(t, resolved) for t in shadow_stmt.scanned)
    if _is_dml(node):
        scan = None  # the shadow's empty tables say nothing about the plan on real data
    if static:  # the model's rewrite / scan of the same table
        rewrite = rewrite or any(_same_relation(t, resolved) or resolved is None for t in static["rewrites"])
        if scan is not None:
            scan = scan or any(_same_relation(t, resolved) or resolved is None for t in static["scans"])
    report: dict[str, Any] = {
        "index": shadow_stmt.index,
        "line": shadow_stmt.line,
        "sql": redact_sql(sql_text),
        "statement": _statement_kind(node),
        "transactional": shadow_stmt.transactional,
        "table": resolved,
        **(static or {key: None for key in LINT_KEYS}),
        "rewrite": rewrite,
        "scan": scan,
        "observed_locks": observed,
        "observed_rewrite": shadow_stmt.rewritten,
        "observed_scan": shadow_stmt.scanned,
        "lock_differences": (
            lock_differences(static["locks"], observed, only=resolved if _is_dml(node) else None) if static else []
        ),
        "shadow_seconds": round(shadow_stmt.seconds, 4),
        "error": shadow_stmt.error,
    }
    if shadow_stmt.error is not None:
        warnings.append(
            _warning("fails-on-shadow", "error", f"fails on the shadow copy of the schema: {shadow_stmt.error}")
        )
    if shadow_stmt.executemany:  # op.bulk_insert: one INSERT per parameter set
        rows: dict[str, Any] | None = {"count": shadow_stmt.executemany, "exact": True, "method": "static"}
    else:
        rows = _merge_rows([r for r in (analyzer.rows(n, warnings) for n in nodes) if r is not None])
    if rows is None and stats is not None and (rewrite or scan):
        rows = {"count": stats.live_rows_estimate, "exact": False, "method": "estimate"}
    report["rows"] = rows
    report["table_bytes"] = stats.table_bytes if stats else None
    report["checks"] = [c for n in nodes for c in analyzer.checks(n, warnings)] if shadow_stmt.error is None else []
    report["estimated_seconds"] = _estimate_seconds(analyzer.throughput, node, stats, rewrite, scan, rows)
    strongest = _strongest(observed, resolved) if observed is not None else None
    static_modes = [lk["mode"] for lk in (static or {}).get("locks") or [] if _same_relation(lk["relation"], resolved)]
    holds_exclusive = strongest == "AccessExclusiveLock" or "AccessExclusiveLock" in static_modes
    if holds_exclusive and stats is not None:
        seconds = report["estimated_seconds"] or 0.0
        if seconds >= analyzer.options.lock_risk_seconds or stats.table_bytes >= analyzer.options.big_table_bytes:
            rows_text = f", ~{stats.live_rows_estimate:,} rows" if stats.live_rows_estimate is not None else ""
            warnings.append(
                _warning(
                    "lock-risk",
                    "warning",
                    f"holds ACCESS EXCLUSIVE on {stats.table} ({_size(stats.table_bytes)}{rows_text})"
                    + (
                        f" for ~{seconds:.1f}s{' (table rewrite)' if rewrite else ''}: every read and write of the"
                        " table waits"
                        if seconds >= 0.05
                        else " (briefly): while it waits for the lock, every query on this big table queues behind it"
                    ),
                    "use the expand/contract pattern, or run it in a quiet window with a short lock_timeout",
                )
            )
    blocking = [m for m in (strongest, *static_modes) if m in STRONG_LOCKS]
    activity = analyzer.activity(stats.table) if stats is not None and blocking else None
    report["table_activity"] = activity
    if activity and activity["sessions"]:
        mode = "ACCESS EXCLUSIVE" if holds_exclusive else "SHARE (or stronger)"
        blocked = "every query" if holds_exclusive else "every write"
        warnings.append(
            _warning(
                "lock-risk",
                "warning",
                f"{activity['sessions']} session(s) hold locks on {stats.table} on the primary right now (oldest "
                f"transaction open {activity['oldest_transaction_seconds']:g}s): the {mode} lock request would queue "
                f"behind them and block {blocked} on the table meanwhile",
                "deploy with a short lock_timeout (the runner retries), and look for long transactions first",
            )
        )
    report["warnings"] = warnings
    return report


def _is_dml(node: Any) -> bool:
    from pglast import ast

    return isinstance(node, ast.UpdateStmt | ast.DeleteStmt | ast.InsertStmt | ast.MergeStmt)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def _builds_index(node: Any) -> bool:
    """ALTER TABLE ... ADD UNIQUE / PRIMARY KEY (without USING INDEX) builds an index."""
    from pglast import ast, enums

    if not isinstance(node, ast.AlterTableStmt):
        return False
    for cmd in node.cmds or ():
        con = cmd.def_ if cmd.subtype == enums.AlterTableType.AT_AddConstraint else None
        if (
            isinstance(con, ast.Constraint)
            and con.contype
            in (
                enums.ConstrType.CONSTR_UNIQUE,
                enums.ConstrType.CONSTR_PRIMARY,
            )
            and not con.indexname
        ):
            return True
    return False


def _estimate_seconds(
    tp: Throughput, node: Any, stats: Any, rewrite: bool, scan: bool, rows: dict[str, Any] | None
) -> float | None:
    """Rough: rewrite = (heap + indexes) / write rate; scan = heap / read rate; index build = heap / write rate;
    UPDATE/DELETE = a scan plus the touched fraction of the heap at the write rate."""
    from pglast import ast

    if stats is None:
        return None
    scan_s = stats.heap_bytes / MB / tp.scan_mb_s
    write_s = stats.heap_bytes / MB / tp.write_mb_s
    if rewrite:
        return round(stats.table_bytes / MB / tp.write_mb_s, 3)
    if isinstance(node, ast.IndexStmt) or _builds_index(node):
        return round(scan_s + write_s, 3)
    if isinstance(node, ast.UpdateStmt | ast.DeleteStmt):
        count = (rows or {}).get("count")
        total = stats.live_rows_estimate
        fraction = min(1.0, count / total) if count is not None and total else 1.0
        return round(scan_s + fraction * write_s, 3)
    if scan:
        return round(scan_s, 3)
    return 0.0


# -- the job ------------------------------------------------------------------------------------------


def dry_run(
    project: Any,
    replica_dsn: str,
    settings: Any,
    sink: EventSink = discard,
    options: DryRunOptions | None = None,
) -> DryRunReport:
    """Run the whole dry-run; emits events as it goes and returns the report. Changes nothing on the target."""
    from migtui.dryrun.session import ReadOnlySession
    from migtui.dryrun.shadow import run_shadow
    from migtui.dryrun.target import inspect_target

    options = options or DryRunOptions()
    started = time.monotonic()
    project.script  # noqa: B018 - load and check the revision graph before touching any database
    session = ReadOnlySession(replica_dsn, statement_timeout=options.statement_timeout)
    primary = None
    primary_warning = None
    if options.primary_dsn:
        try:
            primary = ReadOnlySession(options.primary_dsn, statement_timeout=options.statement_timeout)
        except ConnectionFailed as exc:
            primary_warning = f"cannot compare with the primary: {exc.message}"
    try:
        target = inspect_target(
            replica_dsn,
            session,
            allow_primary=options.allow_primary,
            version_table=settings.version_table,
            version_table_schema=settings.version_table_schema,
            primary=primary,
        )
        if primary_warning:
            target.warnings.append(primary_warning)
        pending = pending_revisions(project, target.current_revisions)
        sink(RunStarted(job=JOB, target=redact_dsn(replica_dsn) or "", revisions=tuple(pending)))
        sink(DryRunTarget(target=target.to_dict(), pending=tuple(pending)))
        for text in target.warnings:
            sink(Message(text=text, level="warning"))
        report = DryRunReport(target=target.to_dict(), pending=pending)
        target_warnings = [
            _warning("replica-lag" if "behind" in t or "replayed" in t else "target", "warning", t)
            for t in target.warnings
        ]
        if not pending:
            report.seconds = time.monotonic() - started
            report.load = _load(session)
            sink(RunFinished(job=JOB, ok=True, exit_code=0, summary="nothing pending"))
            return report
        shadow = run_shadow(
            target_dsn=replica_dsn,
            target_major=target.major,
            project=project,
            pending=pending,
            version_table=settings.version_table,
            version_table_schema=settings.version_table_schema,
            current_revisions=target.current_revisions,
            settings=settings,
            statement_timeout=options.statement_timeout,
            server=options.shadow_server,
            pg_bin=options.pg_bin,
        )
        report.shadow = shadow.to_dict()
        if not shadow.same_major:
            sink(
                Message(
                    text=f"shadow runs PostgreSQL {shadow.server_major}; the target is {target.major}", level="warning"
                )
            )
        for text in shadow.restore_warnings:
            sink(Message(text=f"shadow schema restore: {text}", level="warning"))
        analyzer = _Analyzer(
            session, options, primary if primary is not None else (session if target.role == "primary" else None)
        )
        model = _static_model(replica_dsn, target.major, options, sink)
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
                "warnings": list(target_warnings) if index == 0 else [],
            }
            if not reached:
                rev_report["warnings"].append(
                    _warning("not-reached", "warning", "not analysed: an earlier revision fails on the shadow")
                )
            if index == 0 and shadow.error:
                rev_report["warnings"].append(
                    _warning("shadow-failed", "error", f"the upgrade failed on the shadow: {shadow.error}")
                )
            rev_model = model.revision(rev_report["path"]) if model is not None else None
            for stmt in shadow_rev.statements if shadow_rev and reached else []:
                static = rev_model.statement(stmt.sql, stmt.line, stmt.transactional) if rev_model else None
                stmt_report = analyze_statement(analyzer, stmt, static=static)
                rev_report["statements"].append(stmt_report)
                sink(DryRunStatement(revision=rev_id, index=stmt.index, report=stmt_report))
                for w in [*blocking_lint_findings(stmt_report), *stmt_report["warnings"]]:
                    sink(
                        Finding(
                            rule=w["rule"],
                            severity=w["severity"],
                            message=w["message"],
                            revision=rev_id,
                            path=rev_report["path"],
                            line=stmt_report["line"],
                            hint=w.get("hint", ""),
                        )
                    )
            if shadow_rev and shadow_rev.error and not any(s["error"] for s in rev_report["statements"]):
                rev_report["warnings"].append(
                    _warning("fails-on-shadow", "error", f"the revision fails on the shadow: {shadow_rev.error}")
                )
            for w in rev_report["warnings"]:
                sink(
                    Finding(
                        rule=w["rule"],
                        severity=w["severity"],
                        message=w["message"],
                        revision=rev_id,
                        path=rev_report["path"],
                        hint=w.get("hint", ""),
                    )
                )
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
        report.throughput = analyzer.throughput.to_dict()
        report.load = _load(session)
        report.seconds = time.monotonic() - started
        data = report.to_dict()["summary"]
        sink(
            RunFinished(
                job=JOB,
                ok=report.exit_code == 0,
                exit_code=report.exit_code,
                summary=f"{data['revisions']} revision(s), {data['statements']} statement(s), "
                f"{data['errors']} error(s), {data['warnings']} warning(s)",
            )
        )
        return report
    finally:
        session.close()
        if primary is not None:
            primary.close()


def _load(session: Any) -> dict[str, Any]:
    s = session.stats
    return {
        "queries": s.queries,
        "query_seconds": round(s.seconds, 3),
        "timeouts": s.timeouts,
        "recovery_conflicts": s.recovery_conflicts,
        "reconnects": s.reconnects,
    }


def _static_model(dsn: str, major: int, options: DryRunOptions, sink: EventSink) -> Any:
    """The linter's lock model with the target's catalog facts (``None`` only if migtui.analysis is missing)."""
    try:
        from migtui.dryrun.static import StaticModel, load_facts
    except ImportError:  # pragma: no cover - the analysis package ships with migtui
        return None
    facts, why = load_facts(dsn, options.statement_timeout)
    if facts is None:
        sink(
            Message(text=f"no catalog facts from the target ({why}): the lock model assumes the worst", level="warning")
        )
    return StaticModel(major, facts)


def blocking_lint_findings(stmt_report: dict[str, Any]) -> list[dict[str, Any]]:
    """The statement's linter findings that fail a dry-run: destructive rules not approved in the revision."""
    from migtui.dryrun.static import is_blocking_finding

    return [f for f in stmt_report.get("findings") or [] if is_blocking_finding(f)]
