"""The migrate phase: a batched keyset backfill, outside any DDL transaction.

- Keyset batches over the primary key (composite keys too), each batch its own short transaction that also
  stores the cursor in ``migtui.phase_state``: a crash, ``kill -9`` or Ctrl-C loses at most one batch, and
  the next run resumes from the stored cursor.
- The upper bound is the largest key when the backfill first starts: rows inserted after that were written
  through the dual-write trigger already, so the backfill terminates under any insert load.
- Throttled: a pause between batches; batch size adapts to a target batch duration; automatic back-off
  (sleep doubles, batch halves) while replication lag or the number of sessions waiting for locks is over
  its limit, or when a batch hits its own lock_timeout.
- Progress events: rows done, rows/s, ETA from ``pg_class.reltuples``.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from migtui.errors import MigrationFailed, UsageError
from migtui.events import EventSink, discard
from migtui.phases import state as st
from migtui.phases.ddl import LockPolicy, is_lock_timeout
from migtui.phases.events import BackfillProgress, BackfillThrottled
from migtui.phases.model import Backfill


@dataclass(frozen=True)
class BackfillOptions:
    batch_size: int = 1000  # starting batch size
    min_batch_size: int = 50
    max_batch_size: int = 10000
    target_batch_seconds: float = 0.2  # batch size adapts toward this duration
    pause: float = 0.0  # seconds between batches
    max_lag_bytes: int = 64 * 1024 * 1024  # back off while a replica is further behind than this
    max_lag_seconds: float = 10.0
    max_lock_waiters: int = 3  # back off while more sessions than this wait for locks in the database
    max_backoff: float = 5.0
    max_consecutive_lock_timeouts: int = 50


@dataclass(frozen=True)
class KeyColumn:
    name: str
    type: str


def primary_key(conn, schema: str, table: str) -> list[KeyColumn]:
    regclass = sql.Identifier(schema, table).as_string(None)
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_index i "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary ORDER BY k.ord",
        (regclass,),
    ).fetchall()
    if not rows:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (regclass,)).fetchone()[0]
        if not exists:
            raise UsageError(f"table {schema}.{table} does not exist")
        raise UsageError(f"table {schema}.{table} has no primary key: the keyset backfill needs one")
    return [KeyColumn(r[0], r[1]) for r in rows]


def _key_row(key: list[KeyColumn]) -> sql.Composable:
    return sql.SQL("({})").format(sql.SQL(", ").join(sql.Identifier(k.name) for k in key))


def _key_params(key: list[KeyColumn]) -> sql.Composable:
    return sql.SQL("({})").format(sql.SQL(", ").join(sql.SQL("%s::{}").format(sql.SQL(k.type)) for k in key))


def _jsonable(values: tuple) -> list[Any]:
    return json.loads(json.dumps(list(values), default=str))


def pressure(conn) -> tuple[int, float, int]:
    """(replication lag bytes, replication lag seconds, sessions waiting for a lock in this database)."""
    row = conn.execute(
        "SELECT (SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0)::bigint "
        "        FROM pg_stat_replication), "
        "       (SELECT coalesce(extract(epoch FROM max(replay_lag)), 0)::float8 FROM pg_stat_replication), "
        "       (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "        AND wait_event_type = 'Lock' AND pid <> pg_backend_pid())"
    ).fetchone()
    return int(row[0]), float(row[1]), int(row[2])


def reltuples(conn, schema: str, table: str) -> int:
    """Row estimate: ``pg_class.reltuples``; for a never-analyzed table (-1), the planner's estimate."""
    regclass = sql.Identifier(schema, table).as_string(None)
    row = conn.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", (regclass,)).fetchone()
    if row and int(row[0]) >= 0:
        return int(row[0])
    plan = conn.execute(
        sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM {}").format(sql.Identifier(schema, table))
    ).fetchone()[0]
    try:
        return int(plan[0]["Plan"]["Plan Rows"])
    except (KeyError, IndexError, TypeError, ValueError):
        return 0


