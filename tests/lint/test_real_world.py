"""Lint on a real alembic history nobody here wrote: mlflow's tracking store (mlflow-skinny 2.17.2, 27 revisions,
three of which read the database and cannot be rendered offline). Every revision must be analysed.

The wheel and a venv with mlflow's dependencies come from ``benchmarks/real_world.py`` (cached under
``~/.cache/migtui-real``); without the package registry the test skips, saying so."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _benchmark():
    spec = importlib.util.spec_from_file_location("real_world", ROOT / "benchmarks" / "real_world.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("real_world", module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.db
@pytest.mark.slow
def test_mlflow_history_is_analysed_completely(pg):
    bench = _benchmark()
    project = next(p for p in bench.PROJECTS if p.name == "mlflow")
    cache = Path(os.environ.get("MIGTUI_REAL_CACHE", os.path.expanduser("~/.cache/migtui-real")))
    try:
        migrations, site = bench.prepare(project, cache)
    except RuntimeError as exc:
        pytest.skip(f"mlflow-skinny not available (package registry unreachable?): {exc}")
    env = {**os.environ, "MIGTUI_BASELINE": project.baseline, "MIGTUI_SCRATCH_DSN": pg.dsn("postgres")}
    code, out, err, _seconds = bench._migtui(site, ["lint", "--migrations", str(migrations), "--format", "json"], env)
    assert code in (0, 1), err[-2000:]
    files = json.loads(out)["files"]
    assert len(files) == 27
    unanalysed = [f for file in files for f in file["findings"] if f["rule"] == "unanalyzable-revision"]
    assert unanalysed == []
    by_rev = {file["revision"]: file for file in files}
    # 90e64c465722 copies run.user_id into tags through an ORM session on op.get_bind(): rendered online (on an
    # empty scratch database it only reads the runs table), the statement it sent is there
    sql = [st["sql"] for st in by_rev["90e64c465722"]["statements"]]
    assert any(s.startswith("SELECT runs.run_uuid") for s in sql), sql


@pytest.mark.db
@pytest.mark.slow
def test_cinder_up_drift_pg_dump_copy_and_hand_change(pg):
    """cinder 25.0.0's history (OpenStack: env.py uses the connection migtui hands it, revisions have no
    downgrade) to head; drift finds nothing there and on a ``pg_dump | psql`` copy, and exactly the one column
    added by hand to the copy."""
    bench = _benchmark()
    project = next(p for p in bench.PROJECTS if p.name == "cinder")
    cache = Path(os.environ.get("MIGTUI_REAL_CACHE", os.path.expanduser("~/.cache/migtui-real")))
    try:
        bench.prepare(project, cache)
    except RuntimeError as exc:
        pytest.skip(f"cinder not available (package registry unreachable?): {exc}")
    row = bench.run_project(project, cache, ("up", "drift"), pg)
    assert row["up"]["exit"] == 0, row["up"]
    assert row["drift"]["differences"] == [], row["drift"]
    assert row["copy"]["clean"]["differences"] == [], row["copy"]
    hand = row["copy"]["hand_change"]
    assert hand["exit"] == 1 and hand["exact"], hand
