"""JSON output: ``json.dumps`` of a report's ``to_dict()`` (the shape is documented per command)."""

from __future__ import annotations

import json
from typing import Any


def render_json(data: dict[str, Any], *, indent: int | None = 2) -> str:
    if indent is None:
        try:  # large reports: orjson, the faster encoder; json when it is missing
            import orjson

            return orjson.dumps(data, default=str).decode()
        except ImportError:  # pragma: no cover
            return json.dumps(data, default=str)
    return json.dumps(data, indent=indent, default=str)
