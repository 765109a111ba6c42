"""rollback-test on a project whose env.py never closes its connection (CKAN 2.11's opens one per run and leaves
it to the garbage collector): the rebuild after a failing revision clones the scratch database as a template,
which the leaked session used to block (``source database ... is being accessed by other users``), so every
later revision was skipped."""

from __future__ import annotations

import json
import sys

import pytest

from tests.alembic_projects import Rev, make_project
from tests.conftest import run_main

LEAKING_ENV = """
import sys

import sqlalchemy as sa
from alembic import context

engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url"), poolclass=sa.pool.NullPool)
connection = engine.connect()
sys._migtui_test_leaks.append(connection)  # kept open, as an env.py that never closes it
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
"""


@pytest.fixture
def leaks():
    sys._migtui_test_leaks = []
    yield sys._migtui_test_leaks
    for connection in sys._migtui_test_leaks:
        connection.close()
    del sys._migtui_test_leaks


def test_a_leaked_env_py_connection_does_not_stop_the_run(tmp_path, pg, leaks):
    project = make_project(
        tmp_path,
        [
            Rev("l1", "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))", "op.drop_table('t')"),
            # its downgrade leaves a column behind: a failed revision, so the database is rebuilt from the clone
            Rev(
                "l2",
                "op.add_column('t', sa.Column('c', sa.Integer))",
                "op.drop_column('t', 'c')\nop.add_column('t', sa.Column('z', sa.Integer))",
            ),
            Rev("l3", "op.create_index('t_c', 't', ['c'])", "op.drop_index('t_c', table_name='t')"),
        ],
    )
    (project / "env.py").write_text(LEAKING_ENV)
    done = run_main("rollback-test", "--migrations", str(project), "--scratch-dsn", pg.dsn(), "--format", "json")
    assert done.returncode == 1, done.stderr
    statuses = {r["revision"]: (r["status"], r["note"]) for r in json.loads(done.stdout)["revisions"]}
    assert statuses == {"l1": ("passed", ""), "l2": ("failed", ""), "l3": ("passed", "")}, statuses
    assert leaks  # env.py did leave its connections open
