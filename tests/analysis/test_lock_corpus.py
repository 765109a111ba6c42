"""The lock model against real servers on a generated corpus (``lock_corpus.py``): over 400 statements on
PostgreSQL 15 (Debian's, when installed), 16 and 18, every relation each one locks and every new relfilenode.

The model must agree with every observation, except the differences listed in ``KNOWN_DIFFERENCES`` with their
reason; a listed difference that no longer happens fails too, so the list stays true. One server per major,
one database, each statement in its own transaction that is rolled back.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from migtui.pg import harness
from migtui.pg.catalog_facts import load_catalog_facts
from tests.analysis.lock_corpus import compare, corpus, counted_relations, observe, predict, schema_sql, snapshot

# (statement, relation) -> why the model and the server differ; every major unless the key has a third item
KNOWN_DIFFERENCES: dict[tuple, str] = {
    (
        "INSERT INTO t_part (id, k, a, b) VALUES (90, 90, 90, 'i')",
        "t_part_1",
    ): "tuple routing locks only the partitions rows land in, known once the rows are: the model states it as an "
    "assumption instead of naming every partition",
    (
        "INSERT INTO t_part (id, k, a, b) SELECT id + 100, k, a, b FROM t_lone",
        "t_part_1",
    ): "tuple routing (as above)",
    (
        "ALTER TABLE t_dom ALTER COLUMN v TYPE int",
        "t_dom",
    ): "the catalog facts give the column's type as the domain's name, not its base type, so the change from "
    "domain dom_pos (over int) to int is assumed to rewrite; it does not",
}

MIN_STATEMENTS = 400


def test_corpus_is_large_and_unique():
    cases = corpus()
    assert len(cases) >= MIN_STATEMENTS + 50
    assert len({c.id for c in cases}) == len(cases)
    assert len({c.sql for c in cases}) == len(cases)


@pytest.fixture(scope="module", params=[15, 16, 18], ids=["pg15", "pg16", "pg18"])
def corpus_db(request):
    own = None
    if request.param == 15:
        if request.config.getoption("--pg-dsn"):
            pytest.skip("PostgreSQL 15 is probed on a local server only (--pg-dsn given)")
        if 15 not in harness.available_versions():
            pytest.skip("PostgreSQL 15 binaries not installed (/usr/lib/postgresql/15)")
        server = own = harness.start_cluster(15)
    else:
        server = request.getfixturevalue(f"pg{request.param}")
    name = f"lockcorpus_{request.param}"
    server.execute(f"DROP DATABASE IF EXISTS {name}")
    dsn = server.create_database(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(schema_sql())
        conn.execute("ANALYZE")
    yield request.param, dsn, load_catalog_facts(dsn)
    if own is not None:
        own.cleanup()
    else:
        server.drop_database(name)


def _key_matches(key: tuple, sql: str, relation: str, version: int) -> bool:
    return key[0] == sql and key[1] == relation and (len(key) < 3 or version in key[2])


@pytest.mark.db
def test_model_agrees_with_every_observation(corpus_db, capsys):
    version, dsn, facts = corpus_db
    start = time.monotonic()
    unexplained, seen_known = [], set()
    ran = named_ok = named_all = implicit_ok = implicit_all = 0
    with psycopg.connect(dsn) as conn:
        before = snapshot(conn)
        for case in corpus():
            obs = observe(conn, case, before)
            if obs.error:
                continue
            ran += 1
            pred = predict(case.sql, version, facts)
            diffs = compare(obs, pred)
            wrong = {d.relation for d in diffs if d.kind == "lock"}
            for rel, named in counted_relations(obs, pred):
                if named:
                    named_all += 1
                    named_ok += rel not in wrong
                else:
                    implicit_all += 1
                    implicit_ok += rel not in wrong
            for d in diffs:
                known = [k for k in KNOWN_DIFFERENCES if _key_matches(k, case.sql, d.relation, version)]
                if known:
                    seen_known.update(known)
                else:
                    unexplained.append(
                        f"{case.sql}: {d.relation} {d.kind} observed {d.observed}, model {d.predicted} ({pred.forms})"
                    )
    seconds = time.monotonic() - start
    with capsys.disabled():
        print(
            f"\nPG {version}: {ran} statements, named relations {named_ok}/{named_all}, implicit "
            f"{implicit_ok}/{implicit_all}, {seconds:.1f}s"
        )
    assert ran >= MIN_STATEMENTS, f"only {ran} statements ran on PostgreSQL {version}"
    stale = [k for k in KNOWN_DIFFERENCES if (len(k) < 3 or version in k[2]) and k not in seen_known]
    assert not unexplained, "\n".join(unexplained)
    assert not stale, f"listed differences that no longer happen: {stale}"
