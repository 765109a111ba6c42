"""Compare two catalog snapshots into structured differences (the one diff for rollback-test and drift).

``diff_snapshots(expected, actual)`` returns ``Difference`` items ordered by kind (``model.KINDS``) and
name. An object that exists on one side only is one ``added``/``removed`` item; the columns, constraints,
indexes, triggers and policies of a table that is itself added or removed are not listed again. An object
on both sides gives one ``modified`` item per attribute that differs. Expressions the server deparses
(CHECK and other constraint definitions, index predicates and key expressions, column defaults) differ only
when they differ in meaning (``catalog/normalize.py``): a restored copy is not a changed schema.
"""

from __future__ import annotations

from collections.abc import Iterable

from migtui.catalog.model import KINDS, Difference, Key, Snapshot
from migtui.catalog.normalize import same_expression

# (kind, attribute) -> how the attribute's text parses: attributes that hold server-deparsed expressions
_EXPRESSIONS: dict[tuple[str, str], str] = {
    ("constraint", "definition"): "constraint",
    ("index", "predicate"): "expression",
    ("index", "columns"): "expression",
    ("column", "default"): "expression",
}

_KIND_ORDER = {kind: index for index, kind in enumerate(KINDS)}


def _order(key: Key) -> tuple[int, str]:
    return (_KIND_ORDER.get(key[0], len(KINDS)), key[1])


def diff_snapshots(
    expected: Snapshot,
    actual: Snapshot,
    *,
    exclude: Iterable[str] = (),
) -> list[Difference]:
    """Differences of ``actual`` against ``expected``.

    ``exclude`` names attributes (e.g. ``owner``, ``grants``, ``comment``) and/or kinds (e.g. ``extension``)
    to leave out of the comparison.
    """
    skip = set(exclude)
    items: list[Difference] = []
    removed = {k for k in expected.objects if k not in actual.objects and k[0] not in skip}
    added = {k for k in actual.objects if k not in expected.objects and k[0] not in skip}

    for key in sorted(removed, key=_order):
        obj = expected.objects[key]
        if obj.parent is not None and obj.parent in removed:
            continue
        items.append(Difference(obj.kind, obj.name, "removed", None, _visible(obj.attributes, skip), None))
    for key in sorted(added, key=_order):
        obj = actual.objects[key]
        if obj.parent is not None and obj.parent in added:
            continue
        items.append(Difference(obj.kind, obj.name, "added", None, None, _visible(obj.attributes, skip)))
    for key in sorted(expected.objects.keys() & actual.objects.keys(), key=_order):
        if key[0] in skip:
            continue
        want = expected.objects[key].attributes
        have = actual.objects[key].attributes
        for attribute in _attribute_order(want, have):
            if attribute in skip or attribute not in want or attribute not in have:
                # an attribute only one side has (e.g. the owner of a sequence that became OWNED BY a table:
                # owned sequences follow their table's owner) is explained by the attribute that changed
                continue
            if want.get(attribute) != have.get(attribute) and not _same_meaning(key[0], attribute, want, have):
                items.append(
                    Difference(key[0], key[1], "modified", attribute, want.get(attribute), have.get(attribute))
                )
    items.sort(key=lambda d: (*_order((d.kind, d.object)), d.change != "removed", d.change != "added"))
    return items


def _same_meaning(kind: str, attribute: str, want: dict, have: dict) -> bool:
    form = _EXPRESSIONS.get((kind, attribute))
    if form is None:
        return False
    a, b = want.get(attribute), have.get(attribute)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_expression(x, y, form) for x, y in zip(a, b, strict=True))
    return same_expression(a, b, form)


def _attribute_order(want: dict, have: dict) -> list[str]:
    names = list(want)
    names.extend(k for k in have if k not in want)
    return names


def _visible(attributes: dict, skip: set[str]) -> dict:
    return {k: v for k, v in attributes.items() if k not in skip}
