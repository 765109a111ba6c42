"""The revision list of an alembic project read from the revision files' source, without importing alembic,
SQLAlchemy or the files themselves.

alembic's own load (``AlembicProject.revisions``) imports every revision module, and with it alembic, SQLAlchemy
and Mako: about half a second of start-up on a small machine. The TUI's first screen needs only the ids, the
parents and the first docstring paragraph, which a plain project spells as literals. This reads those and
gives up (``None``) on anything it cannot be sure of, so the caller falls back to alembic: other version
locations, merges and branches, computed or missing ids, branch labels, dependencies, a file that does not
parse. The TUI still loads the project through alembic right after its first paint and shows alembic's answer
where the two differ (a revision module whose import fails, for one).
"""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path
from typing import TYPE_CHECKING

from migtui.project.load import RevisionInfo

if TYPE_CHECKING:
    from migtui.project.load import AlembicProject

# alembic.script.base._only_source_rev_file: the files alembic loads from a versions directory
_REVISION_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
# [alembic] options that change where or how alembic finds revision files
_LAYOUT_OPTIONS = ("version_locations", "recursive_version_locations", "sourceless")
_UNSET = object()


def revisions_from_source(project: AlembicProject) -> list[RevisionInfo] | None:
    """All revisions, base first, as ``project.revisions()`` would list them; ``None`` when the project's
    layout or a file is beyond a plain reading (see the module docstring)."""
    if project.ini_path is not None and _custom_layout(project.ini_path):
        return None
    versions = project.script_location / "versions"
    try:
        files = sorted(p for p in versions.iterdir() if _REVISION_FILE.match(p.name) and p.is_file())
    except OSError:
        return None
    found: dict[str, tuple[str | None, str, Path]] = {}
    for path in files:
        read = _read_file(path)
        if read is None:
            return None
        revision, down, doc = read
        if revision in found:
            return None
        found[revision] = (down, doc, path.resolve())
    return _linear_chain(found)


def _custom_layout(ini: Path) -> bool:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(ini, encoding="utf-8")
    except (configparser.Error, OSError):
        return True
    section = parser["alembic"] if parser.has_section("alembic") else {}
    return any(str(section.get(name, "")).strip() for name in _LAYOUT_OPTIONS)


def _read_file(path: Path) -> tuple[str, str | None, str] | None:
    """(revision, down_revision, first docstring paragraph) from the module's top-level literal assignments."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return None
    values: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            if any(_assigns(node, name) for name in ("revision", "down_revision", "branch_labels", "depends_on")):
                return None
            continue
        for target in targets:
            if not isinstance(target, ast.Name):
                if any(_assigns(target, name) for name in ("revision", "down_revision")):
                    return None
                continue
            if target.id in values:  # assigned twice: the last one wins at import, keep it simple
                return None
            try:
                values[target.id] = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                values[target.id] = _UNSET
    revision = values.get("revision", _UNSET)
    down = values.get("down_revision", _UNSET)
    if not isinstance(revision, str) or not revision or not (down is None or isinstance(down, str)):
        return None
    if values.get("branch_labels") is not None or values.get("depends_on") is not None:
        return None
    doc = ast.get_docstring(tree, clean=False) or ""
    return revision, down or None, re.split("\n\n", doc.strip())[0]


def _assigns(node: ast.AST, name: str) -> bool:
    """Whether ``node`` may bind ``name`` at module level other than by a plain assignment (a loop, a
    ``global``, an import, a walrus...): the file is then left to alembic."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id == name and isinstance(sub.ctx, ast.Store):
            return True
        if isinstance(sub, ast.alias) and (sub.asname or sub.name) == name:
            return True
        if isinstance(sub, ast.Global) and name in sub.names:
            return True
    return False


def _linear_chain(found: dict[str, tuple[str | None, str, Path]]) -> list[RevisionInfo] | None:
    """Base first, when the revisions form one chain (one base, one head, no merge, no branch point)."""
    children: dict[str, str] = {}
    base = None
    for revision, (down, _doc, _path) in found.items():
        if down is None:
            if base is not None:
                return None
            base = revision
        elif down not in found or down in children:
            return None
        else:
            children[down] = revision
    if base is None:
        return [] if not found else None
    out: list[RevisionInfo] = []
    revision: str | None = base
    while revision is not None:
        down, doc, path = found[revision]
        nxt = children.get(revision)
        out.append(RevisionInfo(revision, (down,) if down else (), doc, path, nxt is None, False, False))
        revision = nxt
    return out if len(out) == len(found) else None
