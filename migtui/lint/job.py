"""The lint job: inputs (alembic revisions rendered offline, raw .sql files) -> analysis -> findings -> events.

report = run_lint(settings, LintOptions(paths=[...]), sink)  # no paths: settings.migrations
report.exit_code  # 0 clean, 1 findings at or above --fail-on

The target PostgreSQL major is ``settings.pg_version`` (default: the server's with a database, else 16); with
``settings.dsn`` (and ``LintOptions.catalog``) lint reads its catalog and skips applied revisions.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from migtui.analysis.analyze import (
    DEFAULT_PG_VERSION,
    Analyzer,
    RelationLock,
    StatementAnalysis,
    StatementInput,
    check_version,
)
from migtui.analysis.approvals import apply_approvals, parse_approvals, unused_approval_findings
from migtui.analysis.facts import CatalogFacts
from migtui.analysis.lock_modes import blocks
from migtui.analysis.parse import SqlSyntaxError, iter_parse_sql, parse_sql
from migtui.analysis.rules import RULES, SEVERITY_RANK
from migtui.errors import ExitCode, MigtuiError, UsageError
from migtui.events import Finding
from migtui.report import cyclic_gc_paused

if TYPE_CHECKING:
    from migtui.config import Settings
    from migtui.events import EventSink

JOB: Final = "lint"

PARALLEL_MIN_FILES: Final = 200  # fewer files stay in one process (work is shared out in chunks of whole files)
PARALLEL_BYTES_PER_JOB: Final = 256 * 1024  # default --jobs: one process per this much SQL (~4,000 statements)


@dataclass(frozen=True)
class LintOptions:
    paths: list[str] = field(default_factory=list)  # raw .sql files / folders, or alembic script directories
    catalog: bool = True  # read settings.dsn's catalog (read-only) and skip its applied revisions
    fail_on: str = "error"  # "error" | "warning" | "info"
    all_revisions: bool = False  # with a database: also lint revisions it already has
    jobs: int | None = None  # processes for raw files (default: by the SQL's size, at most one per CPU)
    # Render each file where it is linted (in a worker process for raw files) and keep only what it returns and
    # the file's tally (LintedFile.compact): the CLI's text, json and github output, without shipping every
    # statement back to the parent process and rendering them all there. Not with a sink (it needs every finding).
    render_file: Callable[[LintedFile], Any] | None = None


@dataclass(slots=True)
class FileTally:
    """A file's numbers for the report's summary and exit code."""

    statements: int = 0
    assumptions: int = 0
    error: int = 0
    warning: int = 0
    info: int = 0
    approved: int = 0
    ignored: int = 0

    def add(self, other: FileTally) -> None:
        self.statements += other.statements
        self.assumptions += other.assumptions
        self.error += other.error
        self.warning += other.warning
        self.info += other.info
        self.approved += other.approved
        self.ignored += other.ignored

    def astuple(self) -> tuple[int, int, int, int, int, int, int]:
        return (
            self.statements,
            self.assumptions,
            self.error,
            self.warning,
            self.info,
            self.approved,
            self.ignored,
        )


@dataclass
class LintedFile:
    path: str
    revision: str | None
    statements: list[StatementAnalysis]
    findings: list[Finding]  # file-level (missing downgrade, approvals, uncommitted transaction)
    ignored: int = 0
    rendered: Any = None  # what LintOptions.render_file made of this file (a compact file keeps only this)
    phases: dict[int, str] = field(default_factory=dict)  # statement index -> phase, in a phased revision
    _tally: FileTally | None = field(default=None, repr=False, compare=False)

    def all_findings(self) -> list[Finding]:
        """Statement findings in order, then the file-level ones (without the file: see ``located_findings``)."""
        out: list[Finding] = []
        for st in self.statements:
            out.extend(st.findings)
        out.extend(self.findings)
        return out

    def located_findings(self) -> list[Finding]:
        """``all_findings`` with this file's path and revision set (what renderers and events need)."""
        path, revision = self.path, self.revision
        return [f.located(path, revision) for f in self.all_findings()]

    def tally(self) -> FileTally:
        if self._tally is None:
            tally = FileTally(len(self.statements), ignored=self.ignored)
            for st in self.statements:
                tally.assumptions += len(st.assumptions)
            for finding in self.all_findings():
                if finding.severity == "error":
                    tally.error += 1
                elif finding.severity == "warning":
                    tally.warning += 1
                else:
                    tally.info += 1
                if finding.approved is not None:
                    tally.approved += 1
            self._tally = tally
        return self._tally

    def compact(self, render: Callable[[LintedFile], Any]) -> LintedFile:
        """This file rendered by ``render``, keeping only the rendering and the tally (no statements)."""
        return LintedFile(self.path, self.revision, [], [], self.ignored, render(self), _tally=self.tally())

    def _statement_dict(self, st: StatementAnalysis) -> dict[str, Any]:
        data = st.to_dict()
        if st.index in self.phases:
            data["phase"] = self.phases[st.index]
        return data

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "revision": self.revision,
            "statements": [self._statement_dict(st) for st in self.statements],
            "findings": [f.report_dict() for f in self.findings],
        }

    def to_json(self) -> bytes:
        """``orjson.dumps(self.to_dict())``, building one statement's dict at a time: a revision of a hundred
        thousand statements would otherwise hold all their dicts at once (docs/reliability.md)."""
        import orjson

        head = orjson.dumps({"path": self.path, "revision": self.revision})[:-1]
        batches = []  # of a thousand statements: a bytes object per statement would cost more than its dict
        for at in range(0, len(self.statements), 1000):
            batch = orjson.dumps([self._statement_dict(st) for st in self.statements[at : at + 1000]])
            batches.append(batch[1:-1])
        statements = b",".join(batches)
        findings = orjson.dumps([f.report_dict() for f in self.findings])
        return head + b',"statements":[' + statements + b'],"findings":' + findings + b"}"


