"""Fitting text into the TUI's columns (no textual here): identifiers cut in the middle, timestamps as ages."""

from __future__ import annotations

from datetime import UTC, datetime

ELLIPSIS = "…"


def middle_ellipsis(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, cut in the middle when it must be: revision ids share prefixes
    (``0015_``) and differ at both ends, so ``0015_or…_bigint`` stays tellable from ``0016_or…_index``."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width == 1:
        return ELLIPSIS
    head = width // 2  # the start (the ordering number) gets the extra cell
    tail = width - 1 - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def age_of(timestamp: str | datetime | None, now: datetime | None = None) -> float | None:
    """Seconds since ``timestamp`` (an aware datetime or its ISO text), None when it is missing or unreadable."""
    if timestamp is None:
        return None
    if isinstance(timestamp, str):
        try:
            timestamp = datetime.fromisoformat(timestamp)
        except ValueError:
            return None
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=UTC)
    return max(0.0, ((now or datetime.now(UTC)) - timestamp).total_seconds())
