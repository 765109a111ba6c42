"""Proof under load: the same schema change done naively and with the phased helper.

    PYTHONPATH=. python benchmarks/zero_downtime.py                 # 2,000,000 rows, embedded PostgreSQL 16
    PYTHONPATH=. python benchmarks/zero_downtime.py --rows 200000 --dsn postgresql://...   # an existing server

The change: ``items.v`` int -> bigint on a table of ``--rows`` rows, while ``--writers`` threads insert and
update rows and ``--readers`` threads read them (psycopg, autocommit, one connection each).

(a) naive: ``ALTER TABLE items ALTER COLUMN v TYPE bigint`` (rewrites the table under ACCESS EXCLUSIVE).
(b) phased: ``phases.change_column_type('items', 'v', 'bigint', new_column='v_big')``: expand (column +
    dual-write trigger), batched backfill, the application switches to the new column
    (``migtui.write_path=new``), contract once old-path writes are quiet, every DDL under ``--lock-timeout``.

``--pattern rename_column`` (``items.v`` renamed to ``v2``, the application switches to ``v2``) and
``--pattern add_foreign_key`` (``items.owner_id`` -> ``owners.id``, NOT VALID then VALIDATE; writers keep
inserting rows with an owner) run the phased change only: their naive counterparts are a plain rename
(instant, but it breaks the running application) and ``ADD FOREIGN KEY`` (SHARE ROW EXCLUSIVE for the whole
validation scan).

Printed for each: p50 / p99 / max write latency during the change, read p99 / max, errors, duration of the
change, and at the end the ratio of the max write stalls, whether the final data is exactly what the
application wrote (every row checked), and what hangs on the column at the end: ``v`` has a default, a
CHECK, an index, a comment, a statistics target and a view on it, which the phased change must carry to
``v_big`` (the naive ALTER keeps them, dropping and re-creating the view in its transaction).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from migtui.config import Settings
from migtui.events import PhaseChanged
from migtui.pg import harness
from migtui.phases.backfill import BackfillOptions
from migtui.phases.driver import DriverOptions, PhaseDriver
from migtui.phases.events import BackfillProgress
from migtui.phases.gates import GateOptions
from migtui.project.load import AlembicProject

INITIAL_V = "id % 1000000"


@dataclass
class Op:
    start: float
    seconds: float
    ok: bool
    kind: str  # "write" | "read"


@dataclass
class Workload:
    dsn: str
    rows: int
    writers: int
    readers: int
    column: str = "v"  # the column the application writes (switches to v_big for the new version)
    path: str | None = None
    # --versions: one application version reaching items through its version schema (search_path)
    name: str = "app"
    search_path: str | None = None
    owners: int = 0  # --pattern add_foreign_key: inserted rows reference owners 1..owners
    first_index: int = 0  # writer i owns the rows with id % stride == first_index + i
    stride: int = 0  # 0: the number of writers
    ops: list[Op] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    expected: dict[int, int] = field(default_factory=dict)  # id -> last value the application wrote
    inserted: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def switch_to_new_version(self, column: str) -> None:
        with self._lock:
            self.column, self.path = column, "new"

    def _connect(self, role: str, index: int) -> psycopg.Connection:
        extra = {"options": f"-csearch_path={self.search_path}"} if self.search_path else {}
        return psycopg.connect(self.dsn, autocommit=True, application_name=f"bench-{self.name}-{role}-{index}", **extra)

    def _writer(self, index: int) -> None:
        rng = random.Random(index)
        mine: dict[int, int] = {}
        ops: list[Op] = []
        errors: list[str] = []
        inserted = 0
        stride = self.stride or self.writers
        index += self.first_index
        conn = self._connect("writer", index)
        path = None
        while not self._stop.is_set():
            column, want_path = self.column, self.path
            if want_path != path:
                conn.execute("SELECT set_config('migtui.write_path', %s, false)", (want_path or "",))
                path = want_path
            value = rng.randrange(1, 2_000_000_000)
            t0 = time.perf_counter()
            ok = True
            try:
                if rng.random() < 0.5 and self.owners:
                    (new_id,) = conn.execute(
                        f"INSERT INTO items ({column}, payload, owner_id) VALUES (%s, 'new', %s) RETURNING id",
                        (value, rng.randrange(1, self.owners + 1)),
                    ).fetchone()
                    mine[new_id] = value
                    inserted += 1
                elif rng.random() < 0.5:
                    (new_id,) = conn.execute(
                        f"INSERT INTO items ({column}, payload) VALUES (%s, 'new') RETURNING id", (value,)
                    ).fetchone()
                    mine[new_id] = value
                    inserted += 1
                else:  # update a row only this writer touches (id % writers == index): no lost-update ambiguity
                    target = rng.randrange(1, self.rows // stride) * stride + index
                    conn.execute(f"UPDATE items SET {column} = %s WHERE id = %s", (value, target))
                    mine[target] = value
            except psycopg.Error as exc:
                ok = False
                errors.append("write: " + str(exc).splitlines()[0])
                if conn.closed or conn.broken:
                    conn = self._connect("writer", index)
                    path = None
            ops.append(Op(t0, time.perf_counter() - t0, ok, "write"))
            time.sleep(0.002)
        conn.close()
        with self._lock:
            self.ops += ops
            self.errors += errors
            self.expected.update(mine)
            self.inserted += inserted

    def _reader(self, index: int) -> None:
        rng = random.Random(1000 + index)
        ops: list[Op] = []
        errors: list[str] = []
        conn = self._connect("reader", index)
        while not self._stop.is_set():
            column = self.column
            t0 = time.perf_counter()
            ok = True
            try:
                conn.execute(f"SELECT {column} FROM items WHERE id = %s", (rng.randrange(1, self.rows),)).fetchall()
            except psycopg.Error as exc:
                ok = False
                errors.append("read: " + str(exc).splitlines()[0])
            ops.append(Op(t0, time.perf_counter() - t0, ok, "read"))
            time.sleep(0.002)
        conn.close()
        with self._lock:
            self.ops += ops
            self.errors += errors

    def start(self) -> None:
        for i in range(self.writers):
            self._threads.append(threading.Thread(target=self._writer, args=(i,), daemon=True))
        for i in range(self.readers):
            self._threads.append(threading.Thread(target=self._reader, args=(i,), daemon=True))
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


@dataclass
class Result:
    name: str
    duration: float
    writes: int
    write_p50: float
    write_p99: float
    write_max: float
    read_p99: float
    read_max: float
    write_errors: int
    read_errors: int
    error_samples: list[str]
    mismatches: int
    rows_checked: int
    carried: list[str] = field(default_factory=list)  # what hangs on the column at the end


def summarize(name: str, work: Workload, t0: float, t1: float, mismatches: int, rows_checked: int) -> Result:
    window = [op for op in work.ops if t0 <= op.start <= t1]
    writes = [op.seconds for op in window if op.kind == "write"]
    reads = [op.seconds for op in window if op.kind == "read"]
    return Result(
        name,
        t1 - t0,
        len(writes),
        pct(writes, 50),
        pct(writes, 99),
        max(writes, default=0.0),
        pct(reads, 99),
        max(reads, default=0.0),
        sum(e.startswith("write") for e in work.errors),
        sum(e.startswith("read") for e in work.errors),
        sorted(set(work.errors))[:3],
        mismatches,
        rows_checked,
    )


def verify(dsn: str, work: Workload, column: str) -> tuple[int, int]:
    """Rows whose final value differs from what the application last wrote (or the initial value)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE expected (id bigint PRIMARY KEY, v bigint NOT NULL)")
        with conn.cursor().copy("COPY expected (id, v) FROM STDIN") as copy:
            for key, value in work.expected.items():
                copy.write_row((key, value))
        mismatches = conn.execute(
            f"SELECT count(*) FROM items i LEFT JOIN expected e USING (id) "
            f"WHERE i.{column} IS DISTINCT FROM coalesce(e.v, i.{INITIAL_V})"
        ).fetchone()[0]
        total = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        missing = (work.rows + work.inserted) - total
    return int(mismatches) + abs(int(missing)), int(total)