@dataclass
class LintReport:
    files: list[LintedFile]
    pg_version: int
    catalog: bool
    fail_on: str = "error"
    target: str = ""  # the redacted database whose catalog was read, else the linted paths
    _tally: FileTally | None = field(default=None, repr=False, compare=False)

    @property
    def job(self) -> str:
        return JOB

    @property
    def summary(self) -> str:
        counts = self.counts()
        return f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} info"

    def tally(self) -> FileTally:
        if self._tally is None:
            total = FileTally()
            for file in self.files:
                total.add(file.tally())
            self._tally = total
        return self._tally

    @property
    def findings(self) -> list[Finding]:
        """Every finding, file by file, with its path and revision (files kept compact have none left)."""
        return [f for file in self.files for f in file.located_findings()]

    def counts(self) -> dict[str, int]:
        tally = self.tally()
        return {"error": tally.error, "warning": tally.warning, "info": tally.info}

    def totals(self) -> dict[str, Any]:
        """The JSON ``summary``: counts, the PostgreSQL major, whether a catalog was read, the exit code."""
        tally = self.tally()
        return {
            "files": len(self.files),
            "statements": tally.statements,
            "errors": tally.error,
            "warnings": tally.warning,
            "info": tally.info,
            "approved": tally.approved,
            "ignored": tally.ignored,
            "pg_version": self.pg_version,
            "catalog": self.catalog,
            "assumptions": tally.assumptions,
            "fail_on": self.fail_on,
            "exit_code": self.exit_code,
        }

    @property
    def exit_code(self) -> int:
        threshold = SEVERITY_RANK[self.fail_on]
        counts = self.counts()
        if any(n and SEVERITY_RANK[severity] >= threshold for severity, n in counts.items()):
            return int(ExitCode.FINDINGS)
        return int(ExitCode.OK)

    def to_dict(self) -> dict[str, Any]:
        return {"files": [f.to_dict() for f in self.files], "summary": self.totals()}


_CWD: list[str] = []
# absolute directory -> what its files' display paths start with ("" for the working directory itself), or
# None when it resolves outside the working directory (its files are shown as given). Thousands of files share
# a few directories: each is resolved once, and only the file itself is then checked for a symlink.
_DISPLAY_DIRS: dict[str, str | None] = {}


