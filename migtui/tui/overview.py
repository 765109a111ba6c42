"""What the Migrations view shows, gathered headlessly (no textual here): revisions with their state from
the alembic project + the target's version table, and the target / replica servers.

Runs in a worker thread; the screen only renders the ``Overview`` it gets back. Lean on purpose: the first
screen's data is read without alembic, SQLAlchemy or pglast (docs/tui.md, "Start-up").
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from migtui.errors import MigtuiError
from migtui.redact import redact_dsn

APPLICATION_NAME = "migtui-tui"


@dataclass(frozen=True)
class RevisionRow:
    revision: str
    description: str
    path: Path
    down_revisions: tuple[str, ...]
    state: str  # "current" | "applied" | "pending" | "unknown" (no target database)
    is_head: bool


@dataclass(frozen=True)
class ServerInfo:
    role: str  # "target" | "replica"
    dsn: str  # redacted
    version: str = ""
    current: tuple[str, ...] = ()  # revisions in the version table
    in_recovery: bool = False
    lag_seconds: float | None = None  # replica: now() - last replayed transaction (None: nothing replayed yet)
    lag_bytes: int | None = None  # replica: primary's WAL position - replica's replay position
    error: str | None = None


@dataclass(frozen=True)
class Overview:
    revisions: tuple[RevisionRow, ...] = ()
    head: str | None = None
    target: ServerInfo | None = None
    replica: ServerInfo | None = None
    project_error: str | None = None
    unknown_current: tuple[str, ...] = ()  # in the version table but not in the project
    notes: tuple[str, ...] = field(default_factory=tuple)
    # "alembic": alembic loaded the project; "source": the revision files were read without importing them
    # (migtui.project.scan), to be confirmed by alembic's load
    revisions_from: str = "alembic"

    @property
    def pending(self) -> tuple[RevisionRow, ...]:
        return tuple(r for r in self.revisions if r.state == "pending")


def short_dsn(dsn: str) -> str:
    """``user@host:port/dbname``: where a DSN points, without scheme, password or options."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        from migtui.pg.dsn import libpq_dsn

        params = conninfo_to_dict(libpq_dsn(dsn))
    except Exception:
        return redact_dsn(dsn) or ""
    user = f"{params['user']}@" if params.get("user") else ""
    host = params.get("host") or "localhost"
    port = f":{params['port']}" if params.get("port") else ""
    return f"{user}{host}{port}/{params.get('dbname', '')}"


def _version_table_rows(conn, settings) -> tuple[str, ...]:
    """The revision(s) in the target's version table, read the way the runner reads them."""
    from migtui.pg.version_table import VersionTable, read_current

    return read_current(conn, VersionTable(settings.version_table, settings.version_table_schema))


def _connect_server(dsn: str):
    from migtui.pg.connect import connect

    return connect(
        dsn, application_name=APPLICATION_NAME, connect_timeout=5, options="-c statement_timeout=5000", autocommit=True
    )


def _read_on(conn, shown: str, settings, role: str, primary_lsn: str | None) -> tuple[ServerInfo, str | None]:
    from migtui.pg.server import read_replica_lag, read_server_facts, wal_distance

    facts = read_server_facts(conn)
    current = _version_table_rows(conn, settings)
    lag_seconds = lag_bytes = None
    if facts.in_recovery:
        lag = read_replica_lag(conn)
        lag_seconds = lag.seconds_since_last_replay
        if primary_lsn and lag.replay_lsn:
            lag_bytes = max(0, wal_distance(conn, primary_lsn, lag.replay_lsn))
            if lag_bytes == 0:
                lag_seconds = 0.0  # fully replayed: the last-replay timestamp only says how idle we are
    return (
        ServerInfo(role, shown, facts.version, current, facts.in_recovery, lag_seconds, lag_bytes),
        facts.current_wal_lsn,
    )


def read_server(dsn: str, settings, role: str, primary_lsn: str | None = None) -> tuple[ServerInfo, str | None]:
    """Version, version-table contents and (replica) lag. Returns (info, a primary's current WAL LSN)."""
    from migtui.pg.connect import describe_error

    shown = short_dsn(dsn)
    try:
        conn = _connect_server(dsn)
    except MigtuiError as exc:
        return ServerInfo(role, shown, error=exc.message), None
    try:
        with conn:
            return _read_on(conn, shown, settings, role, primary_lsn)
    except Exception as exc:  # a query failed: show it in the header, keep the UI alive
        return ServerInfo(role, shown, error=describe_error(exc)), None


