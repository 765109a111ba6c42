"""Render alembic revisions in offline (``--sql``) mode and map each statement back to its revision file.

One offline ``upgrade`` from base to head runs the project's own env.py with a dummy PostgreSQL URL (no
database is contacted). Every SQL text alembic writes passes through ``DefaultImpl.static_output``; we
record it with the call stack's innermost frame inside a revision file (the ``op.*`` line). Transaction
boundaries come from the ``BEGIN;`` / ``COMMIT;`` alembic itself writes (per migration or one for all, as
env.py configures it; ``autocommit_block()`` writes ``COMMIT;`` ... ``BEGIN;``).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migtui.errors import ProjectError, UsageError
from migtui.project.load import ENV_LOCK, no_logging_config
from migtui.redact import error_line

OFFLINE_URL = "postgresql://migtui-offline@localhost/migtui_offline"
_RUNNING = re.compile(r"^-- Running upgrade\s+(?:(?P<down>\S.*?)\s+)?->\s+(?P<rev>\S+)")


@dataclass
class RenderedStatement:
    sql: str
    revision: str | None  # None for alembic's own preamble (version table)
    path: Path | None  # revision file
    line: int | None  # the op.* line in the revision file
    existing_types: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> type
    existing_not_null: list[tuple[str, str]] = field(default_factory=list)  # (table, column): existing_nullable=False
    version_table: bool = False  # alembic's own bookkeeping (alembic_version)
    transaction_control: bool = False  # BEGIN/COMMIT written by alembic (per migration, autocommit_block)


@dataclass
class RenderedRevision:
    revision: str
    path: Path
    down_revisions: tuple[str, ...]
    statements: list[RenderedStatement] = field(default_factory=list)
    in_transaction_at_start: bool = False
    rendered: bool = False  # its upgrade() ran in the offline render
    error: str | None = None  # why it could not be rendered offline (its statements are then left out)


class _Records(list):
    """The rendered statements, and the SQL dialect env.py rendered them for."""

    dialect: str = "postgresql"


# alembic's functions that write the version table (alembic/runtime/migration.py): the CREATE TABLE of an
# offline render from base, then one INSERT/UPDATE/DELETE per revision
_VERSION_WRITERS = frozenset(
    {"_ensure_version_table", "run_migrations", "_insert_version", "_delete_version", "_update_version"}
)
_MIGRATION_PY = str(Path("alembic", "runtime", "migration.py"))


@contextlib.contextmanager
def _capture(revision_files: dict[str, str], version_table: str) -> Iterator[_Records]:
    from alembic.ddl.impl import DefaultImpl
    from alembic.ddl.postgresql import PostgresqlImpl

    records: _Records = _Records()
    pending_types: dict[str, dict[str, str]] = {}
    pending_not_null: list[tuple[str, str]] = []
    state: dict[str, Any] = {"revision": None}
    original_output = DefaultImpl.static_output
    original_alter = PostgresqlImpl.alter_column

    def where() -> tuple[Path | None, int | None, bool, bool]:
        """(revision file, line, alembic's BEGIN/COMMIT, alembic's version-table bookkeeping)."""
        frame = sys._getframe(2)
        by_alembic = by_version = False
        while frame is not None:
            code = frame.f_code
            if code.co_name in ("emit_begin", "emit_commit") and "alembic" in code.co_filename:
                by_alembic = True
            if code.co_name in _VERSION_WRITERS and code.co_filename.endswith(_MIGRATION_PY):
                by_version = True
            if code.co_filename in revision_files:
                return Path(code.co_filename), frame.f_lineno, by_alembic, by_version
            frame = frame.f_back
        return None, None, by_alembic, by_version

    def static_output(self, text: str) -> None:
        records.dialect = self.dialect.name
        stripped = text.strip()
        match = _RUNNING.match(stripped)
        if match:
            state["revision"] = match["rev"]
        path, line, by_alembic, by_version = where()
        # by origin too: an env.py may name its own table (masakari: version_table='masakari_alembic_version')
        named = bool(re.search(rf"\b{re.escape(version_table)}\b", stripped))
        is_version = path is None and (named or (by_version and not by_alembic))
        records.append(
            RenderedStatement(
                sql=stripped,
                revision=state["revision"],
                path=path,
                line=line,
                existing_types={k: dict(v) for k, v in pending_types.items()},
                existing_not_null=list(pending_not_null),
                version_table=is_version,
                transaction_control=by_alembic,
            )
        )

    def alter_column(self, table_name, column_name, *args, **kw):
        existing = kw.get("existing_type")
        if kw.get("existing_nullable") is False:
            pending_not_null.append((f"{kw.get('schema') or 'public'}.{table_name}", column_name))
        if existing is not None:
            schema = kw.get("schema") or "public"
            try:
                type_text = str(existing.compile(dialect=self.dialect))
            except Exception:
                type_text = ""
            if type_text:
                pending_types.setdefault(f"{schema}.{table_name}", {})[column_name] = type_text
        try:
            return original_alter(self, table_name, column_name, *args, **kw)
        finally:
            pending_types.clear()
            pending_not_null.clear()

    DefaultImpl.static_output = static_output  # type: ignore[method-assign]
    PostgresqlImpl.alter_column = alter_column  # type: ignore[method-assign]
    try:
        yield records
    finally:
        DefaultImpl.static_output = original_output  # type: ignore[method-assign]
        PostgresqlImpl.alter_column = original_alter  # type: ignore[method-assign]


def _error_location(exc: BaseException, revision_files: dict[str, str]) -> str:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename in revision_files:
            return f"{frame.filename}:{frame.lineno}"
    return ""


@contextlib.contextmanager
def _per_revision_errors(errors: dict[str, str], revision_files: dict[str, str]) -> Iterator[None]:
    """While active, an exception raised by one revision's upgrade() is recorded in ``errors`` and the render
    goes on with the next revision (alembic writes that revision's version-table update all the same)."""
    from alembic.runtime import migration

    original_init = migration.RevisionStep.__init__

    def init(self, revision_map, revision, is_upgrade):  # type: ignore[no-untyped-def]
        original_init(self, revision_map, revision, is_upgrade)
        fn = self.migration_fn
        rev_id = revision.revision

        def run_revision(**kw):  # type: ignore[no-untyped-def]
            try:
                return fn(**kw)
            except Exception as exc:
                errors[rev_id] = _render_error(exc, revision_files)
                return None

        run_revision.__name__ = fn.__name__
        self.migration_fn = run_revision

    migration.RevisionStep.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        migration.RevisionStep.__init__ = original_init  # type: ignore[method-assign]


def _render_error(exc: BaseException, revision_files: dict[str, str]) -> str:
    where = _error_location(exc, revision_files)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    if isinstance(exc, SyntaxError):
        return f"syntax error {exc.filename}:{exc.lineno}: {exc.msg}"
    line = where.rsplit(":", 1)[-1] if where else ""
    return f"{exc.__class__.__name__} at line {line}: {text}" if line else f"{exc.__class__.__name__}: {text}"


def render_project(
    project, version_table: str = "alembic_version", *, start: str | None = None, tolerant: bool = False
) -> list[RenderedRevision]:
    """Render the revisions of ``project`` (an ``AlembicProject``) offline, base first.

    ``start``: render only what comes after this revision (the database's current one); the others are
    returned with ``rendered`` False. ``tolerant``: a revision whose upgrade() raises in offline mode gets
    ``error`` set and the render goes on (the caller renders it another way); an error outside any revision
    (env.py) marks every revision not rendered yet. Without ``tolerant`` either raises UsageError.
    """
    infos = project.revisions()  # loads and checks the graph (UsageError on broken files)
    revisions = {info.revision: RenderedRevision(info.revision, info.path, info.down_revisions) for info in infos}
    if not infos:
        return []
    revision_files = {str(info.path): info.revision for info in infos}
    buffer = io.StringIO()
    cfg = project.config(OFFLINE_URL)
    cfg.output_buffer = buffer
    cfg.attributes["output_buffer"] = buffer
    errors: dict[str, str] = {}
    env_error: str | None = None
    if getattr(project, "python", None):  # the project's interpreter renders; the records come back as JSON lines
        records, env_error = _render_in_child(project, version_table, start, tolerant, revision_files, errors)
    else:
        records, env_error = _render_here(project, cfg, start, tolerant, revision_files, version_table, errors)
    dialect = records.dialect
    if dialect != "postgresql":  # env.py builds its own engine (its own settings), ignoring sqlalchemy.url
        reason = f"env.py renders for {dialect}, not PostgreSQL: it ignores sqlalchemy.url and builds its own engine"
        if not tolerant:
            raise UsageError(f"cannot render migrations offline: {reason}")
        env_error = reason
        records.clear()
    in_tx = False
    current: RenderedRevision | None = None
    for record in records:
        upper = record.sql.rstrip(";").strip().upper()
        if record.sql.startswith("-- Running"):
            current = revisions.get(record.revision or "")
            if current is not None:
                current.in_transaction_at_start = in_tx
                current.rendered = True
            continue
        if record.sql.startswith("--") and "\n" not in record.sql:
            continue
        if upper in ("BEGIN", "START TRANSACTION"):
            in_tx = True
        elif upper in ("COMMIT", "ROLLBACK", "END"):
            in_tx = False
        if current is None or record.version_table:
            continue
        if record.path is not None and str(record.path) in revision_files:
            owner = revisions[revision_files[str(record.path)]]
        else:
            owner = current
        owner.statements.append(record)
    for rev_id, error in errors.items():
        rev = revisions[rev_id]
        rev.error = error
        rev.statements = [r for r in rev.statements if r.transaction_control]  # not what it half-rendered
    if env_error is not None:  # the revision env.py failed in (the last announced) and all after it
        for rev in revisions.values():
            if rev.error is None and (not rev.rendered or rev is current):
                rev.statements = []
                rev.error = env_error
                rev.rendered = False
    return [revisions[info.revision] for info in infos]


def _render_here(project, cfg, start, tolerant, revision_files, version_table, errors):  # type: ignore[no-untyped-def]
    """The offline render in migtui's process: (records, the error outside any revision or None)."""
    from alembic import command

    env_error: str | None = None
    per_revision = _per_revision_errors(errors, revision_files) if tolerant else contextlib.nullcontext()
    with ENV_LOCK, no_logging_config(), _capture(revision_files, version_table) as records, per_revision:
        try:
            command.upgrade(cfg, f"{start}:heads" if start else "heads", sql=True)
        except UsageError:
            raise
        except SyntaxError as exc:
            raise UsageError(f"syntax error in revision file {exc.filename}:{exc.lineno}: {exc.msg}") from None
        except Exception as exc:
            if tolerant and isinstance(exc, ImportError):  # the same import fails online: the project is broken
                env_py = Path(project.script_location) / "env.py"
                raise ProjectError(f"{env_py} failed: {error_line(exc)}") from None
            if tolerant:
                env_error = "env.py failed in offline mode: " + _render_error(exc, revision_files)
            else:
                where = _error_location(exc, revision_files)
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
                if where:
                    raise UsageError(
                        f"revision file {where}: cannot render offline: {text} "
                        "(guard database-reading code with `if not op.get_context().as_sql:`)"
                    ) from None
                raise UsageError(f"cannot render migrations offline (alembic --sql): {text}") from None
    return records, env_error


def _render_in_child(project, version_table, start, tolerant, revision_files, errors):  # type: ignore[no-untyped-def]
    """The offline render in the project's interpreter (``python`` setting), with the same outcomes as
    :func:`_render_here`: UsageError / ProjectError, or with ``tolerant`` the errors kept per revision."""
    from migtui.project import interp

    found, dialect, child_errors, failure = interp.render(
        project, OFFLINE_URL, version_table, start, tolerant, list(revision_files)
    )
    records = _Records()
    records.dialect = dialect
    for item in found:
        records.append(
            RenderedStatement(
                sql=item["sql"],
                revision=item.get("revision"),
                path=Path(item["path"]) if item.get("path") else None,
                line=item.get("line"),
                existing_types=item.get("existing_types") or {},
                existing_not_null=[tuple(pair) for pair in item.get("existing_not_null") or []],
                version_table=bool(item.get("version_table")),
                transaction_control=bool(item.get("transaction_control")),
            )
        )
    from migtui.redact import redact

    errors.update({rev: redact(str(text)) for rev, text in child_errors.items()})
    if failure is None:
        return records, None
    failure = {key: redact(value) if isinstance(value, str) else value for key, value in failure.items()}
    where, text = failure.get("where") or "", failure.get("text") or ""
    if failure["kind"] == "syntax":
        raise UsageError(f"syntax error in revision file {where}: {text}")
    if tolerant and failure["kind"] == "import":
        raise ProjectError(f"{Path(project.script_location) / 'env.py'} failed: {failure.get('line') or text}")
    if tolerant:
        return records, "env.py failed in offline mode: " + (failure.get("rendered") or text)
    if where:
        raise UsageError(
            f"revision file {where}: cannot render offline: {text} "
            "(guard database-reading code with `if not op.get_context().as_sql:`)"
        )
    raise UsageError(f"cannot render migrations offline (alembic --sql): {text}")


# --- revision-file checks (no rendering needed) -------------------------------------------------------


def read_source(path: Path | str) -> str:
    """A revision module's text decoded as Python decodes it (a ``# -*- coding: ... -*-`` cookie or a BOM,
    else UTF-8), so lint reads every file ``up`` can import."""
    import importlib.util

    try:
        with open(path, "rb") as handle:
            return importlib.util.decode_source(handle.read())
    except (UnicodeDecodeError, SyntaxError, LookupError) as exc:  # bad bytes, an unknown coding
        raise UsageError(f"revision file {path}: cannot decode it: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise UsageError(f"cannot read revision file {path}: {exc.strerror}") from None


def downgrade_status(path: Path) -> tuple[bool, int]:
    """(missing?, line): whether ``downgrade()`` is absent, empty, ``pass`` or raises NotImplementedError."""
    source = read_source(path)
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise UsageError(f"syntax error in revision file {path}:{exc.lineno}: {exc.msg}") from None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            body = list(node.body)
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                body = body[1:]  # docstring
            meaningful = [
                stmt
                for stmt in body
                if not isinstance(stmt, ast.Pass)
                and not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
            ]
            if not meaningful:
                return True, node.lineno
            if len(meaningful) == 1 and isinstance(meaningful[0], ast.Raise):
                exc = meaningful[0].exc
                name = exc.func if isinstance(exc, ast.Call) else exc
                if isinstance(name, ast.Name) and name.id == "NotImplementedError":
                    return True, node.lineno
            return False, node.lineno
    return True, 1


def downgrade_lines(path: Path) -> range:
    """The line range of ``def downgrade`` (empty when there is none)."""
    try:
        tree = ast.parse(read_source(path), filename=str(path))
    except SyntaxError:
        return range(0)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            return range(node.lineno, (node.end_lineno or node.lineno) + 1)
    return range(0)
