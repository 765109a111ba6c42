"""Read-only catalog lookups for lint (``--dsn``): column types, constraints, indexes, partitions, views."""

from __future__ import annotations

from migtui.analysis.facts import CatalogFacts, ConstraintFact

_EXCLUDED = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%' "
    "AND n.nspname NOT LIKE 'pg_temp%%'"
)

RELATIONS_SQL = f"""
SELECT n.nspname || '.' || c.relname, c.relkind, c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_EXCLUDED} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'i', 'I')
"""

COLUMNS_SQL = f"""
SELECT n.nspname || '.' || c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_EXCLUDED} AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
"""

CONSTRAINTS_SQL = f"""
SELECT n.nspname || '.' || c.relname, con.conname, con.contype::text, con.convalidated,
       CASE WHEN con.confrelid <> 0 THEN rn.nspname || '.' || r.relname END,
       pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class r ON r.oid = con.confrelid LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE {_EXCLUDED}
"""

INDEXES_SQL = f"""
SELECT n.nspname || '.' || ic.relname, tn.nspname || '.' || t.relname
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE {_EXCLUDED}
"""

PARTITIONS_SQL = f"""
SELECT pn.nspname || '.' || p.relname, n.nspname || '.' || c.relname,
       pt.partdefid = c.oid
FROM pg_inherits inh
JOIN pg_class c ON c.oid = inh.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class p ON p.oid = inh.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
LEFT JOIN pg_partitioned_table pt ON pt.partrelid = p.oid
WHERE {_EXCLUDED} AND c.relispartition
"""

VIEW_SOURCES_SQL = f"""
SELECT DISTINCT n.nspname || '.' || v.relname, sn.nspname || '.' || s.relname
FROM pg_rewrite rw
JOIN pg_class v ON v.oid = rw.ev_class JOIN pg_namespace n ON n.oid = v.relnamespace
JOIN pg_depend d ON d.objid = rw.oid AND d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
JOIN pg_class s ON s.oid = d.refobjid JOIN pg_namespace sn ON sn.oid = s.relnamespace
WHERE {_EXCLUDED} AND s.oid <> v.oid AND v.relkind IN ('v', 'm')
"""


def load_catalog_facts(dsn: str) -> CatalogFacts:
    """Read the catalog facts lint needs, in a read-only transaction. Raises ConnectionFailed (exit 6)."""
    from migtui.pg.connect import connect

    facts = CatalogFacts()
    with connect(dsn, application_name="migtui lint (catalog)", autocommit=False) as conn:
        conn.read_only = True
        with conn.cursor() as cur:
            facts.server_version = conn.info.server_version // 10000
            cur.execute(RELATIONS_SQL)
            for name, relkind, tuples in cur.fetchall():
                facts.relkinds[name] = relkind
                if relkind not in ("i", "I"):
                    facts.tables.add(name)
                    facts.estimated_rows[name] = max(int(tuples or 0), 0)
            cur.execute(COLUMNS_SQL)
            for table, column, type_text, not_null in cur.fetchall():
                facts.column_types.setdefault(table, {})[column] = type_text
                if not_null:
                    facts.not_null.setdefault(table, set()).add(column)
            cur.execute(CONSTRAINTS_SQL)
            for table, name, contype, validated, referenced, definition in cur.fetchall():
                facts.constraints.setdefault(table, []).append(
                    ConstraintFact(name, table, contype, bool(validated), referenced, definition or "")
                )
            cur.execute(INDEXES_SQL)
            for index, table in cur.fetchall():
                facts.indexes[index] = table
            cur.execute(PARTITIONS_SQL)
            for parent, child, is_default in cur.fetchall():
                facts.partitions.setdefault(parent, []).append(child)
                if is_default:
                    facts.default_partition[parent] = child
            cur.execute(VIEW_SOURCES_SQL)
            for view, source in cur.fetchall():
                facts.view_sources.setdefault(view, []).append(source)
                facts.dependent_views.setdefault(source, []).append(view)
        conn.rollback()
    return facts
