"""Server-deparsed expressions compared by meaning (migtui.catalog.normalize): no server needed."""

from __future__ import annotations

from migtui.catalog.normalize import canonical, same_expression

STORED = "CHECK (((status)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])))"
RESTORED = "CHECK (((status)::text = ANY (ARRAY[('a'::character varying)::text, ('b'::character varying)::text])))"


def test_in_list_before_and_after_a_restore_is_the_same_constraint():
    assert STORED != RESTORED
    assert same_expression(STORED, RESTORED, "constraint")
    predicate = STORED.removeprefix("CHECK ")
    assert same_expression(predicate, RESTORED.removeprefix("CHECK "))


def test_real_differences_stay_different():
    assert not same_expression(STORED, RESTORED.replace("'b'", "'c'"), "constraint")
    assert not same_expression(STORED, STORED.replace("::text[]", "::varchar[]"), "constraint")
    assert not same_expression("(x > 0)", "(x >= 0)")
    assert not same_expression("'q'::character varying", "'q'::text")
    assert not same_expression(STORED, None, "constraint")


def test_text_that_does_not_parse_is_compared_as_text():
    assert canonical("a DESC NULLS LAST") is None
    assert same_expression("a DESC NULLS LAST", "a DESC NULLS LAST")
    assert not same_expression("a DESC NULLS LAST", "b DESC NULLS LAST")
