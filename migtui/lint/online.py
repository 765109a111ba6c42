"""Lint's online rendering: the statements of revisions that cannot be rendered offline, captured for real.

A revision that reads the database (``op.get_bind().execute(...)``), raises in ``--sql`` mode or whose literal
rendering fails has no offline SQL. Such revisions are applied on a scratch database (on ``settings.scratch_dsn``'s
server, else an embedded one started for this and stopped afterwards) built from ``settings.baseline`` up to
their parent through the runner's one-step function, with every statement they send captured
(``migtui.project.capture``, the capture dry-run's shadow uses). The scratch database is dropped afterwards;
the target is never touched.

What cannot be rendered this way either comes back as a reason (one line) instead of statements.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from migtui.project.render import RenderedStatement
from migtui.redact import error_line


@dataclass
class OnlineRender:
    statements: dict[str, list[RenderedStatement]] = field(default_factory=dict)  # revision -> its statements
    unanalyzable: dict[str, str] = field(default_factory=dict)  # revision -> why it has no statements
    server: str = ""  # where it ran ("embedded PostgreSQL 16", "the scratch server")


def _server(settings: Any, pg_version: int) -> tuple[Any, str]:
    from migtui.pg import harness

    if settings.scratch_dsn:
        return harness.ExternalServer(settings.scratch_dsn), "the --scratch-dsn server"
    bins = harness.find_binaries(settings.pg_version or pg_version, settings.pg_bin)
    return harness.start_cluster(bins.pg_version, pg_bin=str(bins.bin_dir)), f"embedded PostgreSQL {bins.pg_version}"


def render_online(project: Any, settings: Any, order: list[str], wanted: list[str], pg_version: int) -> OnlineRender:
    """Capture the statements of the revisions ``wanted``, applying ``order`` (base first) up to the last of them.

    Never raises for the project's own failures: each revision left without statements gets its reason.
    """
    from migtui.project.capture import ShadowRevision, capture_statements
    from migtui.runner.step import run_revision_step

    out = OnlineRender()
    if not wanted:
        return out
    try:
        server, out.server = _server(settings, pg_version)
    except Exception as exc:
        reason = f"no scratch server for online rendering: {getattr(exc, 'message', None) or error_line(exc)}"
        out.unanalyzable = dict.fromkeys(wanted, reason)
        return out
    paths = {info.revision: info.path for info in project.revisions()}
    captured = [ShadowRevision(rev) for rev in wanted]
    by_id = {rev.revision: rev for rev in captured}
    last = max(order.index(rev) for rev in wanted)
    name = f"migtui_lint_{uuid.uuid4().hex[:10]}"
    created = False
    broken: str | None = None  # why the scratch database cannot be built any further
    try:
        server.create_database(name)
        created = True
        dsn = server.dsn(name)
        from migtui.project.baseline import apply_baseline

        try:
            apply_baseline(settings, dsn)
        except Exception as exc:
            broken = f"the baseline could not be applied: {getattr(exc, 'message', None) or error_line(exc)}"
        with capture_statements(captured):
            for rev in order[: last + 1]:
                if broken is not None:
                    if rev in by_id:
                        out.unanalyzable[rev] = broken
                    continue
                try:
                    run_revision_step(project, dsn, settings, rev, "up", job="lint online render")
                except Exception as exc:
                    message = getattr(exc, "message", None) or error_line(exc, driver_error=True)
                    if rev in by_id:
                        out.unanalyzable[rev] = f"fails on {out.server} too: {message}"
                    broken = f"the scratch database cannot be built up to its parent: {rev} fails there: {message}"
                    continue
                if rev in by_id:
                    out.statements[rev] = _records(by_id[rev], paths.get(rev))
    except Exception as exc:
        reason = f"online rendering on {out.server} failed: {getattr(exc, 'message', None) or error_line(exc)}"
        for rev in wanted:
            if rev not in out.statements:
                out.unanalyzable.setdefault(rev, reason)
    finally:
        if created:
            with contextlib.suppress(Exception):
                server.drop_database(name)
        server.cleanup()
    return out


def _records(rev: Any, path: Any) -> list[RenderedStatement]:
    """The captured statements as rendered ones; a stretch outside the revision's transaction (an
    autocommit_block) is framed by the COMMIT / BEGIN alembic would have written offline."""
    out: list[RenderedStatement] = []
    in_tx = True
    for stmt in rev.statements:
        if stmt.transactional != in_tx:
            out.append(RenderedStatement("BEGIN" if stmt.transactional else "COMMIT", rev.revision, path, stmt.line))
            out[-1].transaction_control = True
            in_tx = stmt.transactional
        out.append(RenderedStatement(stmt.sql, rev.revision, path, stmt.line))
    return out
