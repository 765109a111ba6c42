"""Live lock / activity monitor: one sample of pg_stat_activity + pg_locks + pg_blocking_pids +
pg_stat_progress_* as plain dataclasses, and the lock tree (who blocks whom) built from it.

Headless: used by ``migtui monitor`` (TUI panel or ``--once`` text/JSON) and by the TUI's apply view.

    with Monitor(dsn, interval=1.0) as monitor:
        snap = monitor.sample()
        for line in lock_tree_lines(snap):
            print(line)

The monitor uses its own connection (``application_name`` ``migtui-monitor``), runs every query under a
``statement_timeout`` shorter than its refresh period, and leaves its own backend out of every result.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

from migtui.errors import ConnectionFailed, MigtuiError
from migtui.pg.connect import connect, describe_error
from migtui.pg.queries import QUERIES, load_query

MONITOR_APPLICATION_NAME = "migtui-monitor"
DEFAULT_LONG_TRANSACTION_SECONDS = 60.0

# Backends worth showing: sessions and the autovacuum workers that take locks too.
_BACKEND_TYPES = ("client backend", "autovacuum worker", "parallel worker", "background worker")

# pg_stat_progress_* views by the command they report on, and the query that reads each one
_PROGRESS_QUERIES = (
    ("create index", "monitor_progress_create_index"),
    ("vacuum", "monitor_progress_vacuum"),
    ("cluster", "monitor_progress_cluster"),
    ("analyze", "monitor_progress_analyze"),
    ("copy", "monitor_progress_copy"),
)


@dataclass(frozen=True)
class SessionInfo:
    """One backend from pg_stat_activity (ages in seconds, None when not applicable)."""

    pid: int
    database: str | None
    user: str | None
    application_name: str
    client_addr: str | None
    backend_type: str
    state: str | None
    wait_event_type: str | None
    wait_event: str | None
    xact_age: float | None
    query_age: float | None
    state_age: float | None
    query: str
    blocked_by: tuple[int, ...] = ()

    @property
    def waiting(self) -> bool:
        return bool(self.blocked_by)

    @property
    def wait(self) -> str:
        """``Lock:relation`` style wait description, or ``""``."""
        if not self.wait_event_type:
            return ""
        return f"{self.wait_event_type}:{self.wait_event}" if self.wait_event else self.wait_event_type


@dataclass(frozen=True)
class LockInfo:
    """One row of pg_locks (the monitor's own backend and granted virtualxid locks left out)."""

    pid: int
    locktype: str
    mode: str
    granted: bool
    fastpath: bool
    database_oid: int | None
    relation_oid: int | None
    page: int | None
    tuple: int | None
    virtualxid: str | None
    transactionid: str | None
    classid: int | None
    objid: int | None
    objsubid: int | None
    relation: str | None  # schema-qualified name when the relation is in the monitored database
    wait_seconds: float | None = None  # how long an ungranted lock has waited (PostgreSQL 14+)

    @property
    def target_key(self) -> tuple[Any, ...]:
        """Identifies the lockable object (two rows with the same key conflict or share)."""
        return (
            self.locktype,
            self.database_oid,
            self.relation_oid,
            self.page,
            self.tuple,
            self.virtualxid,
            self.transactionid,
            self.classid,
            self.objid,
            self.objsubid,
        )

    @property
    def target(self) -> str:
        """Human description of the locked object."""
        rel = self.relation or (f"relation oid {self.relation_oid}" if self.relation_oid is not None else "?")
        match self.locktype:
            case "relation":
                return rel
            case "tuple":
                return f"row ({self.page},{self.tuple}) of {rel}"
            case "page":
                return f"page {self.page} of {rel}"
            case "extend":
                return f"extension of {rel}"
            case "transactionid":
                return f"transaction {self.transactionid}"
            case "virtualxid":
                return f"virtual transaction {self.virtualxid}"
            case "advisory":
                return f"advisory lock ({self.classid},{self.objid})"
            case _:
                return f"{self.locktype} ({self.classid},{self.objid},{self.objsubid})"


@dataclass(frozen=True)
class ProgressInfo:
    """A row from one of the pg_stat_progress_* views."""

    pid: int
    command: str  # "create index" | "vacuum" | "cluster" | "analyze" | "copy"
    relation: str | None
    phase: str
    done: int | None
    total: int | None
    tuples_done: int | None = None
    tuples_total: int | None = None

    @property
    def percent(self) -> float | None:
        if self.done is None or not self.total:
            return None
        return 100.0 * self.done / self.total

    def describe(self) -> str:
        text = f"{self.command}: {self.phase}"
        if self.relation:
            text = f"{self.command} on {self.relation}: {self.phase}"
        pct = self.percent
        if pct is not None:
            text += f" {pct:.0f}% ({self.done}/{self.total})"
        return text


@dataclass(frozen=True)
class LockEdge:
    """``waiter`` waits for a lock that ``blocker`` holds (or is queued ahead for).

    ``blocker_mode`` is the blocker's lock on the same object that conflicts with ``wanted_mode`` in
    PostgreSQL's conflict table (``migtui.analysis.lock_modes``): the strongest such granted lock, else (the
    queue case) its conflicting request that is waiting ahead of the waiter.
    """

    waiter: int
    blocker: int
    wanted_mode: str | None  # the waiter's ungranted lock mode
    target: str  # what is locked ("public.orders", "transaction 1234", ...)
    blocker_mode: str | None  # the blocker's conflicting lock on the same object (None: not identified)
    blocker_granted: bool  # False: the blocker is itself only queued ahead of the waiter
    blocker_state: str | None = None  # pg_stat_activity.state of the blocker ("idle in transaction", ...)
    blocker_age: float | None = None  # seconds in that state (idle) or in its current query (active)

    @property
    def queued(self) -> bool:
        """The blocker holds nothing that conflicts: its own request is ahead of the waiter's in the queue."""
        return self.blocker_mode is not None and not self.blocker_granted

    def describe(self) -> str:
        """ "waits for RowExclusiveLock on public.accounts: blocked by AccessExclusiveLock held by pid 123
        (idle in transaction 12 s)", or "...: queued behind pid 456's AccessExclusiveLock request (active 3 s)"."""
        wanted = self.wanted_mode or "a lock"
        who = f"pid {self.blocker}"
        if self.blocker_mode is None:
            cause = f"blocked by {who}"
        elif self.blocker_granted:
            cause = f"blocked by {self.blocker_mode} held by {who}"
        else:
            cause = f"queued behind {who}'s {self.blocker_mode} request"
        if self.blocker_state:
            age = f" {age_words(self.blocker_age)}" if self.blocker_age is not None else ""
            cause += f" ({self.blocker_state}{age})"
        return f"waits for {wanted} on {self.target}: {cause}"

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "queued": self.queued, "description": self.describe()}


