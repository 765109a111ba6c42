"""Schema drift: the live schema of a database against the schema its recorded migrations produce.

    report = run_drift(settings, DriftOptions(), sink)  # settings.dsn against settings.migrations
    report.drifted          # True when anything differs
    report.differences      # [Difference(kind, object, change, attribute, expected, actual), ...]
    report.to_dict()        # the JSON report (``migtui drift --format json``)

How:

1. read the target: the revision(s) in its version table, its PostgreSQL major, and the role that ran the
   migrations (the version table's owner);
2. the expected schema: the migrations applied to exactly that revision on a scratch database (an embedded
   server of the same major when available, else the nearest, which the report says), inspected with the
   one catalog inspector (:mod:`migtui.catalog`) and cached on disk as a snapshot
   (:mod:`migtui.drift.cache`, key: revision, migrations content hash, server major, migration role);
3. the actual schema: the same inspector on the target; the one diff compares both
   (:func:`migtui.catalog.diff_snapshots`), minus the excluded categories;
4. each difference gets the SQL that brings the database back where it can (:mod:`migtui.drift.fix`).

Pending revisions (recorded revision behind head) are not drift: they are reported separately.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migtui.catalog import KINDS, Difference, Snapshot, diff_snapshots, inspect_database
from migtui.config import Settings
from migtui.errors import MigtuiError, UsageError
from migtui.events import EventSink, Finding, Message, RunFinished, RunStarted, discard
from migtui.pg.version_table import VersionTable, read_current
from migtui.project.load import AlembicProject
from migtui.redact import error_line, redact_dsn
from migtui.report import cyclic_gc_paused
from migtui.runner import phased

JOB = "drift"

# Attribute names a user may exclude (besides whole kinds from KINDS); the usual ones are the first three.
EXCLUDABLE_ATTRIBUTES: tuple[str, ...] = (
    "owner",
    "grants",
    "comment",
    "reloptions",
    "options",
    "tablespace",
    "access_method",
    "replica_identity",
    "storage",
    "compression",
    "collation",
    "cost",
    "rows",
    "valid",
)
CHECKED_CATEGORIES: tuple[str, ...] = ("owner", "grants", "comment")
# state, not schema: never drift (a materialized view created WITH NO DATA and refreshed since)
STATE_ATTRIBUTES: tuple[str, ...] = ("populated",)

# role attributes copied to the scratch server so the migrations run (and own objects) as on the target
_ROLES_SQL = """
SELECT rolname, rolsuper, rolcanlogin FROM pg_roles
WHERE rolname !~ '^pg_' ORDER BY rolname
"""


@dataclass
class TargetInfo:
    """What drift reads from the target before comparing."""

    current: tuple[str, ...]
    server_version_num: int
    migration_role: str  # owner of the version table (the role that ran the migrations)
    roles: list[tuple[str, bool, bool]]  # (name, superuser, can_login) of non-system roles
    # (revision, phase, step, plan) of each phased revision recorded in migtui.phase_state, in expand order
    phases: tuple[tuple[str, str, int, dict[str, Any]], ...] = ()

    def phase_key(self) -> tuple[tuple[str, str, int], ...]:
        """Where each phased revision stands: part of the expected schema's cache key."""
        return tuple((revision, phase, step) for revision, phase, step, _ in self.phases)

    @property
    def pg_version(self) -> int:
        return self.server_version_num // 10000


@dataclass
class ExpectedSchema:
    snapshot: Snapshot
    source: str  # "cache" | "built"
    server: str  # e.g. "embedded PostgreSQL 16", "scratch server (PostgreSQL 16)"
    seconds: float
    cache_file: str | None = None


@dataclass(frozen=True)
class DriftOptions:
    exclude: tuple[str, ...] = ()  # more exclusions, besides settings.drift_exclude
    cache_dir: Path | None = None  # expected-schema cache (default: default_cache_dir())
    use_cache: bool = True  # False: rebuild the expected schema (and refresh the cache)


