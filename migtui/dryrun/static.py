"""The linter's static model (``migtui.analysis``) for the statements the shadow captured.

Each captured statement is analysed in order, revision by revision, with the replica's catalog facts, so
dry-run reports the same statement shape as ``migtui lint`` (forms, locks, rewrites, scans, assumptions,
findings, with the revision's ``# migtui: approve=...`` comments applied) and can say where the observed locks
differ from the model.
"""

from __future__ import annotations

from typing import Any

from migtui.analysis import Analyzer, CatalogFacts, StatementAnalysis
from migtui.analysis.analyze import StatementInput
from migtui.analysis.approvals import apply_approvals, parse_approvals
from migtui.analysis.facts import MigrationKnowledge
from migtui.analysis.lock_model import MAX_VERSION, MIN_VERSION
from migtui.analysis.lock_modes import stronger
from migtui.analysis.parse import SqlSyntaxError, iter_parse_sql
from migtui.analysis.rules import ERROR, LINT_RULES
from migtui.events import Finding

LINT_KEYS = ("forms", "locks", "rewrites", "scans", "assumptions", "findings")


def load_facts(dsn: str, statement_timeout: float) -> tuple[CatalogFacts | None, str | None]:
    """Catalog facts from the target (read-only, under a statement_timeout); (None, why) if unavailable."""
    from psycopg.conninfo import make_conninfo

    from migtui.errors import MigtuiError
    from migtui.pg.catalog_facts import load_catalog_facts
    from migtui.pg.dsn import libpq_dsn

    try:
        limited = make_conninfo(libpq_dsn(dsn), options=f"-c statement_timeout={int(statement_timeout * 1000)}")
        return load_catalog_facts(limited), None
    except MigtuiError as exc:
        return None, exc.message
    except Exception as exc:  # a catalog query failed (timeout, recovery conflict): the model assumes
        text = str(exc).strip().splitlines()
        return None, text[0] if text else exc.__class__.__name__


class StaticModel:
    """One per dry-run: carries what earlier revisions established (MigrationKnowledge) forward."""

    def __init__(self, pg_version: int, facts: CatalogFacts | None) -> None:
        self.pg_version = min(max(pg_version, MIN_VERSION), MAX_VERSION)
        self.facts = facts
        self.knowledge = MigrationKnowledge()

    def revision(self, path: str | None) -> RevisionModel:
        return RevisionModel(self, path)


class RevisionModel:
    def __init__(self, model: StaticModel, path: str | None) -> None:
        self.analyzer = Analyzer(
            model.pg_version,
            model.facts,
            in_transaction=True,
            lock_timeout_set=True,  # the runner sets lock_timeout for every revision
            alembic=True,
            knowledge=model.knowledge,
            statement_timeout_set=True,  # and cancels a revision that outlives its timeout
        )
        self.approvals = []
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    self.approvals, _problems = parse_approvals(handle.read())
            except OSError:
                pass

    def statement(self, sql: str, line: int | None, transactional: bool) -> dict[str, Any] | None:
        """The linter's facts for one captured statement (several parsed statements merged), or None."""
        analyzer = self.analyzer
        if transactional and not analyzer.in_transaction:
            analyzer.in_transaction = True
        elif not transactional and analyzer.in_transaction:
            analyzer.transaction_boundary()  # autocommit_block(): the revision's transaction was committed
        merged = None
        merging = _Merge()
        try:
            # one chunk of parse trees at a time, merged as they come: an op.execute of megabytes of SQL is one
            # captured statement (a syntax error in a later chunk leaves the earlier ones analysed)
            for p in iter_parse_sql(sql):
                merged = merging.add(analyzer.analyze_one(StatementInput(p, line=line, transactional=transactional)))
        except SqlSyntaxError:
            return None
        if merged is None:
            return None
        findings, _ignored = apply_approvals(merged.findings, self.approvals)
        data = merged.to_dict()
        data["findings"] = [f.report_dict() for f in findings]
        return {key: data[key] for key in LINT_KEYS}


class _Merge:
    """The analyses of the statements of one captured execute merged into the first: its forms, rewrites, scans,
    assumptions and findings followed by the others', each relation's strongest lock."""

    def __init__(self) -> None:
        self.first: StatementAnalysis | None = None
        self.locks: dict[str, Any] = {}

    def add(self, res: StatementAnalysis) -> StatementAnalysis:
        first = self.first
        if first is None:
            self.first = res
            self._locks(res)
            return res
        self._locks(res)
        first.forms += res.forms
        first.rewrites += [r for r in res.rewrites if r not in first.rewrites]
        first.scans += [s for s in res.scans if s not in first.scans]
        first.assumptions += [a for a in res.assumptions if a not in first.assumptions]
        first.findings += res.findings
        first.locks = list(self.locks.values())
        return first

    def _locks(self, res: StatementAnalysis) -> None:
        for lock in res.locks:
            held = self.locks.get(lock.relation)
            self.locks[lock.relation] = lock if held is None or stronger(held.mode, lock.mode) != held.mode else held


def is_blocking_finding(finding: dict[str, Any]) -> bool:
    """A linter finding that fails the dry-run: a destructive rule at error severity (i.e. not approved)."""
    rule = LINT_RULES.get(finding.get("rule", ""))
    return bool(rule and rule.destructive and finding.get("severity") == ERROR)


def _short(relation: str) -> str:
    return relation.split(".", 1)[1] if relation.startswith("public.") else relation


def lock_differences(
    static_locks: list[dict[str, Any]], observed: list[dict[str, Any]] | None, only: str | None = None
) -> list[dict]:
    """Where the shadow's observed table locks differ from the model: [{"relation", "model", "observed"}].

    Compared per table, strongest mode on each side; ``None`` on a side means no lock there. Left out: indexes
    the model does not name (PostgreSQL locks a table's indexes along with it) and relations the statement
    creates. ``only``: compare that relation alone (DML: the shadow's tables are empty, so locks that depend on
    rows changing, like foreign-key checks on referenced tables, cannot show there).
    """
    if observed is None:
        return []
    observed = [lk for lk in observed if not lk.get("created")]
    if only is not None:
        static_locks = [lk for lk in static_locks if _short(lk["relation"]) == _short(only)]
        observed = [lk for lk in observed if _short(lk["relation"]) == _short(only)]
    model: dict[str, str] = {}
    for lock in static_locks:
        name = _short(lock["relation"])
        model[name] = stronger(model[name], lock["mode"]) if name in model else lock["mode"]
    seen: dict[str, str] = {}
    for lock in observed:
        name = _short(lock["relation"])
        if lock["kind"] == "index" and name not in model:
            continue
        seen[name] = stronger(seen[name], lock["mode"]) if name in seen else lock["mode"]
    out = []
    for name in sorted(set(model) | set(seen)):
        if model.get(name) != seen.get(name):
            out.append({"relation": name, "model": model.get(name), "observed": seen.get(name)})
    return out


def blocking_lint_findings(stmt_report: dict[str, Any]) -> list[Finding]:
    """The statement's linter findings that fail a dry-run: destructive rules not approved in the revision."""
    return [
        Finding(f["rule"], f["severity"], f["message"], f.get("hint", ""), f.get("line"))
        for f in stmt_report.get("findings") or []
        if is_blocking_finding(f)
    ]
