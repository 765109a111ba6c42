"""Live facts about one backend running a migration: state, what it waits on, pg_stat_progress_*.

Read from a separate (monitor) connection while the revision runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from migtui.pg.queries import QUERIES, load_query


@dataclass(frozen=True)
class Blocker:
    pid: int
    application_name: str
    state: str
    xact_start: str
    query: str

    def describe(self) -> str:
        app = self.application_name or "no application_name"
        from migtui.redact import redact_sql

        query = redact_sql(" ".join(self.query.split()))[:120]
        since = f", transaction open since {self.xact_start}" if self.xact_start else ""
        return f"pid {self.pid} ({app}, {self.state or 'unknown state'}{since}): {query}"


@dataclass(frozen=True)
class BackendSample:
    pid: int
    state: str = ""
    wait_event_type: str = ""
    wait_event: str = ""
    query: str = ""
    waiting_lock: str = ""  # e.g. "AccessExclusiveLock on relation public.orders"
    blockers: tuple[Blocker, ...] = field(default_factory=tuple)

    @property
    def waiting_on_lock(self) -> bool:
        return self.wait_event_type == "Lock"

    def waiting_for(self) -> str:
        if not self.waiting_on_lock:
            return ""
        lock = self.waiting_lock or f"{self.wait_event} lock"
        if self.blockers:
            return f"{lock} held by " + "; ".join(b.describe() for b in self.blockers)
        return lock


def sample_backend(conn, pid: int) -> BackendSample | None:
    """What backend ``pid`` is doing now; None if it is gone."""
    row = conn.execute(load_query(QUERIES, "backend_sample"), (pid,)).fetchone()
    if row is None:
        return None
    blockers = tuple(
        Blocker(int(b["pid"]), b["application_name"], b["state"], b["xact_start"], b["query"]) for b in (row[5] or [])
    )
    return BackendSample(pid, row[0] or "", row[1], row[2], row[3], row[4] or "", blockers)


def _pct(done, total) -> str:
    if total:
        return f" {100.0 * float(done) / float(total):.0f}% ({done}/{total})"
    return ""


def progress_report(conn, pid: int) -> str:
    """pg_stat_progress_create_index / cluster / vacuum for ``pid``, as one line ('' if none)."""
    parts: list[str] = []
    row = conn.execute(load_query(QUERIES, "backend_progress_create_index"), (pid,)).fetchone()
    if row:
        command, phase, bd, bt, td, tt, rel, idx = row
        detail = _pct(bd, bt) if bt else _pct(td, tt)
        parts.append(f"{command.lower()} {idx or ''} on {rel}: {phase}{detail}".replace("  ", " "))
    row = conn.execute(load_query(QUERIES, "backend_progress_cluster"), (pid,)).fetchone()
    if row:
        command, phase, done, total, rel = row
        parts.append(f"{command.lower()} {rel}: {phase}{_pct(done, total)}")
    row = conn.execute(load_query(QUERIES, "backend_progress_vacuum"), (pid,)).fetchone()
    if row:
        phase, done, total, rel = row
        parts.append(f"vacuum {rel}: {phase}{_pct(done, total)}")
    return "; ".join(parts)


def invalid_indexes(conn) -> set[str]:
    """INVALID indexes in this database (left behind e.g. by a failed CREATE INDEX CONCURRENTLY)."""
    rows = conn.execute(load_query(QUERIES, "invalid_indexes")).fetchall()
    return {str(r[0]) for r in rows}


@dataclass(frozen=True)
class InvalidIndex:
    """An INVALID index: what an interrupted or failed CREATE INDEX CONCURRENTLY leaves behind."""

    schema: str
    name: str
    table_schema: str
    table: str
    building: bool  # a build of it runs right now (INVALID until it ends): not a leftover

    @property
    def qualified(self) -> str:
        from psycopg import sql

        return sql.Identifier(self.schema, self.name).as_string(None)

    @property
    def fix(self) -> str:
        return f"DROP INDEX CONCURRENTLY {self.qualified};"

    def to_dict(self) -> dict[str, object]:
        from psycopg import sql

        return {
            "index": self.qualified,
            "table": sql.Identifier(self.table_schema, self.table).as_string(None),
            "building": self.building,
            "fix": self.fix,
        }


def invalid_index_details(conn) -> list[InvalidIndex]:
    """Every INVALID index in this database, with its table and whether it is being built right now."""
    rows = conn.execute(load_query(QUERIES, "invalid_index_details")).fetchall()
    return [InvalidIndex(str(r[0]), str(r[1]), str(r[2]), str(r[3]), bool(r[4])) for r in rows]


def leftover_indexes(conn) -> list[InvalidIndex]:
    """INVALID indexes no build is running for: leftovers a DBA has to drop (or rebuild)."""
    return [i for i in invalid_index_details(conn) if not i.building]


def terminate_backend(conn, pid: int) -> bool:
    return bool(conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0])


def cancel_backend(conn, pid: int) -> bool:
    return bool(conn.execute("SELECT pg_cancel_backend(%s)", (pid,)).fetchone()[0])
