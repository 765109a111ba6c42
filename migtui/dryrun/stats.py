"""Per-table size and row estimates from the target's catalog (partitions summed)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from migtui.dryrun.session import QueryFailed, ReadOnlySession

_STATS_SQL = """
WITH rel AS (SELECT to_regclass(%s) AS oid),
     parts AS (SELECT p.oid, p.reltuples
                 FROM rel, pg_class p
                WHERE p.oid IN (SELECT rel.oid UNION SELECT t.relid FROM pg_partition_tree(rel.oid) t)
                  AND p.relkind IN ('r', 'm', 't'))
SELECT rel.oid::regclass::text,
       (SELECT coalesce(sum(pg_table_size(parts.oid)), 0) FROM parts)::bigint,
       (SELECT coalesce(sum(pg_indexes_size(parts.oid)), 0) FROM parts)::bigint,
       (SELECT sum(parts.reltuples) FILTER (WHERE parts.reltuples >= 0) FROM parts)::bigint,
       c.relkind::text
  FROM rel JOIN pg_class c ON c.oid = rel.oid
"""


@dataclass(frozen=True)
class TableStats:
    table: str  # as PostgreSQL prints it (regclass)
    heap_bytes: int  # heap + TOAST (+ partitions)
    index_bytes: int
    live_rows_estimate: int | None  # pg_class.reltuples (None: never analyzed)
    kind: str  # relkind: r table, p partitioned, m matview, ...

    @property
    def table_bytes(self) -> int:
        return self.heap_bytes + self.index_bytes

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "table_bytes": self.table_bytes}


class StatsCache:
    """Looks each table up once per dry-run. ``get`` returns None for a table the target does not have."""

    def __init__(self, session: ReadOnlySession) -> None:
        self.session = session
        self._cache: dict[str, TableStats | None] = {}

    def get(self, table: str) -> TableStats | None:
        if table not in self._cache:
            try:
                rows = self.session.query(_STATS_SQL, (table,))
            except QueryFailed:
                rows = []
            self._cache[table] = (
                TableStats(
                    rows[0][0],
                    int(rows[0][1]),
                    int(rows[0][2]),
                    None if rows[0][3] is None else int(rows[0][3]),
                    rows[0][4],
                )
                if rows
                else None
            )
        return self._cache[table]