def _cwd() -> str:
    if not _CWD:
        _CWD.append(os.path.join(os.path.realpath(os.getcwd()), ""))
    return _CWD[0]


def display_path(path: Path | str) -> str:
    """Paths relative to the working directory when inside it, symlinks resolved (what CI annotations need)."""
    text = os.fspath(path)
    if not os.path.isabs(text):
        if ".." not in text:
            return text  # inside the working directory as given
        absolute = os.path.realpath(text)
        return absolute[len(_cwd()) :] if absolute.startswith(_cwd()) else text
    head, tail = os.path.split(text)
    if tail in ("", ".", "..") or os.path.islink(text):
        absolute = os.path.realpath(text)
        return absolute[len(_cwd()) :] if absolute.startswith(_cwd()) else text
    if head not in _DISPLAY_DIRS:
        real_head = os.path.join(os.path.realpath(head), "")
        _DISPLAY_DIRS[head] = real_head[len(_cwd()) :] if real_head.startswith(_cwd()) else None
    prefix = _DISPLAY_DIRS[head]
    return text if prefix is None else prefix + tail


# --- raw SQL files -----------------------------------------------------------------------------------


def read_text(path: Path | str) -> str:
    """A file's UTF-8 text through os.open/os.read: lint reads thousands of small files, and this skips the text
    wrapper and codec lookup Path.read_text sets up for each one."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(fd)
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{display_path(path)}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {display_path(path)}: {exc.strerror}") from None


def lint_sql_text(text: str, path: str, pg_version: int, facts: CatalogFacts | None) -> LintedFile:
    """Lint one raw SQL migration (not in a transaction unless it says BEGIN)."""
    analyzer = Analyzer(pg_version, facts)
    results = analyzer.analyze(iter_parse_sql(text, path))
    file_findings = analyzer.finish(results)
    approvals, problems = parse_approvals(text)
    file_findings, ignored = _apply_approvals(results, file_findings, approvals, problems)
    return LintedFile(path, None, results, file_findings, ignored)


def _apply_approvals(results, file_findings: list, approvals: list, problems: list) -> tuple[list, int]:
    """Apply a file's approve=/ignore= comments to its statements' and its own findings.

    Returns the file-level findings (with the approval problems and unused-approval warnings appended) and how
    many findings were ignored."""
    ignored = 0
    if approvals:
        for st in results:
            st.findings, n = apply_approvals(st.findings, approvals)
            ignored += n
        file_findings, n = apply_approvals(file_findings, approvals)
        ignored += n
        problems.extend(unused_approval_findings(approvals))
    return file_findings + problems, ignored


def lint_sql_file(path: Path | str, pg_version: int, facts: CatalogFacts | None) -> LintedFile:
    shown = display_path(path)
    return lint_sql_text(read_text(path), shown, pg_version, facts)


def _pack_finding(f: Finding) -> tuple:
    return (f.rule, f.severity, f.message, f.hint, f.line, f.approved)


def _pack(file: LintedFile) -> tuple:
    """Plain tuples, not dataclasses: a worker's results are large, and a tuple pickles without the class
    reference and attribute dict each dataclass instance carries."""
    statements = [
        (
            s.index,
            s.line,
            s.sql,
            s.transactional,
            s.forms,
            [(lk.relation, lk.mode) for lk in s.locks],
            s.rewrites,
            s.scans,
            [_pack_finding(f) for f in s.findings],
            s.assumptions,
            s.sql_line,
        )
        for s in file.statements
    ]
    return (file.path, file.revision, statements, [_pack_finding(f) for f in file.findings], file.ignored)


def _pack_compact(file: LintedFile) -> tuple:
    return (file.path, file.revision, file.rendered, file.tally().astuple())


def _unpack_compact(data: tuple) -> LintedFile:
    path, revision, rendered, counts = data
    tally = FileTally(*counts)
    return LintedFile(path, revision, [], [], tally.ignored, rendered, _tally=tally)


def _unpack(data: tuple) -> LintedFile:
    path, revision, statements, findings, ignored = data
    return LintedFile(
        path,
        revision,
        [
            StatementAnalysis(
                i,
                line,
                sql,
                tx,
                forms,
                [RelationLock(r, m, blocks(m)) for r, m in locks],
                rw,
                sc,
                [Finding(*f) for f in finds],
                assumed,
                sql_line,
            )
            for (i, line, sql, tx, forms, locks, rw, sc, finds, assumed, sql_line) in statements
        ],
        [Finding(*f) for f in findings],
        ignored,
    )


# A chunk's result: the files linted, and the error that stopped it (the first in file order).
ChunkResult = tuple[list[LintedFile], MigtuiError | None]


def _lint_chunk(
    paths: Sequence[Path | str],
    pg_version: int,
    facts: CatalogFacts | None,
    render: Callable[[LintedFile], Any] | None,
) -> ChunkResult:
    out: list[LintedFile] = []
    for path in paths:
        try:
            file = lint_sql_file(path, pg_version, facts)
        except MigtuiError as exc:
            return out, exc
        out.append(file if render is None else file.compact(render))
    return out, None


def _claim(counter, total: int) -> Iterator[int]:
    """Chunk indexes taken from a counter shared by the processes: whoever is free takes the next one."""
    while True:
        with counter.get_lock():
            index = counter.value
            counter.value = index + 1
        if index >= total:
            return
        yield index


def _worker(
    chunks: list[Sequence[Path | str]],
    counter,
    conn,
    pg_version: int,
    facts: CatalogFacts | None,
    render: Callable[[LintedFile], Any] | None,
) -> None:
    """A forked worker: lint the chunks it claims, send back [(index, packed files, error)] once, at the end.
    With ``render``, each file is rendered here and only the rendering and the tally are sent."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (it stops the workers)
    pack = _pack if render is None else _pack_compact
    try:
        done = []
        for index in _claim(counter, len(chunks)):
            files, error = _lint_chunk(chunks[index], pg_version, facts, render)
            # exceptions with a custom __init__ do not unpickle: send the message
            done.append((index, [pack(f) for f in files], error.message if error is not None else None))
        conn.send(done)
    except Exception:  # no traceback from a worker: the parent redoes its chunks (and reports any error)
        pass
    finally:
        conn.close()


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def default_jobs(paths: Sequence[Path | str]) -> int:
    """Processes when --jobs is not given: one per PARALLEL_BYTES_PER_JOB of SQL (a smaller share costs more
    to fork than it saves), at most one per usable CPU. Files come back rendered (LintOptions.render_file), so a
    second process costs little even when it gets no CPU of its own; the load average is not consulted (the
    figures with other processes busy: docs/lint.md, Speed)."""
    total = 0
    for path in paths:
        try:
            total += os.stat(path).st_size
        except OSError:
            pass  # reported when the file is read
    return max(1, min(usable_cpus(), total // PARALLEL_BYTES_PER_JOB))


def lint_sql_files(
    paths: Sequence[Path | str],
    pg_version: int,
    facts: CatalogFacts | None,
    jobs: int | None,
    render: Callable[[LintedFile], Any] | None = None,
) -> list[LintedFile]:
    """Lint raw files in order. From PARALLEL_MIN_FILES files on, in ``jobs`` processes (default: by size):
    this process and forked workers take chunks of files from a shared counter; results come back in order,
    and the first error in file order is the one raised, as in one process. With ``render``, files come back
    compact (``LintedFile.compact``), rendered where they were linted."""
    import threading

    if len(paths) < PARALLEL_MIN_FILES or threading.active_count() > 1:  # never fork a threaded process
        workers = 1
    else:
        workers = jobs if jobs is not None else default_jobs(paths)
    if workers <= 1:
        files, error = _lint_chunk(paths, pg_version, facts, render)
        if error is not None:
            raise error
        return files
    import multiprocessing

    size = max(1, len(paths) // (workers * 32))  # small chunks: no process is left with a long tail of work
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    unpack = _unpack if render is None else _unpack_compact
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("i", 0)
    results: dict[int, ChunkResult] = {}
    procs = []
    try:
        for _ in range(workers - 1):
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(chunks, counter, send, pg_version, facts, render), daemon=True)
            proc.start()
            send.close()
            procs.append((proc, receive))
        for index in _claim(counter, len(chunks)):  # this process works too
            results[index] = _lint_chunk(chunks[index], pg_version, facts, render)
        for proc, receive in procs:
            try:
                for index, packed, message in receive.recv():
                    results[index] = ([unpack(f) for f in packed], UsageError(message) if message else None)
            except EOFError:  # the worker died: what it had claimed is redone below
                pass
            receive.close()
            proc.join()
    finally:
        for proc, _receive in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join()
    out: list[LintedFile] = []
    for index, chunk in enumerate(chunks):
        files, error = results[index] if index in results else _lint_chunk(chunk, pg_version, facts, render)
        out.extend(files)
        if error is not None:
            raise error
    return out


def collect_sql_files(path: Path) -> list[Path]:
    """``path``, or every ``*.sql`` file under the folder ``path``, as ``sorted(path.rglob("*.sql"))`` gives them
    (symlinked folders are not entered, unreadable ones skipped), walked with os.scandir: its entries carry their
    type, so a regular file needs no stat call and no Path object."""
    return [Path(text) for text in sql_file_paths(path)]


def sql_file_paths(path: Path) -> list[str]:
    """``collect_sql_files`` as text paths (what lint itself uses)."""
    if not path.is_dir():
        return [os.fspath(path)]
    found: list[str] = []
    folders = [os.fspath(path)]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    if entry.name.endswith(".sql") and entry.is_file():
                        found.append(entry.path)
                    elif entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
        except OSError:
            continue
    found.sort(key=lambda text: text.split(os.sep))  # Path order: component by component
    return found


# --- alembic revisions -------------------------------------------------------------------------------


def is_alembic_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "env.py").is_file() or (path / "alembic.ini").is_file())


