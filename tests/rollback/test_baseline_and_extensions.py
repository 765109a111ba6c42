"""rollback-test and drift on projects that do not start from an empty database (a baseline) or need a contrib
extension (pg_trgm, which the embedded servers lack): real servers only."""

from __future__ import annotations

import json
import textwrap

import pytest

from migtui.pg import harness
from tests.alembic_projects import Rev, make_project
from tests.conftest import new_database, run_main

BASELINE_SQL = """\\restrict k3y
CREATE TABLE public.experiments (id integer PRIMARY KEY, name varchar(50) NOT NULL);
\\unrestrict k3y
"""

ON_BASELINE = [
    Rev(
        "b1",
        "op.add_column('experiments', sa.Column('owner', sa.Text))",
        "op.drop_column('experiments', 'owner')",
    ),
    Rev(
        "b2",
        "op.create_table('runs', sa.Column('id', sa.Integer, primary_key=True),"
        " sa.Column('experiment_id', sa.Integer, sa.ForeignKey('experiments.id')))",
        "op.drop_table('runs')",
    ),
]

TRGM = [
    Rev(
        "x1",
        "op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')\n"
        "op.create_table('doc', sa.Column('id', sa.Integer, primary_key=True), sa.Column('body', sa.Text))\n"
        "op.create_index('doc_body_trgm', 'doc', ['body'], postgresql_using='gin',"
        " postgresql_ops={'body': 'gin_trgm_ops'})",
        "op.drop_table('doc')\nop.execute('DROP EXTENSION pg_trgm')",
    ),
    Rev("x2", "op.add_column('doc', sa.Column('title', sa.Text))", "op.drop_column('doc', 'title')"),
]


def _databases(server) -> set[str]:
    return {row[0] for row in server.execute("SELECT datname FROM pg_database")}


