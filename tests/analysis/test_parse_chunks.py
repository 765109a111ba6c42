"""iter_parse_sql parses long SQL a chunk at a time: the same statements, lines, offsets and errors as one parse
of the whole text, including where the scanner's cuts fall inside a BEGIN ATOMIC body or a CREATE RULE list."""

from __future__ import annotations

import random

import pytest

from migtui.analysis import analyze_sql
from migtui.analysis.parse import CHUNK_CHARS, SqlSyntaxError, iter_parse_sql, parse_sql

PIECES = [
    "SELECT 1;",
    "-- a comment; with a semicolon\nSELECT 'a;b' ;",
    "/* x; */ INSERT INTO t VALUES (1, 'é;');",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;",
    "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));",
    "DO $$ BEGIN PERFORM 1; END $$;",
    "\n\n",
    "ALTER TABLE t ADD COLUMN c int;",
    "select $q$;;$q$ ;",
    "SELECT 'ü' -- x\n;",
    ";",
    "CREATE INDEX CONCURRENTLY i ON t (a);",
]
BREAKERS = [" FOO ", "(", "END;", " select", "'"]


def _strip_locations(node):
    # the parse tree's own *location fields count from the start of what was parsed (a chunk): nothing reads them
    if isinstance(node, dict):
        return {k: _strip_locations(v) for k, v in node.items() if not k.endswith("location")}
    if isinstance(node, list):
        return [_strip_locations(v) for v in node]
    return node


def _whole(sql, path=None, first_line=1):
    return iter_parse_sql(sql, path, first_line, chunk_chars=len(sql) + 1)  # one chunk: one parse of the whole


def _outcome(statements):
    try:
        return [(s.node_type, _strip_locations(s.node), s.sql, s.line, s.offset) for s in statements]
    except SqlSyntaxError as exc:
        return str(exc)


def test_chunked_parse_is_the_whole_parse_on_random_scripts():
    rng = random.Random(17)
    checked_errors = 0
    for _ in range(250):
        sql = "\n".join(rng.choice(PIECES) for _ in range(rng.randint(1, 20)))
        if rng.random() < 0.3:
            at = rng.randint(0, len(sql))
            sql = sql[:at] + rng.choice(BREAKERS) + sql[at:]
        if rng.random() < 0.3:
            sql = sql.rstrip(";\n ")  # the last statement without its semicolon
        whole = _outcome(_whole(sql, "m.sql", 3))
        checked_errors += isinstance(whole, str)
        for size in (1, 7, 40):
            assert _outcome(iter_parse_sql(sql, "m.sql", 3, chunk_chars=size)) == whole, (size, sql)
    assert checked_errors > 20  # the corpus holds malformed scripts, not only valid ones


def test_a_syntax_error_at_end_of_input_names_the_last_line():
    sql = "SELECT 1;\nSELECT 2;\nSELECT (\n"
    with pytest.raises(SqlSyntaxError, match=r"^line 3: SQL syntax error: syntax error at end of input"):
        parse_sql(sql)
    with pytest.raises(SqlSyntaxError, match=r"^line 3: "):
        list(iter_parse_sql(sql, chunk_chars=1))


def test_a_long_script_is_parsed_in_chunks_with_whole_parse_results():
    rows = "".join(f"INSERT INTO t (id, v) VALUES ({i}, 'row {i} é');\n" for i in range(2000))
    sql = "BEGIN;\n" + rows + PIECES[3] + "\nCOMMIT;\n"
    assert len(sql) > 4 * CHUNK_CHARS
    assert _outcome(iter_parse_sql(sql)) == _outcome(_whole(sql))
    results = analyze_sql(sql)
    assert len(results) == 2003 and results[-2].line == 2002 and results[-1].sql == "COMMIT"


def test_a_statement_starts_after_the_whitespace_and_comments_before_it():
    """Each statement's text, offset and line: what skipping the leading whitespace and comments with the
    regular expression gives (the parser skips whitespace alone without it)."""
    from migtui.analysis.parse import _LEADING_STR

    rng = random.Random(15)
    gaps = ["\n", "  ", "\t", "-- c;\n", "/* x; */", "/* a\n b */", "\x0b", "\x0c", "\r\n", "--\n", "/**/", ";"]
    bodies = ["SELECT 1", "ALTER TABLE t ADD COLUMN c int", "UPDATE t SET a = 1 -- x\n", "SELECT /* c */ 2"]
    for _ in range(2_000):
        sql = "".join(
            "".join(rng.choice(gaps) for _ in range(rng.randint(0, 3))) + rng.choice(bodies) + ";"
            for _ in range(rng.randint(1, 4))
        ) + rng.choice(["", "\n", "-- end"])
        parsed = parse_sql(sql)
        starts = [sql.find(st.sql, st.offset) for st in parsed]
        expected = []
        for st, start in zip(parsed, starts, strict=True):
            # the statement's own first token is where the regular expression stops, from any point of the gap
            lead = _LEADING_STR.match(sql, st.offset)
            assert lead is not None and lead.end() == st.offset == start, sql
            expected.append(sql.count("\n", 0, st.offset) + 1)
        assert [st.line for st in parsed] == expected, sql
