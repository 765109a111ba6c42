"""Parse SQL with pglast's C parser (JSON out, no Python AST objects on the hot path)."""

from __future__ import annotations

import re
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


def parse_sql(sql: str, path: str | None = None, first_line: int = 1) -> list[ParsedStatement]:
    """Split and parse ``sql``; raise ``SqlSyntaxError`` (exit 2) naming the line of the error."""
    parser = _pglast_parser()
    try:
        tree = _loads(parser.parse_sql_json(sql))
    except parser.ParseError as exc:
        # args: (message, 0-based character position of the error)
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        line = sql.count("\n", 0, max(location, 0)) + first_line
        message = str(exc.args[0]) if exc.args else str(exc)
        raise SqlSyntaxError(message, line, path) from None
    stmts = tree.get("stmts", [])
    out: list[ParsedStatement] = []
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
            out.append(ParsedStatement(node_type, node, text, line, begin))
        return out
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
        out.append(ParsedStatement(node_type, node, text, prefix.count("\n") + first_line, len(prefix)))
    return out
