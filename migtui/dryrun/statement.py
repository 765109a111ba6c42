"""One captured statement, analysed on the target: table, rows, will-it-fail checks, estimate, lock risk.

``analyze_statement(analyzer, shadow_statement, static=...)`` returns the JSON statement report (see
docs/dry-run.md); ``StatementAnalyzer`` holds what one dry-run shares between statements (the read-only
session, table statistics, the measured throughput, live table activity on the primary).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from migtui.dryrun.options import MB, DryRunOptions
from migtui.dryrun.report import finding as _finding
from migtui.dryrun.static import LINT_KEYS, lock_differences
from migtui.events import Finding
from migtui.redact import redact_sql

EXPLAIN_FLOOR = 2.0  # seconds an estimate's EXPLAIN may take, whatever --count-budget says

STRONG_LOCKS = ("AccessExclusiveLock", "ExclusiveLock", "ShareRowExclusiveLock", "ShareLock")
# what this backend's transaction scanned of the counted table (sequential scans, rows they read)
_SCANNED_SQL = "SELECT seq_scan, seq_tup_read FROM pg_stat_xact_all_tables WHERE relid = to_regclass(%s)"


@dataclass
class Throughput:
    scan_mb_s: float
    write_mb_s: float
    source: str = "configured"  # "configured" | "measured"

    def to_dict(self) -> dict[str, Any]:
        return {"scan_mb_s": round(self.scan_mb_s, 1), "write_mb_s": round(self.write_mb_s, 1), "source": self.source}


def _parse_nodes(chunk: str) -> list[Any]:
    from pglast import parse_sql

    return [raw.stmt for raw in parse_sql(chunk)]


def _iter_nodes(sql_text: str) -> Iterator[Any]:
    """The statements in one captured execute (usually one; ``op.execute("A; B")`` sends several), a chunk of
    parse trees at a time: a data revision's execute can hold a hundred thousand. Raises ``SqlChunkError``."""
    from migtui.analysis.parse import iter_sql_chunks

    for _offset, _chunk, nodes in iter_sql_chunks(sql_text, _parse_nodes):
        yield from nodes


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


