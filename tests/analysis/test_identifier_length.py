"""identifier-too-long: PostgreSQL keeps the first 63 bytes of an identifier (NAMEDATALEN - 1) and says so only
in a NOTICE. The rule reads the statement's tokens (the parse tree holds the names truncated already)."""

from __future__ import annotations

import random

import psycopg
import pytest

from migtui.analysis import analyze_sql
from migtui.analysis.analyze import _LONG_QUOTED, _may_have_long_identifier

LONG = "orders_archive_for_the_customer_accounts_that_were_closed_before_2020"  # 69 bytes
GERMAN = "Einschränkung_für_die_Bestellungen_der_Kundinnen_und_Kunden_ähnlich"  # 67 characters, 70 bytes


def _flagged(sql: str) -> list[str]:
    return [f.message for st in analyze_sql(sql) for f in st.findings if f.rule == "identifier-too-long"]


def test_names_over_63_bytes_are_flagged_with_the_name_postgresql_keeps():
    (message,) = _flagged(f"CREATE TABLE {LONG.upper()} (id bigint PRIMARY KEY)")
    assert message == f'identifier "{LONG}" is 69 bytes: PostgreSQL cuts it to "{LONG[:63]}"'
    # quoted: kept as written; counted in bytes, cut on a character boundary
    (message,) = _flagged(f'ALTER TABLE orders ADD CONSTRAINT "{GERMAN}" CHECK (id > 0) NOT VALID')
    assert f'"{GERMAN}" is 70 bytes' in message
    # 62 bytes: the next character, "ä", takes two and would end past byte 63
    assert message.endswith(f'cuts it to "{GERMAN[:60]}"')


def test_names_of_63_bytes_string_literals_and_comments_are_not_flagged():
    name63 = LONG[:63]
    sql = (
        f"CREATE INDEX {name63} ON orders (id); -- {LONG}\n"
        f"SELECT '{LONG}', $${LONG}$$;\n"
        f"COMMENT ON TABLE orders IS '{GERMAN}';\n"
        f'CREATE TABLE "{name63}" (id int)'
    )
    assert _flagged(sql) == []


def test_the_prefilter_lets_through_every_statement_with_a_long_name():
    assert _may_have_long_identifier(f"DROP TABLE {LONG}")
    assert _may_have_long_identifier(f'DROP TABLE "{LONG.replace("_", " ")}"')
    assert _may_have_long_identifier("DROP TABLE größe_der_bestellung")  # non-ASCII: up to 4 bytes a character
    assert not _may_have_long_identifier("DROP TABLE ä")  # 12 characters: at most 48 bytes
    assert not _may_have_long_identifier(f"DROP TABLE {LONG[:63]} CASCADE")
    # a long word anywhere: the prefilter looks for 32-character blocks without a space first
    for pad in range(40):
        sql = "x " * pad + f"tbl.{LONG}\nfoo bar"
        assert _may_have_long_identifier(sql), pad
        assert not _may_have_long_identifier(sql.replace(LONG, LONG[:59]))


def test_the_prefilter_says_what_a_split_into_words_says():
    """The block test in front of the split changes no answer: random ASCII text, words of every length."""
    rng = random.Random(14)
    for _ in range(5_000):
        spacing = rng.random() * 0.2
        sql = "".join(
            rng.choice(' \n\t"') if rng.random() < spacing else rng.choice("ab_") for _ in range(rng.randint(0, 300))
        )
        expected = len(sql) > 63 and (
            any(len(word) > 63 for word in sql.split()) or ('"' in sql and _LONG_QUOTED.search(sql) is not None)
        )
        assert _may_have_long_identifier(sql) == expected, sql


@pytest.mark.db
def test_the_reported_name_is_the_one_postgresql_creates(fresh_db):
    sql = f'CREATE TABLE {LONG} (id int);\nCREATE TABLE "{GERMAN}" (id int)'
    cut = [m.rsplit('cuts it to "', 1)[1].rstrip('"') for m in _flagged(sql)]
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(sql)
        names = {
            row[0] for row in conn.execute("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace")
        }
    assert len(cut) == 2
    assert set(cut) == names
