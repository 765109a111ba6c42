"""docs/tui.md's keys table is the one the app's BINDINGS give (scripts/gen-tui-docs.py writes it)."""

from __future__ import annotations

import re
from pathlib import Path

from migtui.tui.keys_doc import keys_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "tui.md"


def test_keys_table_matches_the_bindings():
    found = re.search(r"<!-- keys -->\n(.*?)<!-- /keys -->", DOC.read_text(encoding="utf-8"), re.S)
    assert found, "docs/tui.md has no <!-- keys --> block"
    assert found.group(1) == keys_markdown(), "stale keys table: run scripts/gen-tui-docs.py --keys-only"
