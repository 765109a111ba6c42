"""Options of one dry-run (the CLI flags, for the engine). The target and the primary come from the settings:
``replica_url`` (or ``database_url`` with ``allow_primary``), ``database_url`` to compare with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migtui.report import Cancel

MB = 1024 * 1024


@dataclass(frozen=True)
class DryRunOptions:
    allow_primary: bool = False  # without a replica, dry-run the primary (settings.database_url), read-only
    count_budget: float = 5.0  # statement_timeout for each row count / will-it-fail query, seconds
    statement_timeout: float = 30.0  # every other query on the target, seconds
    shadow_dsn: str | None = None  # a server for the scratch databases (needs CREATEDB)
    shadow_server: Any = None  # ... or a running harness server (default: start an embedded one)
    scan_mb_s: float = 200.0  # configured sequential-read throughput, MB/s (replaced by a measurement)
    write_mb_s: float = 50.0  # configured rewrite / index-build throughput, MB/s
    big_table_bytes: int = 100 * MB  # ACCESS EXCLUSIVE on a table this big is a lock risk
    lock_risk_seconds: float = 1.0  # ... and so is holding it for this long
    cancel: Cancel | None = None  # stops the running query on the target; the run raises Interrupted