@dataclass(frozen=True)
class LockTreeNode:
    """A session in the lock tree; ``edge`` says how it waits for its parent (None for a root)."""

    pid: int
    edge: LockEdge | None
    children: tuple[LockTreeNode, ...] = ()
    cycle: bool = False  # this pid already appears above it (a deadlock about to be detected)

    def walk(self, depth: int = 0):
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


@dataclass(frozen=True)
class MonitorSample:
    taken_at: float
    server_version: str
    server_version_num: int
    database: str
    own_pid: int
    sessions: tuple[SessionInfo, ...]
    locks: tuple[LockInfo, ...]
    progress: tuple[ProgressInfo, ...]
    edges: tuple[LockEdge, ...]
    lock_tree: tuple[LockTreeNode, ...]
    query_seconds: float = 0.0

    def session(self, pid: int) -> SessionInfo | None:
        for s in self.sessions:
            if s.pid == pid:
                return s
        return None

    @property
    def blocked(self) -> tuple[SessionInfo, ...]:
        """Sessions waiting for a lock held (or queued for) by another session."""
        return tuple(s for s in self.sessions if s.blocked_by)

    @property
    def blocking_pids(self) -> tuple[int, ...]:
        return tuple(sorted({b for s in self.sessions for b in s.blocked_by}))

    @property
    def blocking(self) -> tuple[SessionInfo, ...]:
        pids = set(self.blocking_pids)
        return tuple(s for s in self.sessions if s.pid in pids)

    def long_transactions(
        self, min_seconds: float = DEFAULT_LONG_TRANSACTION_SECONDS, relations: set[str] | None = None
    ) -> tuple[SessionInfo, ...]:
        """Sessions whose transaction is older than ``min_seconds``; with ``relations``, only those holding
        a lock on one of them (the migration's target tables), oldest first."""
        holders: set[int] | None = None
        if relations is not None:
            holders = {lk.pid for lk in self.locks if lk.relation in relations}
        out = [
            s
            for s in self.sessions
            if s.xact_age is not None and s.xact_age >= min_seconds and (holders is None or s.pid in holders)
        ]
        return tuple(sorted(out, key=lambda s: -(s.xact_age or 0)))

    def locks_of(self, pid: int) -> tuple[LockInfo, ...]:
        return tuple(lk for lk in self.locks if lk.pid == pid)

    def to_dict(self) -> dict[str, Any]:
        def node(n: LockTreeNode) -> dict[str, Any]:
            return {
                "pid": n.pid,
                "waits_for": n.edge.to_dict() if n.edge else None,
                "cycle": n.cycle,
                "children": [node(c) for c in n.children],
            }

        return {
            "taken_at": self.taken_at,
            "server_version": self.server_version,
            "database": self.database,
            "sessions": [{**dataclasses.asdict(s), "blocked_by": list(s.blocked_by)} for s in self.sessions],
            "locks": [
                {k: v for k, v in dataclasses.asdict(lk).items() if k not in ("database_oid",)} | {"target": lk.target}
                for lk in self.locks
            ],
            "progress": [dataclasses.asdict(p) for p in self.progress],
            "blocked": [s.pid for s in self.blocked],
            "blocking": list(self.blocking_pids),
            "waits": [e.to_dict() for e in self.edges],
            "lock_tree": [node(n) for n in self.lock_tree],
        }