def lint_alembic(
    project,
    pg_version: int,
    facts: CatalogFacts | None,
    settings: Settings,
    skip: set[str] | None = None,
    start: str | None = None,
) -> list[LintedFile]:
    """Lint the revisions not in ``skip``, rendered offline from ``start`` (the database's revision) on.

    A revision that cannot be rendered offline is rendered online (``migtui.lint.online``); one that cannot be
    rendered either way gets an ``unanalyzable-revision`` finding and the others are still linted."""
    from migtui.analysis.facts import MigrationKnowledge
    from migtui.project.render import downgrade_lines, downgrade_status, read_source, render_project

    rendered = render_project(project, settings.version_table, start=start, tolerant=True)
    for rev in rendered:
        if rev.error is None and not (skip and rev.revision in skip):
            rev.error = _unbound_parameters(rev.statements)
    unanalyzable: dict[str, str] = {}
    offline_failed = [rev for rev in rendered if rev.error is not None and not (skip and rev.revision in skip)]
    if offline_failed:
        from migtui.lint.online import render_online

        online = render_online(
            project, settings, [rev.revision for rev in rendered], [rev.revision for rev in offline_failed], pg_version
        )
        for rev in offline_failed:
            if rev.revision in online.statements:
                rev.statements = online.statements[rev.revision]
                rev.in_transaction_at_start = True  # the runner applies each revision in its own transaction
            else:
                reason = online.unanalyzable.get(rev.revision, "not rendered online")
                unanalyzable[rev.revision] = f"offline: {rev.error}; online: {reason}"
    knowledge = MigrationKnowledge()  # what earlier revisions established, carried forward in order
    out: list[LintedFile] = []
    # locks the open transaction holds when a revision ends: without transaction_per_migration alembic runs
    # every revision in one transaction, and the next revision's slow work runs under them
    carried: dict = {}
    for rev in rendered:
        if skip and rev.revision in skip:
            carried = {}
            continue
        shown = display_path(rev.path)
        if rev.revision in unanalyzable:
            rule = RULES["unanalyzable-revision"]
            message = f"revision {rev.revision} not analysed: {unanalyzable[rev.revision]}"
            out.append(LintedFile(shown, rev.revision, [], [Finding(rule.id, rule.severity, message, rule.hint, 1)]))
            continue
        analyzer = Analyzer(
            pg_version,
            facts,
            in_transaction=rev.in_transaction_at_start,
            lock_timeout_set=settings.lock_timeout > 0,  # migtui's runner sets lock_timeout for every revision
            alembic=True,
            knowledge=knowledge,
            statement_timeout_set=bool(settings.timeout),  # and cancels a revision that outlives --timeout
        )
        if rev.in_transaction_at_start:
            analyzer.held = carried
        results: list[StatementAnalysis] = []
        last_line = 1
        for record in rev.statements:
            upper = record.sql.rstrip(";").strip().upper()
            if (record.path is None or record.transaction_control) and upper in ("BEGIN", "COMMIT", "ROLLBACK"):
                if upper == "BEGIN":
                    analyzer.in_transaction = True
                else:
                    analyzer.transaction_boundary()
                continue
            line = record.line or last_line
            last_line = line
            analyzer.classifier.type_hints = record.existing_types
            knowledge.not_null_columns.update(record.existing_not_null)  # alembic's existing_nullable=False
            try:
                # one chunk of parse trees at a time: an op.execute of megabytes of SQL is one record
                for statement in iter_parse_sql(record.sql):
                    results.append(analyzer.analyze_one(StatementInput(statement, line=line)))
            except SqlSyntaxError as exc:
                detail = exc.message.split("SQL syntax error: ", 1)[-1]
                raise UsageError(f"{shown}:{line}: the SQL this operation renders is invalid: {detail}") from None
        analyzer.classifier.type_hints = {}
        carried = analyzer.held if analyzer.in_transaction else {}
        phases: dict[int, str] = {}
        plan = _stored_plan(rev.statements)
        if plan is not None:
            for st in results:
                for finding in st.findings:
                    finding.phase = "expand"
                phases[st.index] = "expand"
            # the steps have no line of their own: they are shown at the line that runs expand
            at = results[0].line if results else 1
            later = _lint_later_phases(plan, pg_version, facts, settings, knowledge, shown, len(results), at)
            phases.update((st.index, st_phase) for st, st_phase in later)
            results.extend(st for st, _ in later)
        for held in carried.values():
            held.origin = held.origin or rev.revision
        text = read_source(rev.path)  # a coding cookie decodes as Python decodes it
        file_findings: list[Finding] = []
        missing, def_line = downgrade_status(rev.path)
        if missing:
            rule = RULES["missing-downgrade"]
            file_findings.append(
                Finding(
                    rule.id, rule.severity, f"revision {rev.revision}: downgrade() does nothing", rule.hint, def_line
                )
            )
        approvals, problems = parse_approvals(text)
        # downgrade() is not linted: approvals written there (for its drops) are accepted, never "unused"
        in_downgrade = downgrade_lines(rev.path)
        approvals = [a for a in approvals if a.line not in in_downgrade]
        file_findings, ignored = _apply_approvals(results, file_findings, approvals, problems)
        out.append(LintedFile(shown, rev.revision, results, file_findings, ignored, phases=phases))
    return out


