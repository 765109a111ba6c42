"""Transaction-long lock holds: a lock is released when its transaction ends, not when its statement does.

Pure helpers for ``migtui.analysis.analyze.Analyzer``: which WHERE clauses bound a statement to a few rows
(a narrow key predicate), how to name a statement's work in a finding, and the record of one lock held in the
open transaction.
"""

from __future__ import annotations

import re
from typing import Any, Final

from orjson import dumps as _dumps

from migtui.analysis.facts import CatalogFacts
from migtui.events import Finding

# A table with fewer rows than this (catalog estimate) is small: a full scan of it is brief.
SMALL_TABLE_ROWS: Final = 10_000

_KEY_NAMES: Final = frozenset({"id", "ctid", "pk", "uuid"})
_CONSTRAINT_COLUMNS: Final = re.compile(r"(?:PRIMARY KEY|UNIQUE)\s*\(([^)]*)\)", re.IGNORECASE)


class HeldLock:
    """A write- or read-blocking lock taken earlier in the open transaction (kept until it ends)."""

    def __init__(self, relation: str, mode: str, index: int, line: int, finding: Finding | None) -> None:
        self.relation = relation
        self.mode = mode
        self.index = index  # the statement that took it (0-based)
        self.line = line  # its source line
        self.finding = finding  # its blocking-lock finding, judged again when slow work runs under the lock
        self.slow_seen = False
        self.origin = ""  # the revision that took it, when an earlier revision of the same transaction did

    def where(self) -> str:
        return f"line {self.line} of revision {self.origin}" if self.origin else f"line {self.line}"


def short_name(relation: str) -> str:
    return relation[7:] if relation.startswith("public.") else relation


def key_columns(table: str | None, facts: CatalogFacts | None) -> set[str]:
    """Columns whose equality or range bounds a statement to few rows: id-like names and, with a catalog,
    the columns of the table's primary key and unique constraints."""
    keys = set(_KEY_NAMES)
    if facts is not None and table:
        for con in facts.constraints.get(table, ()):
            if con.type in ("p", "u"):
                match = _CONSTRAINT_COLUMNS.search(con.definition)
                if match:
                    keys.update(c.strip().strip('"').lower() for c in match.group(1).split(","))
    return keys


def _column(node: Any) -> str | None:
    if isinstance(node, dict) and "ColumnRef" in node:
        fields = node["ColumnRef"].get("fields") or []
        last = fields[-1] if fields else None
        if isinstance(last, dict) and "String" in last:
            return str(last["String"].get("sval", "")).lower()
    return None


def _has_column(node: Any) -> bool:
    # a ColumnRef node anywhere below: its key in the tree serialized in C (orjson writes no spaces, and in a string
    # value the quotes are escaped, so '"ColumnRef":' is only ever the key); walking the tree costs several times more
    return b'"ColumnRef":' in _dumps(node)


def _is_key(column: str | None, keys: set[str]) -> bool:
    return column is not None and (column in keys or column.endswith("_id"))


def _op(expr: dict[str, Any]) -> str:
    names = expr.get("name") or []
    last = names[-1] if names else {}
    return str(last.get("String", {}).get("sval", "")) if isinstance(last, dict) else ""


def _conjuncts(node: Any) -> list[Any]:
    if isinstance(node, dict) and "BoolExpr" in node and node["BoolExpr"].get("boolop") == "AND_EXPR":
        out: list[Any] = []
        for arg in node["BoolExpr"].get("args") or []:
            out.extend(_conjuncts(arg))
        return out
    return [node]


