"""``migtui lint`` as users and CI run it: formats (JSON shape, GitHub annotations, SARIF validated against the
official 2.1.0 schema), exit codes, --fail-on, malformed input, and catalog facts from --dsn."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest

from migtui.cli.main import main
from tests.alembic_projects import Rev, make_project
from tests.conftest import run_cli, run_main
from tests.report_formats import parse_junit, validate_sarif

UNSAFE = """-- add a token
ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();
CREATE INDEX orders_token ON orders (token);
"""
SAFE = """SET lock_timeout = '2s';
ALTER TABLE orders ADD COLUMN note text;
"""
WARN_ONLY = "ALTER TABLE orders ADD COLUMN note text;\n"


@pytest.fixture
def sql_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "sql"
    folder.mkdir()
    (folder / "001_unsafe.sql").write_text(UNSAFE)
    (folder / "002_safe.sql").write_text(SAFE)
    return folder


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["lint", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_shape(sql_dir, capsys):
    code, out, _ = _run(capsys, "sql", "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert [f["path"] for f in data["files"]] == ["sql/001_unsafe.sql", "sql/002_safe.sql"]
    first = data["files"][0]
    assert first["revision"] is None and first["findings"] == []
    st = first["statements"][0]
    assert st["index"] == 0 and st["line"] == 2 and st["transactional"] is False
    assert st["locks"] == [
        {"relation": "public.orders", "mode": "AccessExclusiveLock", "blocks": ["reads", "writes", "ddl"]}
    ]
    assert st["rewrites"] == ["public.orders"] and st["scans"] == ["public.orders"]
    rules = {f["rule"]: f for f in st["findings"]}
    assert rules["add-column-volatile-default"]["severity"] == "error"
    assert rules["add-column-volatile-default"]["line"] == 2 and rules["add-column-volatile-default"]["hint"]
    assert data["summary"]["errors"] == 2 and data["summary"]["exit_code"] == 1
    assert data["summary"]["pg_version"] == 16 and data["summary"]["catalog"] is False


def test_exit_codes_and_fail_on(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("safe.sql").write_text(SAFE)
    Path("warn.sql").write_text(WARN_ONLY)
    assert _run(capsys, "safe.sql")[0] == 0
    assert _run(capsys, "warn.sql")[0] == 0
    assert _run(capsys, "warn.sql", "--fail-on", "warning")[0] == 1
    assert _run(capsys, "safe.sql", "--fail-on", "info")[0] == 1  # the brief lock is reported as info


def test_github_annotations(sql_dir, capsys):
    code, out, err = _run(capsys, "sql", "--format", "github")
    assert code == 1
    lines = out.strip().splitlines()
    pattern = re.compile(r"^::(error|warning|notice) file=([^,]+),line=(\d+),title=([a-z0-9-]+)::.+$")
    parsed = [pattern.match(line) for line in lines]
    assert all(parsed), lines
    assert ("error", "sql/001_unsafe.sql", "2", "add-column-volatile-default") in [m.groups() for m in parsed]
    assert ("error", "sql/001_unsafe.sql", "3", "create-index-non-concurrently") in [m.groups() for m in parsed]
    assert "2 errors" in err


def test_sarif_validates_against_official_schema(sql_dir, capsys):
    code, out, _ = _run(capsys, "sql", "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    run = validate_sarif(log)
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    result = next(r for r in run["results"] if r["ruleId"] == "add-column-volatile-default")
    assert rule_ids[result["ruleIndex"]] == "add-column-volatile-default"
    location = result["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": "sql/001_unsafe.sql"}, "region": {"startLine": 2}}
    assert result["level"] == "error"


def test_junit_one_case_per_file_failed_by_fail_on(sql_dir, capsys):
    code, out, _ = _run(capsys, "sql", "--format", "junit")
    assert code == 1
    suite = parse_junit(out)
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"sql/001_unsafe.sql", "sql/002_safe.sql"}
    failure = cases["sql/001_unsafe.sql"].find("failure")
    assert failure is not None and "error [add-column-volatile-default]" in failure.text
    assert "line 2: " in failure.text and cases["sql/002_safe.sql"].find("failure") is None
    code, out, _ = _run(capsys, "sql", "--format", "junit", "--fail-on", "info")
    assert int(parse_junit(out).get("failures")) == 2


def test_text_output_groups_by_file(sql_dir, capsys):
    code, out, _ = _run(capsys, "sql")
    assert code == 1
    assert out.index("sql/001_unsafe.sql") < out.index("add-column-volatile-default") < out.index("sql/002_safe.sql")
    assert "AccessExclusiveLock on public.orders" in out and "rewrites public.orders" in out


def test_malformed_sql_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.sql"
    bad.write_text("SELECT 1;\nALTER TABLE orders ADD COLUMN;\n")
    proc = run_main("lint", str(bad))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0
    assert f"{bad}:2: SQL syntax error" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_flags_and_paths_exit_2(tmp_path, capsys):
    assert _run(capsys, str(tmp_path / "missing.sql"))[0] == 2
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, str(tmp_path / "empty"))
    assert code == 2 and "no .sql files" in err
    code, _, err = _run(capsys, "--pg-version", "12", str(tmp_path))
    assert code == 2 and "not supported" in err
    assert main(["lint", "--format", "xml"]) == 2


def test_catalog_facts_from_dsn_resolve_types_checks_and_references(fresh_db, tmp_path, monkeypatch, capsys):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE customers (id bigint PRIMARY KEY);"
            "CREATE TABLE orders (id bigint PRIMARY KEY, code varchar(10), qty int,"
            " customer_id bigint CONSTRAINT orders_customer_fk REFERENCES customers (id),"
            " CONSTRAINT orders_qty_nn CHECK (qty IS NOT NULL))"
        )
    monkeypatch.chdir(tmp_path)
    Path("m.sql").write_text(
        "SET lock_timeout = '2s';\n"
        "ALTER TABLE orders ALTER COLUMN code TYPE varchar(20);\n"
        "ALTER TABLE orders ALTER COLUMN qty SET NOT NULL;\n"
        "ALTER TABLE orders DROP CONSTRAINT orders_customer_fk;\n"
    )
    _, out, _ = _run(capsys, "m.sql", "--format", "json", "--no-catalog")
    blind = json.loads(out)["files"][0]["statements"]
    _, out, _ = _run(capsys, "m.sql", "--format", "json", "--dsn", fresh_db)
    data = json.loads(out)
    informed = data["files"][0]["statements"]
    with psycopg.connect(fresh_db) as conn:
        pg_version = conn.execute("SHOW server_version_num").fetchone()[0][:2]
    assert data["summary"]["catalog"] is True and data["summary"]["pg_version"] == int(pg_version)
    # type before the change: varchar(10) -> varchar(20) does not rewrite
    assert blind[1]["rewrites"] == ["public.orders"] and informed[1]["rewrites"] == []
    # a validated CHECK (qty IS NOT NULL) makes SET NOT NULL skip the scan
    assert "set-not-null-without-check" in {f["rule"] for f in blind[2]["findings"]}
    assert "set-not-null-without-check" not in {f["rule"] for f in informed[2]["findings"]}
    # dropping a foreign key also takes AccessExclusiveLock on the referenced table
    assert {lk["relation"] for lk in informed[3]["locks"]} == {"public.orders", "public.customers"}
    assert blind[3]["assumptions"] and not informed[3]["assumptions"]


def test_dsn_lints_only_pending_revisions(fresh_db, tmp_path, capsys):
    project = make_project(
        tmp_path,
        [
            Rev("p1", "op.create_table('t', sa.Column('id', sa.BigInteger, primary_key=True))", "op.drop_table('t')"),
            Rev("p2", "op.add_column('t', sa.Column('n', sa.Integer))", "op.drop_column('t', 'n')"),
        ],
    )
    capsys.readouterr()  # alembic init's messages
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id bigint PRIMARY KEY); CREATE TABLE alembic_version (version_num text)")
        conn.execute("INSERT INTO alembic_version VALUES ('p1')")
    _, out, _ = _run(capsys, str(project), "--format", "json", "--dsn", fresh_db)
    assert [f["revision"] for f in json.loads(out)["files"]] == ["p2"]
    _, out, _ = _run(capsys, str(project), "--format", "json", "--dsn", fresh_db, "--all")
    assert [f["revision"] for f in json.loads(out)["files"]] == ["p1", "p2"]


def test_catalog_not_valid_check_then_validate_set_not_null_and_drop_is_safe(fresh_db, tmp_path, monkeypatch, capsys):
    """The CHECK ... NOT VALID already applied (catalog), the pending migration validates it, sets NOT NULL and
    drops the helper check: no scan under AccessExclusiveLock, nothing destructive."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE users (id bigint PRIMARY KEY, name text);"
            "ALTER TABLE users ADD CONSTRAINT users_name_nn CHECK (name IS NOT NULL) NOT VALID"
        )
    monkeypatch.chdir(tmp_path)
    Path("m.sql").write_text(
        "SET lock_timeout = '2s';\n"
        "ALTER TABLE users VALIDATE CONSTRAINT users_name_nn;\n"
        "ALTER TABLE users ALTER COLUMN name SET NOT NULL;\n"
        "ALTER TABLE users DROP CONSTRAINT users_name_nn;\n"
    )
    code, out, _ = _run(capsys, "m.sql", "--format", "json", "--dsn", fresh_db)
    statements = json.loads(out)["files"][0]["statements"]
    assert [st["forms"] for st in statements[1:]] == [
        ["validate-constraint"],
        ["set-not-null-with-check"],
        ["drop-constraint"],
    ]
    assert statements[2]["scans"] == []
    assert code == 0, [f for st in statements for f in st["findings"] if f["severity"] == "error"]


