"""Exit 7 (the project's own code failed) against exit 5 (the database refused a statement), on small projects of
our own: a revision whose upgrade() raises a Python exception, env.py that raises under rollback-test, an env.py
whose version table is not the one migtui reads, and alembic's package-resource form of script_location."""

from __future__ import annotations

import json

from migtui.project.load import AlembicProject
from tests.alembic_projects import Rev, make_project
from tests.conftest import run_main
from tests.runner.test_runner import CREATE_T, scalar

RAISES = "op.add_column('t', sa.Column('w', sa.Integer))\nraise ValueError('bad mapping for tenant 7')"


def test_up_a_revision_raising_in_its_own_code_is_exit_7_naming_it(tmp_path, fresh_db):
    project = make_project(
        tmp_path, [Rev("a1", CREATE_T, "op.drop_table('t')"), Rev("a2", RAISES, "op.drop_column('t', 'w')")]
    )
    done = run_main("up", "--dsn", fresh_db, "--migrations", str(project))
    assert done.returncode == 7, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("migtui: error:")]
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert "revision a2 (up) failed in its own code at versions/" in line
    assert "a2" in line.split(" at versions/")[1] and ".py:" in line
    assert "ValueError: bad mapping for tenant 7" in line and "database left at a1" in line
    assert "Traceback" not in done.stderr
    # nothing half-applied: a2's column rolled back with it
    assert scalar(fresh_db, "SELECT version_num FROM alembic_version") == "a1"
    assert scalar(fresh_db, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'w'") == 0


def test_up_a_database_error_stays_exit_5(tmp_path, fresh_db):
    project = make_project(tmp_path, [Rev("a1", CREATE_T), Rev("a2", "op.execute('SELECT 1/0')")])
    done = run_main("up", "--dsn", fresh_db, "--migrations", str(project))
    assert done.returncode == 5, done.stderr
    assert "division by zero" in done.stderr and "its own code" not in done.stderr


def test_rollback_test_upgrade_raising_is_recorded_and_exits_7(tmp_path, pg):
    project = make_project(
        tmp_path,
        [
            Rev("a1", CREATE_T, "op.drop_table('t')"),
            Rev("a2", RAISES, "op.drop_column('t', 'w')"),
            Rev("a3", "op.create_index('t_v', 't', ['v'])", "op.drop_index('t_v', table_name='t')"),
        ],
    )
    done = run_main("rollback-test", "--migrations", str(project), "--scratch-dsn", pg.dsn(), "--format", "json")
    assert done.returncode == 7, done.stderr
    data = json.loads(done.stdout)
    by_rev = {r["revision"]: r for r in data["revisions"]}
    assert by_rev["a1"]["status"] == "passed"
    assert by_rev["a2"]["status"] == "failed" and by_rev["a2"]["code_failed"] is True
    assert "failed in its own code" in by_rev["a2"]["error"] and "ValueError" in by_rev["a2"]["error"]


def test_rollback_test_a_downgrade_raising_stays_a_finding(tmp_path, pg):
    """A downgrade() that raises is what rollback-test looks for: exit 1, not 7."""
    project = make_project(
        tmp_path, [Rev("a1", CREATE_T, "op.drop_table('t')"), Rev("a2", CREATE_T.replace("'t'", "'u'"), RAISES)]
    )
    done = run_main("rollback-test", "--migrations", str(project), "--scratch-dsn", pg.dsn(), "--format", "json")
    assert done.returncode == 1, done.stderr
    a2 = json.loads(done.stdout)["revisions"][1]
    assert a2["failures"] == ["downgrade"] and a2["code_failed"] is False
    assert "failed in its own code" in a2["error"]


def test_rollback_test_refused_by_env_py_is_exit_7_in_one_line(tmp_path, pg):
    """env.py that connects to SQLite whatever it is given (ironic's class): the test cannot run at all."""
    project = make_project(
        tmp_path, [Rev("a1", CREATE_T, "op.drop_table('t')"), Rev("a2", CREATE_T.replace("'t'", "'u'"))]
    )
    db = tmp_path / "app.sqlite"
    (project / "env.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import context\n"
        f"engine = sa.create_engine('sqlite:///{db}')\n"
        "with engine.connect() as connection:\n"
        "    context.configure(connection=connection)\n"
        "    with context.begin_transaction():\n"
        "        context.run_migrations()\n"
    )
    done = run_main("rollback-test", "--migrations", str(project), "--scratch-dsn", pg.dsn())
    assert done.returncode == 7, done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("migtui: error:")]
    assert len(errors) == 1 and "rollback-test cannot run: env.py connected through sqlite" in errors[0]