def test_rollback_test_with_a_sql_baseline(pg, tmp_path):
    project = make_project(tmp_path / "p", ON_BASELINE)
    baseline = tmp_path / "schema.sql"
    baseline.write_text(BASELINE_SQL)
    without = run_main("rollback-test", "--migrations", str(project), "--scratch-dsn", pg.dsn())
    assert (
        without.returncode == 1
        and "FAIL b1" in without.stdout
        and 'relation "experiments" does not exist' in (without.stdout)
    )
    done = run_main(
        "rollback-test", "--migrations", str(project), "--scratch-dsn", pg.dsn(), "--baseline", str(baseline)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"baseline {baseline}" in done.stdout and done.stdout.count("PASS") == 2


def test_rollback_test_with_a_callable_baseline_from_the_environment(pg, tmp_path):
    project = make_project(tmp_path / "p", ON_BASELINE)
    (tmp_path / "rb_app_models.py").write_text(
        textwrap.dedent(
            """
            import sqlalchemy as sa

            metadata = sa.MetaData()
            sa.Table("experiments", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String(50), nullable=False))
            """
        )
    )
    done = run_main(
        "rollback-test",
        "--migrations",
        str(project),
        "--scratch-dsn",
        pg.dsn(),
        "--format",
        "json",
        env={"MIGTUI_BASELINE": "rb_app_models:metadata.create_all"},
        cwd=tmp_path,  # the application's package is found from the working directory
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["baseline"] == "rb_app_models:metadata.create_all" and data["passed"] == 2


def test_failing_baseline_is_exit_7_and_leaves_no_database(pg, tmp_path):
    project = make_project(tmp_path / "p", ON_BASELINE)
    broken = tmp_path / "broken.sql"
    broken.write_text("CREATE TABLE public.experiments (id int);\nCREATE TABLE x (y int REFERENCES nowhere(id));\n")
    before = _databases(pg)
    done = run_main("rollback-test", "--migrations", str(project), "--scratch-dsn", pg.dsn(), "--baseline", str(broken))
    assert done.returncode == 7, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(f"migtui: error: baseline {broken} failed: ") and "nowhere" in lines[-1]
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert _databases(pg) == before
    missing = run_main("rollback-test", "--migrations", str(project), "--baseline", str(tmp_path / "none.sql"))
    assert missing.returncode == 7 and f"baseline {tmp_path / 'none.sql'}: no such file" in missing.stderr


def _trgm_build() -> harness.PgBinaries:
    try:
        return harness.find_binaries_with(None, ("pg_trgm",))
    except Exception as exc:
        pytest.skip(f"no PostgreSQL build on this machine has pg_trgm ({exc})")


@pytest.mark.db
def test_rollback_test_picks_a_server_with_the_extension(tmp_path):
    project = make_project(tmp_path / "p", TRGM)
    build = _trgm_build()
    done = run_main("rollback-test", "--migrations", str(project))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"started PostgreSQL {build.pg_version} (it has pg_trgm)" in done.stderr
    assert done.stdout.count("PASS") == 2


@pytest.mark.db
def test_no_server_with_the_extension_is_one_line(pg, tmp_path):
    project = make_project(tmp_path / "p", TRGM)
    embedded = harness.embedded_versions()
    if not embedded or all("pg_trgm" in harness.extension_names(harness.PgBinaries(p, v)) for v, p in embedded.items()):
        pytest.skip("every embedded build here has pg_trgm")
    _version, bin_dir = next(
        (v, p) for v, p in embedded.items() if "pg_trgm" not in harness.extension_names(harness.PgBinaries(p, v))
    )
    done = run_main("rollback-test", "--migrations", str(project), "--pg-bin", str(bin_dir))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "extension pg_trgm is not available" in done.stderr
    assert "--scratch-dsn" in done.stderr and "Traceback" not in done.stderr
    if "pg_trgm" not in {r[0] for r in pg.execute("SELECT name FROM pg_available_extensions")}:
        on_server = run_main("rollback-test", "--migrations", str(project), "--scratch-dsn", pg.dsn())
        assert on_server.returncode == 2
        assert f"extension pg_trgm is not available on the scratch server (PostgreSQL {pg.pg_version})" in (
            on_server.stderr
        )


@pytest.mark.db
def test_drift_with_baseline_and_extension_is_clean(tmp_path):
    """A target built the way the application builds it (baseline, then the migrations, on a server with
    pg_trgm): drift's expected schema is built the same way, so there is no drift; without the baseline the
    expected schema cannot be built, and the error says why."""
    from migtui.config import Settings
    from migtui.project.baseline import apply_baseline

    build = _trgm_build()
    revisions = [*ON_BASELINE, Rev("x1", TRGM[0].upgrade, TRGM[0].downgrade)]
    project = make_project(tmp_path / "p", revisions)
    baseline = tmp_path / "schema.sql"
    baseline.write_text(BASELINE_SQL)
    cluster = harness.start_cluster(build.pg_version, pg_bin=str(build.bin_dir))
    try:
        _name, dsn = new_database(cluster)
        apply_baseline(Settings(baseline=str(baseline)), dsn)
        up = run_main("up", "--dsn", dsn, "--migrations", str(project))
        assert up.returncode == 0, up.stderr
        common = ["drift", "--dsn", dsn, "--migrations", str(project), "--cache-dir", str(tmp_path / "cache")]
        clean = run_main(*common, "--baseline", str(baseline), "--format", "json")
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert json.loads(clean.stdout)["drift"] is False
        without = run_main(*common, "--format", "json")
        assert without.returncode == 2 and without.stdout == ""
        assert 'revision b1 (up) failed: relation "experiments" does not exist' in without.stderr
        assert "needs --baseline" in without.stderr
    finally:
        cluster.cleanup()


def test_pg_version_asked_for_is_honoured_or_refused(tmp_path):
    """--pg-version names the build; one of that major without the project's extension is refused in one line
    (before any server starts), not silently replaced by another major."""
    embedded = harness.embedded_versions()
    if 16 not in embedded or "pg_trgm" in harness.extension_names(harness.PgBinaries(embedded[16], 16)):
        pytest.skip("needs the embedded PostgreSQL 16 without pg_trgm")
    project = make_project(tmp_path / "p", TRGM)
    done = run_main("rollback-test", "--migrations", str(project), "--pg-version", "16")
    assert done.returncode == 2 and done.stdout == ""
    assert "extension pg_trgm is not available on the PostgreSQL 16 in" in done.stderr
    assert done.stderr.rstrip().endswith("or leave out --pg-version") and done.stderr.count("\n") == 1