def run_naive(dsn: str, args) -> Result:
    work = Workload(dsn, args.rows, args.writers, args.readers)
    work.start()
    time.sleep(args.settle)
    print("naive: ALTER TABLE items ALTER COLUMN v TYPE bigint ...", flush=True)
    t0 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        # what an operator does by hand: the view is in the way of ALTER TYPE, so it goes and comes back
        conn.execute("DROP VIEW items_view")
        conn.execute("ALTER TABLE items ALTER COLUMN v TYPE bigint")
        conn.execute(VIEW_SQL)
    t1 = time.perf_counter()
    time.sleep(args.settle)
    work.stop()
    mismatches, rows = verify(dsn, work, "v")
    result = summarize("naive", work, t0, t1, mismatches, rows)
    result.carried = carried_objects(dsn, "v")
    return result


# what hangs on items.v and must be on the new column after the change (the phased way carries it)
CARRIED_SQL = (
    "ALTER TABLE items ALTER COLUMN v SET DEFAULT 0;"
    "ALTER TABLE items ADD CONSTRAINT items_v_nonnegative CHECK (v >= 0);"
    "CREATE INDEX items_v_idx ON items (v);"
    "COMMENT ON COLUMN items.v IS 'the value';"
    "ALTER TABLE items ALTER COLUMN v SET STATISTICS 400;"
)
VIEW_SQL = "CREATE VIEW items_view AS SELECT id, v FROM items WHERE v >= 0"