@dataclass
class DriftReport:
    """The result of one drift check (``to_dict()`` is the JSON report)."""

    target: str  # redacted
    migrations: str
    current: tuple[str, ...]
    head: str | None
    pending: list[dict[str, str]]
    target_pg_version: int
    expected_pg_version: int
    expected_source: str
    expected_server: str
    excluded: list[str]
    differences: list[Difference]
    fixes: list[str | None]
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return bool(self.differences)

    @property
    def job(self) -> str:
        return JOB

    @property
    def exit_code(self) -> int:
        return 1 if self.differences else 0

    @property
    def summary(self) -> str:
        if not self.differences:
            return "no drift"
        return f"{len(self.objects())} object(s) drifted ({len(self.differences)} difference(s))"

    @property
    def checked(self) -> list[str]:
        return [c for c in CHECKED_CATEGORIES if c not in self.excluded]

    @property
    def findings(self) -> list[Finding]:
        """One ``drift-<change>`` finding per difference, with the fix SQL as its hint when there is one."""
        return [
            Finding(f"drift-{item.change}", "error", item.describe(), fix or "")
            for item, fix in zip(self.differences, self.fixes, strict=False)
        ]

    def objects(self) -> list[tuple[str, str]]:
        """Drifted objects (kind, name), in report order, each once."""
        seen: dict[tuple[str, str], None] = {}
        for item in self.differences:
            seen.setdefault((item.kind, item.object), None)
        return list(seen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "migrations": self.migrations,
            "current": list(self.current),
            "head": self.head,
            "at_head": not self.pending,
            "pending": self.pending,
            "drift": self.drifted,
            "expected": {
                "expected_pg_version": self.expected_pg_version,
                "target_pg_version": self.target_pg_version,
                "source": self.expected_source,
                "server": self.expected_server,
            },
            "checked": self.checked,
            "excluded": self.excluded,
            "summary": {"objects": len(self.objects()), "differences": len(self.differences)},
            "differences": [
                {**item.to_dict(), "fix": fix} for item, fix in zip(self.differences, self.fixes, strict=False)
            ],
            "notes": self.notes,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


def parse_exclusions(values: Iterable[str]) -> list[str]:
    """Validated exclusion names (attributes such as ``owner``/``grants``/``comment``, or object kinds)."""
    out: list[str] = []
    for raw in values:
        for name in (part.strip() for part in str(raw).split(",")):
            if not name:
                continue
            name = {"comments": "comment", "owners": "owner", "ownership": "owner", "grant": "grants"}.get(name, name)
            if name not in EXCLUDABLE_ATTRIBUTES and name not in KINDS:
                allowed = ", ".join(EXCLUDABLE_ATTRIBUTES[:3])
                raise UsageError(
                    f"cannot exclude {name!r}: use an attribute ({allowed}, ...) or an object kind (index, view, ...)"
                )
            if name not in out:
                out.append(name)
    return out


# -- the target ------------------------------------------------------------------------------------------


def read_target(conn, table: VersionTable) -> TargetInfo:
    """Revision(s), server version and migration role of the target; UsageError without a version table."""
    from psycopg import sql

    qualified = table.identifier().as_string(conn)
    row = conn.execute(
        sql.SQL(
            "SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = to_regclass({}) AND c.relkind = 'r'"
        ).format(sql.Literal(qualified))
    ).fetchone()
    if row is None:
        where = f"{table.schema}.{table.table}" if table.schema else f"{table.table} (on the search_path)"
        raise UsageError(
            f"no alembic version table {where} in the database: it is not managed by these migrations "
            "(set --version-table / --version-table-schema if it lives elsewhere)"
        )
    current = read_current(conn, table)
    version = int(conn.execute("SHOW server_version_num").fetchone()[0])
    roles = [(str(r[0]), bool(r[1]), bool(r[2])) for r in conn.execute(_ROLES_SQL).fetchall()]
    return TargetInfo(current, version, str(row[0]), roles, phased.read_phases(conn))


def pending_revisions(project: AlembicProject, current: tuple[str, ...]) -> list[dict[str, str]]:
    """Revisions after ``current`` up to head, in apply order. UsageError if ``current`` is not in the project."""
    from migtui.project.status import UnknownRevision
    from migtui.project.status import pending_revisions as pending_after

    try:
        pending = pending_after(project, current)
    except UnknownRevision as exc:
        raise UsageError(
            f"{exc.message}: deploy the matching migrations (or pass --migrations) before checking drift"
        ) from None
    return [{"revision": info.revision, "description": info.description} for info in pending]


# -- the expected schema ---------------------------------------------------------------------------------


def build_expected_snapshot(
    project: AlembicProject,
    target: TargetInfo,
    settings: Settings,
    *,
    scratch_dsn: str | None = None,
    sink: EventSink = discard,
) -> tuple[Snapshot, str]:
    """Apply the migrations to exactly ``target.current`` on a scratch database and inspect it.

    Returns (snapshot, description of the server used). With ``scratch_dsn`` (a server where this user may
    create databases and roles) no embedded server is started.
    """
    from migtui.pg import harness
    from migtui.project.baseline import required_extensions

    extensions = required_extensions(project, settings)
    if scratch_dsn:
        server: Any = scratch_server(scratch_dsn)
        harness.check_server_extensions(server, extensions)
        description = f"scratch server (PostgreSQL {server.pg_version})"
        try:
            return _build_on(server, project, target, settings, sink), description
        except MigtuiError:
            raise
        except Exception as exc:
            raise MigtuiError(f"cannot build the expected schema on the scratch server: {error_line(exc)}") from None
    bins = scratch_binaries(target, settings, extensions)
    pg_version = bins.pg_version
    sink(Message(text=f"building the expected schema on an embedded PostgreSQL {pg_version} server"))
    cluster = harness.start_cluster(pg_version, pg_bin=str(bins.bin_dir))
    try:
        return _build_on(cluster, project, target, settings, sink), f"embedded PostgreSQL {pg_version}"
    finally:
        cluster.cleanup()


def scratch_server(dsn: str):
    """The ``--scratch-dsn`` server; ConnectionFailed (exit 6) with a one-line, redacted message."""
    import psycopg

    from migtui.errors import ConnectionFailed
    from migtui.pg import harness
    from migtui.pg.connect import describe_error

    try:
        return harness.ExternalServer(dsn)
    except psycopg.Error as exc:
        raise ConnectionFailed(f"cannot connect to the scratch server: {describe_error(exc)}") from None


def scratch_pg_version(target: TargetInfo, settings: Settings, extensions: tuple[str, ...] = ()) -> int:
    """The embedded server's major: that of ``--pg-bin`` if given, else the target's, else the nearest one
    (among the builds that have ``extensions``, the ones the project creates)."""
    return scratch_binaries(target, settings, extensions).pg_version


def scratch_binaries(target: TargetInfo, settings: Settings, extensions: tuple[str, ...] = ()):
    """The binaries of the embedded server (see ``scratch_pg_version``)."""
    from migtui.pg import harness

    if settings.pg_bin and not extensions:
        return harness.find_binaries(None, settings.pg_bin)
    return harness.find_binaries_with(target.pg_version, extensions, settings.pg_bin)


def _build_on(server: Any, project: AlembicProject, target: TargetInfo, settings: Settings, sink: EventSink):
    from psycopg import sql

    from migtui.project.baseline import apply_baseline
    from migtui.runner.job import Runner

    admin_user = str(server.execute("SELECT current_user")[0][0])
    existing = {str(r[0]) for r in server.execute("SELECT rolname FROM pg_roles")}
    for name, superuser, login in target.roles:
        if name in existing:
            continue
        options = [sql.SQL("SUPERUSER" if superuser else "NOSUPERUSER")]
        options.append(sql.SQL("LOGIN" if (login or name == target.migration_role) else "NOLOGIN"))
        with contextlib.suppress(Exception):  # a concurrent check may have created it
            server.execute(sql.SQL("CREATE ROLE {} {}").format(sql.Identifier(name), sql.SQL(" ").join(options)))
    run_as = target.migration_role
    can_switch = isinstance(getattr(server, "port", None), int)  # embedded: trust auth for every local role
    name = "migtui_drift_" + uuid.uuid4().hex[:12]
    owner = run_as if can_switch else admin_user
    server.execute(
        sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)).as_string(None)
    )
    try:
        dsn = server.dsn(name, user=run_as) if can_switch else server.dsn(name)
        baseline = apply_baseline(settings, dsn)
        if baseline:
            sink(Message(text=f"applied the baseline {baseline} on the scratch database"))
        runner = Runner(project, dsn, settings, discard)
        for revision in target.current:
            sink(Message(text=f"applying migrations up to {revision} on the scratch database"))
            try:
                runner.upgrade(revision)
            except MigtuiError as exc:
                hint = "" if settings.baseline else " (a history that starts from existing tables needs --baseline)"
                raise MigtuiError(f"cannot build the expected schema: {exc.message}{hint}") from None
        if target.phases:
            follow_phases(dsn, target, sink)
        snapshot = inspect_database(
            dsn,
            version_table=settings.version_table,
            version_table_schema=settings.version_table_schema,
            exclude_tables=phased.PHASE_STATE_TABLES,
        )
    finally:
        with contextlib.suppress(Exception):
            server.drop_database(name)
    if not can_switch and admin_user != run_as:
        _map_owner(snapshot, admin_user, run_as)
    return snapshot


