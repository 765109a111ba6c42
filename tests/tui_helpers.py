"""Helpers for driving the real TUI with Pilot and reading what is on screen."""

from __future__ import annotations

import time
from pathlib import Path

from migtui.config import Settings
from tests.alembic_projects import Rev, make_project

SAMPLE_REVS = [
    Rev(
        "a1",
        "op.create_table('accounts', sa.Column('id', sa.Integer, primary_key=True))",
        "op.drop_table('accounts')",
        message="create accounts",
    ),
    Rev(
        "a2",
        "op.add_column('accounts', sa.Column('email', sa.Text))",
        "op.drop_column('accounts', 'email')",
        message="add email",
    ),
    Rev(
        "a3",
        "with op.get_context().autocommit_block():\n"
        "    op.create_index('ix_accounts_email', 'accounts', ['email'], postgresql_concurrently=True)",
        "with op.get_context().autocommit_block():\n"
        "    op.drop_index('ix_accounts_email', postgresql_concurrently=True)",
        message="index email",
    ),
    Rev(
        "a4",
        "op.add_column('accounts', sa.Column('name', sa.Text))",
        "op.drop_column('accounts', 'name')",
        message="add name",
    ),
]


# a revision the lint engine reports as an error (an index built without CONCURRENTLY blocks writes)
RISKY_REV = Rev(
    "a5",
    "op.create_index('ix_accounts_name', 'accounts', ['name'])",
    "op.drop_index('ix_accounts_name')",
    message="index name",
)


def sample_project(root: Path, risky: bool = False) -> Path:
    return make_project(root, [*SAMPLE_REVS, RISKY_REV] if risky else SAMPLE_REVS)


def alembic_upgrade(project_dir: Path, dsn: str, revision: str) -> None:
    """Test setup only: bring a database to ``revision`` with plain alembic."""
    from alembic import command

    from migtui.project.load import AlembicProject

    command.upgrade(AlembicProject.load(project_dir).config(dsn), revision)


def settings_for(dsn: str | None, migrations: Path, **extra) -> Settings:
    return Settings(dsn=dsn, migrations=str(migrations), **extra)


def screen_text(app) -> str:
    """Everything the active screen shows right now, as plain text lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def wait_for_text(pilot, needle: str | list[str], timeout: float = 10.0) -> str:
    """Pause the pilot until every needle is on screen; returns the screen text (fails with it otherwise)."""
    needles = [needle] if isinstance(needle, str) else needle
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        text = screen_text(pilot.app)
        if all(n in text for n in needles):
            return text
    raise AssertionError(f"{needles!r} not on screen after {timeout}s:\n{text}")


async def press_for_confirmation(pilot, *keys: str, timeout: float = 10.0):
    """Press ``keys`` (``a`` apply, ``v`` advance, ...) and wait until a confirmation dialog is the screen;
    returns it (fails with the screen otherwise)."""
    from migtui.tui.screens.apply import ConfirmScreen

    await pilot.press(*keys)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if isinstance(pilot.app.screen, ConfirmScreen):
            return pilot.app.screen
    raise AssertionError(f"no confirmation after pressing {keys!r}:\n{screen_text(pilot.app)}")


async def wait_until_settled(pilot, quiet_samples: int = 3, interval: float = 0.05, timeout: float = 10.0) -> str:
    """Pause until the screen has not changed for ``quiet_samples`` consecutive samples (layout passes such as
    DataTable column widths and scrollbars run on idle, later under load); returns the screen text."""
    deadline = time.monotonic() + timeout
    previous, same = None, 0
    while time.monotonic() < deadline:
        await pilot.pause(interval)
        text = screen_text(pilot.app)
        same = same + 1 if text == previous else 0
        if same >= quiet_samples:
            return text
        previous = text
    raise AssertionError(f"screen still changing after {timeout}s")