CARRIED_CHECK = """
SELECT 'default ' || coalesce((SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a
         ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = 'items'::regclass AND a.attname = %(c)s),
         'MISSING'),
       'CHECK ' || coalesce((SELECT pg_get_constraintdef(oid) || CASE WHEN convalidated THEN ' valid' ELSE
         ' NOT VALID' END FROM pg_constraint WHERE conname = 'items_v_nonnegative'), 'MISSING'),
       'index ' || coalesce((SELECT pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN ' valid' ELSE
         ' INVALID' END FROM pg_index i WHERE i.indexrelid = to_regclass('items_v_idx')), 'MISSING'),
       'comment ' || coalesce(col_description('items'::regclass, (SELECT attnum FROM pg_attribute
         WHERE attrelid = 'items'::regclass AND attname = %(c)s)), 'MISSING'),
       'statistics ' || (SELECT attstattarget::text FROM pg_attribute WHERE attrelid = 'items'::regclass
         AND attname = %(c)s),
       'view ' || coalesce(replace(pg_get_viewdef(to_regclass('items_view')), E'\n', ' '), 'MISSING'),
       'view v type ' || (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
         WHERE attrelid = to_regclass('items_view') AND attname = 'v')
"""


def carried_objects(dsn: str, column: str) -> list[str]:
    """What hangs on ``column`` at the end (default, CHECK, index, comment, statistics target, view)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [str(value) for value in conn.execute(CARRIED_CHECK, {"c": column}).fetchone()]


def carried_complete(found: list[str], column: str) -> bool:
    return (
        not any("MISSING" in f or "INVALID" in f or "NOT VALID" in f for f in found)
        and f"({column} >= 0)" in found[1]
        and f"({column})" in found[2]
        and found[4] == "statistics 400"
        and found[6] == "view v type bigint"
    )


PHASED_REVISION = """
from migtui import phases

change = phases.change_column_type("items", "v", "bigint", new_column="v_big")

def upgrade():
    phases.expand(change)

def downgrade():
    phases.downgrade(change)
"""


VERSIONS_REVISION = """
from migtui import phases

change = phases.change_column_type(
    "items", "v", "bigint", new_column="v_big", rename_on_contract=True, versions=("bench_v1", "bench_v2")
)

def upgrade():
    phases.expand(change)

def downgrade():
    phases.downgrade(change)
"""


RENAME_REVISION = """
from migtui import phases

change = phases.rename_column("items", "v", "v2")

def upgrade():
    phases.expand(change)

def downgrade():
    phases.downgrade(change)
"""

FOREIGN_KEY_REVISION = """
from migtui import phases

change = phases.add_foreign_key("items", ["owner_id"], "owners", ["id"], name="items_owner_id_fkey")

def upgrade():
    phases.expand(change)

def downgrade():
    phases.downgrade(change)