def run_backfill(
    conn,
    revision: str,
    spec: Backfill,
    runner: str,
    policy: LockPolicy,
    options: BackfillOptions = BackfillOptions(),
    sink: EventSink = discard,
) -> int:
    """Backfill until the stored cursor reaches the stored upper bound. Returns rows scanned in this run.

    ``conn`` is an autocommit connection; the revision must be in phase ``migrating`` and owned by ``runner``.
    """
    key = primary_key(conn, spec.schema, spec.table)
    table = sql.Identifier(spec.schema, spec.table)
    key_row = _key_row(key)
    state = st.require(conn, revision)
    if state.cursor_end is None:
        last = conn.execute(
            sql.SQL("SELECT {} FROM {} ORDER BY {} LIMIT 1").format(
                sql.SQL(", ").join(sql.Identifier(k.name) for k in key),
                table,
                sql.SQL(", ").join(sql.SQL("{} DESC").format(sql.Identifier(k.name)) for k in key),
            )
        ).fetchone()
        end = _jsonable(last) if last else []
        cur = conn.execute(
            sql.SQL(
                "UPDATE {} SET cursor_end = %s, heartbeat = now() WHERE revision = %s AND phase = %s AND runner = %s"
            ).format(st.STATE_TABLE),
            (json.dumps(end), revision, st.MIGRATING, runner),
        )
        if cur.rowcount != 1:
            raise st.PhaseConflict(f"revision {revision} is no longer migrating under this runner")
        state = st.require(conn, revision)
    end = state.cursor_end or []
    if not end:
        return 0  # empty table when the backfill started
    cursor = state.cursor
    rows_done = state.rows_done
    rows_updated = state.rows_updated

    select_keys = sql.SQL("SELECT {cols} FROM {t} WHERE {lower} {kr} <= {kp} ORDER BY {cols} LIMIT %s")
    update = sql.SQL("UPDATE {t} SET {c} = {c} WHERE {lower} {kr} <= {kp} AND ({pred})")
    cols = sql.SQL(", ").join(sql.Identifier(k.name) for k in key)
    lower_sql = sql.SQL("{} > {} AND").format(key_row, _key_params(key))
    save = sql.SQL(
        "UPDATE {} SET cursor = %s, rows_done = rows_done + %s, rows_updated = rows_updated + %s, heartbeat = now(), "
        "updated_at = now() WHERE revision = %s AND phase = %s AND runner = %s"
    ).format(st.STATE_TABLE)

    batch = max(options.min_batch_size, min(options.batch_size, options.max_batch_size))
    started = time.monotonic()
    scanned_this_run = 0
    batches = throttled = lock_timeouts_total = 0
    backoff = 0.0
    lock_timeouts = 0
    total_estimate = reltuples(conn, spec.schema, spec.table)
    last_report = 0.0
    while True:
        lag_bytes, lag_seconds, waiters = pressure(conn)
        reason = ""
        if lag_bytes > options.max_lag_bytes:
            reason = f"replication lag {lag_bytes} bytes > {options.max_lag_bytes}"
        elif lag_seconds > options.max_lag_seconds:
            reason = f"replication lag {lag_seconds:.1f}s > {options.max_lag_seconds:g}s"
        elif waiters > options.max_lock_waiters:
            reason = f"{waiters} sessions waiting for locks > {options.max_lock_waiters}"
        if reason:
            backoff = min(options.max_backoff, max(0.05, backoff * 2 or max(options.pause, 0.05)))
            batch = max(options.min_batch_size, batch // 2)
            sleep = backoff * random.uniform(0.75, 1.25)
            throttled += 1
            sink(BackfillThrottled(revision, reason, sleep, batch, lag_bytes, lag_seconds, waiters))
            time.sleep(sleep)
            continue
        backoff = 0.0
        lower = sql.SQL("") if cursor is None else lower_sql
        lower_params: list[Any] = [] if cursor is None else list(cursor)
        t0 = time.monotonic()
        try:
            with conn.transaction():
                conn.execute(
                    "SELECT set_config('lock_timeout', %s, true), set_config('migtui.write_path', 'backfill', true)",
                    (f"{policy.lock_timeout_ms}ms",),
                )
                keys = conn.execute(
                    select_keys.format(cols=cols, t=table, lower=lower, kr=key_row, kp=_key_params(key)),
                    [*lower_params, *end, batch],
                ).fetchall()
                if not keys:
                    break
                last_key = _jsonable(keys[-1])
                changed = conn.execute(
                    update.format(
                        t=table,
                        c=sql.Identifier(spec.touch_column),
                        lower=lower,
                        kr=key_row,
                        kp=_key_params(key),
                        pred=sql.SQL(spec.needs_update),
                    ),
                    [*lower_params, *last_key],
                ).rowcount
                saved = conn.execute(
                    save, (json.dumps(last_key), len(keys), changed, revision, st.MIGRATING, runner)
                ).rowcount
                if saved != 1:
                    raise st.PhaseConflict(f"revision {revision} is no longer migrating under this runner")
        except Exception as exc:
            if not is_lock_timeout(exc):
                raise
            lock_timeouts += 1
            lock_timeouts_total += 1
            if lock_timeouts > options.max_consecutive_lock_timeouts:
                raise MigrationFailed(
                    f"backfill of {revision}: {lock_timeouts} batches in a row hit lock_timeout "
                    f"{policy.lock_timeout:g}s; the cursor is saved, resume with 'migtui phase run {revision}'"
                ) from None
            batch = max(options.min_batch_size, batch // 2)
            sleep = min(options.max_backoff, policy.delay(min(lock_timeouts, 6)) / 4)
            sink(BackfillThrottled(revision, f"batch hit lock_timeout {policy.lock_timeout:g}s", sleep, batch))
            time.sleep(sleep)
            continue
        lock_timeouts = 0
        took = time.monotonic() - t0
        cursor = last_key
        rows_done += len(keys)
        rows_updated += changed
        scanned_this_run += len(keys)
        batches += 1
        if took > options.target_batch_seconds * 1.5:
            batch = max(options.min_batch_size, int(batch / 2))
        elif took < options.target_batch_seconds / 2 and len(keys) == batch:
            batch = min(options.max_batch_size, int(batch * 1.5) + 1)
        now = time.monotonic()
        if now - last_report >= 0.5 or len(keys) < batch:
            last_report = now
            elapsed = max(1e-6, now - started)
            rate = scanned_this_run / elapsed
            total = max(total_estimate, rows_done)
            eta = (total - rows_done) / rate if rate > 0 else None
            sink(
                BackfillProgress(
                    revision, f"{spec.schema}.{spec.table}", rows_done, rows_updated, total, rate, eta, batch, cursor
                )
            )
        if options.pause:
            time.sleep(options.pause)
    elapsed = max(1e-6, time.monotonic() - started)
    sink(
        BackfillProgress(
            revision,
            f"{spec.schema}.{spec.table}",
            rows_done,
            rows_updated,
            max(total_estimate, rows_done),
            scanned_this_run / elapsed,
            0.0,
            batch,
            cursor,
        )
    )
    stats = {
        "backfill_runs": 1,
        "backfill_batches": batches,
        "backfill_throttled": throttled,
        "backfill_lock_timeouts": lock_timeouts_total,
        "backfill_seconds": round(elapsed, 3),
    }
    add_counters(conn, revision, stats)
    return scanned_this_run


def add_counters(conn, revision: str, stats: dict[str, float]) -> None:
    """Add ``stats`` to ``phase_state.counters`` (numbers are summed over runs)."""
    conn.execute(
        sql.SQL(
            "UPDATE {} SET counters = counters || (SELECT coalesce(jsonb_object_agg(k, "
            "coalesce((counters ->> k)::numeric, 0) + v::numeric), '{{}}'::jsonb) "
            "FROM jsonb_each_text(%s::jsonb) AS e(k, v)) WHERE revision = %s"
        ).format(st.STATE_TABLE),
        (json.dumps(stats), revision),
    )
