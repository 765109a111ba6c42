"""The alembic side of migtui's ``python`` setting: run by path in the project's own interpreter.

Standalone on purpose: it imports only the standard library and the project's own alembic and SQLAlchemy (any
of SQLAlchemy 1.4 / 2.x), never migtui, so a project whose migrations need packages incompatible with migtui's
environment (Airflow 2 needs SQLAlchemy < 2) runs its env.py and revisions unmodified in its own venv. migtui
(the parent) keeps the deploy advisory lock, the version-table checks, the watchdog (progress, lock waits,
per-revision timeout via pg_cancel_backend, then terminating the backend and killing this process) and the
analysis; this process does only what needs the project's code, one command per process:

- ``probe``: interpreter, SQLAlchemy, alembic and the PostgreSQL drivers importable here;
- ``revisions``: the revision graph (ids, parents, docs, paths);
- ``render``: the offline (``--sql``) rendering, each statement with the revision file line that sent it;
- ``step``: one revision up or down on the target, in one transaction, every connection env.py opens set up
  with migtui's session SQL (application_name, lock_timeout, ...) and checked to be the target.

Requests are JSON objects on stdin, one a line (they hold the DSN: never on the command line); the process serves
them in turn until stdin closes, so migtui can keep it for the next revision step (the project's imports are paid
once, as in ``alembic upgrade``). Answers are JSON lines on the process's original stdout, each request's ending
with ``{"event": "end"}``; whatever the project prints goes to stderr so it cannot break the stream.
"""

import contextlib
import io
import json
import os
import re
import sys
import threading
import time
import traceback

_RUNNING = re.compile(r"^-- Running upgrade\s+(?:(?P<down>\S.*?)\s+)?->\s+(?P<rev>\S+)")
_OUT = None


def emit(**fields):
    _OUT.write(json.dumps(fields, default=str) + "\n")
    _OUT.flush()


def first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def project_frame(exc, roots):
    """``file:line`` of the innermost traceback frame under one of ``roots`` ("" if none)."""
    roots = [os.path.realpath(r) for r in roots]
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = os.path.realpath(frame.filename)
        if any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots):
            return f"{frame.filename}:{frame.lineno}"
    return ""