def test_env_py_with_its_own_version_table_is_refused_until_configured(tmp_path, fresh_db):
    """masakari's env.py passes version_table='masakari_alembic_version': migtui reads alembic_version unless
    told, so its plan and status would read a table the run never writes."""
    project = make_project(tmp_path, [Rev("a1", CREATE_T, "op.drop_table('t')")])
    env = project / "env.py"
    env.write_text(
        env.read_text().replace(
            "target_metadata=target_metadata", "target_metadata=target_metadata, version_table='app_version'"
        )
    )
    assert env.read_text().count("version_table='app_version'") == 2  # offline and online
    done = run_main("up", "--dsn", fresh_db, "--migrations", str(project))
    assert done.returncode == 2, done.stderr
    assert "env.py keeps the revision in version table app_version, migtui reads alembic_version" in done.stderr
    assert "set version_table = 'app_version' in [tool.migtui]" in done.stderr
    assert scalar(fresh_db, "SELECT to_regclass('t') IS NULL") is True
    configured = {"MIGTUI_VERSION_TABLE": "app_version"}
    ok = run_main("up", "--dsn", fresh_db, "--migrations", str(project), env=configured)
    assert ok.returncode == 0, ok.stderr
    status = run_main("status", "--dsn", fresh_db, "--migrations", str(project), env=configured)
    assert status.returncode == 0 and "a1" in status.stdout


def test_script_location_in_package_resource_form(tmp_path, monkeypatch):
    """aodh's alembic.ini says ``script_location = aodh.storage.sqlalchemy:alembic``: the directory beside the
    ini in the same tree, without importing the package; else the installed package's."""
    tree = tmp_path / "tree"
    scripts = make_project(tree / "r4pkgres" / "storage", [Rev("a1", CREATE_T)], name="alembic")
    ini = scripts / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = r4pkgres.storage:alembic\n")
    project = AlembicProject.load(ini)
    assert project.script_location == scripts.resolve()
    assert [r.revision for r in project.revisions()] == ["a1"]

    elsewhere = tmp_path / "ini" / "alembic.ini"
    elsewhere.parent.mkdir()
    elsewhere.write_text("[alembic]\nscript_location = r4pkgres.storage:alembic\n")
    for package in (tree / "r4pkgres", tree / "r4pkgres" / "storage"):
        (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tree))
    assert AlembicProject.load(elsewhere).script_location == scripts.resolve()

    missing = tmp_path / "missing" / "alembic.ini"
    missing.parent.mkdir()
    missing.write_text("[alembic]\nscript_location = no_such_app_pkg.storage:alembic\n")
    done = run_main("history", "--migrations", str(missing))
    assert done.returncode == 7, done.stderr
    assert "script_location no_such_app_pkg.storage:alembic: cannot import no_such_app_pkg.storage" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_lint_leaves_out_the_version_table_env_py_names(tmp_path):
    """Offline, alembic's own INSERT/UPDATE on env.py's version table is bookkeeping, not a statement to lint
    (it was linted as an unbatched UPDATE on masakari's history)."""
    project = make_project(
        tmp_path,
        [Rev("a1", CREATE_T, "op.drop_table('t')"), Rev("a2", "op.add_column('t', sa.Column('w', sa.Integer))")],
    )
    env = project / "env.py"
    env.write_text(
        env.read_text().replace(
            "target_metadata=target_metadata", "target_metadata=target_metadata, version_table='app_version'"
        )
    )
    done = run_main("lint", "--migrations", str(project), "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    files = json.loads(done.stdout)["files"]
    sql = [st["sql"] for file in files for st in file["statements"]]
    assert len(sql) == 2 and not [s for s in sql if "app_version" in s], sql
    assert "unbatched-update" not in done.stdout
