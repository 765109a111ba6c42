"""On-disk cache of expected schemas for drift: one JSON snapshot per key, never a server.

The key is (recorded revision(s), migrations content hash, server major, migration role, version table,
catalog inspector hash): a change to any revision file or env.py changes the content hash, and a new
migtui inspector (its code or its queries) its hash, so a stale snapshot is never used.
Files are written atomically (temporary file + rename); an unreadable or mismatching file is ignored and
rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from migtui.catalog import Snapshot

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

FORMAT = 1


@dataclass(frozen=True)
class CacheKey:
    revisions: tuple[str, ...]
    content_hash: str
    pg_version: int
    role: str
    version_table: str
    inspector: str = ""  # hash of the catalog inspector's source: a changed inspector never reads an old snapshot
    phases: tuple[tuple[str, str, int], ...] = ()  # (revision, phase, step) of each phased revision on the target
    baseline: str = ""  # the baseline's fingerprint (project/baseline.py): another baseline, another schema

    def digest(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def inspector_hash(queries: Traversable | None = None) -> str:
    """A short hash of what a snapshot's shape depends on: ``migtui/catalog/inspect.py``, ``model.py`` and
    the catalog queries (``queries``: their directory, by default ``migtui/catalog/queries``)."""
    from migtui.catalog import inspect as inspect_module
    from migtui.catalog import model as model_module

    digest = hashlib.sha256()
    for module in (inspect_module, model_module):
        digest.update(Path(str(module.__file__)).read_bytes())
    folder = queries if queries is not None else resources.files("migtui.catalog.queries")
    for query in sorted((item for item in folder.iterdir() if item.name.endswith(".sql")), key=lambda q: q.name):
        digest.update(query.name.encode() + b"\0" + query.read_bytes())
    return digest.hexdigest()[:12]


def path_for(cache_dir: Path, key: CacheKey) -> Path:
    """``<cache_dir>/expected-pg<major>-<revision>-<digest>.json``."""
    revision = "+".join(key.revisions) or "base"
    safe = "".join(ch if ch.isalnum() or ch in "-_+" else "_" for ch in revision)[:60]
    return Path(cache_dir) / f"expected-pg{key.pg_version}-{safe}-{key.digest()}.json"


def load(path: Path, key: CacheKey) -> tuple[Snapshot, str] | None:
    """(snapshot, server description) from ``path`` if it exists and was stored under ``key``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or data.get("key") != json.loads(json.dumps(asdict(key))):
            return None
        return Snapshot.from_dict(data["snapshot"]), str(data.get("server", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(path: Path, key: CacheKey, snapshot: Snapshot, server: str) -> None:
    """Write atomically; raises OSError when the directory is not writable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "key": asdict(key), "server": server, "snapshot": snapshot.to_dict()}
    fd, tmp = tempfile.mkstemp(prefix=".expected-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
