"""``migtui phase new``: a new revision file from the project's ``phased_revision.py.mako``."""

from __future__ import annotations

import uuid
from pathlib import Path

from migtui.errors import UsageError

TEMPLATE_NAME = "phased_revision.py.mako"


def new_phased_revision(project, message: str, rev_id: str | None = None) -> Path:
    """Write ``versions/<rev_id>.py`` (on top of the current head) from the phased template; return its path."""
    from alembic.script import ScriptDirectory

    template = Path(project.script_location) / TEMPLATE_NAME
    if not template.is_file():
        raise UsageError(f"no {TEMPLATE_NAME} in {project.script_location}: copy db/migrations/{TEMPLATE_NAME} there")
    if not message.strip():
        raise UsageError("phase new needs a message (-m 'what the change does')")
    rev_id = rev_id or uuid.uuid4().hex[:12]
    if len(rev_id) > 32:
        raise UsageError(f"revision id {rev_id!r} is longer than 32 characters (alembic_version.version_num)")
    project.script  # noqa: B018 - check the graph (single head) first
    script = ScriptDirectory.from_config(project.config())
    original = script._generate_template

    def generate(src, dest, **kw):
        return original(template, dest, **kw)

    script._generate_template = generate  # type: ignore[method-assign]
    try:
        created = script.generate_revision(rev_id, message, head="head")
    except Exception as exc:
        raise UsageError(f"cannot create the revision: {str(exc).splitlines()[0]}") from None
    return Path(created.path)
