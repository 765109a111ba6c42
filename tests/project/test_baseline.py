"""Baselines (migtui.project.baseline) applied to real databases: SQL files (pg_dump output with psql
meta-commands and COPY blocks, through psql and without it) and Python callables; a failing baseline is one
line naming it, exit 7, and leaves nothing behind."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from migtui.config import Settings, load_settings
from migtui.errors import ExitCode, ProjectError
from migtui.project import baseline as baseline_module
from migtui.project.baseline import apply_baseline, extensions_in

DUMP = r"""--
-- PostgreSQL database dump
--

\restrict AbCdEf0123456789

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);

CREATE TABLE public.account (
    id integer NOT NULL,
    status character varying(10) NOT NULL,
    CONSTRAINT account_status_check CHECK (((status)::text = ANY
        ((ARRAY['a'::character varying, 'b'::character varying])::text[])))
);

ALTER TABLE ONLY public.account ADD CONSTRAINT account_pkey PRIMARY KEY (id);

COPY public.account (id, status) FROM stdin;
1	a
2	b
\.

CREATE INDEX account_status ON public.account USING btree (status);

\unrestrict AbCdEf0123456789
"""

BROKEN = """CREATE TABLE public.first_one (id int);
CREATE TABLE public.second_one (id int REFERENCES public.nowhere (id));
"""


def _tables(server, name: str) -> list[str]:
    rows = server.execute(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 1",
        dbname=name,
    )
    return [r[0] for r in rows]


@pytest.fixture(params=["psql", "psycopg"])
def runner(request, monkeypatch):
    """Each SQL test twice: through psql, and as on a machine without psql."""
    if request.param == "psql" and shutil.which("psql") is None:
        pytest.skip("psql not installed (apt-get install postgresql-client)")
    if request.param == "psycopg":
        monkeypatch.setattr(baseline_module.shutil, "which", lambda name: None)
    return request.param


def test_pg_dump_file_with_meta_commands_and_copy(pg, tmp_path, runner):
    from tests.conftest import new_database

    dump = tmp_path / "schema.sql"
    dump.write_text(DUMP)
    name, dsn = new_database(pg)
    try:
        assert apply_baseline(Settings(baseline=str(dump)), dsn) == str(dump)
        assert _tables(pg, name) == ["account"]
        assert pg.execute("SELECT count(*) FROM public.account", dbname=name) == [(2,)]
    finally:
        pg.drop_database(name)


def test_failing_sql_baseline_names_the_file_and_leaves_nothing(pg, tmp_path, runner):
    from tests.conftest import new_database

    broken = tmp_path / "broken.sql"
    broken.write_text(BROKEN)
    name, dsn = new_database(pg)
    try:
        with pytest.raises(ProjectError) as caught:
            apply_baseline(Settings(baseline=str(broken)), dsn)
        assert caught.value.exit_code == ExitCode.PROJECT_ERROR == 7
        message = caught.value.message
        assert message.startswith(f"baseline {broken} failed: ") and "nowhere" in message and "\n" not in message
        assert _tables(pg, name) == []  # first_one was rolled back with the rest
    finally:
        pg.drop_database(name)


def test_meta_command_without_psql_is_refused_clearly(pg, tmp_path, monkeypatch):
    from tests.conftest import new_database

    monkeypatch.setattr(baseline_module.shutil, "which", lambda name: None)
    dump = tmp_path / "with_connect.sql"
    dump.write_text("CREATE TABLE t (id int);\n\\connect other\nCREATE TABLE u (id int);\n")
    name, dsn = new_database(pg)
    try:
        with pytest.raises(ProjectError, match=r"line 2 is a psql meta-command \(\\connect\); install psql"):
            apply_baseline(Settings(baseline=str(dump)), dsn)
        assert _tables(pg, name) == []
    finally:
        pg.drop_database(name)


def test_callable_baseline_gets_one_sqlalchemy_connection(pg, tmp_path, monkeypatch):
    from tests.conftest import new_database

    (tmp_path / "baseline_app.py").write_text(
        textwrap.dedent(
            """
            import sqlalchemy as sa

            metadata = sa.MetaData()
            sa.Table("item", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.Text))

            def broken(connection):
                metadata.create_all(connection)
                connection.exec_driver_sql("SELECT * FROM missing_table")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    name, dsn = new_database(pg)
    try:
        with pytest.raises(ProjectError, match=r"^baseline baseline_app:broken failed: .*missing_table"):
            apply_baseline(Settings(baseline="baseline_app:broken"), dsn)
        assert _tables(pg, name) == []  # create_all ran in the same transaction: rolled back
        assert apply_baseline(Settings(baseline="baseline_app:metadata.create_all"), dsn)
        assert _tables(pg, name) == ["item"]
    finally:
        pg.drop_database(name)


def test_callable_that_cannot_be_imported(tmp_path):
    with pytest.raises(ProjectError, match=r"^baseline no_such_app.models:create: cannot import no_such_app.models"):
        apply_baseline(Settings(baseline="no_such_app.models:create"), "postgresql://unused@127.0.0.1:1/x")
    with pytest.raises(ProjectError, match=r"has no attribute Base\.nope"):
        apply_baseline(Settings(baseline="textwrap:Base.nope"), "postgresql://unused@127.0.0.1:1/x")


def test_setting_from_env_and_pyproject(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.migtui]\nbaseline = "db/schema.sql"\n')
    assert load_settings({}, env={}, pyproject=pyproject).baseline == str(tmp_path / "db/schema.sql")
    pyproject.write_text('[tool.migtui]\nbaseline = "app.models:Base.metadata.create_all"\n')
    assert load_settings({}, env={}, pyproject=pyproject).baseline == "app.models:Base.metadata.create_all"
    assert load_settings({}, env={"MIGTUI_BASELINE": "x.sql"}, pyproject=pyproject).baseline == "x.sql"


def test_extensions_in_revision_sources():
    source = """
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    op.execute("create extension \\"uuid-ossp\\"")
    op.execute('CREATE EXTENSION btree_gin SCHEMA public')
    """
    assert extensions_in(source) == {"pg_trgm", "uuid-ossp", "btree_gin"}
    assert extensions_in("DROP EXTENSION pg_trgm") == set()