_STATE_INSERT: Final = 'INSERT INTO "migtui"."phase_state"'


def _stored_plan(statements: list) -> dict[str, Any] | None:
    """The plan a phased revision's expand stores (``phases.expand`` rendered offline writes it into
    ``migtui.phase_state``), which ``migtui phase run`` replays; None for an ordinary revision."""
    import json

    for record in statements:
        if not record.sql.lstrip().startswith(_STATE_INSERT):
            continue
        try:
            (parsed,) = parse_sql(record.sql)
            values = parsed.node["selectStmt"]["SelectStmt"]["valuesLists"][0]["List"]["items"]
            literal = values[5]["TypeCast"]["arg"]["A_Const"]["sval"]["sval"]
            plan = json.loads(literal)
        except (SqlSyntaxError, ValueError, KeyError, IndexError, TypeError):
            return None  # not the row phases.expand writes: an ordinary statement, linted as such
        return plan if isinstance(plan, dict) else None
    return None


def _lint_later_phases(
    plan: dict[str, Any],
    pg_version: int,
    facts: CatalogFacts | None,
    settings: Settings,
    knowledge,
    shown: str,
    start: int,
    line: int,
) -> list[tuple[StatementAnalysis, str]]:
    """Lint a phased revision's migrate and contract steps (``migtui phase run``), each labelled with its phase.

    The phases engine runs every step in a transaction of its own (or none, for CONCURRENTLY), always under
    lock_timeout with retries, after the revision's own transaction. The backfill is batched (a few thousand
    rows per transaction) and is not a statement here. A pattern helper's contract is the reviewed path for
    what it drops (the old column once migrate has copied every row and the gates pass): its destructive
    findings come approved, still listed so the review sees what contract drops. ``raw_sql`` contract
    statements are the author's own and need ``approve=`` like any other."""
    analyzer = Analyzer(
        pg_version,
        facts,
        lock_timeout_set=True,
        alembic=True,
        # what earlier revisions established, copied: the later revisions of the project run at upgrade, before
        # this one's contract, and must not see what contract does
        knowledge=copy.deepcopy(knowledge),
        statement_timeout_set=bool(settings.timeout),
    )
    analyzer.index = start
    pattern = plan.get("pattern", "")
    out: list[tuple[StatementAnalysis, str]] = []
    if plan.get("backfill"):
        out.append((_backfill_statement(plan["backfill"], analyzer.index, line), "migrate"))
        analyzer.index += 1
    for phase in ("migrate", "contract"):
        for step in plan.get(phase) or []:
            try:
                parsed = parse_sql(step["sql"])
            except SqlSyntaxError as exc:
                detail = exc.message.split("SQL syntax error: ", 1)[-1]
                what = f"{phase} step {step.get('description') or 'SQL'!r}"
                raise UsageError(f"{shown}: the SQL of {what} is invalid: {detail}") from None
            analyzer.in_transaction = bool(step.get("transactional", True))
            for statement in parsed:
                st = analyzer.analyze_one(StatementInput(statement, line=line))
                for finding in st.findings:
                    finding.phase = phase
                    if phase == "contract" and pattern != "raw_sql" and _destructive(finding.rule):
                        finding.severity = "info"
                        finding.approved = f"phased {pattern}: contract drops it once migrate and the gates pass"
                out.append((st, phase))
            analyzer.transaction_boundary()
    return out