def test_text_format_colours_only_a_terminal(tmp_path, monkeypatch):
    from migtui.config import Settings
    from migtui.lint.job import LintOptions, run_lint
    from migtui.render.text_lint import file_text, painter, use_color

    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert use_color(Tty()) and not use_color(tmp_path.joinpath("x").open("w"))
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Tty())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert use_color(tmp_path.joinpath("y").open("w"))

    sql = tmp_path / "m.sql"
    sql.write_text("ALTER TABLE orders ALTER COLUMN n TYPE bigint;\n")
    [file] = run_lint(Settings(), LintOptions(paths=[str(sql)])).files
    plain, coloured = file_text(file, painter(False)), file_text(file, painter(True))
    assert "\x1b[" not in plain and "error type-change-rewrites:" in plain
    assert "\x1b[1;31merror\x1b[0m \x1b[1mtype-change-rewrites\x1b[0m:" in coloured
    assert coloured.replace("\x1b[0m", "").count("\x1b[") == coloured.count("\x1b[0m")


def test_github_file_annotations_match_records(tmp_path):
    """Lint's per-file rendering gives the same lines as the command-neutral Finding path, escapes included."""
    from migtui.config import Settings
    from migtui.events import Finding
    from migtui.lint.job import LintedFile, LintOptions, run_lint
    from migtui.render.github import file_annotations, render_annotations

    sql = tmp_path / "a,b:c.sql"
    sql.write_text("ALTER TABLE orders ALTER COLUMN n TYPE bigint;\nDROP TABLE archive;\n")
    [file] = run_lint(Settings(), LintOptions(paths=[str(sql)])).files
    odd = Finding("drop-table", "warning", "100% done\nnext line", "hint, with: colon", None)
    made_up = LintedFile("x,y.sql", None, [], [odd])
    for f in (file, made_up, LintedFile("", None, [], [odd])):
        assert file_annotations(f) == render_annotations(f.located_findings())
    assert "file=x%2Cy.sql" in file_annotations(made_up)
    assert "::100%25 done%0Anext line (fix: hint, with: colon)" in file_annotations(made_up)
    assert file_annotations(file).count("::error file=") >= 2


def test_a_stock_env_py_logging_config_prints_nothing(tmp_path):
    """``alembic init``'s env.py calls fileConfig(alembic.ini), whose [logger_alembic] is INFO on stderr; lint
    renders through env.py and must print its report only, not alembic's "INFO  [alembic...]" lines."""
    project = make_project(
        tmp_path,
        [Rev("a1", "op.create_table('t', sa.Column('id', sa.BigInteger))", "op.drop_table('t')")],
    )
    assert "fileConfig(config.config_file_name)" in (project / "env.py").read_text()
    assert "level = INFO" in (tmp_path / "alembic.ini").read_text()
    # a real process (logging configured from scratch), given the root: its alembic.ini is what fileConfig reads
    r = run_cli("lint", str(tmp_path), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    assert json.loads(r.stdout)["files"]
