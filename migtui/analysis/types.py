"""Column type changes: which ones PostgreSQL does without rewriting the table (binary-coercible)."""

from __future__ import annotations

import re
from typing import Final

_ALIASES: Final = {
    "character varying": "varchar",
    "varchar": "varchar",
    "string": "varchar",
    "text": "text",
    "numeric": "numeric",
    "decimal": "numeric",
    "integer": "int4",
    "int": "int4",
    "int4": "int4",
    "bigint": "int8",
    "int8": "int8",
    "smallint": "int2",
    "int2": "int2",
    "character": "bpchar",
    "char": "bpchar",
    "bpchar": "bpchar",
    "bit varying": "varbit",
    "varbit": "varbit",
    "timestamp": "timestamp",
    "timestamp without time zone": "timestamp",
    "datetime": "timestamp",
    "timestamp with time zone": "timestamptz",
    "timestamptz": "timestamptz",
    "cidr": "cidr",
    "inet": "inet",
    "boolean": "bool",
    "bool": "bool",
    "real": "float4",
    "float4": "float4",
    "double precision": "float8",
    "float8": "float8",
    "float": "float8",
    "uuid": "uuid",
    "json": "json",
    "jsonb": "jsonb",
}

_TYPE_RE: Final = re.compile(
    r"^\s*([a-z_][a-z0-9_ ]*?)\s*(?:\(([^)]*)\))?\s*((?:with|without) time zone)?\s*(\[\])?\s*$"
)


def normalize_type(text: str) -> tuple[str, tuple[int, ...]] | None:
    """``"character varying(20)"``, ``"VARCHAR(length=20)"``, ``"numeric(10, 2)"`` -> ``("varchar", (20,))``."""
    if not text:
        return None
    text = text.strip().lower().replace('"', "")
    if "." in text.split("(")[0]:
        text = text.split(".", 1)[1]
    match = _TYPE_RE.match(text)
    if not match:
        return None
    base, mods, tz, array = match.groups()
    base = base.strip()
    if tz:
        base = f"{base} {tz}"
    base = _ALIASES.get(base, base)
    if tz and base == "timestamp" and tz.startswith("with "):
        base = "timestamptz"
    numbers: list[int] = []
    if mods:
        for part in mods.split(","):
            part = part.split("=")[-1].strip()
            if part.isdigit():
                numbers.append(int(part))
            elif part in ("none", ""):
                continue
            else:
                return None
    if array:
        base += "[]"
    return base, tuple(numbers)


def type_change_rewrites(old: str | None, new: str) -> bool | None:
    """Whether ``ALTER COLUMN ... TYPE new`` from ``old`` rewrites the table.

    None when ``old`` is unknown or not understood (the caller assumes the worst case: a rewrite).
    """
    if old is None:
        return None
    a, b = normalize_type(old), normalize_type(new)
    if a is None or b is None:
        return None
    (old_base, old_mods), (new_base, new_mods) = a, b
    if old_base == new_base:
        if old_mods == new_mods:
            return False
        if old_base in ("varchar", "varbit"):
            if not new_mods:
                return False  # dropping the length limit
            if old_mods and new_mods[0] >= old_mods[0]:
                return False  # widening
            return True
        if old_base == "numeric":
            if not new_mods:
                return False  # unconstrained numeric
            if old_mods:
                old_scale = old_mods[1] if len(old_mods) > 1 else 0
                new_scale = new_mods[1] if len(new_mods) > 1 else 0
                if new_scale == old_scale and new_mods[0] >= old_mods[0]:
                    return False  # precision increase, same scale
            return True
        if old_base in ("timestamp", "timestamptz", "time", "interval"):
            # precision increase or removal does not rewrite
            if not new_mods or (old_mods and new_mods[0] >= old_mods[0]):
                return False
            return True
        return True
    if old_base == "varchar" and new_base == "text":
        return False
    if old_base == "text" and new_base == "varchar" and not new_mods:
        return False
    if old_base == "cidr" and new_base == "inet":
        return False
    if old_base == "varbit" and new_base == "varbit":
        return False
    return True


def type_change_narrows(old: str | None, new: str) -> bool:
    """A change that can lose data or fail on existing rows (shorter varchar, smaller numeric, int8 -> int4)."""
    if old is None:
        return False
    a, b = normalize_type(old), normalize_type(new)
    if a is None or b is None:
        return False
    (old_base, old_mods), (new_base, new_mods) = a, b
    if old_base == new_base and old_base in ("varchar", "varbit", "bpchar", "numeric"):
        if new_mods and (not old_mods or new_mods[0] < old_mods[0]):
            return True
        if old_base == "numeric" and len(new_mods) > 1 and len(old_mods) > 1 and new_mods[1] < old_mods[1]:
            return True
    if old_base in ("text", "varchar") and new_base in ("varchar", "bpchar") and new_mods:
        return old_base == "text" or not old_mods or new_mods[0] < old_mods[0]
    order = ["int2", "int4", "int8"]
    if old_base in order and new_base in order and order.index(new_base) < order.index(old_base):
        return True
    if old_base == "float8" and new_base == "float4":
        return True
    return False
