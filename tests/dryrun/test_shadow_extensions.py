"""The dry-run shadow copies a target that uses a contrib extension (pg_trgm): it runs on a server that has it
(the embedded builds do not ship contrib), so the copy restores without errors."""

from __future__ import annotations

import pytest

from migtui.dryrun.job import DryRunOptions, run_dry_run
from migtui.pg import harness
from migtui.project.load import AlembicProject
from migtui.runner.job import Runner
from tests.alembic_projects import Rev, make_project, project_settings
from tests.conftest import new_database


@pytest.mark.db
def test_shadow_of_a_target_with_pg_trgm(tmp_path):
    try:
        build = harness.find_binaries_with(None, ("pg_trgm",))
    except Exception as exc:
        pytest.skip(f"no PostgreSQL build on this machine has pg_trgm ({exc})")
    project = AlembicProject.load(
        make_project(
            tmp_path,
            [
                Rev(
                    "t1",
                    "op.execute('CREATE EXTENSION pg_trgm')\n"
                    "op.execute('CREATE TABLE doc (id int PRIMARY KEY, body text)')\n"
                    "op.execute('CREATE INDEX doc_trgm ON doc USING gin (body gin_trgm_ops)')",
                ),
                Rev("t2", "op.execute('ALTER TABLE doc ADD COLUMN title text')"),
            ],
        )
    )
    cluster = harness.start_cluster(build.pg_version, pg_bin=str(build.bin_dir))
    try:
        _name, dsn = new_database(cluster)
        settings = project_settings(project, replica_dsn=dsn)
        Runner(project, dsn, settings).upgrade("t1")
        report = run_dry_run(settings, DryRunOptions(allow_primary=True))
    finally:
        cluster.cleanup()
    assert report.shadow["shadow_pg_version"] == build.pg_version
    assert report.shadow["restore_warnings"] == []
    assert report.shadow["error"] is None
    assert report.exit_code == 0, [f.message for f in report.findings]


def test_shadow_server_is_picked_by_extension():
    """A PostgreSQL 16 target with pg_trgm: the shadow server is a build that has it, not the embedded 16."""
    from migtui.dryrun.shadow import pick_binaries

    try:
        with_trgm = harness.find_binaries_with(16, ("pg_trgm",))
    except Exception as exc:
        pytest.skip(f"no PostgreSQL build on this machine has pg_trgm ({exc})")
    _dump, plain = pick_binaries(16)
    _dump, server = pick_binaries(16, None, ("pg_trgm",))
    assert "pg_trgm" in harness.extension_names(server) and server == with_trgm
    if "pg_trgm" not in harness.extension_names(plain):  # the embedded builds ship no contrib
        assert server != plain


def test_no_build_with_the_extension_is_one_line():
    from migtui.errors import UsageError

    with pytest.raises(UsageError) as caught:
        harness.find_binaries_with(16, ("no_such_extension_here",))
    message = caught.value.message
    assert message.startswith("extension no_such_extension_here is not available on any PostgreSQL build here")
    assert "--pg-bin" in message and "--scratch-dsn" in message and "\n" not in message
