"""Raw .sql inputs: folders, the parallel path over many files, and errors from worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from migtui.errors import UsageError
from migtui.lint import PARALLEL_MIN_FILES, collect_sql_files, lint_sql_files

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