def narrow_predicate(where: Any, keys: set[str]) -> bool:
    """Whether a WHERE clause bounds the statement to a key, a key list or a key range (a batch).

    Narrow: ``key = value``, ``key IN (values)``, ``key = ANY(...)``, ``key BETWEEN a AND b``, both bounds of
    ``key`` (``id >= a AND id < b``), ``key IN (SELECT ... LIMIT n)``, ``WHERE CURRENT OF``. Anything else
    (``note IS NULL``, ``status = 'x'``, a date range) may match most of the table."""
    if not where:
        return False
    bounds: dict[str, set[str]] = {}
    for node in _conjuncts(where):
        if not isinstance(node, dict):
            continue
        if "CurrentOfExpr" in node:
            return True
        if "SubLink" in node:
            link = node["SubLink"]
            sub = (link.get("subselect") or {}).get("SelectStmt") or {}
            if (
                link.get("subLinkType") == "ANY_SUBLINK"
                and _is_key(_column(link.get("testexpr")), keys)
                and sub.get("limitCount")
            ):
                return True
            continue
        expr = node.get("A_Expr")
        if not expr:
            continue
        kind, op = expr.get("kind"), _op(expr)
        left, right = expr.get("lexpr"), expr.get("rexpr")
        column = _column(left)
        value = right
        if not _is_key(column, keys) and kind == "AEXPR_OP":  # value = key
            column, value = _column(right), left
        if not _is_key(column, keys) or _has_column(value):
            continue
        if kind in ("AEXPR_IN", "AEXPR_BETWEEN", "AEXPR_BETWEEN_SYM") or (kind == "AEXPR_OP_ANY" and op == "="):
            return True
        if kind == "AEXPR_OP":
            if op == "=":
                return True
            if op in ("<", "<=", ">", ">="):
                low = op in (">", ">=") if column == _column(left) else op in ("<", "<=")
                seen = bounds.setdefault(column or "", set())
                seen.add("low" if low else "high")
                if len(seen) == 2:
                    return True
    return False


def small_table(relation: str, facts: CatalogFacts | None) -> bool:
    """Known (from the catalog) to have so few rows that a scan or rewrite of it is brief."""
    if facts is None:
        return False
    rows = facts.estimated_rows.get(relation)
    return rows is not None and 0 <= rows < SMALL_TABLE_ROWS


def blocked_work(mode_blocks: list[str], relation: str) -> str:
    """What other sessions wait for while a lock with these ``blocks`` is held."""
    name = short_name(relation)
    if "reads" in mode_blocks:
        return f"every read and write of {name} waits for it"
    if "writes" in mode_blocks:
        return f"every write to {name} waits for it (reads go on)"
    return f"schema changes and maintenance on {name} wait for it"


_DML_VERB: Final = {
    "update": "UPDATE",
    "update-all-rows": "UPDATE",
    "delete": "DELETE FROM",
    "delete-all-rows": "DELETE FROM",
    "insert": "INSERT INTO",
    "merge": "MERGE INTO",
}
DML_FORMS: Final = frozenset(_DML_VERB)


def describe_work(form: str, title: str, table: str | None, info: dict[str, Any]) -> str:
    """A short name of a statement's work for a finding: ``UPDATE orders``, ``CREATE INDEX on orders``."""
    name = short_name(table) if table else ""
    if form in _DML_VERB:
        return f"{_DML_VERB[form]} {name}".strip()
    if form.startswith("validate-") and info.get("constraint"):
        return f"VALIDATE CONSTRAINT {info['constraint']} on {name}"
    return f"{title} on {name}" if name else title


def safe_rewrite(form: str, alembic: bool) -> str:
    """The fix for slow work under a held lock, by kind of work."""
    if form in DML_FORMS:
        if alembic:
            return (
                "commit before the backfill: move it to its own revision or run it in key-range batches inside "
                "op.get_context().autocommit_block() (or use the phased helper: migtui phase)"
            )
        return "COMMIT before the backfill and run it in key-range batches, each in its own transaction"
    if form == "create-index":
        if alembic:
            return (
                "with op.get_context().autocommit_block(): op.create_index(..., postgresql_concurrently=True), "
                "outside the transaction holding the lock"
            )
        return "CREATE INDEX CONCURRENTLY after COMMIT, outside the transaction holding the lock"
    if form.startswith("validate-"):
        if alembic:
            return "put the VALIDATE CONSTRAINT in the next revision, or inside op.get_context().autocommit_block()"
        return "COMMIT between ADD ... NOT VALID (or the other DDL) and VALIDATE CONSTRAINT"
    if alembic:
        return "split the revision so the slow statement runs in its own transaction, before the strong lock is taken"
    return "run the slow statement in its own transaction (COMMIT first), before the strong lock is taken"
