"""Where a database stands against a project: the revisions it has applied and the ones still pending.

One answer for every job and view (status, history, lint's "pending only", dry-run, drift, rollback-test's
``--force``, the TUI's overview, the demo), so they cannot disagree on what "pending" means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migtui.errors import UsageError
from migtui.project.load import AlembicProject, RevisionInfo


class UnknownRevision(UsageError):
    """The database records a revision the project does not have (callers may say it their own way)."""

    def __init__(self, message: str, revision: str) -> None:
        super().__init__(message)
        self.revision = revision


def applied_revisions(revisions: list[RevisionInfo], current: tuple[str, ...] | set[str]) -> set[str]:
    """The revisions a database at ``current`` has: those rows and all their ancestors.

    A current revision that is not among ``revisions`` contributes nothing (``check_known`` refuses it).
    """
    downs = {info.revision: info.down_revisions for info in revisions}
    applied: set[str] = set()
    stack = [rev for rev in current if rev in downs]
    while stack:
        rev = stack.pop()
        if rev in applied:
            continue
        applied.add(rev)
        stack.extend(downs.get(rev, ()))
    return applied


def check_known(project: AlembicProject, current: tuple[str, ...]) -> None:
    """UnknownRevision for the first of ``current`` that ``project`` lacks."""
    script = project.script
    for revision in current:
        try:
            known = script.get_revision(revision) is not None
        except Exception:
            known = False
        if not known:
            raise UnknownRevision(
                f"the database is at revision {revision!r}, which is not in {project.script_location}", revision
            )


def plan_revisions(project: AlembicProject, direction: str, target: str, heads: tuple[str, ...]) -> list[str]:
    """Revision ids a run from ``heads`` to ``target`` applies (``up``) or reverts (``down``), in order.

    UnknownRevision when the database is at a revision the project lacks."""
    from migtui.redact import error_line

    check_known(project, heads)
    script = project.script
    try:
        if direction == "up":
            steps = script._upgrade_revs(target, heads)
        else:
            steps = script._downgrade_revs(target, heads)
    except Exception as exc:
        detail = error_line(exc)
        where = ", ".join(heads) or "base"
        raise UsageError(f"cannot go {direction} to {target!r} from {where}: {detail}") from None
    return [step.revision.revision for step in steps]


def pending_revisions(project: AlembicProject, current: tuple[str, ...]) -> list[RevisionInfo]:
    """Revisions after ``current`` up to head, in apply order (the order ``migtui up`` applies them).

    UnknownRevision when the database is at a revision the project lacks."""
    by_id = {info.revision: info for info in project.revisions()}
    return [by_id[rev] for rev in plan_revisions(project, "up", "heads", current) if rev in by_id]


def read_current(dsn: str, settings: Any, application_name: str = "migtui status") -> tuple[str, ...]:
    """The revision(s) in the database's version table; () when it is missing or empty (base)."""
    return _read_database(dsn, settings, application_name)[0]


def _read_database(dsn: str, settings: Any, application_name: str) -> tuple[tuple[str, ...], list[Any]]:
    """(revisions in the version table, INVALID indexes) in one session."""
    from migtui.pg.connect import connect
    from migtui.pg.progress import invalid_index_details
    from migtui.pg.version_table import VersionTable
    from migtui.pg.version_table import read_current as read_rows

    with connect(dsn, application_name=application_name) as conn:
        current = read_rows(conn, VersionTable(settings.version_table, settings.version_table_schema))
        return current, invalid_index_details(conn)


@dataclass
class ProjectStatus:
    """``migtui status``: the database's revision(s), the project's heads, what is pending."""

    target: str  # redacted
    migrations: str
    current: tuple[str, ...]
    heads: list[str]
    pending: list[RevisionInfo]
    revisions: list[RevisionInfo]
    invalid_indexes: list[Any] = field(default_factory=list)  # migtui.pg.progress.InvalidIndex

    @property
    def applied(self) -> set[str]:
        return applied_revisions(self.revisions, self.current)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "migrations": self.migrations,
            "current": list(self.current),
            "heads": self.heads,
            "at_head": not self.pending,
            "pending": [
                {"revision": p.revision, "down_revisions": list(p.down_revisions), "description": p.description}
                for p in self.pending
            ],
            # left by an interrupted CREATE INDEX CONCURRENTLY (or being built now: "building": true)
            "invalid_indexes": [i.to_dict() for i in self.invalid_indexes],
        }


def project_status(settings: Any) -> ProjectStatus:
    """The status of ``settings.dsn`` against ``settings.migrations``."""
    from migtui.project.load import load_project
    from migtui.redact import redact_dsn

    project = load_project(settings)
    project.script  # noqa: B018 - check the revision graph before touching the database
    if not settings.dsn:
        raise UsageError("no database configured: pass --dsn URL or set MIGTUI_DSN")
    current, invalid = _read_database(settings.dsn, settings, "migtui status")
    return ProjectStatus(
        target=redact_dsn(settings.dsn) or "",
        migrations=str(project.script_location),
        current=current,
        heads=sorted(project.script.get_heads()),
        pending=pending_revisions(project, current),
        revisions=project.revisions(),
        invalid_indexes=invalid,
    )
