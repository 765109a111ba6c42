"""Compare two server deparses of one expression (a CHECK constraint, an index predicate, a default) by meaning.

PostgreSQL does not deparse an expression back into text that parses to the same tree: a CHECK with an
IN-list on a varchar column is stored as ``(col)::text = ANY ((ARRAY['a'::varchar, ...])::text[])``, and
after ``pg_dump | psql`` (which re-parses that text) as ``(col)::text = ANY (ARRAY[('a'::varchar)::text,
...])``. Both mean the same; comparing the text reports a difference no DDL can clear (the fix re-creates the
text, which deparses to the restored form again).

So both sides are parsed with pglast, rewritten to one canonical form and printed again; the texts are equal
when the canonical forms are. Rewrites (each one a form the server itself produces for the same meaning):

- a cast of an array constructor to an array type, ``(ARRAY[a, b])::T[]``, is the array of the elements
  each cast, ``ARRAY[a::T, b::T]``.

Text that does not parse is compared as text.
"""

from __future__ import annotations

from functools import lru_cache

_WRAPPERS = {
    "constraint": "ALTER TABLE migtui_t ADD CONSTRAINT migtui_c {}",
    "expression": "SELECT {}",
}


@lru_cache(maxsize=4096)
def canonical(text: str, form: str = "expression") -> str | None:
    """The canonical text of ``text`` (an expression, or with ``form="constraint"`` a constraint definition
    such as ``CHECK (...)``), or None when it does not parse."""
    try:
        from pglast import parse_sql
        from pglast.stream import RawStream
        from pglast.visitors import Visitor
    except ImportError:  # pragma: no cover - pglast is a dependency
        return None

    class _Canonical(Visitor):
        def visit_TypeCast(self, ancestors, node):  # type: ignore[no-untyped-def]
            from pglast import ast

            type_name = node.typeName
            if isinstance(node.arg, ast.A_ArrayExpr) and type_name is not None and type_name.arrayBounds:
                element_type = ast.TypeName(
                    names=type_name.names,
                    typmods=type_name.typmods,
                    typemod=type_name.typemod,
                    setof=False,
                    pct_type=False,
                )
                elements = tuple(ast.TypeCast(arg=e, typeName=element_type) for e in (node.arg.elements or ()))
                return ast.A_ArrayExpr(elements=elements)
            return None

    try:
        statements = parse_sql(_WRAPPERS[form].format(text))
        tree = statements[0]
        _Canonical()(tree)
        return str(RawStream()(tree))
    except Exception:
        return None


def same_expression(want: object, have: object, form: str = "expression") -> bool:
    """True when two deparsed expressions (or constraint definitions) mean the same by the rules above."""
    if want == have:
        return True
    if not isinstance(want, str) or not isinstance(have, str):
        return False
    a, b = canonical(want, form), canonical(have, form)
    return a is not None and a == b