def follow_phases(dsn: str, target: TargetInfo, sink: EventSink) -> None:
    """Bring each phased revision of the scratch database to the phase recorded on the target.

    The runner's upgrade ran every revision's expand; the migrate and contract steps come from the plan
    the target stored at expand (the SQL it ran itself), so a database at any phase compares equal to its
    own plan. Aborted revisions are not applied on the target, so the upgrade left them out already.
    """
    from migtui.pg.connect import connect

    with connect(dsn, application_name="migtui drift phases") as conn:
        conn.autocommit = True
        if not phased.has_phase_state(conn):
            return  # no phased revision below the target's version
        for revision, phase, step, plan in target.phases:
            if conn.execute("SELECT 1 FROM migtui.phase_state WHERE revision = %s", (revision,)).fetchone() is None:
                continue  # recorded on the target, not applied below its version
            if phased.replay(conn, revision, phase, step, plan, what="cannot build the expected schema"):
                sink(Message(text=f"expected schema: {revision} {phase}, as recorded on the target"))


def _without_phase_schema(expected: Snapshot, actual: Snapshot) -> None:
    """The ``migtui`` schema exists wherever a phased revision ever ran (its state tables stay after an
    abort): when it holds nothing else on either side, its presence alone is not drift."""
    key = ("schema", phased.PHASE_SCHEMA)
    if (key in expected.objects) == (key in actual.objects):
        return
    prefix = phased.PHASE_SCHEMA + "."
    for snapshot in (expected, actual):
        if any(name.startswith(prefix) for _, name in snapshot.objects):
            return
    expected.objects.pop(key, None)
    actual.objects.pop(key, None)


