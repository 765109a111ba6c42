"""PostgreSQL table-level lock modes, named exactly as ``pg_locks.mode`` spells them, and what each blocks.

The conflict table is the one in the PostgreSQL documentation ("Explicit Locking", Table 13.2).
"""

from __future__ import annotations

from typing import Final

ACCESS_SHARE: Final = "AccessShareLock"
ROW_SHARE: Final = "RowShareLock"
ROW_EXCLUSIVE: Final = "RowExclusiveLock"
SHARE_UPDATE_EXCLUSIVE: Final = "ShareUpdateExclusiveLock"
SHARE: Final = "ShareLock"
SHARE_ROW_EXCLUSIVE: Final = "ShareRowExclusiveLock"
EXCLUSIVE: Final = "ExclusiveLock"
ACCESS_EXCLUSIVE: Final = "AccessExclusiveLock"

# weakest first; the index is the strength
MODES: Final[tuple[str, ...]] = (
    ACCESS_SHARE,
    ROW_SHARE,
    ROW_EXCLUSIVE,
    SHARE_UPDATE_EXCLUSIVE,
    SHARE,
    SHARE_ROW_EXCLUSIVE,
    EXCLUSIVE,
    ACCESS_EXCLUSIVE,
)
STRENGTH: Final[dict[str, int]] = {mode: i for i, mode in enumerate(MODES)}

# LOCK TABLE ... IN <mode> MODE: the parser's numeric lock mode (LockStmt.mode) -> name
LOCKMODE_BY_NUMBER: Final[dict[int, str]] = {i + 1: mode for i, mode in enumerate(MODES)}

CONFLICTS: Final[dict[str, frozenset[str]]] = {
    ACCESS_SHARE: frozenset({ACCESS_EXCLUSIVE}),
    ROW_SHARE: frozenset({EXCLUSIVE, ACCESS_EXCLUSIVE}),
    ROW_EXCLUSIVE: frozenset({SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}),
    SHARE_UPDATE_EXCLUSIVE: frozenset(
        {SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}
    ),
    SHARE: frozenset({ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}),
    SHARE_ROW_EXCLUSIVE: frozenset(
        {ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}
    ),
    EXCLUSIVE: frozenset(
        {ROW_SHARE, ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}
    ),
    ACCESS_EXCLUSIVE: frozenset(MODES),
}


def conflicts(a: str, b: str) -> bool:
    """Whether lock modes ``a`` and ``b`` conflict (one waits for the other)."""
    return b in CONFLICTS[a]


def _blocks(mode: str) -> list[str]:
    """What other sessions cannot do while ``mode`` is held: any of "reads", "writes", "ddl".

    reads = plain SELECT (AccessShareLock); writes = INSERT/UPDATE/DELETE (RowExclusiveLock);
    ddl = schema changes, VACUUM, ANALYZE, CREATE INDEX CONCURRENTLY (ShareUpdateExclusiveLock).
    """
    out = []
    if conflicts(mode, ACCESS_SHARE):
        out.append("reads")
    if conflicts(mode, ROW_EXCLUSIVE):
        out.append("writes")
    if conflicts(mode, SHARE_UPDATE_EXCLUSIVE):
        out.append("ddl")
    return out


# mode -> what it blocks (the analysis copies an entry per lock instead of a call to blocks())
BLOCKED: Final[dict[str, tuple[str, ...]]] = {mode: tuple(_blocks(mode)) for mode in MODES}


def blocks(mode: str) -> list[str]:
    """What other sessions cannot do while ``mode`` is held: any of "reads", "writes", "ddl"."""
    return list(BLOCKED[mode])  # KeyError for a mode PostgreSQL does not have


# the modes that conflict with RowExclusiveLock: a set test on the per-lock hot path instead of two calls
BLOCKS_WRITES: Final[frozenset[str]] = frozenset(mode for mode in MODES if conflicts(mode, ROW_EXCLUSIVE))


def blocks_writes(mode: str) -> bool:
    return mode in BLOCKS_WRITES


def stronger(a: str | None, b: str) -> str:
    """The stronger of two modes (``a`` may be None)."""
    if a is None or STRENGTH[b] > STRENGTH[a]:
        return b
    return a