class StatementAnalyzer:
    def __init__(self, session: Any, options: DryRunOptions, primary: Any = None) -> None:
        from migtui.dryrun.stats import StatsCache

        self.session = session
        self.primary = primary  # where live table activity is read (the primary), if we can see it
        self._activity: dict[str, Any] = {}
        self._not_valid: dict[tuple[str, str], Any] = {}  # constraints added NOT VALID by earlier statements
        self.options = options
        self.stats = StatsCache(session)
        self.throughput = Throughput(options.scan_mb_s, options.write_mb_s)
        self._measured = False

    # rows ------------------------------------------------------------------------------------------
    def rows(self, node: Any, findings: list[Finding]) -> dict[str, Any] | None:
        from migtui.analysis.row_count import count_query_for_node
        from migtui.dryrun.session import QueryFailed

        query = count_query_for_node(node) if node is not None else None
        if query is None:
            return None
        if query.static_count is not None:
            return {"count": query.static_count, "exact": not query.upper_bound, "method": "static"}
        started = time.monotonic()
        try:
            rows, scanned = self.session.query_then(
                query.count_sql, None, _SCANNED_SQL, (query.table,), timeout=self.options.count_budget
            )
            count = int(rows[0][0] or 0)
            seconds = time.monotonic() - started
            if scanned and scanned[0][0]:
                self._measure(query.table, int(scanned[0][1] or 0), seconds)
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
                findings.append(
                    _finding(
                        "recovery-conflict",
                        f"the replica cancelled the row count (recovery conflict): {exc.message}",
                        "retry later, or raise max_standby_streaming_delay on the replica",
                    )
                )
            elif exc.reason == "timeout":
                findings.append(
                    _finding(
                        "row-count-estimated",
                        f"counting rows took longer than the {self.options.count_budget:g}s budget: "
                        "planner estimate used",
                        "raise --count-budget for an exact count",
                    )
                )
            else:
                findings.append(_finding("row-count-failed", f"cannot count rows: {exc.message}"))
            estimate = self._explain_rows(query.rows_sql)
            return {"count": estimate, "exact": False, "method": "explain" if estimate is not None else "unavailable"}

    def _explain_rows(self, rows_sql: str | None) -> int | None:
        from migtui.dryrun.session import QueryFailed

        if not rows_sql:
            return None
        try:
            # the fallback for a count that ran out of its budget: planning alone, given at least EXPLAIN_FLOOR
            # seconds, since a budget small enough to stop a count can stop the planner too (a loaded replica)
            plan = self.session.scalar(
                "EXPLAIN (FORMAT JSON) " + rows_sql, timeout=max(self.options.count_budget, EXPLAIN_FLOOR)
            )
        except QueryFailed:
            return None
        try:
            return int(plan[0]["Plan"]["Plan Rows"])
        except (TypeError, KeyError, IndexError, ValueError):
            return None

    def _measure(self, table: str, rows_read: int, seconds: float) -> None:
        """A count that read (nearly) the whole of a big table by a sequential scan gives a measured read rate."""
        stats = self.stats.get(table)
        if stats is None or stats.heap_bytes < 8 * MB or seconds < 0.02 or not stats.live_rows_estimate:
            return
        if rows_read < 0.9 * stats.live_rows_estimate:
            return
        rate = stats.heap_bytes / MB / seconds
        if not self._measured or rate > self.throughput.scan_mb_s:
            ratio = self.options.write_mb_s / self.options.scan_mb_s
            self.throughput = Throughput(rate, rate * ratio, "measured")
            self._measured = True

    def activity(self, table: str) -> dict[str, Any] | None:
        from migtui.dryrun.replica import table_activity

        if self.primary is None:
            return None
        if table not in self._activity:
            self._activity[table] = table_activity(self.primary, table)
        return self._activity[table]

    # will it fail ---------------------------------------------------------------------------------
    def checks(self, node: Any, findings: list[Finding]) -> list[dict[str, Any]]:
        from migtui.dryrun.checks import (
            checks_for,
            not_valid_constraints,
            run_check,
            validated_constraints,
            validation_from_catalog,
        )

        if node is None:
            return []
        found = checks_for(node)
        for table, name in validated_constraints(node):  # added NOT VALID earlier in this run, or on the target
            check = self._not_valid.get((table.text, name)) or validation_from_catalog(
                self.session, table, name, timeout=self.options.count_budget
            )
            if check is not None:
                found.append(check)
        self._not_valid.update(not_valid_constraints(node))
        out = []
        for check in found:
            result = run_check(self.session, check, timeout=self.options.count_budget)
            entry: dict[str, Any] = {
                "rule": check.rule,
                "what": check.what,
                "table": check.table.text,
                "violations": result.count,
            }
            if result.fails:
                findings.append(
                    _finding(
                        check.rule,
                        check.message(result.count or 0),
                        "clean up the offending rows first, or add the constraint NOT VALID and VALIDATE it"
                        " after the cleanup",
                    )
                )
            elif result.failure is not None and result.failure.reason != "missing":
                entry["error"] = result.failure.message
                findings.append(
                    _finding(
                        "check-incomplete",
                        f"could not verify {check.what} on {check.table.text}: {result.failure.message}",
                    )
                )
            elif result.failure is not None:
                entry["note"] = "not checkable on the target: " + result.failure.message
            out.append(entry)
        return out


def _strongest(locks: list[dict[str, str]] | None, table: str | None) -> str | None:
    from migtui.analysis.lock_modes import STRENGTH

    modes = [lk["mode"] for lk in locks or [] if table is None or lk["relation"] == table]
    ranked = [m for m in modes if m in STRENGTH]
    return max(ranked, key=STRENGTH.__getitem__) if ranked else None


def _same_relation(a: str | None, b: str | None) -> bool:
    """Same relation, whether or not one side spells out the public schema."""
    if a is None or b is None:
        return False
    strip = lambda s: s.split(".", 1)[1] if s.startswith("public.") else s  # noqa: E731
    return strip(a) == strip(b)


