"""Parse SQL with pglast's C parser (JSON out, no Python AST objects on the hot path)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from orjson import loads as _loads  # orjson: decoding the parser's JSON is on lint's hot path (docs/lint.md, Speed)

from migtui.errors import UsageError


class SqlSyntaxError(UsageError):
    """Malformed SQL: one line naming the file (when known) and the line."""

    def __init__(self, message: str, line: int, path: str | None = None) -> None:
        where = f"{path}:{line}" if path else f"line {line}"
        super().__init__(f"{where}: SQL syntax error: {message}")
        self.line = line
        self.path = path


@dataclass(init=False)
class ParsedStatement:
    node_type: str  # e.g. "AlterTableStmt"
    node: dict[str, Any]
    sql: str  # the statement's text (trimmed, no trailing semicolon)
    line: int  # 1-based line of the statement's first token
    offset: int  # character offset of the statement's first token

    def __init__(self, node_type: str, node: dict[str, Any], sql: str, line: int, offset: int) -> None:
        # hand-written: mypyc compiles it (a dataclass-generated __init__ runs interpreted)
        self.node_type = node_type
        self.node = node
        self.sql = sql
        self.line = line
        self.offset = offset


_LEADING = re.compile(rb"(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)
_LEADING_STR = re.compile(r"(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)


_PGLAST_PARSER: Any = None  # pglast.parser, imported on first use: importing migtui.analysis does not load pglast


def _pglast_parser() -> Any:
    # a module global, not an import statement per call (compiled, that goes through the import system each time)
    global _PGLAST_PARSER
    if _PGLAST_PARSER is None:
        from pglast import parser

        _PGLAST_PARSER = parser
    return _PGLAST_PARSER


# Longer SQL is parsed one chunk of whole statements at a time: the JSON tree of a 10 MB revision, loaded at
# once, takes most of a gigabyte (docs/reliability.md, Large revisions); a chunk's tree is freed before the next
# chunk is parsed.
CHUNK_CHARS = 16 * 1024


def parse_sql(sql: str, path: str | None = None, first_line: int = 1) -> list[ParsedStatement]:
    """Split and parse ``sql``; raise ``SqlSyntaxError`` (exit 2) naming the line of the error."""
    return list(iter_parse_sql(sql, path, first_line))


def iter_parse_sql(
    sql: str, path: str | None = None, first_line: int = 1, chunk_chars: int = CHUNK_CHARS
) -> Iterator[ParsedStatement]:
    """``parse_sql`` one chunk of statements at a time: the memory it holds is bounded by the chunk.

    The statements, their text, lines and offsets, and the error of malformed SQL are those of one parse of the
    whole text: chunks end right after a top-level semicolon, where the grammar is back at its start state. The
    cuts come from pglast's scanner, which does not know that a ``BEGIN ATOMIC ... END`` body or a ``CREATE
    RULE ... DO (...; ...)`` list holds semicolons; a chunk cut inside one fails in its last statement and is
    parsed again with more of the text. A syntax error raises when its chunk is reached, after the statements
    before it were yielded."""
    if len(sql) <= chunk_chars:
        yield from _parse_chunk(sql, 0, first_line, path)
        return
    parser = _pglast_parser()
    try:
        slices = parser.split(sql, with_parser=False, only_slices=True)
    except parser.ParseError:
        # the scanner fails (an unterminated quote or comment): one parse of the whole reports it
        yield from _parse_chunk(sql, 0, first_line, path)
        return
    cuts, starts = _cuts(sql, slices)
    total = len(sql)
    pos, line, k = 0, first_line, 0  # k: the first cut after pos
    while pos < total:
        limit = pos + chunk_chars
        while k < len(cuts) and cuts[k] < limit:
            k += 1
        while True:
            end = cuts[k] if k < len(cuts) else total
            chunk = sql[pos:end]
            try:
                statements = list(_parse_chunk(chunk, pos, line, path, raise_location=True))
            except _ChunkSyntaxError as exc:
                if end < total and pos + exc.location >= starts[k]:
                    limit = end + chunk_chars  # perhaps cut inside a BEGIN ATOMIC body: take more of the text
                    while k < len(cuts) and cuts[k] < limit:
                        k += 1
                    continue
                raise SqlSyntaxError(exc.message, line + chunk.count("\n", 0, max(exc.location, 0)), path) from None
            break
        yield from statements
        del statements
        line += chunk.count("\n")
        pos = end
        k += 1


def _cuts(sql: str, slices: Any) -> tuple[list[int], list[int]]:
    """Offsets right after each statement's terminating semicolon, and where each of those statements starts."""
    cuts: list[int] = []
    starts: list[int] = []
    for piece in slices:
        semicolon = sql.find(";", piece.stop)
        if semicolon < 0:
            break
        if semicolon > piece.stop and sql[piece.stop : semicolon].strip():
            continue  # not this statement's terminator
        cuts.append(semicolon + 1)
        starts.append(piece.start)
    return cuts, starts


class _ChunkSyntaxError(Exception):
    """A chunk's syntax error, before it is known to be one of the whole text."""

    def __init__(self, message: str, location: int) -> None:
        super().__init__(message)
        self.message = message
        self.location = location


def _parse_chunk(
    sql: str, base: int, first_line: int, path: str | None, raise_location: bool = False
) -> Iterator[ParsedStatement]:
    """The statements of ``sql``, a chunk that starts at offset ``base`` and line ``first_line`` of the text."""
    parser = _pglast_parser()
    try:
        tree = _loads(parser.parse_sql_json(sql))
    except parser.ParseError as exc:
        # args: (message, 0-based character position of the error); no position means "at end of input"
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else len(sql.rstrip())
        message = str(exc.args[0]) if exc.args else str(exc)
        if raise_location:
            raise _ChunkSyntaxError(message, location) from None
        line = sql.count("\n", 0, max(location, 0)) + first_line
        raise SqlSyntaxError(message, line, path) from None
    stmts = tree.get("stmts", [])
    del tree
    if sql.isascii():  # byte offsets are character offsets: work on the str
        total = len(sql)
        last_pos, last_line = 0, first_line
        for raw in stmts:
            stmt = raw.get("stmt")
            if not stmt:
                continue
            start = raw.get("stmt_location", 0)
            end = start + (raw.get("stmt_len", 0) or (total - start))
            lead = _LEADING_STR.match(sql, start, end)  # always matches (all of it is optional)
            begin = lead.end() if lead else start
            text = sql[begin:end].rstrip().rstrip(";").rstrip()
            line = last_line + sql.count("\n", last_pos, begin)
            last_pos, last_line = begin, line
            node_type, node = next(iter(stmt.items()))
            yield ParsedStatement(node_type, node, text, line, base + begin)
        return
    data = sql.encode("utf-8")
    for raw in stmts:
        stmt = raw.get("stmt")
        if not stmt:
            continue
        start = raw.get("stmt_location", 0)
        end = start + (raw.get("stmt_len", 0) or (len(data) - start))
        lead_bytes = _LEADING.match(data, start, end)
        begin = lead_bytes.end() if lead_bytes else start
        text = data[begin:end].decode("utf-8").strip().rstrip(";").strip()
        prefix = data[:begin].decode("utf-8", errors="replace")
        node_type, node = next(iter(stmt.items()))
        yield ParsedStatement(node_type, node, text, prefix.count("\n") + first_line, base + len(prefix))