def _backfill_statement(backfill: dict[str, Any], index: int, line: int) -> StatementAnalysis:
    """The migrate phase's backfill as what one batch runs and locks: an UPDATE of one primary-key range (its
    key is read from the catalog when migrate runs), committed on its own, holding RowExclusiveLock on the table
    and the row locks of that batch only."""
    from psycopg import sql

    table = sql.Identifier(backfill["schema"], backfill["table"]).as_string(None)
    column = sql.Identifier(backfill["touch_column"]).as_string(None)
    where = f"<one batch's primary-key range> AND ({backfill['needs_update']})"
    text = f"UPDATE {table} SET {column} = {column} WHERE {where}"
    relation = f"{backfill['schema']}.{backfill['table']}"
    mode = "RowExclusiveLock"
    return StatementAnalysis(index, line, text, True, [], [RelationLock(relation, mode, blocks(mode))])


def _destructive(rule: str) -> bool:
    spec = RULES.get(rule)
    return bool(spec is not None and getattr(spec, "destructive", False))


_PLACEHOLDER: Final = re.compile(r"\?|%\(\w+\)s|%s|(?<![:\w]):[A-Za-z_]\w*")  # qmark, pyformat, format, named


def _unbound_parameters(statements: list) -> str | None:
    """Why a revision's offline SQL is unusable: a statement whose bound parameters alembic could not render
    as literals (``UPDATE t SET a=?``) does not parse; such a revision is rendered online instead."""
    for record in statements:
        if _PLACEHOLDER.search(record.sql) is None:
            continue
        try:
            for _ in iter_parse_sql(record.sql):
                pass
        except SqlSyntaxError:
            return f"line {record.line}: the offline SQL has unrendered bound parameters ({record.sql[:60]!r})"
    return None


