"""Parse SQL with pglast's C parser (JSON out, no Python AST objects on the hot path)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

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


_LEADING: Final = re.compile(rb"(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)
_LEADING_STR: Final = re.compile(r"(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)


_PGLAST_PARSER: Any = None  # pglast.parser, imported on first use: importing migtui.analysis does not load pglast


def _pglast_parser() -> Any:
    # a module global, not an import statement per call (compiled, that goes through the import system each time)
    global _PGLAST_PARSER
    if _PGLAST_PARSER is None:
        from migtui.pglast_loader import pglast_parser

        _PGLAST_PARSER = pglast_parser()
    return _PGLAST_PARSER


# Longer SQL is parsed one chunk of whole statements at a time: the JSON tree of a 10 MB revision, loaded at
# once, takes most of a gigabyte (docs/reliability.md, Large revisions); a chunk's tree is dropped once the next
# chunk is parsed.
CHUNK_CHARS: Final = 16 * 1024


def parse_sql(sql: str, path: str | None = None, first_line: int = 1) -> list[ParsedStatement]:
    """Split and parse ``sql``; raise ``SqlSyntaxError`` (exit 2) naming the line of the error."""
    return list(iter_parse_sql(sql, path, first_line))


def iter_parse_sql(
    sql: str, path: str | None = None, first_line: int = 1, chunk_chars: int = CHUNK_CHARS
) -> Iterator[ParsedStatement]:
    """``parse_sql`` one chunk of statements at a time (``iter_sql_chunks``): the memory it holds is bounded by
    the chunk. A syntax error raises when its chunk is reached, after the statements before it were yielded.

    The node's own ``*location`` fields count from the start of its chunk; ``offset`` and ``line`` are the
    statement's in the whole text."""
    line = first_line
    try:
        for base, chunk, stmts in iter_sql_chunks(sql, _parse_json, chunk_chars):
            yield from _statements(stmts, chunk, base, line)
            line += chunk.count("\n")
    except SqlChunkError as exc:
        raise SqlSyntaxError(exc.message, first_line + sql.count("\n", 0, exc.location), path) from None


class SqlChunkError(Exception):
    """A syntax error of the whole text: pglast's message and the 0-based character offset of the error."""

    def __init__(self, message: str, location: int) -> None:
        super().__init__(message)
        self.message = message
        self.location = location


def iter_sql_chunks(
    sql: str, parse: Callable[[str], Any], chunk_chars: int = CHUNK_CHARS
) -> Iterator[tuple[int, str, Any]]:
    """``(offset, text, parse(text))`` for consecutive chunks of whole statements that make up ``sql``, each
    about ``chunk_chars`` long; ``parse`` is one of pglast's parsers (it raises pglast's ``ParseError``).

    What ``parse`` makes of the chunks is what it makes of the whole text, statement by statement: chunks end
    right after a top-level semicolon, where the grammar is back at its start state. The cuts come from
    pglast's scanner, which does not know that a ``BEGIN ATOMIC ... END`` body or a ``CREATE RULE ... DO (...;
    ...)`` list holds semicolons; a chunk cut inside one fails in its last statement and is parsed again with
    more of the text. A syntax error of the whole text raises ``SqlChunkError``, located in the whole text."""
    parser = _pglast_parser()
    total = len(sql)
    if total <= chunk_chars:
        yield 0, sql, _parse_or_locate(parse, sql, 0, parser)
        return
    try:
        slices = parser.split(sql, with_parser=False, only_slices=True)
    except parser.ParseError:
        # the scanner fails (an unterminated quote or comment): one parse of the whole reports it
        yield 0, sql, _parse_or_locate(parse, sql, 0, parser)
        return
    cuts, starts = _cuts(sql, slices)
    pos, k = 0, 0  # k: the first cut after pos
    while pos < total:
        limit = pos + chunk_chars
        while k < len(cuts) and cuts[k] < limit:
            k += 1
        while True:
            end = cuts[k] if k < len(cuts) else total
            chunk = sql[pos:end]
            try:
                parsed = _parse_or_locate(parse, chunk, pos, parser)
            except SqlChunkError as exc:
                if end < total and exc.location >= starts[k]:
                    limit = end + chunk_chars  # perhaps cut inside a BEGIN ATOMIC body: take more of the text
                    while k < len(cuts) and cuts[k] < limit:
                        k += 1
                    continue
                raise
            break
        yield pos, chunk, parsed
        pos = end
        k += 1


def _parse_or_locate(parse: Callable[[str], Any], chunk: str, base: int, parser: Any) -> Any:
    try:
        return parse(chunk)
    except parser.ParseError as exc:
        # args: (message, 0-based character position of the error); no position means "at end of input"
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else len(chunk.rstrip())
        message = str(exc.args[0]) if exc.args else str(exc)
        raise SqlChunkError(message, base + max(location, 0)) from None


def _parse_json(chunk: str) -> list[Any]:
    stmts: list[Any] = _loads(_pglast_parser().parse_sql_json(chunk)).get("stmts", [])
    return stmts


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


def _statements(stmts: list[dict[str, Any]], sql: str, base: int, first_line: int) -> Iterator[ParsedStatement]:
    """The statements of ``sql``, a chunk that starts at offset ``base`` and line ``first_line`` of the text.

    ``stmts`` is the parser's JSON list, typed as dicts and ints below: compiled, a typed ``get`` is a C call,
    an untyped one a Python method call."""
    if sql.isascii():  # byte offsets are character offsets: work on the str
        total = len(sql)
        last_pos, last_line = 0, first_line
        for raw in stmts:
            stmt: dict[str, Any] | None = raw.get("stmt")
            if not stmt:
                continue
            start: int = raw.get("stmt_location", 0)
            length: int = raw.get("stmt_len", 0)
            end = start + (length or (total - start))
            # what precedes the statement's first token: mostly whitespace alone, which lstrip skips at a fraction
            # of the regular expression's cost (both strip the characters str.isspace accepts)
            piece = sql[start:end].lstrip()
            if piece.startswith("--") or piece.startswith("/*"):
                lead = _LEADING_STR.match(sql, start, end)  # always matches (all of it is optional)
                begin = lead.end() if lead else start
                piece = sql[begin:end]
            else:
                begin = end - len(piece)
            text = piece.rstrip().rstrip(";").rstrip()
            line = last_line + sql.count("\n", last_pos, begin)
            last_pos, last_line = begin, line
            for node_type, node in stmt.items():  # its one key, the node type (compiled: a C dict iteration)
                yield ParsedStatement(node_type, node, text, line, base + begin)
                break
        return
    data = sql.encode("utf-8")
    for raw in stmts:
        stmt = raw.get("stmt")
        if not stmt:
            continue
        start = raw.get("stmt_location", 0)
        length = raw.get("stmt_len", 0)
        end = start + (length or (len(data) - start))
        lead_bytes = _LEADING.match(data, start, end)
        begin = lead_bytes.end() if lead_bytes else start
        text = data[begin:end].decode("utf-8").strip().rstrip(";").strip()
        prefix = data[:begin].decode("utf-8", errors="replace")
        for node_type, node in stmt.items():
            yield ParsedStatement(node_type, node, text, prefix.count("\n") + first_line, base + len(prefix))
            break