# -- lock tree construction (pure) ------------------------------------------------------------------------


def lock_edges(
    sessions: tuple[SessionInfo, ...] | list[SessionInfo], locks: tuple[LockInfo, ...] | list[LockInfo]
) -> tuple[LockEdge, ...]:
    """One edge per (waiter, blocker) pair from pg_blocking_pids, labelled with the lock modes involved."""
    by_pid: dict[int, list[LockInfo]] = {}
    for lk in locks:
        by_pid.setdefault(lk.pid, []).append(lk)
    session_of = {s.pid: s for s in sessions}
    edges: list[LockEdge] = []
    for s in sessions:
        if not s.blocked_by:
            continue
        wanted = next((lk for lk in by_pid.get(s.pid, ()) if not lk.granted), None)
        for blocker in s.blocked_by:
            held = _conflicting_lock(wanted, by_pid.get(blocker, ())) if wanted is not None else None
            b = session_of.get(blocker)
            age = None
            if b is not None:
                age = b.query_age if b.state == "active" else b.state_age
            edges.append(
                LockEdge(
                    waiter=s.pid,
                    blocker=blocker,
                    wanted_mode=wanted.mode if wanted else None,
                    target=wanted.target if wanted else "?",
                    blocker_mode=held.mode if held else None,
                    blocker_granted=held.granted if held else True,
                    blocker_state=b.state if b is not None else None,
                    blocker_age=age,
                )
            )
    return tuple(edges)


