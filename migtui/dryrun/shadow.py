"""Shadow execution: run the pending revisions for real on a throwaway copy of the target's schema.

1. ``pg_dump --schema-only`` of the target (a pg_dump at least as new as the server), restored into a
   scratch database on an embedded server of the same major where one is available (else the nearest,
   and the report says so); the target's recorded revision is stamped into its version table.
2. Run: the pending revisions run through alembic on a copy of that database, exactly as a deploy would
   (same env.py, same transactions). Every statement a revision sends is captured with its timing and,
   for the one that fails, the error.
3. Observe: on a second copy, the captured statements are replayed one per transaction and, before each
   commits, that backend's ``pg_locks`` (relation locks it holds), relfilenode changes (table rewrites)
   and ``pg_stat_xact_user_tables`` sequential scans are read. One statement per transaction makes each
   statement's locks visible on their own (in one transaction a lock already held does not show again).
   Statements that run outside a transaction (``autocommit_block``, e.g. CREATE INDEX CONCURRENTLY) are
   replayed too, but their locks are released before they can be read: ``observed_locks`` is null.
4. The scratch databases (and the embedded server, if we started it) are thrown away.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migtui.errors import MigtuiError
from migtui.redact import error_line, redact


class ShadowError(MigtuiError):
    """The shadow database could not be built (pg_dump / restore / server start)."""


@dataclass
class ObservedLock:
    relation: str
    kind: str  # "table" | "index" | "sequence" | "view" | ...
    mode: str  # e.g. "AccessExclusiveLock"
    created: bool = False  # the statement created this relation (a lock nobody else can wait for)

    def to_dict(self) -> dict[str, Any]:
        return {"relation": self.relation, "kind": self.kind, "mode": self.mode, "created": self.created}


@dataclass
class ShadowStatement:
    revision: str
    index: int  # position within the revision, from 0
    sql: str  # as sent, with parameters inlined
    transactional: bool
    seconds: float = 0.0
    error: str | None = None  # the error the statement raised on the shadow (the revision stops there)
    observed_locks: list[ObservedLock] | None = None  # None: not observable (outside a transaction)
    rewritten: list[str] = field(default_factory=list)  # tables whose relfilenode changed
    scanned: list[str] = field(default_factory=list)  # tables with a sequential scan by this statement
    executemany: int = 0  # executed for N parameter sets (op.bulk_insert)
    line: int | None = None  # the line in the revision file that sent it (the op.* call)
    _raw: tuple[str, Any, bool] | None = field(default=None, repr=False)  # statement, params, many (replay)


@dataclass
class ShadowRevision:
    revision: str
    seconds: float = 0.0
    error: str | None = None
    statements: list[ShadowStatement] = field(default_factory=list)


@dataclass
class ShadowResult:
    shadow_pg_version: int
    target_pg_version: int
    restore_warnings: list[str] = field(default_factory=list)
    revisions: list[ShadowRevision] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None  # the upgrade failed outside any revision (env.py, connection)
    observe_error: str | None = None
    rates: Any = None  # migtui.dryrun.holds.Rates measured on the scratch server (None: calibration failed)
    calibration_error: str | None = None

    @property
    def same_pg_version(self) -> bool:
        return self.shadow_pg_version == self.target_pg_version

    def revision(self, rev: str) -> ShadowRevision | None:
        return next((r for r in self.revisions if r.revision == rev), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "shadow_pg_version": self.shadow_pg_version,
            "target_pg_version": self.target_pg_version,
            "same_pg_version": self.same_pg_version,
            "seconds": round(self.seconds, 3),
            "restore_warnings": self.restore_warnings,
            "error": self.error,
            "observe_error": self.observe_error,
            "rates": self.rates.to_dict() if self.rates is not None else None,
            "calibration_error": self.calibration_error,
        }


# -- schema copy ------------------------------------------------------------------------------------------


def _client_env_and_dsn(dsn: str) -> tuple[dict[str, str], str]:
    """Environment and a password-free conninfo for pg_dump/psql (the password goes in PGPASSWORD)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from migtui.pg.dsn import libpq_dsn

    params = conninfo_to_dict(libpq_dsn(dsn))
    password = params.pop("password", None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return env, make_conninfo("", **params)


def pick_binaries(target_pg_version: int, pg_bin: str | None = None):
    """(pg_dump binaries >= target major, server binaries: same major if available, else nearest)."""
    from migtui.pg import harness

    if pg_bin:
        bins = harness.find_binaries(None, pg_bin)
        if bins.pg_version < target_pg_version:
            raise ShadowError(
                f"--pg-bin is PostgreSQL {bins.pg_version}, older than the target's {target_pg_version}: "
                "pg_dump must be at least as new as the server"
            )
        return bins, bins
    versions = harness.available_versions()
    newer = sorted(v for v in versions if v >= target_pg_version)
    if not newer:
        have = ", ".join(str(v) for v in sorted(versions)) or "none"
        raise ShadowError(
            f"no pg_dump at least as new as the target's PostgreSQL {target_pg_version} (have: {have}); pass --pg-bin"
        )
    dump = harness.find_binaries(newer[0])
    server = harness.find_binaries(harness.nearest_version(target_pg_version))
    return dump, server


def dump_schema(dsn: str, dump_bin: Any, out: Path, timeout: float = 300, lock_wait: float = 30) -> None:
    env, conninfo = _client_env_and_dsn(dsn)
    cmd = [
        dump_bin.tool("pg_dump"),
        f"--lock-wait-timeout={max(1, int(lock_wait * 1000))}",
        "--schema-only",
        "--no-owner",
        "--no-privileges",
        "--no-subscriptions",
        "--no-publications",
        "-f",
        str(out),
        "-d",
        conninfo,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ShadowError(f"pg_dump --schema-only did not finish within {timeout:.0f}s") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        raise ShadowError(
            f"pg_dump --schema-only failed: {redact(tail[-1] if tail else 'exit ' + str(proc.returncode))}"
        )


def restore_schema(dsn: str, client_bin: Any, dump: Path, timeout: float = 300) -> list[str]:
    """psql -f the dump; returns the errors (e.g. an extension the embedded server lacks) as warnings."""
    env, conninfo = _client_env_and_dsn(dsn)
    cmd = [client_bin.tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=0", "-d", conninfo, "-f", str(dump)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL)
    # the dump's header SETs settings a newer server has (e.g. transaction_timeout): not schema, not a problem
    errors = [
        line
        for line in proc.stderr.splitlines()
        if "ERROR:" in line and "unrecognized configuration parameter" not in line
    ]
    return [redact(line.split("ERROR:", 1)[1].strip()) for line in errors[:10]]


# -- capture ---------------------------------------------------------------------------------------------


def _inline(cursor: Any, statement: str, parameters: Any) -> str:
    """The statement with its parameters inlined, as PostgreSQL would see it."""
    try:
        import psycopg

        if not parameters:
            return statement.replace("%%", "%") if parameters is not None and parameters == {} else statement
        return psycopg.ClientCursor(cursor.connection).mogrify(statement, parameters)
    except Exception:
        return statement


def _is_catalog_read(sql: str) -> bool:
    low = sql.lstrip().lower()
    return low.startswith(("select", "show", "with")) and ("pg_catalog." in low or "information_schema." in low)


@contextlib.contextmanager
def capture_statements(revisions: list[ShadowRevision]) -> Iterator[None]:
    """While active, every statement sent by a revision's upgrade() lands in ``revisions`` (in order).

    Hooks alembic's RevisionStep (to know which revision is running) and SQLAlchemy's cursor events.
    """
    from alembic.runtime import migration
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    by_id = {r.revision: r for r in revisions}
    paths: dict[str, str] = {}
    state = threading.local()
    original_init = migration.RevisionStep.__init__

    owner = threading.get_ident()

    def init(self, revision_map, revision, is_upgrade):  # type: ignore[no-untyped-def]
        original_init(self, revision_map, revision, is_upgrade)
        if threading.get_ident() != owner:  # another thread's alembic run (e.g. the TUI applying migrations)
            return
        fn = self.migration_fn
        rev_id = revision.revision
        if revision.path:
            paths[rev_id] = os.path.realpath(revision.path)

        def run_revision(**kw):  # type: ignore[no-untyped-def]
            state.revision = rev_id
            started = time.monotonic()
            try:
                return fn(**kw)
            except BaseException as exc:
                rev = by_id.get(rev_id)
                if rev is not None and rev.error is None:
                    rev.error = error_line(exc, driver_error=True)
                raise
            finally:
                rev = by_id.get(rev_id)
                if rev is not None:
                    rev.seconds = time.monotonic() - started
                state.revision = None

        run_revision.__name__ = fn.__name__
        self.migration_fn = run_revision

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        rev_id = getattr(state, "revision", None)
        if rev_id is None or rev_id not in by_id:
            return
        first = parameters[0] if executemany and parameters else parameters
        sql = _inline(cursor, statement, first)
        if _is_catalog_read(sql):
            return
        rev = by_id[rev_id]
        stmt = ShadowStatement(
            revision=rev_id,
            index=len(rev.statements),
            sql=sql.strip(),
            transactional=not bool(getattr(cursor.connection, "autocommit", False)),
            executemany=len(parameters) if executemany else 0,
            line=_caller_line(paths.get(rev_id)),
        )
        stmt._raw = (statement, parameters, bool(executemany))
        rev.statements.append(stmt)
        state.current = (stmt, time.monotonic())

    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        current = getattr(state, "current", None)
        if current is not None:
            current[0].seconds = time.monotonic() - current[1]
            state.current = None

    def on_error(ctx):  # type: ignore[no-untyped-def]
        current = getattr(state, "current", None)
        if current is not None:
            current[0].seconds = time.monotonic() - current[1]
            current[0].error = error_line(ctx.original_exception, driver_error=True)
            state.current = None

    migration.RevisionStep.__init__ = init  # type: ignore[method-assign]
    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    event.listen(Engine, "handle_error", on_error)
    try:
        yield
    finally:
        migration.RevisionStep.__init__ = original_init  # type: ignore[method-assign]
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
        event.remove(Engine, "handle_error", on_error)


def _caller_line(path: str | None) -> int | None:
    """The innermost line of the revision file on the current stack (the op.* call that sent the SQL)."""
    if path is None:
        return None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == path or os.path.realpath(frame.f_code.co_filename) == path:
            return frame.f_lineno
        frame = frame.f_back
    return None


# -- observe ---------------------------------------------------------------------------------------------

_KIND = """CASE {0} WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index'
           WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE {0}::text END"""
_USER_NS = "<> ALL (ARRAY['pg_catalog'::regnamespace, 'information_schema'::regnamespace, 'pg_toast'::regnamespace])"
# relations that exist before the statement: names for locks on relations the statement drops
_RELATIONS_SQL = (
    f"SELECT c.oid, c.oid::regclass::text, {_KIND.format('c.relkind')} FROM pg_class c WHERE c.relnamespace {_USER_NS}"
)
_LOCKS_SQL = f"""
SELECT l.relation, c.oid::regclass::text, {_KIND.format("c.relkind")}, l.mode, c.relnamespace {_USER_NS}
  FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
 WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
"""
_FILENODES_SQL = """
SELECT c.oid, c.oid::regclass::text, pg_relation_filenode(c.oid)
  FROM pg_class c
 WHERE c.relkind IN ('r', 'm') AND c.relnamespace <> ALL (ARRAY['pg_catalog'::regnamespace,
       'information_schema'::regnamespace, 'pg_toast'::regnamespace])
"""
_SCANS_SQL = "SELECT relid, relid::regclass::text, seq_scan FROM pg_stat_xact_user_tables"


def observe(dsn: str, revisions: list[ShadowRevision]) -> str | None:
    """Replay the captured statements one per transaction on ``dsn``; fill in locks, rewrites, scans.

    Returns an error text if the replay stopped early (then later statements keep observed_locks=None).
    """
    import psycopg

    with psycopg.connect(dsn, autocommit=True, application_name="migtui-dry-run-shadow") as conn:
        for rev in revisions:
            for stmt in rev.statements:
                if stmt.error is not None or stmt._raw is None:
                    return None
                statement, params, many = stmt._raw
                try:
                    if not stmt.transactional:
                        _execute(conn, statement, params, many)
                        continue
                    with conn.transaction():
                        before = {r[0]: (r[1], r[2]) for r in conn.execute(_RELATIONS_SQL).fetchall()}
                        nodes = {r[0]: (r[1], r[2]) for r in conn.execute(_FILENODES_SQL).fetchall()}
                        scans = {r[0]: r[2] for r in conn.execute(_SCANS_SQL).fetchall()}
                        _execute(conn, statement, params, many)
                        locks = conn.execute(_LOCKS_SQL).fetchall()
                        after_nodes = conn.execute(_FILENODES_SQL).fetchall()
                        after_scans = conn.execute(_SCANS_SQL).fetchall()
                    stmt.observed_locks = _observed(locks, before)
                    stmt.rewritten = sorted(
                        name for oid, name, node in after_nodes if oid in nodes and nodes[oid][1] != node
                    )
                    stmt.scanned = sorted(
                        name for oid, name, count in after_scans if oid in scans and (count or 0) > (scans[oid] or 0)
                    )
                except psycopg.Error as exc:
                    return f"replaying {rev.revision} statement {stmt.index + 1} failed: {error_line(exc)}"
    return None


def _observed(locks: list[tuple], before: dict[int, tuple[str, str]]) -> list[ObservedLock]:
    """User relations this backend holds locks on; relations the statement dropped keep their old name."""
    out = []
    for oid, name, kind, mode, user_relation in locks:
        if name is None:  # gone from pg_class: dropped by the statement (or a transient rewrite heap)
            if oid not in before:
                continue
            name, kind = before[oid]
        elif not user_relation:
            continue
        out.append(ObservedLock(name, kind, mode, created=oid not in before))
    return sorted(out, key=lambda lk: (lk.relation, lk.mode))


def _execute(conn: Any, statement: str, params: Any, many: bool) -> None:
    with conn.cursor() as cur:
        if many:
            cur.executemany(statement, params)
        elif params:
            cur.execute(statement, params)
        else:
            cur.execute(statement.replace("%%", "%") if params == {} else statement)


# -- the whole thing -------------------------------------------------------------------------------------


class ShadowServer:
    """Where scratch databases live: a server the caller provides, or an embedded one we start and stop."""

    def __init__(
        self, server: Any = None, *, pg_version: int | None = None, pg_bin: str | None = None, binaries: Any = None
    ) -> None:
        self._owned = server is None
        if server is None:
            from migtui.pg import harness

            bins = binaries or harness.find_binaries(pg_version, pg_bin)
            try:
                server = harness.start_cluster(bins.pg_version, pg_bin=str(bins.bin_dir))
            except MigtuiError as exc:
                raise ShadowError(f"cannot start the shadow PostgreSQL {bins.pg_version}: {exc.message}") from None
        self.server = server
        self.pg_version = int(server.pg_version)

    def close(self) -> None:
        if self._owned:
            self.server.cleanup()


def run_shadow(
    *,
    target_dsn: str,
    target_pg_version: int,
    project: Any,
    pending: list[str],
    version_table: str,
    version_table_schema: str | None,
    current_revisions: tuple[str, ...],
    server: Any = None,
    pg_bin: str | None = None,
    statement_timeout: float = 60.0,
    settings: Any = None,
    apply: Any = None,
    calibrate_rates: bool = True,
) -> ShadowResult:
    """Build the shadow, run ``pending`` there, observe locks; always throws the scratch databases away.

    ``server``: an existing server (harness Cluster / ExternalServer) for the scratch databases; default:
    start an embedded one of the target's major (or the nearest) and stop it afterwards.
    ``apply(project, dsn, revision, settings)`` applies one revision (default: the runner's one-step
    function, ``migtui.runner.step.run_revision_step``: one transaction per revision, lock_timeout, the
    per-revision timeout from ``settings``).
    """
    from psycopg import sql

    started = time.monotonic()
    dump_bin, server_bin = pick_binaries(target_pg_version, pg_bin)
    shadow = ShadowServer(server, binaries=server_bin)
    result = ShadowResult(shadow_pg_version=shadow.pg_version, target_pg_version=target_pg_version)
    result.revisions = [ShadowRevision(rev) for rev in pending]
    tag = uuid.uuid4().hex[:10]
    names = {"base": f"migtui_shadow_{tag}", "run": f"migtui_shadow_{tag}_run", "locks": f"migtui_shadow_{tag}_lk"}
    created: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="migtui-shadow-") as tmp:
            dump = Path(tmp) / "schema.sql"
            dump_schema(target_dsn, dump_bin, dump, lock_wait=statement_timeout)
            base_dsn = shadow.server.create_database(names["base"])
            created.append(names["base"])
            result.restore_warnings = restore_schema(base_dsn, dump_bin, dump)
        table = (
            sql.Identifier(version_table_schema, version_table)
            if version_table_schema
            else sql.Identifier(version_table)
        )
        for rev in current_revisions:
            shadow.server.execute(
                sql.SQL("INSERT INTO {} (version_num) VALUES (%s)").format(table).as_string(None),
                dbname=names["base"],
                params=(rev,),
            )
        shadow.server.create_database(names["run"], template=names["base"])
        created.append(names["run"])
        shadow.server.create_database(names["locks"], template=names["base"])
        created.append(names["locks"])
        run_dsn = _with_options(shadow.server.dsn(names["run"]), statement_timeout)
        with capture_statements(result.revisions):
            for rev in result.revisions:
                try:
                    (apply or _runner_apply)(project, run_dsn, rev.revision, settings)
                except Exception as exc:  # the revision stops here, as a deploy would
                    if rev.error is None:
                        rev.error = getattr(exc, "message", None) or error_line(exc, driver_error=True)
                    break
        result.observe_error = observe(shadow.server.dsn(names["locks"]), result.revisions)
        needed = set()
        if calibrate_rates:
            from migtui.dryrun.holds import calibrate, needed_rates

            needed = needed_rates([stmt for rev in result.revisions for stmt in rev.statements])
        if needed:
            try:  # in the locks database, which is thrown away below
                result.rates = calibrate(shadow.server.dsn(names["locks"]), needed)
            except Exception as exc:  # the estimates fall back to the default rates, and say so
                result.calibration_error = error_line(exc, driver_error=True)
    finally:
        for name in reversed(created):
            with contextlib.suppress(Exception):
                shadow.server.drop_database(name)
        shadow.close()
        result.seconds = time.monotonic() - started
    return result


def _with_options(dsn: str, statement_timeout: float) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(
        dsn, options=f"-c statement_timeout={int(statement_timeout * 1000)}", application_name="migtui-dry-run-shadow"
    )


def _runner_apply(project: Any, dsn: str, revision: str, settings: Any) -> None:
    """Apply one revision on the shadow through the runner's one-step function (in this process)."""
    from migtui.config import Settings
    from migtui.runner.step import run_revision_step

    run_revision_step(project, dsn, settings or Settings(), revision, "up", job="dry-run shadow")