def _map_owner(snapshot: Snapshot, built_as: str, owner: str) -> None:
    """On a scratch server where we cannot log in as the target's migration role, objects are owned by the
    scratch user: spell that owner as the migration role, as it is on the target."""
    for obj in snapshot.objects.values():
        if obj.attributes.get("owner") == built_as:
            obj.attributes["owner"] = owner


def expected_schema(
    project: AlembicProject,
    target: TargetInfo,
    settings: Settings,
    *,
    cache_dir: Path | None,
    use_cache: bool = True,
    scratch_dsn: str | None = None,
    sink: EventSink = discard,
) -> ExpectedSchema:
    """The expected snapshot for ``target``: from the on-disk cache, else built (and then cached)."""
    from migtui.drift import cache as drift_cache
    from migtui.project.baseline import baseline_fingerprint, required_extensions

    started = time.monotonic()
    if scratch_dsn:
        pg_version = scratch_server(scratch_dsn).pg_version
    else:
        pg_version = scratch_pg_version(target, settings, required_extensions(project, settings))
    key = drift_cache.CacheKey(
        revisions=tuple(sorted(target.current)),
        content_hash=project.content_hash(),
        pg_version=pg_version,
        role=target.migration_role,
        version_table=f"{settings.version_table_schema or ''}.{settings.version_table}",
        inspector=drift_cache.inspector_hash(),
        phases=target.phase_key(),
        baseline=baseline_fingerprint(settings),
    )
    path = drift_cache.path_for(cache_dir, key) if cache_dir is not None else None
    if path is not None and use_cache:
        cached = drift_cache.load(path, key)
        if cached is not None:
            snapshot, server = cached
            return ExpectedSchema(snapshot, "cache", server, time.monotonic() - started, str(path))
    snapshot, server = build_expected_snapshot(project, target, settings, scratch_dsn=scratch_dsn, sink=sink)
    if path is not None:
        try:
            drift_cache.store(path, key, snapshot, server)
        except OSError as exc:
            sink(Message(text=f"cannot write the expected-schema cache {path}: {exc.strerror}", level="warning"))
            path = None
    return ExpectedSchema(snapshot, "built", server, time.monotonic() - started, str(path) if path else None)


# -- the check ---------------------------------------------------------------------------------------------


def run_drift(settings: Settings, options: DriftOptions | None = None, sink: EventSink = discard) -> DriftReport:
    """Compare the live schema of ``settings.dsn`` with the schema its recorded migrations produce."""
    from migtui.project.baseline import check_baseline
    from migtui.project.load import load_project

    options = options or DriftOptions()
    check_baseline(settings)
    excluded = parse_exclusions([*settings.drift_exclude, *options.exclude])
    project = load_project(settings)
    project.script  # noqa: B018 - a broken revision graph fails here, before touching the database
    if not settings.dsn:
        raise UsageError("no database configured: pass --dsn URL or set MIGTUI_DSN")
    cache_dir = options.cache_dir if options.cache_dir is not None else default_cache_dir()
    with cyclic_gc_paused():  # snapshots are tens of thousands of small acyclic objects
        return _check_drift(
            project, settings.dsn, settings, excluded, cache_dir, options.use_cache, settings.scratch_dsn, sink
        )