class ServerPoller:
    """The header's figures (version-table revision, replica lag) read again on every tick, each server on a
    connection kept open between ticks (reopened after an error). One thread at a time; ``close()`` at the end."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self._conns: dict[str, object] = {}

    def _read(self, dsn: str, role: str, primary_lsn: str | None) -> tuple[ServerInfo, str | None]:
        from migtui.pg.connect import describe_error

        shown = short_dsn(dsn)
        conn = self._conns.get(role)
        try:
            if conn is None:
                conn = self._conns[role] = _connect_server(dsn)
            return _read_on(conn, shown, self.settings, role, primary_lsn)
        except MigtuiError as exc:
            self._drop(role)
            return ServerInfo(role, shown, error=exc.message), None
        except Exception as exc:
            self._drop(role)
            return ServerInfo(role, shown, error=describe_error(exc)), None

    def poll(self) -> tuple[ServerInfo | None, ServerInfo | None]:
        target = replica = None
        primary_lsn = None
        if self.settings.dsn:
            target, primary_lsn = self._read(self.settings.dsn, "target", None)
        if self.settings.replica_dsn:
            replica, _ = self._read(self.settings.replica_dsn, "replica", primary_lsn)
        return target, replica

    def _drop(self, role: str) -> None:
        conn = self._conns.pop(role, None)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        for role in list(self._conns):
            self._drop(role)


def revision_states(revisions, current: tuple[str, ...] | None) -> dict[str, str]:
    """revision -> "current" | "applied" | "pending" ("unknown" for all when ``current`` is None)."""
    if current is None:
        return {r.revision: "unknown" for r in revisions}
    from migtui.project.status import applied_revisions

    applied = applied_revisions(revisions, current)
    return {
        r.revision: ("current" if r.revision in current else "applied" if r.revision in applied else "pending")
        for r in revisions
    }


def load_overview(settings, *, from_source: bool = False) -> Overview:
    """Everything the Migrations view shows. Never raises for a bad target: errors become fields.

    With ``from_source`` the revisions are read from the files' source where the project allows it
    (``revisions_from_source``), which spares alembic's import: ``alembic_overview`` then checks them."""
    target = replica = None
    primary_lsn = None
    if settings.dsn:
        target, primary_lsn = read_server(settings.dsn, settings, "target")
    if settings.replica_dsn:
        replica, _ = read_server(settings.replica_dsn, settings, "replica", primary_lsn)
    return _with_revisions(Overview(target=target, replica=replica), settings, from_source)


def alembic_overview(overview: Overview, settings) -> Overview:
    """``overview`` with its revisions as alembic loads them (the servers as they were read)."""
    return _with_revisions(overview, settings, from_source=False)


def _with_revisions(overview: Overview, settings, from_source: bool) -> Overview:
    from migtui.project.load import AlembicProject

    project_error = None
    infos = []
    head = None
    revisions_from = "alembic"
    try:
        project = AlembicProject.load(settings.migrations)
        scanned = None
        if from_source:
            from migtui.project.scan import revisions_from_source

            scanned = revisions_from_source(project)
        if scanned is not None:
            infos, revisions_from = scanned, "source"
            head = infos[-1].revision if infos else None
        else:
            infos = project.revisions()
            head = project.head()
    except MigtuiError as exc:
        project_error = exc.message

    target = overview.target
    current = target.current if target is not None and target.error is None else None
    states = revision_states(infos, current)
    known = {r.revision for r in infos}
    rows = tuple(
        RevisionRow(r.revision, r.description, r.path, r.down_revisions, states[r.revision], r.is_head)
        for r in reversed(infos)  # newest first, like `alembic history`
    )
    return replace(
        overview,
        revisions=rows,
        head=head,
        project_error=project_error,
        unknown_current=tuple(c for c in (current or ()) if c not in known),
        revisions_from=revisions_from,
    )


def load_overviews(settings, shown: Overview | None = None) -> Iterator[Overview]:
    """What the Migrations view shows, fast first: the overview with the revisions read from their files
    (``shown``: the one already on screen; else the one ``prefetch_overview`` started at launch, or one read
    now), then, when alembic's load of the project tells something else (a revision module that fails to
    import, a revision id computed at import), alembic's. The lint and the SQL rendering that follow load
    alembic anyway."""
    first = shown
    if first is None:
        first = _take_prefetched(settings)
        if first is None:
            first = load_overview(settings, from_source=True)
        yield first
    if first.revisions_from == "source":
        checked = alembic_overview(first, settings)
        if (checked.revisions, checked.head, checked.project_error, checked.unknown_current) != (
            first.revisions,
            first.head,
            first.project_error,
            first.unknown_current,
        ):
            yield checked


def prefetched_overview(settings) -> Overview | None:
    """The overview ``prefetch_overview`` started, when it has come back already (never waits): the view's
    first frame can show it."""
    return _take_prefetched(settings, timeout=0)


def prefetch_overview(settings) -> None:
    """Start reading the first overview for ``settings`` now (``migtui.tui.prefetch``, in a forked child where it
    can): the front end calls this before it imports Textual; ``load_overviews`` with the same settings object
    takes it."""
    from migtui.tui import prefetch

    prefetch.start(("overview", id(settings)), lambda: load_overview(settings, from_source=True), fork=True)


def _take_prefetched(settings, timeout: float | None = None) -> Overview | None:
    from migtui.tui import prefetch

    try:
        started, result = prefetch.take(("overview", id(settings)), timeout)
    except Exception:  # the screen's own load reports it
        return None
    return result if started else None


def render_revision_sql(settings, row: RevisionRow) -> str:
    """The SQL ``row`` will run, rendered by alembic's offline (``--sql``) mode from its parent revision."""
    from migtui.project.load import ENV_LOCK, AlembicProject, import_alembic, no_logging_config

    import_alembic()  # not at the same moment as another worker's first import of it
    from alembic import command

    project = AlembicProject.load(settings.migrations)
    buffer = io.StringIO()
    cfg = project.config("postgresql://render@localhost/render")
    cfg.output_buffer = buffer
    start = row.down_revisions[0] if len(row.down_revisions) == 1 else None
    spec = f"{start}:{row.revision}" if start else row.revision
    try:
        with ENV_LOCK, no_logging_config():  # the TUI owns the terminal: env.py must not log to it
            command.upgrade(cfg, spec, sql=True)
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise MigtuiError(f"cannot render {row.revision} offline: {text[0] if text else exc}") from None
    return buffer.getvalue()
