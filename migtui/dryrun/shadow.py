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
import re
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migtui.errors import MigtuiError
from migtui.project.capture import (  # the statement capture lint's online rendering shares
    ObservedLock,
    ShadowRevision,
    ShadowStatement,
    capture_statements,
)
from migtui.redact import error_line, redact


class ShadowError(MigtuiError):
    """The shadow database could not be built (pg_dump / restore / server start)."""


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


def pick_binaries(target_pg_version: int, pg_bin: str | None = None, extensions: tuple[str, ...] = ()):
    """(pg_dump binaries >= target major, server binaries: same major if available, else nearest; among the
    builds that have ``extensions``, those the target has and the project creates)."""
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
    server = harness.find_binaries_with(target_pg_version, extensions)
    return dump, server


def target_extensions(dsn: str) -> set[str]:
    """Extensions installed in the target database: the shadow's copy of its schema needs them too."""
    from migtui.pg.connect import connect

    with connect(dsn, application_name="migtui dry-run [extensions]") as conn:
        return {str(row[0]) for row in conn.execute("SELECT extname FROM pg_extension").fetchall()}


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
    import atexit

    from migtui.pg import liveness

    # pg_dump waits on the target like a query of ours: bounded by the liveness watch when the server stops
    # answering, and ended by the exit's clean-up (atexit) rather than left waiting for the server
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, stdin=subprocess.DEVNULL
    )
    atexit.register(proc.kill)
    try:
        with liveness.waiting_on(dsn):
            stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ShadowError(f"pg_dump --schema-only did not finish within {timeout:.0f}s") from None
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    finally:
        atexit.unregister(proc.kill)
    if proc.returncode != 0:
        tail = (stderr or stdout).strip().splitlines()
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

    # the later phases of phased revisions run after every pending revision, as ``migtui phase run`` does
    later = ("migrate", "contract")
    ordered = [(rev, stmt) for rev in revisions for stmt in rev.statements if stmt.phase not in later]
    ordered += [(rev, stmt) for rev in revisions for stmt in rev.statements if stmt.phase in later]
    with psycopg.connect(dsn, autocommit=True, application_name="migtui-dry-run-shadow") as conn:
        if any(stmt.phase for _, stmt in ordered):
            # phases.expand creates its schema (for the dual-write functions) on a connection of its own
            conn.execute("CREATE SCHEMA IF NOT EXISTS migtui")
        for rev, stmt in ordered:
            if stmt.error is not None or stmt._raw is None:
                return None
            statement, params, many = stmt._raw
            if _SAVEPOINT.match(statement):
                continue  # a phase step's savepoint: each statement is replayed in a transaction of its own
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


_SAVEPOINT = re.compile(r"\s*(SAVEPOINT|RELEASE\s+SAVEPOINT|ROLLBACK\s+TO\s+SAVEPOINT)\s", re.IGNORECASE)


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

    from migtui.pg import harness
    from migtui.project.baseline import required_extensions

    started = time.monotonic()
    extensions = tuple(sorted(target_extensions(target_dsn) | set(required_extensions(project, settings))))
    if server is not None:
        harness.check_server_extensions(server, extensions)
    dump_bin, server_bin = pick_binaries(target_pg_version, pg_bin, extensions if server is None else ())
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
        if not any(rev.error for rev in result.revisions):
            add_phase_statements(run_dsn, result.revisions)
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


def add_phase_statements(dsn: str, revisions: list[ShadowRevision]) -> None:
    """Label a phased revision's captured statements ``expand`` and add its migrate and contract steps from
    the plan it stored on the shadow (``migtui.phase_state``): a one-statement backfill (batched in
    production), the migrate steps, the contract steps."""
    import psycopg
    from psycopg import sql

    from migtui.runner import phased

    with psycopg.connect(dsn, autocommit=True, application_name="migtui-dry-run-shadow") as conn:
        recorded = {r[0]: r for r in phased.read_phases(conn)}
    for rev in revisions:
        found = recorded.get(rev.revision)
        if found is None or found[1] != "expanded":
            continue
        plan = found[3]
        for stmt in rev.statements:
            stmt.phase = "expand"
        steps: list[tuple[str, str, bool]] = []  # (phase, sql, transactional)
        backfill = plan.get("backfill")
        if backfill:
            update = sql.SQL("UPDATE {} SET {} = {} WHERE {}").format(
                sql.Identifier(backfill["schema"], backfill["table"]),
                sql.Identifier(backfill["touch_column"]),
                sql.Identifier(backfill["touch_column"]),
                sql.SQL(backfill["needs_update"]),
            )
            steps.append(("migrate", update.as_string(None), True))
        for part in ("migrate", "contract"):
            steps += [(part, item["sql"], bool(item.get("transactional", True))) for item in plan.get(part) or []]
        index = len(rev.statements)
        for part, text, transactional in steps:
            rev.statements.append(
                ShadowStatement(rev.revision, index, text, transactional, phase=part, _raw=(text, None, False))
            )
            index += 1


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