def analyze_statement(
    analyzer: StatementAnalyzer, shadow_stmt: Any, *, static: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[Finding]]:
    """The JSON statement report for one captured statement (see docs/dry-run.md) and the dry-run's findings
    about it (the job says where they are)."""
    from migtui.analysis.parse import SqlChunkError

    sql_text = shadow_stmt.sql
    # every parsed statement's rows and will-it-fail checks, gathered in one pass over the parse trees; their
    # findings are reported after fails-on-shadow, rows' before checks'
    first = main = None
    row_parts: list[dict[str, Any]] = []
    row_findings: list[Finding] = []
    checks: list[dict[str, Any]] = []
    check_findings: list[Finding] = []
    try:
        for n in _iter_nodes(sql_text):
            if first is None:
                first = n
            if main is None and _main_table(n) is not None:
                main = n
            if not shadow_stmt.executemany:
                part = analyzer.rows(n, row_findings)
                if part is not None:
                    row_parts.append(part)
            if shadow_stmt.error is None:
                checks += analyzer.checks(n, check_findings)
    except SqlChunkError:  # pglast cannot parse it: no statement to count or check
        first = main = None
        row_parts, row_findings, checks, check_findings = [], [], [], []
    node = main if main is not None else first
    findings: list[Finding] = []
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
        "phase": shadow_stmt.phase,
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
        findings.append(_finding("fails-on-shadow", f"fails on the shadow copy of the schema: {shadow_stmt.error}"))
    findings += row_findings
    if shadow_stmt.executemany:  # op.bulk_insert: one INSERT per parameter set
        rows: dict[str, Any] | None = {"count": shadow_stmt.executemany, "exact": True, "method": "static"}
    else:
        rows = _merge_rows(row_parts)
    if rows is None and stats is not None and (rewrite or scan):
        rows = {"count": stats.live_rows_estimate, "exact": False, "method": "estimate"}
    report["rows"] = rows
    report["table_bytes"] = stats.table_bytes if stats else None
    report["table_rows_estimate"] = stats.live_rows_estimate if stats else None
    report["checks"] = checks
    findings += check_findings
    report["estimated_seconds"] = _estimate_seconds(analyzer.throughput, node, stats, rewrite, scan, rows)
    strongest = _strongest(observed, resolved) if observed is not None else None
    static_modes = [lk["mode"] for lk in (static or {}).get("locks") or [] if _same_relation(lk["relation"], resolved)]
    holds_exclusive = strongest == "AccessExclusiveLock" or "AccessExclusiveLock" in static_modes
    if holds_exclusive and stats is not None:
        seconds = report["estimated_seconds"] or 0.0
        if seconds >= analyzer.options.lock_risk_seconds or stats.table_bytes >= analyzer.options.big_table_bytes:
            rows_text = f", ~{stats.live_rows_estimate:,} rows" if stats.live_rows_estimate is not None else ""
            findings.append(
                _finding(
                    "lock-risk",
                    f"holds ACCESS EXCLUSIVE on {stats.table} ({_size(stats.table_bytes)}{rows_text})"
                    + (
                        f" for ~{seconds:.1f}s{' (table rewrite)' if rewrite else ''}: every read and write of the"
                        " table waits"
                        if seconds >= 0.05
                        else " (the statement itself is brief; the lock lasts until its transaction ends: see the "
                        "revision's lock holds): while it waits for the lock, every query on this big table queues "
                        "behind it"
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
        findings.append(
            _finding(
                "lock-risk",
                f"{activity['sessions']} session(s) hold locks on {stats.table} on the primary right now (oldest "
                f"transaction open {activity['oldest_transaction_seconds']:g}s): the {mode} lock request would queue "
                f"behind them and block {blocked} on the table meanwhile",
                "deploy with a short lock_timeout (the runner retries), and look for long transactions first",
            )
        )
    return report, findings


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