def _conflicting_lock(wanted: LockInfo, blocker_locks) -> LockInfo | None:
    """The blocker's lock on ``wanted``'s object whose mode conflicts with the wanted mode: the strongest
    granted one, else the strongest request still waiting (it is queued ahead). None when the sample shows
    no conflicting lock (the blocker released it between the two queries, or a lock type with no mode table)."""
    # imported here: the analysis package loads pglast, which the monitor's first paint does not need
    from migtui.analysis.lock_modes import STRENGTH, conflicts

    same = [
        lk
        for lk in blocker_locks
        if lk.target_key == wanted.target_key
        and lk.mode in STRENGTH
        and wanted.mode in STRENGTH
        and conflicts(wanted.mode, lk.mode)
    ]
    if not same:
        return None
    granted = [lk for lk in same if lk.granted]
    return max(granted or same, key=lambda lk: STRENGTH[lk.mode])


def build_lock_tree(edges: tuple[LockEdge, ...] | list[LockEdge]) -> tuple[LockTreeNode, ...]:
    """Forest of who blocks whom. Roots are blockers that wait for nobody; a session with several blockers
    appears under each of them. Cycles are cut and marked (``cycle=True``)."""
    waiters_of: dict[int, list[LockEdge]] = {}
    waiting: set[int] = set()
    for e in edges:
        waiters_of.setdefault(e.blocker, []).append(e)
        waiting.add(e.waiter)
    blockers = sorted(waiters_of)
    roots = [pid for pid in blockers if pid not in waiting]

    covered: set[int] = set()

    def build(pid: int, edge: LockEdge | None, path: frozenset[int]) -> LockTreeNode:
        covered.add(pid)
        if pid in path:
            return LockTreeNode(pid, edge, (), cycle=True)
        children = tuple(
            build(e.waiter, e, path | {pid}) for e in sorted(waiters_of.get(pid, ()), key=lambda e: e.waiter)
        )
        return LockTreeNode(pid, edge, children)

    forest = [build(pid, None, frozenset()) for pid in roots]
    # pure cycles (everybody waits): start at the lowest pid not shown yet
    for pid in blockers:
        if pid not in covered:
            forest.append(build(pid, None, frozenset()))
    return tuple(forest)


# -- formatting (shared by the CLI's text output and the TUI) --------------------------------------------


