"""Pure analysis: SQL text in, per-statement locks / rewrites / scans / findings out. No database.

Public API (dry-run and other jobs import it)::

    from migtui.analysis import analyze_sql
    for st in analyze_sql(sql, pg_version=16, facts=None):
        st.locks      # [RelationLock(relation="public.orders", mode="AccessExclusiveLock", blocks=[...])]
        st.rewrites   # ["public.orders"]
        st.scans      # [...]
        st.findings   # [migtui.events.Finding(rule, severity, message, hint, line)]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from migtui.analysis import lock_modes
from migtui.analysis.classify import Action, Classifier
from migtui.analysis.facts import CatalogFacts, MigrationKnowledge
from migtui.analysis.holds import (
    DML_FORMS,
    HeldLock,
    blocked_work,
    describe_work,
    key_columns,
    narrow_predicate,
    safe_rewrite,
    small_table,
)
from migtui.analysis.lock_model import FORMS, MAX_VERSION, MIN_VERSION
from migtui.analysis.parse import ParsedStatement, _pglast_parser, iter_parse_sql
from migtui.analysis.rules import ERROR, INFO, RULES, WARNING
from migtui.errors import UsageError
from migtui.events import Finding

DEFAULT_PG_VERSION: Final = 16


# forms whose re-run fails once a first run applied them, unless written with IF [NOT] EXISTS
RERUN_CREATE: Final = ("create-table", "create-index", "create-index-concurrently")
RERUN_DROP: Final = (
    "drop-table",
    "drop-view",
    "drop-materialized-view",
    "drop-sequence",
    "drop-index",
    "drop-index-concurrently",
    "drop-schema",
    "drop-type",
    "drop-trigger",
)
# the forms _rerun_rule can report (besides add-column*): most statements skip the call
_RERUN_FORMS: Final = frozenset((*RERUN_CREATE, *RERUN_DROP, "drop-column"))


# The result classes have hand-written __init__ methods: mypyc compiles them, while a dataclass-generated
# __init__ stays interpreted Python (and one of each is built per statement or finding).


@dataclass(init=False)
class RelationLock:
    relation: str
    mode: str  # exactly as pg_locks.mode spells it
    blocks: list[str]  # "reads" | "writes" | "ddl"

    def __init__(self, relation: str, mode: str, blocks: list[str]) -> None:
        self.relation = relation
        self.mode = mode
        self.blocks = blocks

    def to_dict(self) -> dict[str, Any]:
        return {"relation": self.relation, "mode": self.mode, "blocks": list(self.blocks)}


@dataclass(init=False)
class StatementAnalysis:
    index: int  # 0-based position in the file / revision
    line: int  # 1-based line in the source file (revision file: the op.* line when known)
    sql: str
    transactional: bool  # runs inside a transaction block
    forms: list[str]  # lock-model form ids
    locks: list[RelationLock]
    rewrites: list[str]
    scans: list[str]
    findings: list[Finding]
    assumptions: list[str]  # facts assumed because no catalog was available
    sql_line: int | None  # line in the rendered SQL (alembic) when different from ``line``

    def __init__(
        self,
        index: int,
        line: int,
        sql: str,
        transactional: bool,
        forms: list[str] | None = None,
        locks: list[RelationLock] | None = None,
        rewrites: list[str] | None = None,
        scans: list[str] | None = None,
        findings: list[Finding] | None = None,
        assumptions: list[str] | None = None,
        sql_line: int | None = None,
    ) -> None:
        self.index = index
        self.line = line
        self.sql = sql
        self.transactional = transactional
        self.forms = [] if forms is None else forms
        self.locks = [] if locks is None else locks
        self.rewrites = [] if rewrites is None else rewrites
        self.scans = [] if scans is None else scans
        self.findings = [] if findings is None else findings
        self.assumptions = [] if assumptions is None else assumptions
        self.sql_line = sql_line

    def lock_on(self, relation: str) -> str | None:
        for lock in self.locks:
            if lock.relation == relation:
                return lock.mode
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "line": self.line,
            "sql": self.sql,
            "transactional": self.transactional,
            "forms": list(self.forms),
            "locks": [lock.to_dict() for lock in self.locks],
            "rewrites": list(self.rewrites),
            "scans": list(self.scans),
            "assumptions": list(self.assumptions),
            "findings": [f.report_dict() for f in self.findings],
        }


# statements whose DML may read beyond a key (the rest skip that check)
# PostgreSQL keeps the first NAMEDATALEN - 1 bytes of an identifier
MAX_IDENTIFIER_BYTES: Final = 63
# a quoted identifier over 63 bytes in ASCII text: 64 characters between double quotes ("" is one)
_LONG_QUOTED: Final = re.compile(r'"(?:[^"]|""){64}')
_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _may_have_long_identifier(sql: str) -> bool:
    """Cheap test run on every statement: False when no identifier in ``sql`` can exceed 63 bytes (non-ASCII text
    is always searched: a character may take up to 4 bytes)."""
    size = len(sql)
    if size <= MAX_IDENTIFIER_BYTES // 4:
        return False
    if not sql.isascii():
        return True
    if size <= MAX_IDENTIFIER_BYTES:
        return False
    # an unquoted name of 64 characters lies within one whitespace-separated word of 64 or more (a split costs a
    # fraction of a regular expression's scan), and such a word covers one of the aligned 32-character blocks
    # whole: when each block holds a space, there is none (str.find allocates nothing, a split every word)
    for start in range(0, size - 31, 32):
        if sql.find(" ", start, start + 32) < 0:
            for word in sql.split():
                if len(word) > MAX_IDENTIFIER_BYTES:
                    return True
            break
    return '"' in sql and _LONG_QUOTED.search(sql) is not None


# a form's (role, lock mode) pairs on one PostgreSQL major, rewritten roles and scanned roles, per major: read
# once per action instead of a call to Form.locks_for
_FormEffects = dict[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...]]]
_FORM_EFFECTS: Final[dict[int, _FormEffects]] = {}


def _form_effects(pg_version: int) -> _FormEffects:
    effects = _FORM_EFFECTS.get(pg_version)
    if effects is None:
        effects = _FORM_EFFECTS[pg_version] = {
            form: (spec.locks_for(pg_version), spec.rewrites, spec.scans) for form, spec in FORMS.items()
        }
    return effects


_DML_NODES: Final = frozenset({"UpdateStmt", "DeleteStmt", "InsertStmt", "MergeStmt"})
_NONE: Final[frozenset[str]] = frozenset()
_REFRESH_CONCURRENTLY: Final = "refresh-materialized-view-concurrently"


def _at_least_warning(severity: str) -> str:
    """A lock held through slow work is at least a warning."""
    return severity if severity == ERROR else WARNING


def check_version(pg_version: int) -> int:
    if not MIN_VERSION <= int(pg_version) <= MAX_VERSION:
        raise UsageError(f"--pg-version {pg_version} not supported (PostgreSQL {MIN_VERSION}-{MAX_VERSION})")
    return int(pg_version)


@dataclass(init=False)
class StatementInput:
    """A statement to analyze, with where it came from."""

    parsed: ParsedStatement
    line: int | None  # source line override (alembic: the op.* line in the revision file)
    transactional: bool | None  # override (alembic render knows the boundaries)

    def __init__(self, parsed: ParsedStatement, line: int | None = None, transactional: bool | None = None) -> None:
        self.parsed = parsed
        self.line = line
        self.transactional = transactional


class Analyzer:
    """Analyzes the statements of one migration (a raw .sql file or one alembic revision) in order.

    Keeps what earlier statements did: transaction state, tables created here, lock_timeout, strong locks
    held, constraints added NOT VALID.
    """

    def __init__(
        self,
        pg_version: int = DEFAULT_PG_VERSION,
        facts: CatalogFacts | None = None,
        *,
        in_transaction: bool = False,
        lock_timeout_set: bool = False,
        alembic: bool = False,
        knowledge: MigrationKnowledge | None = None,
        statement_timeout_set: bool = False,
    ) -> None:
        self.pg_version = check_version(pg_version)
        self.facts = facts
        self.knowledge = knowledge if knowledge is not None else MigrationKnowledge()
        self.classifier = Classifier(self.pg_version, facts, self.knowledge)
        self.in_transaction = in_transaction
        self.lock_timeout_set = lock_timeout_set
        self.alembic = alembic
        self.created: set[str] = set()
        # relation -> the write- or read-blocking lock taken on it in the open transaction, held until it ends
        self.held: dict[str, HeldLock] = {}
        self.lock_findings: dict[str, Finding] = {}  # this statement: its blocking-lock finding per relation
        # this statement: the tables its DML touches beyond a key or key range
        self.wide_dml: set[str] | frozenset[str] = frozenset()
        self.altered: dict[str, int] = {}  # table -> first ALTER TABLE statement in this transaction
        self.lock_timeout_reported = False
        # statement_timeout (or transaction_timeout, PostgreSQL >= 17) bounds how long a lock is held;
        # migtui's runner cancels a revision that outlives its --timeout, which bounds it too
        self.statement_timeout_set = statement_timeout_set
        self.statement_timeout_reported = False
        self.begin_line: int | None = None  # line of the file's own open BEGIN (raw SQL)
        # statements outside a transaction without IF [NOT] EXISTS, reported once a later statement exists
        self.rerun_pending: list[tuple[StatementAnalysis, str]] = []
        self.index = 0
        self.last_line = 1
        self.form_effects = _form_effects(self.pg_version)

    # ------------------------------------------------------------------------------------------------
    def analyze(self, items: Iterable[StatementInput | ParsedStatement]) -> list[StatementAnalysis]:
        out = []
        # one StatementInput for every bare ParsedStatement, its statement swapped in: analyze_one and the checks
        # read an item only while it runs (none keeps it), so no object is built and freed per statement
        bare: StatementInput | None = None
        for item in items:
            if isinstance(item, ParsedStatement):
                if bare is None:
                    bare = StatementInput(item)
                else:
                    bare.parsed = item
                out.append(self.analyze_one(bare))
            else:
                out.append(self.analyze_one(item))
        return out

    def analyze_one(self, item: StatementInput) -> StatementAnalysis:
        if self.rerun_pending:
            for earlier, message in self.rerun_pending:
                self._add(earlier, "prefer-robust-statements", message)
            self.rerun_pending.clear()
        parsed = item.parsed
        actions = self.classifier.classify(parsed.node_type, parsed.node, parsed.sql)
        line = item.line if item.line is not None else parsed.line
        self.last_line = line
        transactional = self.in_transaction if item.transactional is None else item.transactional
        locks: dict[str, str] = {}
        rewrites: list[str] = []
        scans: list[str] = []
        forms: list[str] = []
        assumptions: list[str] = []
        form_effects = self.form_effects
        for action in actions:
            form = action.form
            forms.append(form)
            # loops, not list.extend of a generator: compiled, a generator is an object built per call
            if action.assumptions:
                for a in action.assumptions:
                    if a not in assumptions:
                        assumptions.append(a)
            roles = action.roles
            if not roles:
                continue
            form_locks, rewritten, scanned = form_effects[form]
            for role, mode in form_locks:
                relations = roles.get(role)
                if not relations:
                    continue
                if form == "lock-table":
                    mode = action.info.get("mode", mode)
                for relation in relations:
                    held = locks.get(relation)
                    locks[relation] = mode if held is None else lock_modes.stronger(held, mode)
            for role in rewritten:
                named = roles.get(role)
                if named:
                    for r in named:
                        if r not in rewrites:
                            rewrites.append(r)
            for role in scanned:
                named = roles.get(role)
                if named:
                    for r in named:
                        if r not in scans:
                            scans.append(r)
        blocked = lock_modes.BLOCKED
        locked: list[RelationLock] = []  # a loop, not a comprehension: no function object per statement (interpreted)
        for rel, mode in locks.items():
            locked.append(RelationLock(rel, mode, list(blocked[mode])))
        wide = self.wide_dml = self._wide_dml(actions, parsed.node) if parsed.node_type in _DML_NODES else _NONE
        if wide:
            for t in wide:
                if t not in scans:
                    scans.append(t)
        # scans, then the rewritten relations not among them (each list holds a relation once)
        for r in rewrites:
            if r not in scans:
                scans.append(r)
        # built from the finished lists (no empty lists made for the constructor to replace)
        result = StatementAnalysis(
            self.index,
            line,
            parsed.sql,
            transactional,
            forms,
            locked,
            rewrites,
            scans,
            [],
            assumptions,
            parsed.line if item.line is not None else None,
        )
        self.index += 1
        self._apply_rules(result, actions, item)
        if _may_have_long_identifier(parsed.sql):
            self._identifier_rule(result, parsed.sql)
        self._update_state(result, actions, item)
        return result

    def _identifier_rule(self, result: StatementAnalysis, sql: str) -> None:
        """Identifiers over 63 bytes: PostgreSQL truncates them (NAMEDATALEN) with a NOTICE nobody reads. The parse
        tree holds them truncated already, so the statement's tokens are read."""
        seen: list[str] = []
        for token in _pglast_parser().scan(sql):  # pglast is loaded on first use (parse.py)
            if token.name != "IDENT":
                continue
            text = sql[token.start : token.end + 1]
            # a quoted name is kept as written; PostgreSQL folds an unquoted one to lower case (ASCII letters)
            name = text[1:-1].replace('""', '"') if text.startswith('"') else text.translate(_ASCII_LOWER)
            if len(name.encode()) > MAX_IDENTIFIER_BYTES and name not in seen:
                seen.append(name)
        for name in seen:
            encoded = name.encode()
            cut = encoded[:MAX_IDENTIFIER_BYTES].decode(errors="ignore")
            self._add(
                result,
                "identifier-too-long",
                f'identifier "{name}" is {len(encoded)} bytes: PostgreSQL cuts it to "{cut}"',
            )

    # ------------------------------------------------------------------------------------------------
    def _wide_dml(self, actions: list[Action], node: dict[str, Any]) -> set[str]:
        """Tables an UPDATE/DELETE/MERGE/INSERT ... SELECT reads beyond a key or key range (a backfill): the
        statement scans them, and its time grows with the table."""
        out: set[str] = set()
        for action in actions:
            form = action.form
            if form not in DML_FORMS:
                continue
            tables: list[str] = []
            if form in ("update", "delete"):
                table = action.table
                if table and not narrow_predicate(node.get("whereClause"), key_columns(table, self.facts)):
                    tables.append(table)
            elif form in ("update-all-rows", "delete-all-rows", "merge"):
                tables.extend(action.roles.get("table", []))
                if form == "merge":
                    tables.extend(action.roles.get("source", []))
            elif form == "insert":
                tables.extend(action.roles.get("source", []))  # INSERT ... SELECT FROM: the rows it copies
            for t in tables:
                if not self._is_new(t) and not small_table(t, self.facts):
                    out.add(t)
        return out

    def _is_new(self, relation: str | None) -> bool:
        return relation is not None and relation in self.created

    def _add(
        self, result: StatementAnalysis, rule_id: str, message: str, severity: str | None = None, hint: str = ""
    ) -> Finding:
        rule = RULES[rule_id]
        if not hint:
            hint = rule.alembic if self.alembic and rule.alembic else rule.hint
        finding = Finding(rule_id, severity or rule.severity, message, hint, result.line)
        result.findings.append(finding)
        return finding

    def _apply_rules(self, result: StatementAnalysis, actions: list[Action], item: StatementInput) -> None:
        v = self.pg_version
        for action in actions:
            form = action.form
            spec = FORMS[form]
            if v < spec.min_version:
                self._add(
                    result,
                    "unsupported-by-version",
                    f"{spec.title} needs PostgreSQL >= {spec.min_version} (target is {v})",
                    ERROR,
                )
            if not spec.transactional and result.transactional:
                self._add(result, "concurrently-in-transaction", f"{spec.title} cannot run inside a transaction block")
            # only the checks that can report on this form run (most forms have one or none)
            checks = _FORM_CHECKS.get(form)
            if checks:
                tables = action.roles.get("table")  # action.table, without the property call
                new = tables[0] in self.created if tables else False
                for check in checks:
                    check(self, result, action, item, new)
        self._lock_rules(result, actions)
        if result.transactional and item.parsed.node_type == "AlterTableStmt":
            self._multiple_alter_rule(result, actions, item)

    def _set_rules(self, result: StatementAnalysis, action: Action, item: StatementInput, new: bool) -> None:
        v = self.pg_version
        if (action.info.get("name") or "").lower() == "transaction_timeout" and v < 17:
            self._add(result, "unsupported-by-version", f"transaction_timeout needs PostgreSQL >= 17 (target is {v})")

    def _destructive_rules(self, result: StatementAnalysis, action: Action, item: StatementInput, new: bool) -> None:
        form, info, table = action.form, action.info, action.table
        col = info.get("column")
        # --- destructive -----------------------------------------------------------------------
        if form == "drop-table" and not new:
            self._add(result, "drop-table", f"drops table {table}")
        elif form == "drop-column" and not new:
            self._add(result, "drop-column", f"drops column {table}.{col}")
        elif form == "drop-schema":
            self._add(result, "drop-schema", f"drops schema {info.get('dropped')}")
        elif form in ("drop-constraint", "drop-foreign-key") and not new and not self._redundant_check(action):
            self._add(result, "drop-constraint", f"drops constraint {info.get('constraint')} on {table}")
        elif form == "truncate":
            self._add(result, "truncate", f"truncates {', '.join(action.roles.get('table', []))}")
        elif form == "truncate-cascade":
            self._add(
                result,
                "truncate-cascade",
                f"truncates {', '.join(action.roles.get('table', []))} and every table referencing it",
            )
        elif form == "other" and info.get("drop_database"):
            self._add(result, "ban-drop-database", "drops a database")

    def _add_column_rules(self, result: StatementAnalysis, action: Action, item: StatementInput, new: bool) -> None:
        form, info, table = action.form, action.info, action.table
        col = info.get("column")
        # --- columns ---------------------------------------------------------------------------
        if form == "add-column-volatile-default" and not new:
            volatile = sorted({f"{name}()" for name in info.get("default_volatile_functions") or []})
            unknown = sorted(set(info.get("default_unknown_functions") or []))
            what = (
                f"a volatile default ({', '.join(volatile)})"
                if volatile
                else f"a default calling {', '.join(unknown)}, not a known non-volatile function,"
            )
            self._add(result, "add-column-volatile-default", f"ADD COLUMN {col} with {what} rewrites {table}")
        elif form == "add-column-serial" and not new:
            self._add(result, "add-column-serial", f"ADD COLUMN {col} {info.get('type')} rewrites {table}")
        elif form == "add-column-identity" and not new:
            self._add(result, "add-column-identity", f"ADD COLUMN {col} ... IDENTITY rewrites {table}")
        elif form == "add-column-stored-generated" and not new:
            self._add(result, "add-column-stored-generated", f"ADD COLUMN {col} ... STORED rewrites {table}")
        elif form == "add-column-not-null" and not new:
            self._add(
                result,
                "add-column-not-null-without-default",
                f"ADD COLUMN {col} NOT NULL without DEFAULT fails if {table} has rows",
            )

    def _column_type_advice(self, result: StatementAnalysis, action: Action, item: StatementInput, new: bool) -> None:
        form, info = action.form, action.info
        col = info.get("column")
        if form.startswith("add-column") and not new:
            self._column_type_rules(result, col, info.get("type"))
        if form == "create-table":
            for name, type_text, _col in info.get("columns", []):
                self._column_type_rules(result, name, type_text)
        if form in ("alter-column-type", "alter-column-type-no-rewrite"):
            self._column_type_rules(result, col, info.get("new_type"))

    def _type_change_rules(self, result: StatementAnalysis, action: Action, item: StatementInput, new: bool) -> None:
        form, info, table = action.form, action.info, action.table
        col = info.get("column")
        if form == "alter-column-type":
            if info.get("narrows"):
                self._add(
                    result,
                    "narrowing-type-change",
                    f"{table}.{col}: {info.get('old_type')} -> {info.get('new_type')} narrows the type",
                )
            if not new:
                old = info.get("old_type") or "unknown type"
                self._add(
                    result,
                    "type-change-rewrites",
                    f"{table}.{col}: {old} -> {info.get('new_type')} rewrites the table",
                )
        elif form == "alter-column-type-no-rewrite" and info.get("narrows"):
            self._add(
                result,
                "narrowing-type-change",
                f"{table}.{col}: {info.get('old_type')} -> {info.get('new_type')} narrows the type",
            )

    def _column_rules(self, result: StatementAnalysis, action: Action, item: StatementInput, new: bool) -> None:
        form, info, table = action.form, action.info, action.table
        col = info.get("column")
        if form in ("set-not-null", "add-not-null-constraint") and not new:
            self._add(
                result,
                "set-not-null-without-check",
                f"SET NOT NULL on {table}.{col} scans the table under AccessExclusiveLock",
            )
        if form in ("rename-column",) and not new:
            self._add(result, "rename-column", f"renames {table}.{col} to {info.get('new')}")
        if form == "rename-table" and not new:
            self._add(result, "rename-table", f"renames {table} to {info.get('new')}")

    def _constraint_index_rules(
        self, result: StatementAnalysis, action: Action, item: StatementInput, new: bool
    ) -> None:
        form, info, table = action.form, action.info, action.table
        col = info.get("column")
        # --- constraints and indexes ------------------------------------------------------------
        if form in ("add-check", "add-foreign-key") and not new:
            kind = "CHECK" if form == "add-check" else "FOREIGN KEY"
            if info.get("inline_column"):
                self._add(
                    result,
                    "constraint-missing-not-valid",
                    f"ADD COLUMN {info['inline_column']} with an inline {kind if kind == 'CHECK' else 'REFERENCES'}"
                    f"{' and a DEFAULT' if kind != 'CHECK' else ''} checks every row of {table} under "
                    "AccessExclusiveLock: add the column first, then the constraint NOT VALID",
                )
            else:
                self._add(
                    result,
                    "constraint-missing-not-valid",
                    f"{kind} {info.get('constraint') or ''} on {table} is validated under a write-blocking lock",
                )
        if form in ("add-unique", "add-primary-key") and not new:
            key = "PRIMARY KEY" if form == "add-primary-key" else "UNIQUE"
            self._add(
                result,
                "unique-constraint-builds-index",
                f"ADD COLUMN {info['inline_column']} {key} builds an index on {table} under AccessExclusiveLock: "
                "add the column, then CREATE UNIQUE INDEX CONCURRENTLY and ADD CONSTRAINT ... USING INDEX"
                if info.get("inline_column")
                else f"{key} on {table} builds its index under AccessExclusiveLock",
            )
        if form == "add-exclusion" and not new:
            self._add(result, "exclusion-constraint-builds-index", f"EXCLUDE on {table} builds its index under lock")
        if form == "create-index" and not new:
            self._add(
                result,
                "create-index-non-concurrently",
                f"CREATE INDEX {info.get('index') or ''} on {table} blocks writes while it builds",
            )
        if form == "drop-index" and not new:
            self._add(
                result,
                "drop-index-non-concurrently",
                f"DROP INDEX {info.get('dropped')} takes AccessExclusiveLock on {table or 'its table'}",
            )
        if form == "drop-not-null" and not new:
            self._add(result, "ban-drop-not-null", f"{table}.{col} may now be NULL")
        if form == "create-type" and info.get("domain_constraints"):
            self._add(result, "ban-create-domain-with-constraint", "CREATE DOMAIN with a CHECK constraint")
        if form == "alter-type" and info.get("domain_add_constraint"):
            self._add(result, "ban-alter-domain-with-add-constraint", "ALTER DOMAIN ... ADD CONSTRAINT")
        if form == "create-type" and info.get("enum"):
            self._add(result, "creating-enum", "CREATE TYPE ... AS ENUM")
        if form == "add-constraint-using-index" and info.get("contype") == "CONSTR_PRIMARY" and not new:
            self._add(result, "primary-key-using-index", f"PRIMARY KEY USING INDEX on {table}")

    def _reindex_rules(self, result: StatementAnalysis, action: Action, item: StatementInput, new: bool) -> None:
        form, info = action.form, action.info
        if form == "reindex" and info.get("system"):
            self._add(result, "reindex-system", "REINDEX of system catalogs blocks catalog access while it runs")
        elif form == "reindex":
            self._add(result, "reindex-non-concurrently", "REINDEX without CONCURRENTLY blocks writes")
        elif form == "reindex-concurrently" and info.get("system") and info.get("kind") == "REINDEX_OBJECT_SCHEMA":
            self._add(
                result,
                "reindex-system",
                "REINDEX SCHEMA pg_catalog CONCURRENTLY skips every system catalog: it reindexes nothing",
            )
        elif form == "reindex-concurrently" and info.get("system"):
            self._add(
                result,
                "reindex-system",
                "REINDEX ... CONCURRENTLY of system catalogs fails: PostgreSQL cannot reindex them concurrently",
                ERROR,
            )

    def _table_rules(self, result: StatementAnalysis, action: Action, item: StatementInput, new: bool) -> None:
        form, info, table = action.form, action.info, action.table
        v = self.pg_version
        facts = self.facts
        # --- table level -----------------------------------------------------------------------
        if form == "vacuum-full":
            self._add(result, "vacuum-full", f"VACUUM FULL rewrites {table or 'every table'}")
        elif form == "cluster":
            self._add(result, "cluster", f"CLUSTER rewrites {table or 'tables'}")
        elif form == "refresh-materialized-view":
            self._add(result, "refresh-materialized-view-blocking", f"REFRESH blocks reads of {table}")
        elif form == "detach-partition" and v >= 14:
            self._add(
                result,
                "detach-partition-non-concurrently",
                f"DETACH PARTITION {info.get('partition')} takes AccessExclusiveLock on "
                f"{action.roles.get('parent', ['?'])[0]}",
            )
        elif form == "attach-partition" and not self._is_new(info.get("partition")):
            self._add(
                result,
                "attach-partition-without-check",
                f"ATTACH PARTITION scans {info.get('partition')} to validate the bound",
            )
        elif form == "set-logged" and not new:
            self._add(
                result,
                "set-logged-unlogged",
                f"SET {'LOGGED' if info.get('logged') else 'UNLOGGED'} rewrites {table}",
            )
        elif form == "set-tablespace" and not new:
            self._add(result, "set-tablespace", f"SET TABLESPACE copies {table}")
        elif form == "set-access-method" and not new:
            self._add(result, "set-access-method", f"SET ACCESS METHOD rewrites {table}")
        elif form == "lock-table":
            self._add(
                result, "lock-table", f"LOCK TABLE {', '.join(action.roles.get('table', []))} IN {info.get('mode')}"
            )
        elif form in ("update-all-rows", "delete-all-rows") and not new and not small_table(table or "", facts):
            verb = "UPDATE" if form == "update-all-rows" else "DELETE"
            rule_id = "unbatched-update" if form == "update-all-rows" else "unbatched-delete"
            self._add(result, rule_id, f"{verb} of every row of {table} in one statement")
        elif form in ("update", "delete") and table in self.wide_dml:
            verb = "UPDATE" if form == "update" else "DELETE"
            rule_id = "unbatched-update" if form == "update" else "unbatched-delete"
            self._add(
                result,
                rule_id,
                f"{verb} of {table} bounded by no key or key range: every matching row in one statement",
            )
        elif form == "do-block" or (form == "select" and info.get("calls")):
            self._add(result, "unanalyzable-statement", "a DO block or function call: locks unknown")
        elif form == "alter-type-add-value" and result.transactional:
            self._add(
                result,
                "alter-type-add-value-in-transaction",
                "the new enum value is usable only after this transaction commits",
            )
        elif form == "transaction-control":
            trans_kind = info.get("kind")
            if (
                trans_kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START")
                and self.in_transaction
                and item.transactional is None
            ):
                self._add(result, "transaction-nesting", "BEGIN inside a transaction")
            elif trans_kind == "TRANS_STMT_ROLLBACK" and result.transactional:
                since = (
                    f"BEGIN at line {self.begin_line}"
                    if self.begin_line is not None and not self.alembic
                    else "the start of the " + ("revision" if self.alembic else "file's transaction")
                )
                self._add(result, "rollback-in-migration", f"ROLLBACK undoes every statement since {since}")
            elif (
                trans_kind == "TRANS_STMT_COMMIT" and result.transactional and (self.alembic or self.begin_line is None)
            ):
                who = "alembic's transaction for the revision" if self.alembic else "the transaction it runs in"
                self._add(
                    result,
                    "commit-in-migration",
                    f"COMMIT ends {who}: the statements after it are no longer all-or-nothing with those before",
                )

    def _rerun_rule(self, result: StatementAnalysis, action: Action, item: StatementInput, new: bool) -> None:
        """Outside a transaction a statement stays applied when a later one fails: the re-run must get past it.
        CONCURRENTLY forms always run outside one; others when the file has no BEGIN or in autocommit_block().
        Registered for the forms it reports on (RULE_CHECKS), tested again below."""
        form, info = action.form, action.info
        outside = not result.transactional or not FORMS[form].transactional
        if not outside:
            return
        node_type = item.parsed.node_type
        if form in RERUN_CREATE and not info.get("if_not_exists"):
            clause = "IF NOT EXISTS"
        elif form.startswith("add-column") and info.get("subtype") == "AT_AddColumn" and "if_not_exists" in info:
            if info["if_not_exists"]:
                return
            clause = "IF NOT EXISTS"
        elif (form in RERUN_DROP and node_type == "DropStmt" and not info.get("if_exists")) or (
            form == "drop-column" and not info.get("if_exists")
        ):
            clause = "IF EXISTS"
        else:
            return
        what = "ADD COLUMN" if form.startswith("add-column") else FORMS[form].title.split(" (")[0]
        message = f"{what} without {clause} runs outside a transaction: a re-run after a later failure fails here"
        if FORMS[form].transactional:
            # atomic on its own: it matters only when a statement after it can fail (flushed by analyze_one)
            self.rerun_pending.append((result, message))
        else:  # a CONCURRENTLY form that fails halfway leaves an INVALID index behind: its own re-run fails
            message = f"{what} without {clause}: a re-run after a failure (its own or a later one) fails here"
            self._add(result, "prefer-robust-statements", message)

    def _statement_timeout_rule(
        self, result: StatementAnalysis, slow: set[str] | frozenset[str], readers_go_on: set[str] | frozenset[str]
    ) -> None:
        """A slow statement (rewrite/scan of an existing table) holding a lock that blocks writes, taken by it
        or earlier in the transaction, with nothing bounding how long it runs."""
        if self.statement_timeout_set or self.statement_timeout_reported or not (slow - self.created):
            return
        own: RelationLock | None = None  # the first write-blocking lock this statement takes on an existing relation
        for lk in result.locks:
            if lock_modes.blocks_writes(lk.mode) and not self._is_new(lk.relation) and lk.relation not in readers_go_on:
                own = lk
                break
        if own is not None:
            where = f"{own.mode} on {own.relation}"
        elif result.transactional and self.held:
            first = next(iter(self.held.values()))
            where = f"{first.mode} on {first.relation} (taken at {first.where()})"
        else:
            return
        self.statement_timeout_reported = True
        also = " or transaction_timeout" if self.pg_version >= 17 else ""
        self._add(
            result,
            "statement-timeout-missing",
            f"{where} is held while this statement {'rewrites' if result.rewrites else 'scans'} "
            f"{', '.join(sorted(slow - self.created))}, with no statement_timeout{also} to bound it",
        )

    def _multiple_alter_rule(self, result: StatementAnalysis, actions: list[Action], item: StatementInput) -> None:
        if not result.transactional or item.parsed.node_type != "AlterTableStmt" or not actions:
            return
        table = actions[0].table
        if not table or self._is_new(table):
            return
        if table in self.altered:
            self._add(
                result,
                "multiple-alter-table",
                f"{table} was already altered by statement {self.altered[table] + 1} in this transaction",
            )
        else:
            self.altered[table] = result.index

    def _redundant_check(self, action: Action) -> bool:
        """Dropping CHECK (col IS NOT NULL) once col is NOT NULL loses nothing (the SET NOT NULL pattern)."""
        table = action.table or ""
        column = self.classifier.not_null_check_column(table, action.info.get("constraint"))
        return column is not None and self.classifier.column_is_not_null(table, column)

    def _column_type_rules(self, result: StatementAnalysis, col: str | None, declared: str | None) -> None:
        """The advice on a column's declared type (``col`` and ``declared`` typed: compiled, their comparisons and
        str methods are C calls)."""
        type_text = (declared or "").lower()
        base = type_text.split("(")[0].removesuffix("[]")  # an array of the type gets the same advice
        if base in ("timestamp",):
            self._add(result, "prefer-timestamptz", f"column {col} is timestamp without time zone")
        elif base in ("bpchar", "char", "character"):
            self._add(result, "ban-char-field", f"column {col} is {type_text}")
        elif base == "json":
            self._add(result, "prefer-jsonb", f"column {col} is json")
        elif base in ("serial", "serial4", "bigserial", "serial8"):
            self._add(result, "prefer-identity", f"column {col} is {base}")
        elif (
            base in ("int4", "int", "integer", "serial4", "int2", "smallint")
            and col
            and (col == "id" or col.endswith("_id"))
        ):
            self._add(result, "prefer-bigint-over-int", f"key column {col} is {base}")
        elif base == "varchar" and "(" in type_text:
            self._add(result, "prefer-text-field", f"column {col} is {type_text}")

    def _fold_descendants(
        self, pending: list[tuple[str, str, str, str, str]]
    ) -> list[tuple[str, str, str, str, str, int]]:
        """One blocking-lock finding for a table and the partitions/children locked the same way (a table with
        hundreds of partitions gets one line, not hundreds); the locks themselves stay listed one by one."""
        if self.facts is None or len(pending) < 2:
            return [(rel, mode, what, why, sev, 0) for rel, mode, what, why, sev in pending]
        same = {(rel, mode, why) for rel, mode, _what, why, _sev in pending}
        out: list[tuple[str, str, str, str, str, int]] = []
        hidden: set[str] = set()
        for rel, mode, what, why, sev in pending:
            if rel in hidden:
                continue
            folded = [d for d in self.facts.descendants(rel) if (d, mode, why) in same and d not in hidden]
            hidden.update(folded)
            out.append((rel, mode, what, why, sev, len(folded)))
        return [entry for entry in out if entry[0] not in hidden]

    def _lock_rules(self, result: StatementAnalysis, actions: list[Action]) -> None:
        slow: set[str] | frozenset[str] = _NONE
        if result.scans:  # the rewritten relations are among them
            facts, created = self.facts, self.created
            # a loop, not a set comprehension (a function object and a call per statement, interpreted)
            scanned: set[str] = set()
            for r in result.scans:
                if r not in created and (facts is None or not small_table(r, facts)):
                    scanned.add(r)
            slow = scanned
        elif not result.locks:
            return
        self.lock_findings = {}
        pending: list[tuple[str, str, str, str, str]] = []
        created, write_blocking = self.created, lock_modes.BLOCKS_WRITES
        refresh_concurrently = (
            {r for a in actions if a.form == _REFRESH_CONCURRENTLY for r in a.roles.get("table", [])}
            if _REFRESH_CONCURRENTLY in result.forms
            else _NONE
        )
        for lock in result.locks:
            rel = lock.relation
            if rel in created or lock.mode not in write_blocking:
                continue
            what = "/".join(lock.blocks)
            if rel in refresh_concurrently and "reads" not in lock.blocks:
                # a materialized view takes no writes: readers go on, the lock only keeps other refreshes out
                self._add(result, "blocking-lock", f"{lock.mode} on {rel} blocks {what} (readers go on)", INFO)
                continue
            if not self.lock_timeout_set and not self.lock_timeout_reported:
                self.lock_timeout_reported = True
                self._add(result, "lock-timeout-missing", f"{lock.mode} on {rel} is requested without lock_timeout")
            if rel in slow:
                sev, why = WARNING, "held while the table is " + ("rewritten" if rel in result.rewrites else "scanned")
            elif not self.lock_timeout_set:
                sev, why = WARNING, "requested without lock_timeout"
            else:
                sev, why = INFO, "brief"
            pending.append((rel, lock.mode, what, why, sev))
        if not pending:
            pass
        elif self.facts is None or len(pending) < 2:  # nothing to fold: skip building the folded tuples
            for rel, mode, what, why, sev in pending:
                self.lock_findings[rel] = self._add(
                    result, "blocking-lock", f"{mode} on {rel} blocks {what} ({why})", sev
                )
        else:
            self._lock_findings_folded(result, pending)
        if slow and not self.statement_timeout_set and not self.statement_timeout_reported:
            self._statement_timeout_rule(result, slow, refresh_concurrently)
        if result.transactional and self.held and slow:
            self._slow_under_held(result, actions, slow)

    def _lock_findings_folded(self, result: StatementAnalysis, pending: list[tuple[str, str, str, str, str]]) -> None:
        for rel, mode, what, why, sev, folded in self._fold_descendants(pending):
            also = f" and {folded} of its partitions/children" if folded else ""
            self.lock_findings[rel] = self._add(
                result, "blocking-lock", f"{mode} on {rel}{also} blocks {what} ({why})", sev
            )

    def _slow_under_held(
        self, result: StatementAnalysis, actions: list[Action], slow: set[str] | frozenset[str]
    ) -> None:
        """Slow work while locks taken earlier in this transaction are held: they last until it ends."""
        own = {lock.relation: lock.mode for lock in result.locks}
        strength = lock_modes.STRENGTH
        # a lock this statement takes again, as strong, blocks the same sessions for its work anyway
        held = [
            h
            for h in self.held.values()
            if not h.origin and not (h.relation in own and strength[own[h.relation]] >= strength[h.mode])
        ]  # (this statement's own locks join self.held after its rules ran)
        # locks an earlier revision took: env.py without transaction_per_migration runs the pending revisions
        # in one transaction under `alembic upgrade`; migtui's runner commits each revision
        carried = not held
        if carried:
            held = [
                h
                for h in self.held.values()
                if h.origin and not (h.relation in own and strength[own[h.relation]] >= strength[h.mode])
            ]
            if not held:
                return
        # the lock on the table this statement works on first, then the strongest
        held.sort(key=lambda h: (h.relation not in slow and h.relation not in own, -strength[h.mode]))
        first = held[0]
        action = next((a for a in actions if a.form in DML_FORMS or set(a.roles.get("table", [])) & slow), None)
        if action is None:
            action = actions[0]
        spec = FORMS[action.form]
        table = action.table if action.table else sorted(slow)[0]
        work = describe_work(action.form, spec.title, table, action.info)
        blocks = lock_modes.blocks(first.mode)
        message = (
            f"{work} runs while {first.mode} on {first.relation}, taken at {first.where()}, is held: "
            f"{blocked_work(blocks, first.relation)}"
        )
        others = [h.relation for h in held[1:]]
        if others:
            message += f" (also held: {', '.join(others)})"
        severity = ERROR if any("reads" in lock_modes.blocks(h.mode) for h in held) else WARNING
        hint = safe_rewrite(action.form, self.alembic)
        if carried:
            severity = WARNING
            message += (
                " when applied with `alembic upgrade`: env.py runs the pending revisions in one transaction "
                "(`migtui up` commits each revision)"
            )
            hint = "set transaction_per_migration=True in env.py's context.configure(), or deploy with migtui up"
        self._add(result, "slow-statement-while-lock-held", message, severity, hint=hint)
        if carried:
            return
        for h in held:  # the earlier lock is not brief: it lasts through this statement
            if h.finding is not None and not h.slow_seen:
                h.slow_seen = True
                h.finding.severity = _at_least_warning(h.finding.severity)
                h.finding.message = (
                    f"{h.finding.message.rsplit(' (', 1)[0]} (held until the "
                    f"transaction ends, through {work} at line {result.line})"
                )

    def _learn(self, action: Action) -> None:
        info, know, form = action.info, self.knowledge, action.form
        tables = action.roles.get("table")  # action.table, without the property call
        table = (tables[0] if tables else None) or ""
        if info.get("constraint") and form.startswith("add-"):
            know.constraints.add((table, info["constraint"]))
        if form == "create-table":
            created = info.get("created", "")
            columns = info.get("columns", [])
            types = know.column_types.setdefault(created, {}) if columns else {}
            # typed (compiled: their gets are C calls): the column's ColumnDef node and each constraint wrapper
            col: dict[str, Any]
            con: dict[str, Any]
            for name, type_text, col in columns:
                types[name] = type_text
                for con in col.get("constraints") or []:
                    if con.get("Constraint", {}).get("contype") in ("CONSTR_NOTNULL", "CONSTR_PRIMARY"):
                        know.not_null_columns.add((created, name))
                        break
            for name in info.get("primary_key", []):
                know.not_null_columns.add((created, name))
            for name, referenced in info.get("foreign_keys", []):
                know.foreign_keys[(created, name)] = referenced
                know.constraints.add((created, name))
        elif form in ("create-index", "create-index-concurrently") and info.get("index") and action.roles.get("table"):
            indexed = action.roles["table"][0]
            know.index_tables[f"{indexed.split('.', 1)[0]}.{info['index']}"] = indexed
        elif form in ("drop-index", "drop-index-concurrently"):
            know.index_tables.pop(info.get("dropped", ""), None)
        elif form in ("add-foreign-key", "add-foreign-key-not-valid") and info.get("constraint"):
            know.foreign_keys[(table, info["constraint"])] = (action.roles.get("referenced") or [""])[0]
        elif form.startswith("add-column") and info.get("column"):
            know.column_types.setdefault(table, {})[info["column"]] = info.get("type", "")
            if info.get("not_null"):
                know.not_null_columns.add((table, info["column"]))
        elif form in ("alter-column-type", "alter-column-type-no-rewrite"):
            know.column_types.setdefault(table, {})[info.get("column", "")] = info.get("new_type", "")
        elif form in ("set-not-null", "set-not-null-with-check", "add-not-null-constraint") and info.get("column"):
            know.not_null_columns.add((table, info["column"]))
            know.nullable_columns.discard((table, info["column"]))
        elif form == "drop-not-null":
            know.not_null_columns.discard((table, info.get("column", "")))
            know.nullable_columns.add((table, info.get("column", "")))
        elif form in ("add-check", "add-check-not-valid") and info.get("not_null_column") and info.get("constraint"):
            know.not_null_checks[(table, info["constraint"])] = (info["not_null_column"], form == "add-check")
        elif form == "validate-constraint":
            key = (table, info.get("constraint", ""))
            if key in know.not_null_checks:
                know.not_null_checks[key] = (know.not_null_checks[key][0], True)
            else:  # a NOT VALID check the database already has (catalog facts)
                column = self.classifier.not_null_check_column(table, key[1])
                if column is not None:
                    know.not_null_checks[key] = (column, True)
        elif form in ("drop-constraint", "drop-foreign-key"):
            know.not_null_checks.pop((table, info.get("constraint", "")), None)
            know.foreign_keys.pop((table, info.get("constraint", "")), None)
            know.constraints.discard((table, info.get("constraint", "")))

    def _update_state(self, result: StatementAnalysis, actions: list[Action], item: StatementInput) -> None:
        for action in actions:
            form = action.form
            if form in _LEARN_FORMS:
                self._learn(action)
            info = action.info
            if info.get("created"):
                self.created.add(info["created"])
            setting: str = (info.get("name") or "").lower() if form == "set" else ""
            if setting and setting in ("lock_timeout", "statement_timeout", "transaction_timeout"):
                value = (info.get("value") or "").strip().lower()
                enabled = info.get("kind") != "VAR_RESET" and value not in ("0", "", "default")
                if setting == "lock_timeout":
                    self.lock_timeout_set = enabled
                elif setting == "statement_timeout" or self.pg_version >= 17:
                    self.statement_timeout_set = enabled
            if form == "transaction-control" and item.transactional is None:
                kind = info.get("kind")
                if kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
                    if not self.in_transaction and not self.alembic:
                        self.begin_line = result.line
                    self.in_transaction = True
                elif kind in (
                    "TRANS_STMT_COMMIT",
                    "TRANS_STMT_ROLLBACK",
                    "TRANS_STMT_COMMIT_PREPARED",
                    "TRANS_STMT_PREPARE",
                ):
                    self._end_transaction()
        if result.transactional:
            created, write_blocking = self.created, lock_modes.BLOCKS_WRITES
            for lock in result.locks:
                if lock.mode not in write_blocking or lock.relation in created:
                    continue
                if _REFRESH_CONCURRENTLY in result.forms and "reads" not in lock.blocks:
                    continue
                held = self.held.get(lock.relation)
                if held is None or lock_modes.STRENGTH[lock.mode] > lock_modes.STRENGTH[held.mode]:
                    finding = self.lock_findings.get(lock.relation)
                    self.held[lock.relation] = HeldLock(lock.relation, lock.mode, result.index, result.line, finding)
        elif self.held:
            self.held.clear()

    def _end_transaction(self) -> None:
        self.in_transaction = False
        self.begin_line = None
        self.held.clear()
        self.altered.clear()

    def transaction_boundary(self) -> None:
        """Called by the alembic render when a transaction ends (COMMIT of the revision / autocommit_block)."""
        self._end_transaction()

    def finish(self, results: list[StatementAnalysis]) -> list[Finding]:
        """File-level findings after the last statement (an uncommitted BEGIN in a raw file)."""
        out: list[Finding] = []
        if self.in_transaction and not self.alembic:
            rule = RULES["uncommitted-transaction"]
            out.append(Finding(rule.id, rule.severity, "BEGIN without COMMIT", rule.hint, self.last_line))
        return out


