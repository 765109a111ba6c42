"""Options of one dry-run (the CLI flags, for the engine). The servers come from the settings: ``replica_dsn``
is inspected (or ``dsn`` with ``allow_primary``), ``dsn`` to compare with, ``scratch_dsn`` for the shadow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migtui.report import Cancel

MB = 1024 * 1024


@dataclass(frozen=True)
class DryRunOptions:
    allow_primary: bool = False  # without a replica, dry-run the primary (settings.dsn), read-only
    count_budget: float = 5.0  # statement_timeout for each row count / will-it-fail query, seconds
    statement_timeout: float = 30.0  # every other query on the replica, seconds
    scratch_server: Any = None  # a running harness server for the shadow (default: settings.scratch_dsn, else embedded)
    scan_mb_s: float = 200.0  # configured sequential-read throughput, MB/s (replaced by a measurement)
    write_mb_s: float = 50.0  # configured rewrite / index-build throughput, MB/s
    big_table_bytes: int = 100 * MB  # ACCESS EXCLUSIVE on a table this big is a lock risk
    lock_risk_seconds: float = 1.0  # ... and so is holding it for this long
    calibrate: bool = True  # time work rates on the scratch server for the lock hold estimates (else defaults)
    cancel: Cancel | None = None  # stops the running query on the replica; the run raises Interrupted