"""

OWNERS = 1000
FOREIGN_KEY_SETUP = (
    f"CREATE TABLE owners (id int PRIMARY KEY); INSERT INTO owners SELECT g FROM generate_series(1, {OWNERS}) g;"
    f"ALTER TABLE items ADD COLUMN owner_id int; UPDATE items SET owner_id = id % {OWNERS} + 1;"
)
FOREIGN_KEY_CHECK = (
    "SELECT conname || ' ' || pg_get_constraintdef(oid) || CASE WHEN convalidated THEN ' valid' ELSE ' NOT VALID' END"
    " FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype = 'f'"
)
# pattern -> (revision, the column the new application version writes (None: it keeps v), the final column)
PATTERNS = {
    "change_column_type": (PHASED_REVISION, "v_big", "v_big"),
    "rename_column": (RENAME_REVISION, "v2", "v2"),
    "add_foreign_key": (FOREIGN_KEY_REVISION, None, "v"),
}


def make_project(root: Path, revision: str = PHASED_REVISION) -> Path:
    """A stock ``alembic init`` project: a base revision and the phased revision."""
    from alembic import command
    from alembic.config import Config

    root.mkdir(parents=True, exist_ok=True)
    command.init(Config(str(root / "alembic.ini")), str(root / "migrations"), template="generic")
    versions = root / "migrations" / "versions"
    versions.mkdir(exist_ok=True)
    head = "revision = {!r}\ndown_revision = {!r}\nbranch_labels = None\ndepends_on = None\n"
    (versions / "bench0.py").write_text(
        head.format("bench0", None) + "\ndef upgrade():\n    pass\n\ndef downgrade():\n    pass\n"
    )
    (versions / "phased1.py").write_text(head.format("phased1", "bench0") + revision)
    return root / "migrations"


def run_phased(dsn: str, args, project_dir: Path, pattern: str = "change_column_type") -> Result:
    settings = Settings(lock_timeout=args.lock_timeout, lock_retries=20, lock_retry_delay=0.2)
    last_progress: list[BackfillProgress] = []
    marks: dict[str, float] = {}  # phase entered -> perf_counter()
    lock_waits: list[str] = []

    def sink(event) -> None:
        if isinstance(event, PhaseChanged):
            marks[event.phase] = time.perf_counter()
        elif event.kind == "lock_wait":
            lock_waits.append(event.detail)
        elif isinstance(event, BackfillProgress):
            if not last_progress or event.at - last_progress[-1].at >= 5 or event.eta_seconds == 0.0:
                print(
                    f"  backfill {event.rows_done}/{event.rows_total_estimate} rows, "
                    f"{event.rows_per_second:.0f} rows/s, ETA {event.eta_seconds or 0:.0f}s, batch {event.batch_size}",
                    flush=True,
                )
                last_progress.append(event)

    options = DriverOptions(
        backfill=BackfillOptions(
            batch_size=1000, max_batch_size=args.max_batch, target_batch_seconds=0.05, max_lock_waiters=args.writers
        ),
        gates=GateOptions(quiet_window=args.quiet_window),
        wait=120,
        poll=0.25,
    )
    _revision, new_column, final_column = PATTERNS[pattern]
    work = Workload(dsn, args.rows, args.writers, args.readers, owners=OWNERS if pattern == "add_foreign_key" else 0)
    work.start()
    time.sleep(args.settle)
    print("phased: expand -> migrate -> (new application version) -> contract ...", flush=True)
    t0 = time.perf_counter()
    with PhaseDriver(dsn, AlembicProject.load(project_dir), settings, sink, options) as driver:
        driver.run("phased1", until="expand")
        driver.run("phased1", until="migrate")
        t_migrated = time.perf_counter()
        if new_column:  # deploy: the new version writes the new column with migtui.write_path=new
            work.switch_to_new_version(new_column)
        driver.run("phased1", until="contract")
    t1 = time.perf_counter()
    time.sleep(args.settle)
    work.stop()
    print(f"  expand+migrate {t_migrated - t0:.1f}s, deploy+quiet window+contract {t1 - t_migrated:.1f}s")
    stages = [
        ("expand", t0, marks.get("migrating", t0)),
        ("migrate", marks.get("migrating", t0), t_migrated),
        ("deploy+gates", t_migrated, marks.get("contracting", t_migrated)),
        ("contract", marks.get("contracting", t_migrated), t1),
    ]
    by_stage = []
    for name, start, end in stages:
        lat = [op.seconds for op in work.ops if op.kind == "write" and start <= op.start <= end]
        by_stage.append(
            f"{name} p50 {pct(lat, 50) * 1000:.1f} / p99 {pct(lat, 99) * 1000:.1f} / "
            f"max {max(lat, default=0.0) * 1000:.0f} ms ({end - start:.1f}s, {len(lat)} writes)"
        )
    print("  write latency by stage: " + ", ".join(by_stage))
    for detail in lock_waits:
        print(f"  lock wait: {detail}")
    mismatches, rows = verify(dsn, work, final_column)
    result = summarize("phased", work, t0, t1, mismatches, rows)
    if pattern == "add_foreign_key":
        with psycopg.connect(dsn, autocommit=True) as conn:
            result.carried = [row[0] for row in conn.execute(FOREIGN_KEY_CHECK).fetchall()]
    else:
        result.carried = carried_objects(dsn, final_column)
    return result


def run_versions(dsn: str, args, project_dir: Path) -> int:
    """Both application versions live: old writers and readers through ``bench_v1`` (v int), new ones through
    ``bench_v2`` (v bigint, the copy under its final name), across expand, migrate and contract."""
    settings = Settings(lock_timeout=args.lock_timeout, lock_retries=20, lock_retry_delay=0.2)
    marks: dict[str, float] = {}
    lock_waits: list[str] = []

    def sink(event) -> None:
        if isinstance(event, PhaseChanged):
            marks[event.phase] = time.perf_counter()
        elif event.kind == "lock_wait":
            lock_waits.append(event.detail)

    options = DriverOptions(
        backfill=BackfillOptions(
            batch_size=1000, max_batch_size=args.max_batch, target_batch_seconds=0.05, max_lock_waiters=args.writers
        ),
        gates=GateOptions(quiet_window=args.quiet_window),
        wait=120,
        poll=0.25,
    )
    stride = 2 * args.writers
    old = Workload(dsn, args.rows, args.writers, args.readers, name="v1", search_path="bench_v1,public", stride=stride)
    new = Workload(
        dsn,
        args.rows,
        args.writers,
        args.readers,
        name="v2",
        search_path="bench_v2,public",
        first_index=args.writers,
        stride=stride,
    )
    old.start()  # before expand bench_v1 does not exist: the old application reaches public.items
    time.sleep(args.settle)
    print("versions: expand -> (v2 starts) -> migrate -> (v1 stops) -> contract, v1 and v2 writing ...", flush=True)
    t0 = time.perf_counter()
    with PhaseDriver(dsn, AlembicProject.load(project_dir), settings, sink, options) as driver:
        driver.run("phased1", until="expand")
        t_expanded = time.perf_counter()
        new.start()
        driver.run("phased1", until="migrate")
        t_migrated = time.perf_counter()
        time.sleep(args.settle)  # both versions live on a migrated table
        with psycopg.connect(dsn, autocommit=True) as conn:
            diverging = conn.execute(
                "SELECT count(*) FROM bench_v1.items o FULL JOIN bench_v2.items n USING (id) "
                "WHERE o.v IS DISTINCT FROM n.v"
            ).fetchone()[0]
        print(f"  while both write: {diverging} rows where bench_v1.items and bench_v2.items differ", flush=True)
        old.stop()  # the rolling deploy finished: no v1 pod left
        t_old_stopped = time.perf_counter()
        driver.run("phased1", until="contract")
    t1 = time.perf_counter()
    time.sleep(args.settle)
    new.stop()
    t2 = time.perf_counter()
    stages = [
        ("expand", t0, t_expanded),
        ("migrate", t_expanded, t_migrated),
        ("both live", t_migrated, t_old_stopped),
        ("gates", t_old_stopped, marks.get("contracting", t_old_stopped)),
        ("contract", marks.get("contracting", t_old_stopped), t1),
        ("after", t1, t2),
    ]
    print(
        f"\n{'stage':10} {'s':>6} {'version':>7} {'writes':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}"
    )
    worst = 0.0
    for stage, start, end in stages:
        for work in (old, new):
            lat = [op.seconds for op in work.ops if op.kind == "write" and start <= op.start <= end]
            if not lat:
                continue
            worst = max(worst, max(lat)) if stage != "after" else worst
            errors = sum(1 for op in work.ops if op.kind == "write" and not op.ok and start <= op.start <= end)
            print(
                f"{stage:10} {end - start:6.1f} {work.name:>7} {len(lat):7d} {pct(lat, 50) * 1000:8.1f} "
                f"{pct(lat, 99) * 1000:8.1f} {max(lat) * 1000:8.1f} {errors:6d}"
            )
    for detail in lock_waits:
        print(f"  lock wait: {detail}")
    combined = Workload(dsn, args.rows, args.writers, args.readers)
    combined.expected = {**old.expected, **new.expected}
    combined.inserted = old.inserted + new.inserted
    mismatches, rows = verify(dsn, combined, "v")
    with psycopg.connect(dsn, autocommit=True) as conn:
        schemas = [
            r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_v_' ORDER BY 1")
        ]
        through_v2 = conn.execute(
            "SELECT count(*) FROM bench_v2.items n FULL JOIN public.items t USING (id) WHERE n.v IS DISTINCT FROM t.v"
        ).fetchone()[0]
    errors = old.errors + new.errors
    print(
        f"\nerrors of writes and reads {len(errors)} (v1 {len(old.errors)}, v2 {len(new.errors)}); "
        "max write latency expand..contract "
        f"{worst * 1000:.0f} ms, below lock_timeout {args.lock_timeout * 1000:.0f} ms: "
        f"{'yes' if worst < args.lock_timeout else 'NO'}"
    )
    for sample in sorted(set(errors))[:3]:
        print(f"  error: {sample}")
    print(
        f"rows checked {rows}: {mismatches} differ from what v1/v2 last wrote; bench_v2.items vs the table after "
        f"contract: {through_v2} differ; version schemas left: {', '.join(schemas) or 'none'}"
    )
    carried = carried_objects(dsn, "v")
    carried_ok = carried_complete(carried, "v")
    print(f"carried objects on v at the end: {'all present and valid' if carried_ok else 'NOT all: ' + str(carried)}")
    ok = not errors and mismatches == 0 and diverging == 0 and through_v2 == 0 and schemas == ["bench_v2"]
    return 0 if ok and carried_ok else 1


def report_pattern(r: Result, args) -> int:
    """The phased-only run of ``--pattern rename_column|add_foreign_key``: the figures, what hangs on the column
    (or the foreign key) at the end, and exit 0 when there was no error, the data is identical and the max
    write stall stayed below lock_timeout."""
    data = "identical" if r.mismatches == 0 else f"{r.mismatches} diff"
    print(
        f"\n{args.pattern}: change {r.duration:.2f}s, {r.writes} writes, write p50 {r.write_p50 * 1000:.1f} ms, "
        f"p99 {r.write_p99 * 1000:.1f} ms, max {r.write_max * 1000:.1f} ms; read p99 {r.read_p99 * 1000:.1f} ms, "
        f"max {r.read_max * 1000:.1f} ms; errors {r.write_errors} write, {r.read_errors} read; data {data} "
        f"({r.rows_checked} rows checked)"
    )
    for sample in r.error_samples:
        print(f"  error: {sample}")
    below = r.write_max < args.lock_timeout
    print(f"max write stall below lock_timeout {args.lock_timeout * 1000:.0f} ms: {'yes' if below else 'NO'}")
    print("at the end:")
    for line in r.carried:
        print(f"  {line}")
    complete = bool(r.carried) and not any("MISSING" in f or "INVALID" in f or "NOT VALID" in f for f in r.carried)
    return 0 if r.write_errors + r.read_errors == 0 and r.mismatches == 0 and complete else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--lock-timeout", type=float, default=0.2, help="phased: lock_timeout for every DDL (s)")
    parser.add_argument("--quiet-window", type=float, default=1.0)
    parser.add_argument("--max-batch", type=int, default=5000)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds of workload before and after the change")
    parser.add_argument("--pg-version", type=int, default=16)
    parser.add_argument("--dsn", help="use this server (databases are created and dropped on it)")
    parser.add_argument(
        "--versions",
        action="store_true",
        help="both application versions live: v1 and v2 writers and readers through their version schemas "
        "(--writers/--readers each), no naive run",
    )
    parser.add_argument(
        "--pattern",
        choices=sorted(PATTERNS),
        default="change_column_type",
        help="the phased change; rename_column and add_foreign_key run the phased change only (no naive run)",
    )
    args = parser.parse_args(argv)

    server = harness.ExternalServer(args.dsn) if args.dsn else harness.start_cluster(args.pg_version)
    tpl = f"zd_tpl_{int(time.time())}"
    names = [tpl, tpl + "_naive", tpl + "_phased"]
    try:
        print(f"PostgreSQL {server.pg_version}: loading {args.rows} rows ...", flush=True)
        t = time.perf_counter()
        server.create_database(tpl)
        server.execute(
            "CREATE TABLE items (id bigserial PRIMARY KEY, v int NOT NULL, payload text NOT NULL);"
            "INSERT INTO items (id, v, payload) SELECT g, g % 1000000, md5(g::text) "
            f"FROM generate_series(1, {args.rows}) g;"
            f"SELECT setval('items_id_seq', {args.rows});"
            + CARRIED_SQL
            + VIEW_SQL
            + ";"
            + (FOREIGN_KEY_SETUP if args.pattern == "add_foreign_key" else "")
            + "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
            "INSERT INTO alembic_version VALUES ('bench0');",
            dbname=tpl,
        )
        server.execute("VACUUM ANALYZE items", dbname=tpl)
        print(f"  loaded in {time.perf_counter() - t:.1f}s", flush=True)
        if args.versions:
            names.pop(1)
            versions_dsn = server.create_database(names[1], template=tpl)
            with tempfile.TemporaryDirectory(prefix="migtui-bench-") as tmp:
                return run_versions(versions_dsn, args, make_project(Path(tmp), VERSIONS_REVISION))
        if args.pattern != "change_column_type":
            names.pop(1)
            phased_dsn = server.create_database(names[1], template=tpl)
            with tempfile.TemporaryDirectory(prefix="migtui-bench-") as tmp:
                project_dir = make_project(Path(tmp), PATTERNS[args.pattern][0])
                return report_pattern(run_phased(phased_dsn, args, project_dir, args.pattern), args)
        naive_dsn = server.create_database(names[1], template=tpl)
        phased_dsn = server.create_database(names[2], template=tpl)
        with tempfile.TemporaryDirectory(prefix="migtui-bench-") as tmp:
            project_dir = make_project(Path(tmp))
            naive = run_naive(naive_dsn, args)
            phased = run_phased(phased_dsn, args, project_dir)
        print()
        header = (
            f"{'':8} {'change s':>9} {'writes':>7} {'w p50 ms':>9} {'w p99 ms':>9} {'w max ms':>9} "
            f"{'r p99 ms':>9} {'r max ms':>9} {'w errors':>8} {'r errors':>8} {'data':>10}"
        )
        print(header)
        for r in (naive, phased):
            data = "identical" if r.mismatches == 0 else f"{r.mismatches} diff"
            print(
                f"{r.name:8} {r.duration:9.2f} {r.writes:7d} {r.write_p50 * 1000:9.1f} {r.write_p99 * 1000:9.1f} "
                f"{r.write_max * 1000:9.1f} {r.read_p99 * 1000:9.1f} {r.read_max * 1000:9.1f} "
                f"{r.write_errors:8d} {r.read_errors:8d} {data:>10}"
            )
            for sample in r.error_samples:
                print(f"  error: {sample}")
        ratio = naive.write_max / phased.write_max if phased.write_max else float("inf")
        print(
            f"\nmax write stall: naive {naive.write_max * 1000:.0f} ms, phased {phased.write_max * 1000:.0f} ms "
            f"(ratio {ratio:.1f}x); phased below lock_timeout {args.lock_timeout * 1000:.0f} ms: "
            f"{'yes' if phased.write_max < args.lock_timeout else 'NO'}"
        )
        print(
            f"rows checked: naive {naive.rows_checked}, phased {phased.rows_checked}; "
            f"data identical to what the application wrote: naive {'yes' if naive.mismatches == 0 else 'NO'}, "
            f"phased {'yes' if phased.mismatches == 0 else 'NO'}"
        )
        print(
            f"write p50 during change: naive {naive.write_p50 * 1000:.1f} ms, phased {phased.write_p50 * 1000:.1f} ms"
        )
        for r, column in ((naive, "v"), (phased, "v_big")):
            print(f"carried objects on {r.name}'s {column} at the end:")
            for line in r.carried:
                print(f"  {line}")
        carried_ok = carried_complete(phased.carried, "v_big")
        print(f"phased: every carried object present and valid on v_big: {'yes' if carried_ok else 'NO'}")
        ok = (
            phased.write_errors + phased.read_errors == 0
            and phased.mismatches == 0
            and naive.mismatches == 0
            and carried_ok
        )
        return 0 if ok else 1
    finally:
        for name in reversed(names):
            try:
                server.drop_database(name)
            except Exception:
                pass
        server.cleanup()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
