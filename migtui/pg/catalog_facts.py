"""Read-only catalog lookups for lint (``--dsn``): column types, constraints, indexes, partitions, views.

The queries are ``migtui/pg/queries/facts_*.sql``; they run without parameters.
"""

from __future__ import annotations

from migtui.analysis.facts import CatalogFacts, ConstraintFact
from migtui.pg.queries import QUERIES, load_query


def load_catalog_facts(dsn: str) -> CatalogFacts:
    """Read the catalog facts lint needs, in a read-only transaction. Raises ConnectionFailed (exit 6)."""
    from migtui.pg.connect import connect

    facts = CatalogFacts()
    with connect(dsn, application_name="migtui lint (catalog)", autocommit=False) as conn:
        conn.read_only = True
        with conn.cursor() as cur:
            facts.pg_version = conn.info.server_version // 10000
            cur.execute(load_query(QUERIES, "facts_relations"))
            for name, relkind, tuples in cur.fetchall():
                facts.relkinds[name] = relkind
                if relkind not in ("i", "I"):
                    facts.tables.add(name)
                    facts.estimated_rows[name] = max(int(tuples or 0), 0)
            cur.execute(load_query(QUERIES, "facts_columns"))
            for table, column, type_text, not_null in cur.fetchall():
                facts.column_types.setdefault(table, {})[column] = type_text
                if not_null:
                    facts.not_null.setdefault(table, set()).add(column)
            cur.execute(load_query(QUERIES, "facts_constraints"))
            for table, name, contype, validated, referenced, definition in cur.fetchall():
                facts.constraints.setdefault(table, []).append(
                    ConstraintFact(name, table, contype, bool(validated), referenced, definition or "")
                )
            cur.execute(load_query(QUERIES, "facts_indexes"))
            for index, table in cur.fetchall():
                facts.indexes[index] = table
            cur.execute(load_query(QUERIES, "facts_partitions"))
            for parent, child, is_default in cur.fetchall():
                facts.partitions.setdefault(parent, []).append(child)
                if is_default:
                    facts.default_partition[parent] = child
            cur.execute(load_query(QUERIES, "facts_view_sources"))
            for view, source in cur.fetchall():
                facts.view_sources.setdefault(view, []).append(source)
                facts.dependent_views.setdefault(source, []).append(view)
            cur.execute(load_query(QUERIES, "facts_inherits"))
            for parent, child in cur.fetchall():
                facts.children.setdefault(parent, []).append(child)
            cur.execute(load_query(QUERIES, "facts_sequences"))
            for table, column, sequence, how in cur.fetchall():
                facts.sequences.setdefault(table, []).append((column, sequence, how))
            cur.execute(load_query(QUERIES, "facts_domains"))
            for domain, table in cur.fetchall():
                facts.domain_tables.setdefault(domain, []).append(table)
            cur.execute(load_query(QUERIES, "facts_view_columns"))
            for table, column, view in cur.fetchall():
                facts.view_columns.setdefault(table, {}).setdefault(column, []).append(view)
            cur.execute(load_query(QUERIES, "facts_storage"))
            for relation, tablespace, access_method in cur.fetchall():
                facts.tablespace[relation] = tablespace
                facts.access_method[relation] = access_method
        conn.rollback()
    return facts