def format_age(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def age_words(seconds: float | None) -> str:
    """An age for a sentence: "12 s", "3 min 05 s", "2 h 10 min"."""
    if seconds is None or math.isnan(seconds):
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def one_line(query: str, width: int = 60) -> str:
    text = " ".join(query.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def describe_session(s: SessionInfo | None, pid: int, width: int = 50) -> str:
    if s is None:
        return f"pid {pid} (gone)"
    app = s.application_name or s.backend_type
    age = f" xact {format_age(s.xact_age)}" if s.xact_age is not None else ""
    return f"pid {pid} [{app}] {s.state or '-'}{age}: {one_line(s.query, width)}"


def lock_tree_lines(sample: MonitorSample, width: int = 50) -> list[str]:
    """The lock tree as indented text lines (empty list when nobody is blocked)."""
    lines: list[str] = []
    for root in sample.lock_tree:
        for depth, node in root.walk():
            pad = "    " * depth
            text = describe_session(sample.session(node.pid), node.pid, width)
            if node.edge is not None:
                lines.append(f"{pad}└─ {text}")
                lines.append(f"{pad}     {node.edge.describe()}" + (" (cycle)" if node.cycle else ""))
            else:
                lines.append(f"{pad}{text}")
    return lines


# -- I/O --------------------------------------------------------------------------------------------------


class Monitor:
    """Polls one database on its own autocommit connection; ``sample()`` reconnects after a failure.

    Every query runs under ``statement_timeout`` = 80% of ``interval`` (at least 100 ms), so a poll never
    outlives its refresh period.
    """

    def __init__(
        self,
        dsn: str,
        interval: float = 1.0,
        *,
        application_name: str = MONITOR_APPLICATION_NAME,
        include_progress: bool = True,
    ) -> None:
        self.dsn = dsn
        self.interval = max(0.1, float(interval))
        self.application_name = application_name
        self.include_progress = include_progress
        self._conn: Any = None
        self._version_num = 0
        self._version = ""
        self._database = ""
        self._own_pid = 0

    @property
    def statement_timeout_ms(self) -> int:
        return max(100, int(self.interval * 800))

    def _connect(self) -> Any:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        timeout_ms = self.statement_timeout_ms
        conn = connect(
            self.dsn,
            application_name=self.application_name,
            connect_timeout=max(2, math.ceil(self.interval * 2)),
            options=f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms} "
            "-c idle_in_transaction_session_timeout=0",
        )
        row = conn.execute(load_query(QUERIES, "monitor_server")).fetchone()
        self._version, self._version_num, self._database, self._own_pid = row
        self._conn = conn
        return conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sample(self) -> MonitorSample:
        """One consistent-enough picture of the server. Raises ConnectionFailed / MigtuiError (one line)."""
        import psycopg

        started = time.monotonic()
        conn = self._connect()
        try:
            sessions = self._sessions(conn)
            locks = self._locks(conn)
            progress = self._progress(conn) if self.include_progress else ()
        except psycopg.errors.QueryCanceled:
            raise MigtuiError(f"monitor query exceeded its {self.statement_timeout_ms} ms statement_timeout") from None
        except psycopg.OperationalError as exc:
            self.close()
            raise ConnectionFailed(f"monitor lost its connection: {describe_error(exc)}") from None
        except psycopg.Error as exc:
            raise MigtuiError(f"monitor query failed: {describe_error(exc)}") from None
        edges = lock_edges(sessions, locks)
        return MonitorSample(
            taken_at=time.time(),
            server_version=self._version,
            server_version_num=self._version_num,
            database=self._database,
            own_pid=self._own_pid,
            sessions=sessions,
            locks=locks,
            progress=progress,
            edges=edges,
            lock_tree=build_lock_tree(edges),
            query_seconds=time.monotonic() - started,
        )

    def _sessions(self, conn: Any) -> tuple[SessionInfo, ...]:
        rows = conn.execute(load_query(QUERIES, "monitor_sessions"), (list(_BACKEND_TYPES),)).fetchall()
        return tuple(
            SessionInfo(
                pid=r[0],
                database=r[1],
                user=r[2],
                application_name=r[3] or "",
                client_addr=r[4],
                backend_type=r[5],
                state=r[6],
                wait_event_type=r[7],
                wait_event=r[8],
                xact_age=r[9],
                query_age=r[10],
                state_age=r[11],
                query=r[12] or "",
                blocked_by=tuple(r[13] or ()),
            )
            for r in rows
        )

    def _locks(self, conn: Any) -> tuple[LockInfo, ...]:
        name = "monitor_locks" if self._version_num >= 140000 else "monitor_locks_pg13"
        rows = conn.execute(load_query(QUERIES, name)).fetchall()
        return tuple(
            LockInfo(
                pid=r[0],
                locktype=r[1],
                mode=r[2],
                granted=r[3],
                fastpath=r[4],
                database_oid=r[5],
                relation_oid=r[6],
                page=r[7],
                tuple=r[8],
                virtualxid=r[9],
                transactionid=r[10],
                classid=r[11],
                objid=r[12],
                objsubid=r[13],
                relation=r[14],
                wait_seconds=r[15],
            )
            for r in rows
        )

    def _progress(self, conn: Any) -> tuple[ProgressInfo, ...]:
        out: list[ProgressInfo] = []
        for command, name in _PROGRESS_QUERIES:
            if command == "copy" and self._version_num < 140000:
                continue
            for r in conn.execute(load_query(QUERIES, name)).fetchall():
                out.append(ProgressInfo(r[0], command, r[1], r[2], r[3], r[4], r[5], r[6]))
        return tuple(out)


@dataclass
class MonitorState:
    """What a front end keeps between polls: the last sample, the last error, and poll timings."""

    sample: MonitorSample | None = None
    error: str | None = None
    polls: int = 0
    failures: int = 0
    timings: list[float] = field(default_factory=list)
