"""Build throwaway alembic projects for tests: a stock ``alembic init`` env.py plus given revisions.

    project_dir = make_project(tmp_path, [
        Rev("a1", "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))", "op.drop_table('t')"),
        Rev("a2", "op.execute('SELECT pg_sleep(5)')", "pass"),
    ])

Revisions chain in order (each ``down_revision`` is the previous one) unless ``down`` is given.
Bodies are Python source for the ``upgrade()``/``downgrade()`` functions (indented for you).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

_UNSET = object()


@dataclass
class Rev:
    revision: str
    upgrade: str
    downgrade: str = "pass"
    message: str = ""
    down: object = field(default=_UNSET)  # override down_revision (None, "x", ("a", "b"))
    header: str = ""  # extra module-level source (comments like "# migtui: approve=...", imports)


def _body(src: str) -> str:
    src = textwrap.dedent(src).strip("\n") or "pass"
    return textwrap.indent(src, "    ")


def revision_source(rev: Rev, down_revision: object) -> str:
    return (
        f'"""{rev.message or rev.revision}\n\nRevision ID: {rev.revision}\n"""\n'
        "from alembic import op\n"
        "import sqlalchemy as sa\n"
        f"{rev.header}\n\n"
        f"revision = {rev.revision!r}\n"
        f"down_revision = {down_revision!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade():\n{_body(rev.upgrade)}\n\n\n"
        f"def downgrade():\n{_body(rev.downgrade)}\n"
    )


def make_project(root: Path, revisions: list[Rev], name: str = "migrations") -> Path:
    """Create ``root/name`` with ``alembic init`` (stock template) and write ``revisions``.

    Returns the script directory (``root/name``); ``root/alembic.ini`` is the stock ini.
    """
    from alembic import command
    from alembic.config import Config

    root.mkdir(parents=True, exist_ok=True)
    ini = root / "alembic.ini"
    cfg = Config(str(ini))
    command.init(cfg, str(root / name), template="generic")
    versions = root / name / "versions"
    versions.mkdir(exist_ok=True)
    previous: object = None
    for index, rev in enumerate(revisions):
        down = previous if rev.down is _UNSET else rev.down
        (versions / f"{index:03d}_{rev.revision}.py").write_text(revision_source(rev, down))
        previous = rev.revision
    return root / name


def project_settings(project: object, **values: object):
    """Settings whose ``migrations`` is ``project`` (an AlembicProject or its directory), plus ``values``."""
    from migtui.config import Settings

    location = getattr(project, "script_location", project)
    return Settings(migrations=str(location), **values)  # type: ignore[arg-type]


def render_offline(project: Path, revisions: str) -> str:
    """The SQL ``alembic upgrade <revisions> --sql`` prints for ``project`` (e.g. ``"a1:b2"``)."""
    import contextlib
    import io

    from alembic import command

    from migtui.project.load import AlembicProject

    cfg = AlembicProject.load(project).config("postgresql://u@localhost/x")
    out = io.StringIO()
    cfg.output_buffer = out
    with contextlib.redirect_stdout(out):
        command.upgrade(cfg, revisions, sql=True)
    return out.getvalue()
