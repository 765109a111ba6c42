"""The proof that the lock model is right: every form of the table, run against real PostgreSQL 16 and 18.

Each form's example runs in a transaction that is rolled back; the relation locks the backend holds
(``pg_locks``) and the relations whose ``relfilenode`` changed (rewrites) must equal what ``analyze_sql``
predicts with the database's catalog facts. Forms that cannot run in a transaction block (CONCURRENTLY,
VACUUM) run in autocommit while a second session holds a lock that makes them wait; their locks (granted,
or the one they wait for) are read from a third session.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest

from migtui.analysis import FORMS, analyze_sql
from migtui.analysis.lock_modes import STRENGTH
from migtui.pg import harness
from migtui.pg.catalog_facts import load_catalog_facts

SCHEMA_SQL = (Path(__file__).parent / "lock_probe_schema.sql").read_text()

# form -> (blocker statement run by a second session first, cleanup after the form ran)
SECOND_SESSION = {
    "create-index-concurrently": ("LOCK other_t IN ROW EXCLUSIVE MODE", "DROP INDEX IF EXISTS other_y_idx"),
    "drop-index-concurrently": ("LOCK other_t IN ACCESS SHARE MODE", "CREATE INDEX other_t_x_idx ON other_t (x)"),
    "reindex-concurrently": ("LOCK other_t IN ROW EXCLUSIVE MODE", None),
    "detach-partition-concurrently": (
        # waits in its second transaction: ShareUpdateExclusiveLock on the parent held, AccessExclusiveLock on
        # the partition requested
        "LOCK part_1 IN ACCESS SHARE MODE",
        "ALTER TABLE part_p ATTACH PARTITION part_1 FOR VALUES FROM (0) TO (100)",
    ),
    "vacuum": ("LOCK other_t IN SHARE MODE", None),
    "vacuum-full": ("LOCK other_t IN ACCESS SHARE MODE", None),
}

SNAPSHOT_SQL = """
SELECT c.oid, n.nspname || '.' || c.relname, c.relkind, c.relfilenode
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('public', 'aux')
"""

LOCKS_SQL = """
SELECT relation, mode, granted FROM pg_locks
WHERE pid = %s AND locktype = 'relation' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def _strongest(pairs):
    out: dict[str, str] = {}
    for name, mode in pairs:
        if name not in out or STRENGTH[mode] > STRENGTH[out[name]]:
            out[name] = mode
    return out


@pytest.fixture(scope="module", params=[15, 16, 18], ids=["pg15", "pg16", "pg18"])
def probe_db(request):
    own = None
    if request.param == 15:  # no session fixture for 15: Debian's binaries, when installed
        if request.config.getoption("--pg-dsn") or 15 not in harness.available_versions():
            pytest.skip("PostgreSQL 15 binaries not installed")
        server = own = harness.start_cluster(15)
    else:
        server = request.getfixturevalue(f"pg{request.param}")
    name = f"lockprobe_{request.param}"
    server.execute(f"DROP DATABASE IF EXISTS {name}")
    dsn = server.create_database(name)
    space = None
    if isinstance(server, harness.Cluster):  # a second tablespace for SET TABLESPACE (a local server only)
        space = Path(tempfile.mkdtemp(prefix="lockprobe-space-"))
        if server.run_as:
            shutil.chown(space, server.run_as)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP TABLESPACE IF EXISTS probe_space")
            conn.execute(f"CREATE TABLESPACE probe_space LOCATION '{space}'")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA_SQL)
    facts = load_catalog_facts(dsn)
    yield request.param, dsn, facts
    if own is not None:
        own.cleanup()
    else:
        server.drop_database(name)
        if space is not None:
            server.execute("DROP TABLESPACE IF EXISTS probe_space")
    if space is not None:
        shutil.rmtree(space, ignore_errors=True)


def _snapshot(cur) -> dict[int, tuple[str, str, int]]:
    cur.execute(SNAPSHOT_SQL)
    return {oid: (name, kind, node) for oid, name, kind, node in cur.fetchall()}


def _compare_scans(form_id, version, analysis, before, scanned):
    """Every relation the model says is read in full was seq-scanned; nothing else was, except a foreign key's
    referenced table (the validation query's plan decides how it is read)."""
    observed = {before[oid][0] for oid in scanned if oid in before and before[oid][1] in ("r", "m", "p")}
    predicted = set(analysis.scans)
    missing = predicted - observed
    if form_id == "set-tablespace":
        missing = set()  # the file is copied block by block: work grows with the table, but no heap scan
    if form_id in QUERY_FORMS:
        extra = set()  # a query's plan decides how it reads (a tiny table is seq-scanned even with a WHERE)
    elif form_id.endswith("foreign-key"):
        extra = observed - predicted - {lk.relation for lk in analysis.locks if lk.mode != "AccessExclusiveLock"}
    else:
        extra = observed - predicted
    assert not missing and not extra, (
        f"PG {version} {form_id}: scans observed {sorted(observed)} predicted {sorted(predicted)}"
    )


