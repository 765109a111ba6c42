"""Implicitly locked relations from hand-written catalog facts (no database): what each role resolves to, and
what the analysis says when it has no catalog. The same behaviour on real servers: test_lock_corpus.py."""

from __future__ import annotations

from migtui.analysis import analyze_sql
from migtui.analysis.facts import CatalogFacts, ConstraintFact

AE, SH, RE, RS, SRE = "AccessExclusiveLock", "ShareLock", "RowExclusiveLock", "RowShareLock", "ShareRowExclusiveLock"


def _facts() -> CatalogFacts:
    facts = CatalogFacts(pg_version=16)
    kinds = {
        "public.events": "p",
        "public.events_2025": "r",
        "public.events_default": "r",
        "public.base": "r",
        "public.base_child": "r",
        "public.orders": "r",
        "public.customers": "r",
        "public.orders_v": "v",
        "public.orders_id_seq": "S",
        "public.ticket_seq": "S",
        "public.prices": "r",
        "aux.t": "r",
        "aux.v": "v",
    }
    facts.relkinds.update(kinds)
    facts.tables.update(kinds)
    facts.partitions["public.events"] = ["public.events_2025", "public.events_default"]
    facts.default_partition["public.events"] = "public.events_default"
    facts.children["public.base"] = ["public.base_child"]
    facts.sequences["public.orders"] = [("id", "public.orders_id_seq", "i"), ("ticket", "public.ticket_seq", "d")]
    facts.view_sources["public.orders_v"] = ["public.orders"]
    facts.dependent_views["public.orders"] = ["public.orders_v"]
    facts.view_columns["public.orders"] = {"note": ["public.orders_v"]}
    facts.domain_tables["public.positive"] = ["public.prices"]
    facts.constraints["public.orders"] = [
        ConstraintFact(
            "orders_customer_fk",
            "public.orders",
            "f",
            True,
            "public.customers",
            "FOREIGN KEY (customer_id) REFERENCES customers(id)",
        )
    ]
    facts.constraints["public.lines"] = [
        ConstraintFact(
            "lines_order_fk",
            "public.lines",
            "f",
            True,
            "public.orders",
            "FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE",
        )
    ]
    facts.tablespace["public.orders"] = ""
    facts.access_method["public.orders"] = "heap"
    return facts


def _locks(sql: str, facts: CatalogFacts | None = None, version: int = 16) -> dict[str, str]:
    [st] = analyze_sql(sql, version, facts if facts is not None else _facts())
    return {lock.relation: lock.mode for lock in st.locks}


def test_alter_table_recurses_into_partitions_and_children_unless_only():
    assert _locks("ALTER TABLE events ADD COLUMN z int") == {
        "public.events": AE,
        "public.events_2025": AE,
        "public.events_default": AE,
    }
    assert _locks("ALTER TABLE base ALTER COLUMN a SET STATISTICS 100") == {
        "public.base": "ShareUpdateExclusiveLock",
        "public.base_child": "ShareUpdateExclusiveLock",
    }
    assert _locks("ALTER TABLE ONLY events ALTER COLUMN a SET DEFAULT 1") == {"public.events": AE}
    assert _locks("CREATE INDEX events_a ON events (a)") == {
        "public.events": SH,
        "public.events_2025": SH,
        "public.events_default": SH,
    }
    # a rewrite rewrites the partitions: the partitioned table has no storage of its own
    [st] = analyze_sql("ALTER TABLE events ALTER COLUMN a TYPE bigint", 16, _facts())
    assert sorted(st.rewrites) == ["public.events_2025", "public.events_default"]


def test_unique_constraint_on_partitions_differs_by_major():
    sql = "ALTER TABLE events ADD CONSTRAINT u UNIQUE (k)"
    assert _locks(sql, version=16)["public.events_2025"] == SH
    assert _locks(sql, version=18)["public.events_2025"] == AE


def test_no_catalog_states_the_partition_assumption():
    [st] = analyze_sql("ALTER TABLE events ADD COLUMN z int", 16, None)
    assert any("each partition and child is locked too" in a for a in st.assumptions)
    [st] = analyze_sql("CREATE TABLE fresh (id int); ALTER TABLE fresh ADD COLUMN z int", 16, None)[1:]
    assert st.assumptions == []  # created by this migration: no partitions to assume


