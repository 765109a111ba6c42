"""The catalog model: a schema snapshot as plain data, and one structured difference between two snapshots.

A ``Snapshot`` maps ``(kind, name)`` to a ``CatalogObject`` whose ``attributes`` are plain JSON values
(str / int / bool / list / None) as the server itself normalizes them (``pg_get_*def``, ``format_type``,
``pg_get_expr``). Names are schema-qualified and never OIDs, so two databases (or two servers of the same
major version) compare directly. ``migtui.catalog.inspect`` builds snapshots; ``migtui.catalog.diff``
compares them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Object kinds, in the order reports list them (containers before what they contain).
KINDS: tuple[str, ...] = (
    "schema",
    "extension",
    "collation",
    "enum",
    "domain",
    "composite type",
    "range type",
    "sequence",
    "table",
    "column",
    "constraint",
    "index",
    "view",
    "materialized view",
    "function",
    "trigger",
    "event trigger",
    "policy",
    "rule",
    "statistics",
    "default privileges",
)

# Every attribute name an object can have (see docs/catalog.md), for validating exclusions.
ATTRIBUTES: frozenset[str] = frozenset(
    """
    access_method aggregate arguments base_type body cache canonical collation columns command comment compression
    config constraint_type cost cycle data_type default deferrable definition deterministic enabled event fields
    force_row_security foreign_options foreign_server function function_kind generated grants identity include
    increment inherits language lc_collate lc_ctype leakproof locale maxvalue method minvalue not_null
    nulls_not_distinct object_file of_type on_delete on_update options owned_by owner parallel partition_key
    partition_of permissive persistence populated predicate provider reloptions replica_identity returns roles
    row_security rows rules schema security start storage strict subtype subtype_diff subtype_opclass table
    table_kind tablespace tags target type unique using valid validity values version volatility with_check
    """.split()
)

# Attribute names that teams often accept differences in; callers may exclude them (drift: by flag/config).
ACCEPTABLE_ATTRIBUTES: tuple[str, ...] = ("owner", "grants", "comment")

CHANGES: tuple[str, ...] = ("added", "removed", "modified")


def check_exclude(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Validate names to leave out of a comparison (kinds or attributes); UsageError for an unknown one."""
    from migtui.errors import UsageError

    for name in names:
        if name not in ATTRIBUTES and name not in KINDS:
            raise UsageError(
                f"unknown name to exclude: {name!r} (an object kind such as 'extension', or an attribute such as "
                f"{', '.join(repr(a) for a in ACCEPTABLE_ATTRIBUTES)}; see docs/catalog.md)"
            )
    return tuple(names)


Key = tuple[str, str]


@dataclass(frozen=True)
class CatalogObject:
    """One object of the schema: ``kind`` (see KINDS), qualified ``name``, attributes, and its parent's key
    (a column's, constraint's, index's, trigger's or policy's table / view / domain)."""

    kind: str
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    parent: Key | None = None

    @property
    def key(self) -> Key:
        return (self.kind, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "attributes": dict(self.attributes),
            "parent": list(self.parent) if self.parent else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CatalogObject:
        parent = data.get("parent")
        return cls(data["kind"], data["name"], dict(data.get("attributes") or {}), tuple(parent) if parent else None)


@dataclass
class Snapshot:
    """Every schema object of one database, keyed by ``(kind, name)``."""

    server_version_num: int
    objects: dict[Key, CatalogObject] = field(default_factory=dict)

    @property
    def pg_version(self) -> int:
        return self.server_version_num // 10000

    def add(self, obj: CatalogObject) -> None:
        self.objects[obj.key] = obj

    def get(self, kind: str, name: str) -> CatalogObject | None:
        return self.objects.get((kind, name))

    def names(self, kind: str) -> list[str]:
        return sorted(name for k, name in self.objects if k == kind)

    def __len__(self) -> int:
        return len(self.objects)

    def to_dict(self) -> dict[str, Any]:
        return {
            "server_version_num": self.server_version_num,
            "objects": [obj.to_dict() for _, obj in sorted(self.objects.items())],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        snap = cls(int(data["server_version_num"]))
        for item in data.get("objects", []):
            snap.add(CatalogObject.from_dict(item))
        return snap


@dataclass(frozen=True)
class Difference:
    """One difference: ``actual`` compared with ``expected``.

    ``change`` is ``added`` (in actual only), ``removed`` (in expected only) or ``modified`` (one
    ``attribute`` differs; ``expected``/``actual`` are its two values). For added/removed objects
    ``attribute`` is None and ``expected``/``actual`` hold the object's attributes (or None on the side
    where it does not exist).
    """

    kind: str
    object: str
    change: str
    attribute: str | None = None
    expected: Any = None
    actual: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "object": self.object,
            "change": self.change,
            "attribute": self.attribute,
            "expected": self.expected,
            "actual": self.actual,
        }

    def describe(self) -> str:
        """One readable line, e.g. ``column public.t.a: default: expected '0', actual None``."""
        if self.change == "modified":
            expected, actual = _show(self.expected), _show(self.actual)
            return f"{self.kind} {self.object}: {self.attribute}: expected {expected}, actual {actual}"
        if self.change == "added":
            return f"{self.kind} {self.object}: added (not expected)"
        return f"{self.kind} {self.object}: missing (expected)"


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return repr(" ".join(value.split()) if "\n" in value else value)  # one line: view bodies etc.
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
