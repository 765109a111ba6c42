"""The wheel runs without the repository: installed into a fresh virtualenv in a temporary directory (its
dependencies from the package index, as ``pip install`` / ``pipx install`` would get them), ``migtui demo
--headless`` runs the tour there (SQL files, templates, the stylesheet and the sample project all from the
installed wheel; the checkout is not on any path)."""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.db  # the demo starts its own embedded servers
def test_wheel_in_a_fresh_venv_runs_the_demo(migtui_wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(migtui_wheel)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-4000:]

    work = tmp_path / "elsewhere"  # no db/migrations, no pyproject.toml, no checkout
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIGTUI_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-c",
            "import migtui, backend; print(migtui.__file__); print(backend.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=60,
    )
    assert where.returncode == 0, where.stderr
    for line in where.stdout.split():
        assert Path(line).is_relative_to(env_dir) and not Path(line).is_relative_to(ROOT), line

    demo = subprocess.run(
        [str(env_dir / "bin" / "migtui"), "demo", "--headless", "--scale", "2000"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=600,
    )
    assert demo.returncode == 0, (demo.stdout + demo.stderr)[-4000:]
    assert "demo tour finished" in demo.stdout
    assert (env_dir / "share" / "migtui" / "sample" / "migrations" / "env.py").is_file()  # what the demo ran