# --- the job -----------------------------------------------------------------------------------------


def run_lint(settings: Settings, options: LintOptions | None = None, sink: EventSink | None = None) -> LintReport:
    """Lint the inputs; emit RunStarted, one Finding event per finding, RunFinished. Raises MigtuiError.

    Without a sink no events are built: the CLI renders the report itself, and a large run would build one event
    per finding for nobody."""
    with cyclic_gc_paused():
        return _run_lint(settings, options or LintOptions(), sink)


def _run_lint(settings: Settings, options: LintOptions, sink: EventSink | None) -> LintReport:
    if sink is not None and options.render_file is not None:
        raise ValueError("run_lint: a sink needs every finding; render_file keeps only each file's rendering")
    if options.fail_on not in SEVERITY_RANK:
        raise UsageError(f"--fail-on must be error, warning or info (got {options.fail_on})")
    dsn = settings.dsn if options.catalog else None
    facts: CatalogFacts | None = None
    if dsn:
        from migtui.pg.catalog_facts import load_catalog_facts

        facts = load_catalog_facts(dsn)
    if settings.pg_version is not None:
        pg_version = check_version(settings.pg_version)
    elif facts is not None and facts.pg_version:
        pg_version = check_version(facts.pg_version)
    else:
        pg_version = DEFAULT_PG_VERSION

    raw_files: list[str] = []  # paths as text: no Path object per file on the fast path
    alembic_dirs: list[Path] = []
    for given in options.paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise UsageError(f"no such file or directory: {given}")
        if is_alembic_dir(path) or path.suffix == ".ini":
            alembic_dirs.append(path)
        elif path.is_file() and path.suffix == ".py":
            raise UsageError(f"{given}: a single revision file cannot be linted alone; pass its alembic directory")
        else:
            found = sql_file_paths(path)
            if not found:
                raise UsageError(f"no .sql files under {given}")
            raw_files.extend(found)
    if not options.paths:
        alembic_dirs.append(Path(settings.migrations or "db/migrations"))

    from migtui.redact import redact_dsn

    target = redact_dsn(dsn) or ", ".join(options.paths) or str(alembic_dirs[0])
    if sink is not None:
        from migtui.events import RunStarted

        sink(RunStarted(job=JOB, target=target))

    files: list[LintedFile] = []
    for directory in alembic_dirs:
        from migtui.project.load import AlembicProject

        project = AlembicProject.load(directory, settings.python)
        project.dsn_env = settings.dsn_env
        skip = None
        start = None
        if dsn and not options.all_revisions:
            from migtui.project.status import applied_revisions, read_current

            current = read_current(dsn, settings, application_name="migtui lint (version)")
            skip = applied_revisions(project.revisions(), current)
            if len(current) == 1 and current[0] in {info.revision for info in project.revisions()}:
                start = current[0]  # render only the pending range
        revisions = lint_alembic(project, pg_version, facts, settings, skip, start)
        if options.render_file is not None:
            revisions = [file.compact(options.render_file) for file in revisions]
        files.extend(revisions)
    files.extend(lint_sql_files(raw_files, pg_version, facts, options.jobs, options.render_file))

    report = LintReport(files, pg_version, facts is not None, options.fail_on, target)
    if sink is not None:
        _emit(report, sink)
    return report


def _emit(report: LintReport, sink: EventSink) -> None:
    """One Finding event per finding, then RunFinished."""
    from migtui.events import RunFinished

    for finding in report.findings:
        sink(finding)
    sink(RunFinished(job=JOB, ok=report.exit_code == 0, exit_code=report.exit_code, summary=report.summary))
