"""alembic's `context`/`op` are process-wide: concurrent alembic runs in one process (TUI workers) must not
corrupt each other (migtui.project.load.ENV_LOCK)."""

from __future__ import annotations

import threading

from migtui.project.load import AlembicProject
from migtui.project.render import render_project
from tests.conftest import ROOT


def test_concurrent_offline_renders_all_succeed_and_agree():
    project = AlembicProject.load(ROOT / "db" / "migrations")
    expected = [[s.sql for s in r.statements] for r in render_project(project)]
    results: list[object] = []
    start = threading.Barrier(4)

    def render() -> None:
        start.wait()
        for _ in range(3):
            try:
                results.append([[s.sql for s in r.statements] for r in render_project(project)])
            except Exception as exc:  # a collision shows up as an exception or as different output
                results.append(exc)

    threads = [threading.Thread(target=render) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 12
    assert all(result == expected for result in results), [r for r in results if r != expected][:1]
