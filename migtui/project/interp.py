"""The ``python`` setting: a project's alembic work in the project's own interpreter (a child process).

A project whose migrations need packages that cannot live beside migtui (Airflow 2 needs SQLAlchemy < 2; migtui
needs 2.x) names its venv's interpreter (``--python PATH``, ``MIGTUI_PYTHON``, ``[tool.migtui] python``). migtui
then never imports the project's env.py or revisions itself: ``alembic_child.py`` (standard library + the
project's alembic and SQLAlchemy only) is run by path in that interpreter, one process per piece of work, and
answers in JSON lines. This module is the parent's side: the process, the revision graph built from the child's
listing (so plans, status and version checks run here unchanged), and the offline render.

What stays in migtui's process: the deploy advisory lock (its own connection), the version-table checks, the
watchdog (progress, lock waits, per-revision timeout: pg_cancel_backend, then pg_terminate_backend and killing
the child) and all analysis. What runs in the child: env.py and the revision (with migtui's session SQL sent on
every connection env.py opens, the target identity check, statement capture streamed back).
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import threading
import types
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from migtui.errors import ProjectError, UsageError

CHILD = Path(__file__).with_name("alembic_child.py")
_PROBES: dict[str, dict[str, Any]] = {}
_PROBE_LOCK = threading.Lock()


def interpreter(python: str) -> str:
    """The interpreter's path, or UsageError naming the setting."""
    import shutil

    found = shutil.which(python) if os.sep not in python else None
    path = Path(found or python).expanduser()
    if not path.exists():
        raise UsageError(f"python: {python} not found (the project's interpreter, e.g. its-venv/bin/python)")
    if not os.access(path, os.X_OK) or path.is_dir():
        raise UsageError(f"python: {python} is not an executable interpreter")
    return str(path)