def _compare(form_id, version, example, facts, before, observed_locks, after_nodes, scanned=None):
    [analysis] = analyze_sql(example, version, facts)
    assert form_id in analysis.forms, f"{example!r} classified as {analysis.forms}, expected {form_id}"
    predicted = {lock.relation: lock.mode for lock in analysis.locks}
    named = set(predicted)
    observed = {}
    for oid, mode in observed_locks:
        if oid not in before:
            continue  # created by the statement itself
        name, kind, _node = before[oid]
        if kind in ("i", "I") and name not in named:
            continue  # indexes of a locked table: not part of the model unless the statement names them
        if kind == "S" and name not in named:
            continue
        observed[name] = mode
    observed = _strongest(observed.items())
    assert observed == predicted, f"PG {version} {form_id}: {example}\n observed {observed}\n predicted {predicted}"
    rewritten = sorted(
        before[oid][0]
        for oid, node in after_nodes.items()
        if oid in before and before[oid][1] in ("r", "m") and node != before[oid][2]
    )
    expected_rewrites = sorted(analysis.rewrites)
    if form_id.startswith("truncate"):
        assert set(rewritten) <= set(predicted), f"{form_id}: new files for {rewritten}"
    else:
        assert rewritten == expected_rewrites, f"PG {version} {form_id}: rewrites observed {rewritten}"
    if scanned is not None:
        _compare_scans(form_id, version, analysis, before, scanned)


# forms whose reads depend on the planner (DML, queries) or that count a scan without reading rows (TRUNCATE
# bumps the counter on 15-18 although its work does not grow with the table): only "predicted scans happened"
# is checked for them
QUERY_FORMS = {
    "insert",
    "update",
    "update-all-rows",
    "delete",
    "delete-all-rows",
    "merge",
    "select",
    "select-for-update",
    "truncate",
    "truncate-cascade",
}

SEQ_SCANS_SQL = "SELECT relid, seq_scan FROM pg_stat_xact_user_tables"


def _run_in_transaction(dsn, example):
    """Run ``example`` in a transaction that is rolled back: (relations before, locks, relfilenodes after,
    relations read by a sequential scan during the statement)."""
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        before = _snapshot(cur)
        cur.execute(SEQ_SCANS_SQL)
        scans_before = dict(cur.fetchall())
        cur.execute(example)
        cur.execute(LOCKS_SQL, (conn.info.backend_pid,))
        locks = [(oid, mode) for oid, mode, granted in cur.fetchall() if granted]
        cur.execute("SELECT c.oid, c.relfilenode FROM pg_class c")
        nodes = dict(cur.fetchall())
        cur.execute(SEQ_SCANS_SQL)
        scanned = {oid for oid, n in cur.fetchall() if n > scans_before.get(oid, 0)}
        conn.rollback()
    return before, locks, nodes, scanned


def _run_from_second_session(dsn, form_id, example):
    blocker_sql, cleanup = SECOND_SESSION[form_id]
    with psycopg.connect(dsn, autocommit=True) as observer, psycopg.connect(dsn) as blocker:
        ocur = observer.cursor()
        before = _snapshot(ocur)
        blocker.execute(blocker_sql)
        worker = psycopg.connect(dsn, autocommit=True)
        pid = worker.info.backend_pid
        errors: list[BaseException] = []

        def run() -> None:
            try:
                worker.execute(example)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        locks: dict[int, str] = {}
        deadline = time.monotonic() + 20
        waiting = False
        while time.monotonic() < deadline and thread.is_alive():
            ocur.execute(LOCKS_SQL, (pid,))
            rows = ocur.fetchall()
            ocur.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", (pid,))
            waiting = ocur.fetchone()[0] > 0
            for oid, mode, _granted in rows:  # granted, or the mode it waits for
                if oid not in locks or STRENGTH[mode] > STRENGTH[locks[oid]]:
                    locks[oid] = mode
            if waiting:
                # read once more, then let it go
                ocur.execute(LOCKS_SQL, (pid,))
                for oid, mode, _granted in ocur.fetchall():
                    if oid not in locks or STRENGTH[mode] > STRENGTH[locks[oid]]:
                        locks[oid] = mode
                break
            time.sleep(0.01)
        blocker.rollback()
        thread.join(30)
        worker.close()
        assert not errors, f"{form_id}: {errors[0]}"
        assert waiting, f"{form_id}: the statement never waited for the blocker"
        ocur.execute("SELECT c.oid, c.relfilenode FROM pg_class c")
        nodes = dict(ocur.fetchall())
        if cleanup:
            ocur.execute(cleanup)
    return before, list(locks.items()), nodes


def facts_tablespaces(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {row[0] for row in conn.execute("SELECT spcname FROM pg_tablespace")}


def test_every_form_is_probed_or_says_why():
    for form in FORMS.values():
        if form.probe.startswith("none:"):
            continue
        assert form.example, f"{form.id} has no example to probe"
        if form.probe == "second-session":
            assert form.id in SECOND_SESSION, form.id
            assert not form.transactional


@pytest.mark.db
def test_lock_model_matches_server(probe_db):
    version, dsn, facts = probe_db
    failures = []
    probed = 0
    for form in FORMS.values():
        if form.probe.startswith("none:") or not (form.min_version <= version <= form.max_version):
            continue
        if form.id == "set-tablespace" and "probe_space" not in facts_tablespaces(dsn):
            continue
        try:
            if form.probe == "second-session":
                before, locks, nodes = _run_from_second_session(dsn, form.id, form.example)
                scanned = None  # another backend's counters: not visible in pg_stat_xact_*
            else:
                before, locks, nodes, scanned = _run_in_transaction(dsn, form.example)
            _compare(form.id, version, form.example, facts, before, locks, nodes, scanned)
            probed += 1
        except (AssertionError, psycopg.Error) as exc:
            failures.append(f"{form.id}: {str(exc).strip()}")
    assert not failures, "\n".join(failures)
    assert probed >= 80
