"""An env.py that calls ``fileConfig(config.config_file_name)`` without checking it (mlflow's does) runs under
migtui, and migtui's logging is left as it was."""

from __future__ import annotations

import logging
import logging.config

from tests.alembic_projects import Rev, make_project
from tests.conftest import run_main


def test_env_py_that_always_calls_file_config(fresh_db, tmp_path):
    root = tmp_path / "p"
    make_project(root, [Rev("e1", "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))")])
    env_py = root / "migrations" / "env.py"
    text = env_py.read_text()
    guarded = "if config.config_file_name is not None:\n    fileConfig(config.config_file_name)"
    assert guarded in text
    env_py.write_text(text.replace(guarded, "fileConfig(config.config_file_name)"))
    level = logging.getLogger().level
    original = logging.config.fileConfig
    done = run_main("up", "--dsn", fresh_db, "--migrations", str(root / "alembic.ini"))
    assert done.returncode == 0, done.stderr
    assert logging.config.fileConfig is original and logging.getLogger().level == level