def sqlstates(exc):
    found, seen, stack = [], set(), [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        state = getattr(item, "sqlstate", None) or getattr(item, "pgcode", None)
        if isinstance(state, str):
            found.append(state)
        stack.extend([getattr(item, "orig", None), item.__cause__, item.__context__])
    return found


def interrupted(exc):
    seen, item = set(), exc
    while item is not None and id(item) not in seen:
        if isinstance(item, KeyboardInterrupt):
            return True
        seen.add(id(item))
        item = item.__cause__ or item.__context__
    return False


def describe(exc):
    """One line: the database's message when there is one (the driver's error under SQLAlchemy's wrapper)."""
    orig = getattr(exc, "orig", None)
    chosen = orig if orig is not None else exc
    line = first_line(chosen)
    diag = getattr(chosen, "diag", None)
    detail = getattr(diag, "message_detail", None) if diag is not None else None
    if detail:
        line = f"{line} ({' '.join(str(detail).split())})"
    if orig is None and not (getattr(chosen, "sqlstate", None) or getattr(chosen, "pgcode", None)):
        line = f"{chosen.__class__.__name__}: {line}"
    return line


def is_driver_error(exc):
    try:
        from sqlalchemy.exc import DBAPIError, OperationalError
    except Exception:
        return False
    module = type(exc).__module__
    return isinstance(exc, (DBAPIError, OperationalError)) or module.startswith(("psycopg", "asyncpg", "pg8000"))


def make_config(request, url=None):
    from alembic.config import Config

    ini = request.get("ini_path")
    cfg = Config(ini) if ini else Config()
    cfg.set_main_option("script_location", request["script_location"])
    for name, value in (request.get("main_options") or {}).items():
        cfg.set_main_option(name, value)
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["migtui"] = True
    cfg.attributes.update(request.get("attributes") or {})
    return cfg


@contextlib.contextmanager
def no_logging_config():
    """env.py must not reconfigure logging (its output would land on the answer stream's neighbour)."""
    import logging.config

    original = logging.config.fileConfig
    logging.config.fileConfig = lambda *args, **kwargs: None
    try:
        yield
    finally:
        logging.config.fileConfig = original


# -- probe ---------------------------------------------------------------------------------------------------


def probe(request):
    import importlib.util

    def version(name):
        try:
            module = __import__(name)
            return getattr(module, "__version__", "?")
        except Exception as exc:
            return f"not importable ({first_line(exc)})"

    drivers = [
        name for name in ("psycopg2", "psycopg", "asyncpg", "pg8000") if importlib.util.find_spec(name) is not None
    ]
    emit(
        event="probe",
        python=sys.version.split()[0],
        executable=sys.executable,
        sqlalchemy=version("sqlalchemy"),
        alembic=version("alembic"),
        drivers=drivers,
    )


# -- revisions -----------------------------------------------------------------------------------------------


def revisions(request):
    import warnings

    from alembic.script import ScriptDirectory

    location = request["script_location"]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            script = ScriptDirectory.from_config(make_config(request))
            found = list(script.walk_revisions())
    except KeyError as exc:
        missing = [str(w.message) for w in caught if "is not present" in str(w.message)]
        emit(event="error", kind="graph", message=missing[0] if missing else f"revision {exc} is not present")
        return
    except SyntaxError as exc:
        where = f"{exc.filename}:{exc.lineno}" if exc.filename else ""
        emit(event="error", kind="syntax", where=where, message=exc.msg)
        return
    except Exception as exc:
        emit(event="error", kind="import", where=project_frame(exc, [location]), message=describe(exc))
        return
    for rev in found:
        module = rev.module
        emit(
            event="revision",
            revision=rev.revision,
            down_revision=getattr(module, "down_revision", "<missing>"),
            branch_labels=getattr(module, "branch_labels", None),
            depends_on=getattr(module, "depends_on", None),
            doc=module.__doc__,
            path=str(rev.path),
            has_downgrade=callable(getattr(module, "downgrade", None)),
        )
    emit(event="done")


# -- offline render ------------------------------------------------------------------------------------------


def render(request):
    from alembic import command
    from alembic.ddl.impl import DefaultImpl
    from alembic.ddl.postgresql import PostgresqlImpl
    from alembic.runtime import migration

    revision_files = set(request["revision_files"])
    version_table = request["version_table"]
    tolerant = request["tolerant"]
    pending_types = {}
    pending_not_null = []
    state = {"revision": None, "dialect": "postgresql"}
    errors = {}

    def error_location(exc):
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename in revision_files:
                return f"{frame.filename}:{frame.lineno}"
        return ""

    def rendered_error(exc):
        if isinstance(exc, SyntaxError):
            return f"syntax error {exc.filename}:{exc.lineno}: {exc.msg}"
        where = error_location(exc)
        line = where.rsplit(":", 1)[-1] if where else ""
        text = first_line(exc)
        return f"{exc.__class__.__name__} at line {line}: {text}" if line else f"{exc.__class__.__name__}: {text}"

    def where():
        frame = sys._getframe(2)
        by_alembic = False
        while frame is not None:
            code = frame.f_code
            if code.co_name in ("emit_begin", "emit_commit") and "alembic" in code.co_filename:
                by_alembic = True
            if code.co_filename in revision_files:
                return code.co_filename, frame.f_lineno, by_alembic
            frame = frame.f_back
        return None, None, by_alembic

    def static_output(self, text):
        state["dialect"] = self.dialect.name
        stripped = text.strip()
        match = _RUNNING.match(stripped)
        if match:
            state["revision"] = match["rev"]
        path, line, by_alembic = where()
        is_version = bool(re.search(rf"\b{re.escape(version_table)}\b", stripped)) and path is None
        emit(
            event="record",
            sql=stripped,
            revision=state["revision"],
            path=path,
            line=line,
            existing_types={k: dict(v) for k, v in pending_types.items()},
            existing_not_null=list(pending_not_null),
            version_table=is_version,
            transaction_control=by_alembic,
        )

    original_alter = PostgresqlImpl.alter_column

    def alter_column(self, table_name, column_name, *args, **kw):
        existing = kw.get("existing_type")
        if kw.get("existing_nullable") is False:
            pending_not_null.append((f"{kw.get('schema') or 'public'}.{table_name}", column_name))
        if existing is not None:
            try:
                type_text = str(existing.compile(dialect=self.dialect))
            except Exception:
                type_text = ""
            if type_text:
                pending_types.setdefault(f"{kw.get('schema') or 'public'}.{table_name}", {})[column_name] = type_text
        try:
            return original_alter(self, table_name, column_name, *args, **kw)
        finally:
            pending_types.clear()
            pending_not_null.clear()

    original_init = migration.RevisionStep.__init__

    def init(self, revision_map, revision, is_upgrade):
        original_init(self, revision_map, revision, is_upgrade)
        fn = self.migration_fn
        rev_id = revision.revision

        def run_revision(**kw):
            try:
                return fn(**kw)
            except Exception as exc:
                errors[rev_id] = rendered_error(exc)
                return None

        run_revision.__name__ = fn.__name__
        self.migration_fn = run_revision

    cfg = make_config(request, request["url"])
    buffer = io.StringIO()
    cfg.output_buffer = buffer
    cfg.attributes["output_buffer"] = buffer
    original_output = DefaultImpl.static_output
    DefaultImpl.static_output = static_output
    PostgresqlImpl.alter_column = alter_column
    if tolerant:
        migration.RevisionStep.__init__ = init
    failure = None
    try:
        with no_logging_config():
            start = request.get("start")
            command.upgrade(cfg, f"{start}:heads" if start else "heads", sql=True)
    except SyntaxError as exc:
        failure = {"kind": "syntax", "where": f"{exc.filename}:{exc.lineno}", "text": exc.msg}
    except Exception as exc:
        failure = {
            "kind": "import" if isinstance(exc, ImportError) else "other",
            "where": error_location(exc),
            "text": first_line(exc),
            "line": f"{exc.__class__.__name__}: {first_line(exc)}",
            "rendered": rendered_error(exc),
        }
    finally:
        DefaultImpl.static_output = original_output
        PostgresqlImpl.alter_column = original_alter
        migration.RevisionStep.__init__ = original_init
    emit(event="render_done", dialect=state["dialect"], errors=errors, failure=failure)


# -- one revision, online ------------------------------------------------------------------------------------


class ProjectFailure(Exception):
    """Refused by migtui's rules (not PostgreSQL, not the target, a connection migtui cannot watch)."""


class StepFailure(Exception):
    """The revision cannot be applied alone from where the database stands."""


def inline(cursor, statement, parameters):
    """The statement with its parameters inlined, as the server sees it (psycopg2, psycopg 3; asyncpg binds
    server-side: kept as sent)."""
    try:
        module = type(cursor).__module__
        if "asyncpg" in module:
            return statement
        if not parameters:
            return statement.replace("%%", "%") if parameters is not None and parameters == {} else statement
        if module.startswith("psycopg.") or module == "psycopg":
            import psycopg

            return psycopg.ClientCursor(cursor.connection).mogrify(statement, parameters)
        text = cursor.mogrify(statement, parameters)
        return text.decode() if isinstance(text, bytes) else str(text)
    except Exception:
        return statement


def step(request):
    import functools

    import sqlalchemy
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import MigrationStep
    from alembic.script import ScriptDirectory
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    revision = request["revision"]
    direction = request["direction"]
    setup_sql = request["setup_sql"]
    identity = tuple(request["identity"])
    driver = request["driver"]
    owner = threading.get_ident()
    st = {"hooked": False, "in_body": False, "body_started": False, "noop": False, "path": None, "current": None}
    reported = set()

    cfg = make_config(request, request["url"])
    script = ScriptDirectory.from_config(cfg)
    script_rev = script.get_revision(revision)
    st["path"] = os.path.realpath(script_rev.path) if script_rev.path else None

    def engine_connect(conn, branch=False):
        if threading.get_ident() != owner or branch:
            return
        dialect = conn.dialect
        used = f"{dialect.name}+{dialect.driver}"
        if dialect.name != "postgresql":
            conn.close()
            raise ProjectFailure(
                f"env.py connected through {used}, not PostgreSQL: it builds its own engine from its own settings; "
                "when config.attributes.get('migtui') is set, make it use config.attributes['connection'] or "
                "config.get_main_option('sqlalchemy.url')"
            )
        dbapi_connection = (
            conn.connection.dbapi_connection
            if hasattr(conn.connection, "dbapi_connection")
            else (conn.connection.connection)
        )
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(setup_sql)
            pid, database, started = cursor.fetchone()[:3]
        finally:
            cursor.close()
        dbapi_connection.commit()
        if (database, started) != identity:
            conn.close()
            raise ProjectFailure(
                f"env.py connected to database {database!r}, not the target {identity[0]!r} on the target's "
                "server: migtui's advisory lock, timeout watchdog and version check act on the target; when "
                "config.attributes.get('migtui') is set, make env.py use config.attributes['connection'] or "
                "config.get_main_option('sqlalchemy.url')"
            )
        conn.connection.info["migtui_pid"] = int(pid)
        st["hooked"] = True
        emit(event="connected", pid=int(pid))
        if dialect.driver != driver and used not in reported:
            reported.add(used)
            emit(event="engine", used=used)

    def caller_line():
        path = st["path"]
        if path is None:
            return None
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if name == path or os.path.realpath(name) == path:
                return frame.f_lineno
            frame = frame.f_back
        return None

    def before(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() != owner or not st["in_body"]:
            return
        pid = conn.connection.info.get("migtui_pid")
        try:
            autocommit = bool(conn.connection.dbapi_connection.autocommit)
        except Exception:
            autocommit = False
        first = parameters[0] if executemany and parameters else parameters
        emit(
            event="statement",
            pid=pid,
            sql=str(statement).strip(),
            inlined=inline(cursor, statement, first).strip(),
            transactional=not autocommit,
            executemany=len(parameters) if executemany else 0,
            line=caller_line(),
        )
        st["current"] = time.monotonic()

    def after(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() == owner and st["current"] is not None:
            emit(event="statement_done", seconds=time.monotonic() - st["current"])
            st["current"] = None

    def on_error(ctx):
        if threading.get_ident() == owner and st["current"] is not None:
            error = describe(ctx.original_exception)
            emit(event="statement_done", seconds=time.monotonic() - st["current"], error=error)
            st["current"] = None

    def work(heads, context):
        heads = tuple(heads or ())
        if direction == "up":
            try:
                steps = script._upgrade_revs(revision, heads)
            except Exception as exc:
                raise StepFailure(
                    f"cannot apply {revision}: database is at {', '.join(heads) or 'base'} ({exc})"
                ) from None
            if not steps:
                st["noop"] = True
                return []
            if len(steps) != 1:
                raise StepFailure(
                    f"cannot apply {revision} alone: database is at {', '.join(heads) or 'base'}, "
                    f"{len(steps)} revisions away"
                )
            one = steps[0]
        else:
            if revision not in heads:
                ancestors = {r.revision for r in script.iterate_revisions(heads, "base")} if heads else set()
                if revision not in ancestors:
                    st["noop"] = True
                    return []
                raise StepFailure(
                    f"cannot revert {revision}: it is not the current revision (database is at {', '.join(heads)})"
                )
            one = MigrationStep.downgrade_from_script(script.revision_map, script_rev)
        original = one.migration_fn

        @functools.wraps(original)
        def body(**kw):
            if not st["hooked"] or threading.get_ident() != owner:
                raise ProjectFailure(
                    f"env.py runs revision {revision} on a connection migtui cannot watch (opened on another "
                    "thread, or before this run): open it in env.py while it runs, on its own thread, e.g. "
                    "from config.attributes['connection'] or config.get_main_option('sqlalchemy.url')"
                )
            st["in_body"] = st["body_started"] = True
            emit(event="body")
            try:
                return original(**kw)
            finally:
                st["in_body"] = False

        one.migration_fn = body
        return [one]

    handed = {"engine": None, "connection": None}
    url = request["url"]

    class Attributes(dict):
        """``config.attributes`` with a ``"connection"`` opened when env.py reads it (alembic's cookbook)."""

        def __missing__(self, key):
            if key == "connection" and request.get("hand_connection"):
                if handed["connection"] is None:
                    handed["engine"] = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
                    handed["connection"] = handed["engine"].connect()
                return handed["connection"]
            raise KeyError(key)

        def __contains__(self, key):
            return (key == "connection" and bool(request.get("hand_connection"))) or dict.__contains__(self, key)

        def get(self, key, default=None):
            return self[key] if key in self else default

    cfg.attributes = Attributes(cfg.attributes)
    targets = [
        (Engine, "engine_connect", engine_connect),
        (Engine, "before_cursor_execute", before),
        (Engine, "after_cursor_execute", after),
        (Engine, "handle_error", on_error),
    ]
    if not sqlalchemy.__version__.startswith("1."):
        targets[0] = (Engine, "engine_connect", lambda conn: engine_connect(conn))
    for target, name, fn in targets:
        event.listen(target, name, fn)
    started = time.monotonic()
    try:
        with no_logging_config():
            with EnvironmentContext(cfg, script, fn=work, destination_rev=revision):
                script.run_env()
            connection = handed["connection"]
            if connection is not None and connection.in_transaction():
                connection.commit()
    except BaseException as exc:
        kind = "project" if isinstance(exc, ProjectFailure) else "step" if isinstance(exc, StepFailure) else "error"
        emit(
            event="error",
            kind=kind,
            message=str(exc) if kind != "error" else describe(exc),
            sqlstates=sqlstates(exc),
            body_started=st["body_started"],
            driver_error=is_driver_error(exc),
            interrupted=interrupted(exc),
            where=project_frame(exc, [request["script_location"]]),
        )
        return
    finally:
        for target, name, fn in targets:
            with contextlib.suppress(Exception):
                event.remove(target, name, fn)
        if handed["connection"] is not None:
            with contextlib.suppress(Exception):
                handed["connection"].close()
        if handed["engine"] is not None:
            handed["engine"].dispose()
    emit(event="done", noop=st["noop"], seconds=time.monotonic() - started)


def _die_with_parent(parent):
    """migtui killed (kill -9, a crash): end at once, so the server sees the connection gone and rolls the
    revision back, as it would had the revision run inside migtui's own process."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(70)


def main():
    global _OUT
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or os.curdir) == here:
        sys.path.pop(0)  # this file's folder holds migtui modules, never the project's
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as in migtui's own process: the project's modules from where it runs
    threading.Thread(target=_die_with_parent, args=(os.getppid(),), name="migtui-parent-watch", daemon=True).start()
    _OUT = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # what the project prints lands on stderr
    sys.stdout = sys.stderr
    commands = {"probe": probe, "revisions": revisions, "render": render, "step": step}
    for line in sys.stdin:  # one request a line; migtui may keep this process for the next revision step
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            commands[request["command"]](request)
        except BaseException as exc:  # anything not answered above: one line for migtui
            emit(event="error", kind="child", message=describe(exc), where="", sqlstates=[], body_started=False,
                 driver_error=False, interrupted=interrupted(exc))  # fmt: skip
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                break
        emit(event="end")
    _OUT.flush()


if __name__ == "__main__":
    main()
