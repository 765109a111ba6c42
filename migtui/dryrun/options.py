"""Options of one dry-run (the CLI flags, for the engine)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MB = 1024 * 1024


@dataclass
class DryRunOptions:
    allow_primary: bool = False
    count_budget: float = 5.0  # statement_timeout for each row count / will-it-fail query, seconds
    statement_timeout: float = 30.0  # every other query on the target, seconds
    shadow_server: Any = None  # an existing server for the scratch databases (default: start an embedded one)
    pg_bin: str | None = None
    scan_mb_s: float = 200.0  # configured sequential-read throughput, MB/s (replaced by a measurement)
    write_mb_s: float = 50.0  # configured rewrite / index-build throughput, MB/s
    big_table_bytes: int = 100 * MB  # ACCESS EXCLUSIVE on a table this big is a lock risk
    lock_risk_seconds: float = 1.0  # ... and so is holding it for this long
    primary_dsn: str | None = None  # compare revision and WAL position with the primary