def test_sequences():
    assert _locks("INSERT INTO orders (customer_id) VALUES (1)") == {
        "public.orders": RE,
        "public.customers": RS,
        "public.orders_id_seq": RE,
        "public.ticket_seq": RE,
    }
    assert "public.orders_id_seq" not in _locks("INSERT INTO orders (id, ticket, customer_id) VALUES (1, 1, 1)")
    assert _locks("SELECT nextval('ticket_seq')", facts=None) == {"public.ticket_seq": RE}
    assert _locks("TRUNCATE orders RESTART IDENTITY")["public.orders_id_seq"] == AE
    assert "public.orders_id_seq" not in _locks("TRUNCATE orders")
    assert _locks("ALTER TABLE orders OWNER TO app")["public.orders_id_seq"] == AE
    assert _locks("ALTER TABLE orders ALTER COLUMN id RESTART WITH 10")["public.orders_id_seq"] == SRE


def test_views_cascade_domains_and_keys():
    assert _locks("UPDATE orders_v SET note = 'x' WHERE id = 1")["public.orders"] == RE
    assert _locks("ALTER TABLE orders DROP COLUMN note CASCADE")["public.orders_v"] == AE
    assert "public.orders_v" not in _locks("ALTER TABLE orders DROP COLUMN other CASCADE")
    assert _locks("DROP SCHEMA aux CASCADE") == {"aux.t": AE, "aux.v": AE}
    assert _locks("ALTER DOMAIN positive ADD CONSTRAINT p CHECK (VALUE > 0)") == {"public.prices": SH}
    assert _locks("ALTER DOMAIN positive ADD CONSTRAINT p CHECK (VALUE > 0) NOT VALID") == {}
    assert _locks("UPDATE customers SET id = 5 WHERE id = 4")["public.orders"] == RS
    assert "public.orders" not in _locks("UPDATE customers SET name = 'x' WHERE id = 4")
    assert _locks("ALTER TABLE events DETACH PARTITION events_2025")["public.events_default"] == AE
    assert _locks("DROP TABLE events_2025") == {
        "public.events_2025": AE,
        "public.events": AE,
        "public.events_default": AE,
    }


def test_named_modes():
    assert _locks("ALTER TABLE orders SET (user_catalog_table = true)") == {"public.orders": AE}
    assert _locks("ALTER VIEW orders_v SET (security_barrier = true)") == {"public.orders_v": AE}
    assert _locks("ALTER TABLE orders SET (fillfactor = 70)") == {"public.orders": "ShareUpdateExclusiveLock"}
    assert _locks("ALTER TABLE base_child NO INHERIT base") == {
        "public.base_child": AE,
        "public.base": "AccessShareLock",
    }
    assert _locks("CREATE TABLE t2 () INHERITS (base)") == {"public.base": "ShareUpdateExclusiveLock"}
    [st] = analyze_sql("ALTER TABLE orders SET TABLESPACE pg_default", 16, _facts())
    assert st.rewrites == [] and st.forms == ["set-tablespace-unchanged"]
    [st] = analyze_sql("ALTER TABLE orders SET TABLESPACE fast", 16, _facts())
    assert st.rewrites == ["public.orders"]


def test_one_blocking_lock_finding_for_a_table_and_its_partitions():
    [st] = analyze_sql("ALTER TABLE events ADD COLUMN z int", 16, _facts(), lock_timeout_set=True)
    messages = [f.message for f in st.findings if f.rule == "blocking-lock"]
    assert messages == [
        "AccessExclusiveLock on public.events and 2 of its partitions/children blocks reads/writes/ddl (brief)"
    ]
    assert len(st.locks) == 3  # every relation is still listed with its lock


def test_cascading_foreign_keys_are_written():
    assert _locks("DELETE FROM orders WHERE id = 1")["public.lines"] == RE
    assert _locks("UPDATE orders SET id = 2 WHERE id = 1")["public.lines"] == RS  # ON UPDATE NO ACTION: checked
