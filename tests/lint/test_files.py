"""Raw .sql inputs: folders, the parallel path over many files, and errors from worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from migtui.errors import UsageError
from migtui.lint.job import PARALLEL_MIN_FILES, collect_sql_files, lint_sql_files

STATEMENTS = [
    "ALTER TABLE t{n} ADD COLUMN c uuid DEFAULT gen_random_uuid();",
    "CREATE INDEX CONCURRENTLY i{n} ON t{n} (c);",
    "BEGIN; ALTER TABLE t{n} ADD CONSTRAINT k CHECK (c IS NOT NULL) NOT VALID; COMMIT;",
]


def _write(folder: Path, count: int) -> list[Path]:
    for n in range(count):
        (folder / f"{n:04d}.sql").write_text("\n".join(s.format(n=n) for s in STATEMENTS))
    return collect_sql_files(folder)


def _summary(files):
    return [(f.path, [(st.line, st.forms, [x.rule for x in st.findings]) for st in f.statements]) for f in files]


def test_parallel_matches_sequential(tmp_path):
    paths = _write(tmp_path, PARALLEL_MIN_FILES)
    sequential = lint_sql_files(paths, 16, None, jobs=1)
    parallel = lint_sql_files(paths, 16, None, jobs=2)
    assert _summary(parallel) == _summary(sequential)
    assert len(sequential) == PARALLEL_MIN_FILES
    assert sequential[0].statements[0].rewrites == ["public.t0"]


def test_parallel_syntax_error_names_the_file(tmp_path):
    paths = _write(tmp_path, PARALLEL_MIN_FILES)
    paths[150].write_text("SELECT 1;\nCREATE INDX x ON t (c);\n")
    with pytest.raises(UsageError) as info:
        lint_sql_files(paths, 16, None, jobs=2)
    assert f"{paths[150].name}:2: SQL syntax error" in info.value.message


def test_not_utf8_is_a_usage_error(tmp_path):
    path = tmp_path / "latin1.sql"
    path.write_bytes("SELECT 'café';".encode("latin-1"))
    with pytest.raises(UsageError, match="not UTF-8"):
        lint_sql_files([path], 16, None, jobs=1)


def test_run_lint_emits_events(tmp_path):
    from migtui.config import Settings
    from migtui.events import Finding, RunFinished, RunStarted
    from migtui.lint.job import LintOptions, run_lint

    path = tmp_path / "m.sql"
    path.write_text("ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid();\n")
    events = []
    report = run_lint(Settings(), LintOptions(paths=[str(path)]), events.append)
    assert isinstance(events[0], RunStarted) and events[0].job == "lint"
    findings = [e for e in events if isinstance(e, Finding)]
    assert [(e.rule, e.line) for e in findings] == [(f.rule, f.line) for f in report.files[0].all_findings()]
    assert findings[0].path.endswith("m.sql")
    assert isinstance(events[-1], RunFinished) and events[-1].exit_code == report.exit_code == 1


def test_github_annotation_escaping_and_generic_sarif():
    from migtui.analysis.rules import Rule
    from migtui.events import Finding
    from migtui.render.github import annotation
    from migtui.render.sarif import sarif_log

    record = Finding("drift-column", "warning", "50% off\nnext line", "fix it", 7, path="db/a,b:c.sql")
    assert annotation(record) == (
        "::warning file=db/a%2Cb%3Ac.sql,line=7,title=drift-column::50%25 off%0Anext line (fix: fix it)"
    )
    assert annotation(Finding("x", "info", "m")) == "::notice title=x::m"
    # a file without a line; a line without a file is not shown; a title escaped like the other properties
    assert annotation(Finding("a:b,c", "error", "m", path="f.sql")) == "::error file=f.sql,title=a%3Ab%2Cc::m"
    assert annotation(Finding("x", "error", "m", "h", 3)) == "::error title=x::m (fix: h)"
    assert annotation(Finding("x", "odd", "m", line=0, path="f.sql")) == "::notice file=f.sql,title=x::m"
    log = sarif_log([record], [Rule("drift-column", "warning", "schema drifted", ""), Rule("unused", "error", "u", "")])
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["drift-column"]
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 7}


def test_collect_sql_files_matches_rglob_order(tmp_path):
    """The scandir walk gives what sorted(rglob('*.sql')) gives: Path order, no symlinked folders, no dirs."""
    for name in ("a/b/y.sql", "a/x.sql", "a-b/x.sql", "real/z.sql", ".hidden.sql", "a/UPPER.SQL", "a/notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("SELECT 1;")
    (tmp_path / "dir.sql").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "file-link.sql").symlink_to(tmp_path / "a" / "x.sql")
    expected = sorted(p for p in tmp_path.rglob("*.sql") if p.is_file())
    assert collect_sql_files(tmp_path) == expected
    assert [p.relative_to(tmp_path).as_posix() for p in expected] == [
        ".hidden.sql",
        "a/b/y.sql",
        "a/x.sql",
        "a-b/x.sql",
        "file-link.sql",
        "real/z.sql",
    ]


def _display_reference(text: str, cwd: str) -> str:
    """display_path's meaning, spelled out: resolve symlinks; inside the working directory -> relative."""
    import os

    absolute = os.path.realpath(text) if os.path.isabs(text) or ".." in text else os.path.join(cwd, text)
    return absolute[len(cwd) :] if absolute.startswith(cwd) else text


def test_display_path_cases(tmp_path, monkeypatch):
    import os

    from migtui.lint import job as lint

    work = tmp_path / "work"
    (work / "db" / "sql").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "o.sql").write_text("SELECT 1;")
    (work / "db" / "sql" / "a.sql").write_text("SELECT 1;")
    (work / "linked").symlink_to(work / "db" / "sql")  # a folder link inside
    (work / "db" / "file-link.sql").symlink_to(tmp_path / "outside" / "o.sql")  # a file link to outside
    (tmp_path / "alias").symlink_to(work)  # the working directory reached through a link
    monkeypatch.chdir(work)
    monkeypatch.setattr(lint, "_CWD", [])
    monkeypatch.setattr(lint, "_DISPLAY_DIRS", {})
    cwd = os.path.join(os.path.realpath(os.getcwd()), "")
    cases = [
        "db/sql/a.sql",
        "../work/db/sql/a.sql",
        str(work / "db" / "sql" / "a.sql"),
        str(work / "linked" / "a.sql"),
        str(tmp_path / "alias" / "db" / "sql" / "a.sql"),
        str(work / "db" / "file-link.sql"),
        str(tmp_path / "outside" / "o.sql"),
        str(work / "db" / "sql" / "a.sql"),  # again: from the directory cache
        str(work),
    ]
    for text in cases:
        assert lint.display_path(text) == _display_reference(text, cwd), text
    assert lint.display_path(str(tmp_path / "alias" / "db" / "sql" / "a.sql")) == "db/sql/a.sql"
    assert lint.display_path(str(work / "db" / "file-link.sql")) == str(work / "db" / "file-link.sql")