_Check = Callable[[Analyzer, StatementAnalysis, Action, StatementInput, bool], None]
_ADD_COLUMN_FORMS: Final = tuple(form for form in FORMS if form.startswith("add-column"))
# Analyzer's rule checks in the order they run, each with the forms it reports on: _apply_rules runs a check only
# for those forms. A check still tests the form itself, so a form listed here in vain costs time, never a finding;
# tests/analysis/test_rules.py checks that every form a check compares against is listed.
RULE_CHECKS: Final[list[tuple[_Check, tuple[str, ...]]]] = [
    (Analyzer._set_rules, ("set",)),
    (
        Analyzer._destructive_rules,
        (
            "drop-table",
            "drop-column",
            "drop-schema",
            "drop-constraint",
            "drop-foreign-key",
            "truncate",
            "truncate-cascade",
            "other",
        ),
    ),
    (
        Analyzer._add_column_rules,
        (
            "add-column-volatile-default",
            "add-column-serial",
            "add-column-identity",
            "add-column-stored-generated",
            "add-column-not-null",
        ),
    ),
    (
        Analyzer._column_type_advice,
        (*_ADD_COLUMN_FORMS, "create-table", "alter-column-type", "alter-column-type-no-rewrite"),
    ),
    (Analyzer._type_change_rules, ("alter-column-type", "alter-column-type-no-rewrite")),
    (Analyzer._column_rules, ("set-not-null", "add-not-null-constraint", "rename-column", "rename-table")),
    (
        Analyzer._constraint_index_rules,
        (
            "add-check",
            "add-foreign-key",
            "add-unique",
            "add-primary-key",
            "add-exclusion",
            "create-index",
            "drop-index",
            "drop-not-null",
            "create-type",
            "alter-type",
            "add-constraint-using-index",
        ),
    ),
    (Analyzer._reindex_rules, ("reindex", "reindex-concurrently")),
    (Analyzer._rerun_rule, (*_RERUN_FORMS, *_ADD_COLUMN_FORMS)),
    (
        Analyzer._table_rules,
        (
            "vacuum-full",
            "cluster",
            "refresh-materialized-view",
            "detach-partition",
            "attach-partition",
            "set-logged",
            "set-tablespace",
            "set-access-method",
            "lock-table",
            "update-all-rows",
            "delete-all-rows",
            "update",
            "delete",
            "do-block",
            "select",
            "alter-type-add-value",
            "transaction-control",
        ),
    ),
]
# the forms Analyzer._learn records something for (the constraint name of every add-* form among them)
_LEARN_FORMS: Final = frozenset(
    {form for form in FORMS if form.startswith("add-")}
    | {
        "create-table",
        "create-index",
        "create-index-concurrently",
        "drop-index",
        "drop-index-concurrently",
        "alter-column-type",
        "alter-column-type-no-rewrite",
        "set-not-null",
        "set-not-null-with-check",
        "drop-not-null",
        "validate-constraint",
        "drop-constraint",
        "drop-foreign-key",
    }
)
_FORM_CHECKS: Final[dict[str, tuple[_Check, ...]]] = {}
for _form in FORMS:
    _checks = tuple(check for check, forms in RULE_CHECKS if _form in forms)
    if _checks:
        _FORM_CHECKS[_form] = _checks


def analyze_sql(
    sql: str,
    pg_version: int = DEFAULT_PG_VERSION,
    facts: CatalogFacts | None = None,
    *,
    path: str | None = None,
    in_transaction: bool = False,
    lock_timeout_set: bool = False,
) -> list[StatementAnalysis]:
    """Analyze raw SQL (one migration). Raises ``SqlSyntaxError`` (exit 2) on malformed SQL.

    A raw file is not in a transaction unless it says BEGIN (``in_transaction`` overrides the start state).
    """
    analyzer = Analyzer(pg_version, facts, in_transaction=in_transaction, lock_timeout_set=lock_timeout_set)
    results = analyzer.analyze(iter_parse_sql(sql, path))
    tail = analyzer.finish(results)
    if tail and results:
        results[-1].findings.extend(tail)
    return results