class Child:
    """One ``alembic_child.py`` process: requests on stdin (one a line), answers as JSON lines, stderr kept (its
    tail). It serves requests until :meth:`close`; :func:`take` / :func:`give_back` keep one idle per project."""

    def __init__(self, python: str, extra_env: dict[str, str] | None = None) -> None:
        self.python = interpreter(python)
        env = {**os.environ, **(extra_env or {})}
        env["PYTHONUNBUFFERED"] = "1"
        try:
            self.proc = subprocess.Popen(
                [self.python, str(CHILD)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                text=True,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,  # a terminal's Ctrl-C reaches migtui, which stops the child itself
            )
        except OSError as exc:
            raise UsageError(f"python: cannot run {python}: {exc.strerror}") from None
        self.stderr: deque[str] = deque(maxlen=20)
        self.ended = False  # the last request was answered to its end (the process may serve another)
        self.env_key = "[]"  # the extra environment it was started with (the idle pool's key)
        self._drain = threading.Thread(target=self._read_stderr, name="migtui-child-stderr", daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if line.strip():
                self.stderr.append(line.rstrip())

    def send(self, request: dict[str, Any], *, last: bool = False) -> None:
        """Write one request (``last``: then close stdin, so the process ends after answering it)."""
        assert self.proc.stdin is not None
        self.ended = False
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            if last:
                self.proc.stdin.close()
        except OSError:
            pass  # it died: the missing answer says so

    def messages(self) -> Iterator[dict[str, Any]]:
        """The answers to the request sent last, up to its ``end`` (or until the process dies)."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("event") == "end":
                self.ended = True
                return
            yield message

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def close(self, grace: float = 5.0) -> int:
        """End the process (stdin closed; killed if it has not ended within ``grace`` seconds); its exit code."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            code = self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._drain.join(timeout=2)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code

    def silent(self, what: str) -> ProjectError:
        """The error for a child that ended without its answer."""
        code = self.proc.poll()
        tail = next((line for line in reversed(self.stderr) if line.strip()), "")
        from migtui.redact import redact

        detail = f": {redact(tail.strip())[:300]}" if tail else ""
        return ProjectError(f"the project's interpreter {self.python} ended during {what} (exit {code}){detail}")


_IDLE: dict[tuple[str, str, str, str], Child] = {}
_IDLE_LOCK = threading.Lock()


def take(python: str, key: str, extra_env: dict[str, str] | None = None) -> Child:
    """A child for ``key`` (the project) with ``extra_env`` in its environment: the idle one kept from its last
    step with the same environment, else a new one."""
    env_key = json.dumps(sorted((extra_env or {}).items()))
    with _IDLE_LOCK:
        child = _IDLE.pop((interpreter(python), key, os.getcwd(), env_key), None)
    if child is not None and child.proc.poll() is None:
        return child
    child = Child(python, extra_env)
    child.env_key = env_key
    return child


def give_back(child: Child, key: str) -> None:
    """Keep ``child`` for the project's next step when it answered to its end; else end it."""
    if not child.ended or child.proc.poll() is not None:
        child.kill()
        child.close()
        return
    slot = (child.python, key, os.getcwd(), child.env_key)
    with _IDLE_LOCK:
        previous = _IDLE.pop(slot, None)
        _IDLE[slot] = child
    if previous is not None:
        previous.close()


def close_idle() -> None:
    """End every kept child (at exit; a child also ends when migtui's process does: its stdin closes)."""
    with _IDLE_LOCK:
        children = list(_IDLE.values())
        _IDLE.clear()
    for child in children:
        child.close()


atexit.register(close_idle)


def ask(python: str, request: dict[str, Any], what: str) -> list[dict[str, Any]]:
    """Run one request in a process of its own; every answer line."""
    child = Child(python)
    try:
        child.send(request, last=True)
        answers = list(child.messages())
    finally:
        child.close()
    if not answers:
        raise child.silent(what)
    return answers


def probe(python: str) -> dict[str, Any]:
    """What the interpreter has (python, sqlalchemy, alembic versions, drivers); cached per path."""
    key = str(Path(python).expanduser())
    with _PROBE_LOCK:
        if key not in _PROBES:
            answers = ask(python, {"command": "probe"}, "its probe")
            found = next((a for a in answers if a.get("event") == "probe"), None)
            if found is None:
                raise ProjectError(f"python: {python} did not answer migtui's probe: {answers[-1].get('message')}")
            if str(found.get("alembic", "")).startswith("not importable"):
                raise UsageError(f"python: {python} has no alembic ({found['alembic']}): install it in that venv")
            if str(found.get("sqlalchemy", "")).startswith("not importable"):
                raise UsageError(f"python: {python} has no SQLAlchemy ({found['sqlalchemy']}): install it there")
            _PROBES[key] = found
        return _PROBES[key]


def default_driver(python: str) -> str:
    """The driver for a project that names none: psycopg 3 where SQLAlchemy 2 and psycopg are installed (as in
    migtui's own process), else psycopg2 (SQLAlchemy 1.4 has no psycopg 3 dialect), else what is there."""
    found = probe(python)
    drivers = list(found.get("drivers") or [])
    if str(found.get("sqlalchemy", "")).split(".")[0] >= "2" and "psycopg" in drivers:
        return "psycopg"
    for name in ("psycopg2", "psycopg", "asyncpg", "pg8000"):
        if name in drivers:
            return name
    return "psycopg2"


def describe(python: str) -> str:
    """``/path/bin/python (Python 3.11.7, SQLAlchemy 1.4.54, alembic 1.13.1)`` for ``migtui config``."""
    found = probe(python)
    return (
        f"{python} (Python {found.get('python')}, SQLAlchemy {found.get('sqlalchemy')}, "
        f"alembic {found.get('alembic')}; drivers: {', '.join(found.get('drivers') or []) or 'none'})"
    )


def base_request(project: Any, config: Any) -> dict[str, Any]:
    """The parts of an alembic Config (built in migtui's process) the child rebuilds its own from."""
    # the options migtui may set on top of alembic.ini (the child reads the ini itself too)
    main = {
        name: value
        for name in ("version_table", "version_table_schema")
        if (value := config.get_main_option(name)) is not None
    }
    attributes = {}
    for key, value in dict.items(config.attributes):
        if key == "migtui" or key == "connection":
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        attributes[key] = value
    return {
        "ini_path": str(project.ini_path) if project.ini_path else None,
        "script_location": str(project.script_location),
        "main_options": main,
        "attributes": attributes,
    }


# -- the revision graph ----------------------------------------------------------------------------------------


def script_directory(project: Any) -> Any:
    """An alembic ScriptDirectory over the child's listing of the revisions: the graph, docs and paths, with
    stand-in modules (no revision code is imported into migtui's process)."""
    from alembic.script import Script, ScriptDirectory

    probe(project.python)  # an interpreter without alembic / SQLAlchemy: one line saying so
    request = {"command": "revisions", **base_request(project, project.config())}
    answers = ask(project.python, request, "loading the revisions")
    location = project.script_location
    last = answers[-1]
    if last.get("event") == "error":
        from migtui.redact import redact

        kind, message, where = last.get("kind"), redact(str(last.get("message", ""))), last.get("where", "")
        if kind == "graph":
            raise UsageError(f"broken revision graph in {location}: {message}")
        if kind == "syntax":
            raise UsageError(f"syntax error in revision file {where or location}: {message}")
        if where:
            raise ProjectError(f"cannot import {where}: {message}")
        raise UsageError(f"cannot load migrations in {location} (python {project.python}): {message}")
    if last.get("event") != "done":
        raise ProjectError(f"the project's interpreter {project.python} gave no revision list")
    scripts = []
    for item in answers:
        if item.get("event") != "revision":
            continue
        module = types.ModuleType(f"migtui_child_revision_{item['revision']}")
        module.__doc__ = item.get("doc")
        down = item.get("down_revision")
        if down != "<missing>":
            module.down_revision = tuple(down) if isinstance(down, list) else down  # type: ignore[attr-defined]
        for name in ("branch_labels", "depends_on"):
            value = item.get(name)
            setattr(module, name, tuple(value) if isinstance(value, list) else value)
        module.upgrade = _runs_in_child  # type: ignore[attr-defined]  # plans name it; the child runs the real one
        if item.get("has_downgrade"):
            module.downgrade = _runs_in_child  # type: ignore[attr-defined]
        if down == "<missing>":
            raise UsageError(f"revision file {item['path']}: missing down_revision")
        scripts.append(Script(module, item["revision"], item["path"]))

    class ChildScriptDirectory(ScriptDirectory):
        def _load_revisions(self):  # type: ignore[no-untyped-def]
            yield from scripts

    return ChildScriptDirectory(str(location))


def _runs_in_child(*_args: Any, **_kwargs: Any) -> None:
    raise RuntimeError("this revision's code runs in the project's interpreter, not in migtui's process")


# -- offline render ------------------------------------------------------------------------------------------


def render(project: Any, url: str, version_table: str, start: str | None, tolerant: bool, files: list[str]):
    """(records as dicts, the dialect, per-revision errors, the failure outside them or None)."""
    request = {
        "command": "render",
        **base_request(project, project.config()),
        "url": url,
        "version_table": version_table,
        "start": start,
        "tolerant": tolerant,
        "revision_files": files,
    }
    answers = ask(project.python, request, "the offline render")
    last = answers[-1]
    if last.get("event") != "render_done":
        raise ProjectError(f"the project's interpreter {project.python} failed to render: {last.get('message')}")
    records = [a for a in answers if a.get("event") == "record"]
    return records, last.get("dialect") or "postgresql", dict(last.get("errors") or {}), last.get("failure")