def _check_drift(project, dsn, settings, excluded, cache_dir, use_cache, scratch_dsn, sink) -> DriftReport:
    from migtui.drift.fix import fix_sql
    from migtui.pg.connect import connect

    started = time.monotonic()
    table = VersionTable(settings.version_table, settings.version_table_schema)
    sink(RunStarted(job=JOB, target=redact_dsn(dsn) or ""))
    with connect(dsn, application_name="migtui drift") as conn:
        target = read_target(conn, table)
        pending = pending_revisions(project, target.current)
        inspect_started = time.monotonic()
        actual = inspect_database(
            conn,
            version_table=settings.version_table,
            version_table_schema=settings.version_table_schema,
            exclude_tables=phased.PHASE_STATE_TABLES,
        )
        inspect_seconds = time.monotonic() - inspect_started
    expected = expected_schema(
        project, target, settings, cache_dir=cache_dir, use_cache=use_cache, scratch_dsn=scratch_dsn, sink=sink
    )
    _without_phase_schema(expected.snapshot, actual)
    notes: list[str] = []
    in_flight = [
        f"{revision} {phase}" for revision, phase, _, _ in target.phases if phase not in ("contracted", "aborted")
    ]
    if in_flight:
        notes.append(f"phased revision(s) in progress, expected at their recorded phase: {', '.join(in_flight)}")
    if expected.snapshot.pg_version != target.pg_version:
        notes.append(
            f"the expected schema was built on PostgreSQL {expected.snapshot.pg_version} "
            f"(PostgreSQL {target.pg_version} is not available here): server-deparsed text may differ between majors"
        )
        if _without_maintain(expected.snapshot, actual):
            notes.append("the owner's MAINTAIN privilege (PostgreSQL 17+ only) is left out of grants")
    if pending:
        notes.append(f"{len(pending)} pending revision(s) not applied yet (not drift)")
    if not target.current:
        notes.append("the version table is empty (base): every object in the database is unexpected")
    diff_started = time.monotonic()
    differences = diff_snapshots(expected.snapshot, actual, exclude=[*excluded, *STATE_ATTRIBUTES])
    fixes = [fix_sql(item, expected.snapshot, actual) for item in differences]
    report = DriftReport(
        target=redact_dsn(dsn) or "",
        migrations=str(project.script_location),
        current=target.current,
        head=project.head(),
        pending=pending,
        target_pg_version=target.pg_version,
        expected_pg_version=expected.snapshot.pg_version,
        expected_source=expected.source,
        expected_server=expected.server,
        excluded=excluded,
        differences=differences,
        fixes=fixes,
        notes=notes,
        timings={
            "inspect_actual": inspect_seconds,
            "expected": expected.seconds,
            "diff": time.monotonic() - diff_started,
            "total": time.monotonic() - started,
        },
    )
    for finding in report.findings:
        sink(finding)
    sink(RunFinished(job=JOB, ok=not differences, exit_code=report.exit_code, summary=report.summary))
    return report


def _without_maintain(expected: Snapshot, actual: Snapshot) -> bool:
    """Across PostgreSQL 16 and 17+, relation owners' default privileges differ by MAINTAIN (new in 17): drop
    that one entry from both sides' grants so a cross-major comparison does not report every table."""
    if (expected.pg_version >= 17) == (actual.pg_version >= 17):
        return False
    for snapshot in (expected, actual):
        for obj in snapshot.objects.values():
            grants = obj.attributes.get("grants")
            if isinstance(grants, list) and "OWNER MAINTAIN" in grants:
                obj.attributes["grants"] = [g for g in grants if g != "OWNER MAINTAIN"]
    return True


def default_cache_dir() -> Path:
    """``$MIGTUI_CACHE_DIR``, else ``$XDG_CACHE_HOME/migtui``, else ``~/.cache/migtui``; drift uses ``drift/``."""
    import os

    base = os.environ.get("MIGTUI_CACHE_DIR")
    if base:
        return Path(base).expanduser() / "drift"
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return root / "migtui" / "drift"
