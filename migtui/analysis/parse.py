"""Parse SQL with pglast's C parser (JSON out, no Python AST objects on the hot path)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from migtui.errors import UsageError

try:  # orjson decodes the parser's JSON several times faster; the standard library works too
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _loads = json.loads


class SqlSyntaxError(UsageError):
    """Malformed SQL: one line naming the file (when known) and the line."""

    def __init__(self, message: str, line: int, path: str | None = None) -> None:
        where = f"{path}:{line}" if path else f"line {line}"
        super().__init__(f"{where}: SQL syntax error: {message}")
        self.line = line
        self.path = path


@dataclass(slots=True)
class ParsedStatement:
    node_type: str  # e.g. "AlterTableStmt"
    node: dict[str, Any]
    sql: str  # the statement's text (trimmed, no trailing semicolon)
    line: int  # 1-based line of the statement's first token
    offset: int  # character offset of the statement's first token


def _skip_space_and_comments(data: bytes, pos: int, end: int) -> int:
    while pos < end:
        ch = data[pos : pos + 1]
        if ch in (b" ", b"\t", b"\n", b"\r", b"\f", b"\v"):
            pos += 1
        elif data.startswith(b"--", pos):
            nl = data.find(b"\n", pos, end)
            pos = end if nl < 0 else nl + 1
        elif data.startswith(b"/*", pos):
            close = data.find(b"*/", pos + 2, end)
            pos = end if close < 0 else close + 2
        else:
            break
    return pos


def parse_sql(sql: str, path: str | None = None, first_line: int = 1) -> list[ParsedStatement]:
    """Split and parse ``sql``; raise ``SqlSyntaxError`` (exit 2) naming the line of the error."""
    from pglast import parser

    try:
        tree = _loads(parser.parse_sql_json(sql))
    except parser.ParseError as exc:
        # args: (message, 0-based character position of the error)
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        line = sql.count("\n", 0, max(location, 0)) + first_line
        message = str(exc.args[0]) if exc.args else str(exc)
        raise SqlSyntaxError(message, line, path) from None
    data = sql.encode("utf-8")
    ascii_only = len(data) == len(sql)
    out: list[ParsedStatement] = []
    last_pos, last_line = 0, first_line
    for raw in tree.get("stmts", []):
        start = raw.get("stmt_location", 0)
        length = raw.get("stmt_len", 0) or (len(data) - start)
        end = start + length
        begin = _skip_space_and_comments(data, start, end)
        text = data[begin:end].decode("utf-8").strip().rstrip(";").strip()
        if ascii_only:
            line = last_line + sql.count("\n", last_pos, begin)
            last_pos, last_line = begin, line
            offset = begin
        else:
            prefix = data[:begin].decode("utf-8", errors="replace")
            line = prefix.count("\n") + first_line
            offset = len(prefix)
        stmt = raw.get("stmt") or {}
        if not stmt:
            continue
        node_type, node = next(iter(stmt.items()))
        out.append(ParsedStatement(node_type, node, text, line, offset))
    return out
