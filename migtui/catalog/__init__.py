"""One catalog model and one diff, shared by rollback-test and drift.

from migtui.catalog import inspect_database, diff_snapshots
before = inspect_database(dsn)
...
for item in diff_snapshots(before, inspect_database(dsn)):
    print(item.describe())
"""

from __future__ import annotations

from migtui.catalog.diff import diff_snapshots
from migtui.catalog.inspect import inspect_database
from migtui.catalog.model import ACCEPTABLE_ATTRIBUTES, KINDS, CatalogObject, Difference, Snapshot

__all__ = [
    "ACCEPTABLE_ATTRIBUTES",
    "KINDS",
    "CatalogObject",
    "Difference",
    "Snapshot",
    "diff_snapshots",
    "inspect_database",
]
