"""Lock holds per revision: each read- or write-blocking lock, from the statement that takes it to the end of
its transaction, with how long other sessions wait for it.

``calibrate(dsn)`` measures work rates on the scratch server (the shadow's): it builds a throwaway table of
``CALIBRATION_ROWS`` rows shaped like a typical OLTP table (bigint key, a foreign-key-like bigint, a status,
a timestamptz, a short text; primary key plus one secondary index) and times each kind of work on it: an
UPDATE of every row, an INSERT ... SELECT, a CREATE INDEX, a type-change rewrite, a CHECK validation and a
FOREIGN KEY validation. ``statement_seconds`` applies those rates to the replica's numbers: the exact count
of rows an UPDATE/DELETE/INSERT touches, the table's heap and index size for index builds and rewrites, and
its row estimate for validation scans. ``lock_holds`` sums the statements a lock is held through.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from migtui.analysis import lock_modes

MB = 1024 * 1024
CALIBRATION_ROWS = 200_000

# rows per second / MB per second used when calibration could not run (a 2-core laptop, PostgreSQL 16)
DEFAULT_RATES = {
    "update_rows_s": 150_000.0,
    "insert_rows_s": 300_000.0,
    "delete_rows_s": 400_000.0,
    "check_rows_s": 3_000_000.0,
    "fk_rows_s": 500_000.0,
    "index_mb_s": 60.0,
    "rewrite_mb_s": 60.0,
}


@dataclass
class Rates:
    update_rows_s: float
    insert_rows_s: float
    delete_rows_s: float
    check_rows_s: float  # CHECK validation / SET NOT NULL: a sequential scan evaluating an expression
    fk_rows_s: float  # FOREIGN KEY validation: a join against the referenced table
    index_mb_s: float  # heap MB per second an index build reads and sorts
    rewrite_mb_s: float  # table MB (heap + indexes) per second a rewrite writes
    source: str = "default"  # "measured" (on the scratch server) | "default"
    seconds: float = 0.0  # what the calibration took
    measured: list[str] = field(default_factory=list)  # the rates timed (the work the pending statements do)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: round(v, 1) if isinstance(v, float) else v for k, v in data.items()}


def default_rates() -> Rates:
    return Rates(**DEFAULT_RATES)


_SETUP = [
    "CREATE TABLE {ref} (id bigint PRIMARY KEY)",
    "INSERT INTO {ref} SELECT g FROM generate_series(1, 1000) g",
    "CREATE TABLE {t} (id bigint PRIMARY KEY, account_id bigint NOT NULL, status text NOT NULL, "
    "total_cents integer NOT NULL, created_at timestamptz NOT NULL, note text)",
    "INSERT INTO {t} SELECT g, 1 + g % 1000, (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4], g % 100000, "
    "now() - g * interval '1 minute', NULL FROM generate_series(1, %(rows)s) g",
    "CREATE INDEX {idx_account} ON {t} (account_id)",
    "VACUUM ANALYZE {t}",
]
# (rate, statement, what the rate divides: "rows" | "heap" | "table")
_TIMED = [  # the UPDATE last but one: it leaves a dead version of every row behind, which would flatter the rest
    ("insert_rows_s", "INSERT INTO {copy} SELECT * FROM {t}", "rows"),
    ("check_rows_s", "ALTER TABLE {t} ADD CONSTRAINT {con_total} CHECK (total_cents >= 0)", "rows"),
    ("fk_rows_s", "ALTER TABLE {t} ADD CONSTRAINT {con_fk} FOREIGN KEY (account_id) REFERENCES {ref} (id)", "rows"),
    ("index_mb_s", "CREATE INDEX {idx_created} ON {t} (created_at)", "heap"),
    ("rewrite_mb_s", "ALTER TABLE {t} ALTER COLUMN total_cents TYPE bigint", "table"),
    ("update_rows_s", "UPDATE {t} SET note = 'n/a' WHERE note IS NULL", "rows"),
    ("delete_rows_s", "DELETE FROM {copy}", "rows"),
]


def needed_rates(statements: list[Any]) -> set[str]:
    """The rates the captured statements need (``ShadowStatement``s): a revision of ADD COLUMNs needs none."""
    needed: set[str] = set()
    for stmt in statements:
        words = " ".join(str(stmt.sql).upper().split())
        first = words.split(" ", 1)[0] if words else ""
        if first in ("UPDATE", "WITH", "MERGE"):
            needed.add("update_rows_s")
        elif first == "DELETE":
            needed.add("delete_rows_s")
        elif first == "INSERT":
            needed.add("insert_rows_s")
        if stmt.rewritten:
            needed.add("rewrite_mb_s")
        if "INDEX" in words or "UNIQUE" in words or "PRIMARY KEY" in words:
            needed.add("index_mb_s")
        if "FOREIGN KEY" in words or "REFERENCES" in words:
            needed.add("fk_rows_s")
        if stmt.scanned or "CHECK" in words or "NOT NULL" in words or "VALIDATE" in words:
            needed.add("check_rows_s")
    return needed


def calibrate(dsn: str, needed: set[str] | None = None, rows: int = CALIBRATION_ROWS) -> Rates:
    """Time each kind of work in ``needed`` (default: all) on a throwaway table in the database ``dsn`` names
    (dropped afterwards); the others keep their default rates."""
    import psycopg
    from psycopg import sql

    started = time.monotonic()
    t = f"migtui_calibration_{int(started * 1000) % 10**9}"
    names = {"t": t, "ref": f"{t}_ref"}
    measured: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True, application_name="migtui-dry-run-calibration") as conn:
        try:
            conn.execute("SET statement_timeout = '120s'")
            for text in _SETUP:
                conn.execute(sql.SQL(text.replace("%(rows)s", str(int(rows)))).format(**_ids(names)))
            conn.execute(sql.SQL("CREATE TABLE {copy} (LIKE {t})").format(**_ids(names)))
            for rate, text, basis in _TIMED:
                wanted = needed is None or rate in needed or (rate == "insert_rows_s" and "delete_rows_s" in needed)
                if not wanted:  # (the INSERT fills the table the DELETE empties)
                    continue
                size = _sizes(conn, t)
                begun = time.monotonic()
                conn.execute(sql.SQL(text).format(**_ids(names)))
                took = max(time.monotonic() - begun, 1e-4)
                amount = rows if basis == "rows" else size[basis] / MB
                measured[rate] = amount / took
        finally:
            for name in (f"{t}_copy", t, f"{t}_ref"):  # the referencing table before the referenced one
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
    return Rates(
        **{**DEFAULT_RATES, **measured},
        source="measured",
        seconds=time.monotonic() - started,
        measured=sorted(measured),
    )


def _ids(names: dict[str, str]) -> dict[str, Any]:
    from psycopg import sql

    t = names["t"]
    spelled = {"copy": f"{t}_copy", "idx_account": f"{t}_account", "idx_created": f"{t}_created"}
    spelled.update({"con_total": f"{t}_total", "con_fk": f"{t}_fk"})
    return {key: sql.Identifier(value) for key, value in {**names, **spelled}.items()}


def _sizes(conn: Any, table: str) -> dict[str, float]:
    row = conn.execute(
        "SELECT pg_table_size(c.oid), pg_table_size(c.oid) + pg_indexes_size(c.oid) FROM pg_class c "
        "WHERE c.oid = to_regclass(%s)",
        (table,),
    ).fetchone()
    return {"heap": float(row[0]), "table": float(row[1])}


_SCAN_FORMS = {
    "add-check": "check_rows_s",
    "validate-constraint": "check_rows_s",
    "set-not-null": "check_rows_s",
    "add-not-null-constraint": "check_rows_s",
    "attach-partition": "check_rows_s",
    "add-foreign-key": "fk_rows_s",
    "validate-foreign-key": "fk_rows_s",
}
_INDEX_FORMS = {"create-index", "add-unique", "add-primary-key", "add-exclusion", "reindex"}


def statement_seconds(report: dict[str, Any], stats: Any, rates: Rates) -> float | None:
    """How long one statement runs on the target's data, from the calibrated rates; None without numbers."""
    forms = report.get("forms") or []
    rows = (report.get("rows") or {}).get("count")
    if report.get("error"):
        return None
    if any(f.startswith(("update", "merge")) for f in forms):
        return None if rows is None else rows / rates.update_rows_s
    if any(f.startswith("delete") for f in forms):
        return None if rows is None else rows / rates.delete_rows_s
    if "insert" in forms:
        return None if rows is None else rows / rates.insert_rows_s
    if stats is None:
        return 0.0 if not (report.get("rewrite") or report.get("scan")) else None
    if report.get("rewrite"):
        return stats.table_bytes / MB / rates.rewrite_mb_s
    if any(f in _INDEX_FORMS for f in forms):
        return stats.heap_bytes / MB / rates.index_mb_s
    table_rows = stats.live_rows_estimate or 0
    for form in forms:
        if form in _SCAN_FORMS:
            return table_rows / getattr(rates, _SCAN_FORMS[form])
    if report.get("scan"):
        return table_rows / rates.check_rows_s
    return 0.0


def _blocking_locks(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(relation, mode) of the read- or write-blocking locks a statement takes on relations it did not create:
    what the shadow observed in pg_locks, else the model's."""
    observed = report.get("observed_locks")
    if observed is not None:
        pairs = [(lk["relation"], lk["mode"]) for lk in observed if not lk.get("created") and lk["kind"] != "index"]
    else:
        pairs = [(lk["relation"], lk["mode"]) for lk in report.get("locks") or []]
    out: dict[str, str] = {}
    for relation, mode in pairs:
        if mode in lock_modes.STRENGTH and lock_modes.blocks_writes(mode):
            name = relation if "." in relation else f"public.{relation}"
            out[name] = lock_modes.stronger(out.get(name), mode)
    return list(out.items())


def _statement_ref(report: dict[str, Any]) -> dict[str, Any]:
    sql_text = " ".join(str(report.get("sql") or "").split())
    return {
        "index": report.get("index"),
        "line": report.get("line"),
        "statement": report.get("statement"),
        "sql": sql_text if len(sql_text) <= 80 else sql_text[:77] + "...",
    }


def lock_holds(statements: list[dict[str, Any]], seconds: list[float | None]) -> list[dict[str, Any]]:
    """The revision's lock holds: per relation and mode, the statement that took it, what ends it (the
    revision's COMMIT, or an autocommit_block() that commits first), the estimated seconds from the taking
    statement to that end, and what the lock blocks. ``seconds``: each statement's estimate (None: unknown)."""
    holds: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}

    def close(end: dict[str, Any], last: int) -> None:
        for hold in open_.values():
            run = seconds[hold["_from"] : last + 1]
            hold["estimated_seconds"] = round(sum(s for s in run if s is not None), 3)
            hold["estimate_complete"] = None not in run
            hold["released_by"] = end
            hold["through"] = last - hold["_from"] + 1
            del hold["_from"]
            holds.append(hold)
        open_.clear()

    for position, report in enumerate(statements):
        line = report.get("line")
        if not report.get("transactional"):
            if open_:
                close({"statement": "COMMIT", "why": "autocommit_block() commits first", "line": line}, position - 1)
            for relation, mode in _blocking_locks(report):  # held while this statement alone runs
                open_[f"{relation} {mode}"] = _hold(relation, mode, report, position)
            close({"statement": "end of statement", "why": "runs outside a transaction", "line": line}, position)
            continue
        for relation, mode in _blocking_locks(report):
            modes = [h["mode"] for h in open_.values() if h["relation"] == relation]
            # a stronger mode is a hold of its own (it blocks more from here); the weaker one stays until the end
            if all(lock_modes.STRENGTH[mode] > lock_modes.STRENGTH[m] for m in modes):
                open_[f"{relation} {mode}"] = _hold(relation, mode, report, position)
    if open_:
        close({"statement": "COMMIT", "why": "end of the revision's transaction", "line": None}, len(statements) - 1)
    holds.sort(key=lambda h: (-(h["estimated_seconds"] or 0), h["taken_by"]["index"] or 0))
    return holds


def _hold(relation: str, mode: str, report: dict[str, Any], position: int) -> dict[str, Any]:
    return {
        "relation": relation,
        "mode": mode,
        "blocks": lock_modes.blocks(mode),
        "taken_by": _statement_ref(report),
        "_from": position,
    }


def hold_line(hold: dict[str, Any]) -> str:
    """One hold as a line of text (the dry-run's text output, the TUI)."""
    taken = hold["taken_by"]
    where = f"line {taken['line']}" if taken.get("line") else f"statement {(taken.get('index') or 0) + 1}"
    end = hold["released_by"]
    seconds = hold["estimated_seconds"]
    estimate = f"~{seconds:.1f}s" if seconds >= 0.05 else "brief"
    if not hold.get("estimate_complete", True):
        estimate += " (some statements unestimated)"
    through = hold.get("through", 1)
    return (
        f"{hold['mode']} on {hold['relation']} blocks {', '.join(hold['blocks']) or 'nothing'}: taken by "
        f"{taken.get('statement') or 'statement'} at {where}, held until {end['statement']} "
        f"({end['why']}) through {through} statement{'s' if through != 1 else ''}: {estimate}"
    )
