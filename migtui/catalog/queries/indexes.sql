-- Indexes that are their own objects: not the index behind a PK/UNIQUE/EXCLUDE constraint, not a
-- partition's copy of its parent's index. Each key column carries its non-default collation and opclass.
SELECT n.nspname AS schema, ic.relname AS name, tn.nspname AS table_schema, tc.relname AS relname,
       tc.relkind, i.indisunique AS is_unique, am.amname AS method,
       ARRAY(
         SELECT pg_get_indexdef(i.indexrelid, k, true)
                || CASE WHEN i.indcollation[k - 1] <> 0
                         AND i.indcollation[k - 1] <> coalesce(ta.attcollation, ka.typcollation)
                        THEN ' COLLATE ' || quote_ident(kcn.nspname) || '.' || quote_ident(kco.collname)
                        ELSE '' END
                || CASE WHEN NOT kopc.opcdefault
                        THEN ' ' || quote_ident(kopcn.nspname) || '.' || quote_ident(kopc.opcname)
                        ELSE '' END
                || CASE WHEN i.indoption[k - 1] & 1 = 1 THEN ' DESC' ELSE '' END
                || CASE WHEN i.indoption[k - 1] & 3 = 2 THEN ' NULLS FIRST'
                        WHEN i.indoption[k - 1] & 3 = 1 THEN ' NULLS LAST' ELSE '' END
         FROM generate_series(1, i.indnkeyatts) k
         JOIN pg_attribute ia ON ia.attrelid = i.indexrelid AND ia.attnum = k
         JOIN pg_type ka ON ka.oid = ia.atttypid
         LEFT JOIN pg_attribute ta ON ta.attrelid = i.indrelid AND ta.attnum = i.indkey[k - 1]
              AND i.indkey[k - 1] <> 0
         LEFT JOIN pg_collation kco ON kco.oid = i.indcollation[k - 1]
         LEFT JOIN pg_namespace kcn ON kcn.oid = kco.collnamespace
         LEFT JOIN pg_opclass kopc ON kopc.oid = i.indclass[k - 1]
         LEFT JOIN pg_namespace kopcn ON kopcn.oid = kopc.opcnamespace
         ORDER BY k) AS columns,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(i.indnkeyatts + 1, i.indnatts) k ORDER BY k) AS include,
       pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
       coalesce((to_jsonb(i)->>'indnullsnotdistinct')::boolean, false) AS nulls_not_distinct,
       ARRAY(SELECT x FROM unnest(ic.reloptions) x ORDER BY 1) AS reloptions,
       ts.spcname AS tablespace, i.indisvalid AS valid,
       obj_description(ic.oid, 'pg_class') AS comment
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace tn ON tn.oid = tc.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND tc.relkind IN ('r', 'p', 'm', 'f') AND NOT ic.relispartition
  AND NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_class'::regclass
                  AND ed.objid = tc.oid AND ed.deptype = 'e')
  AND tc.oid <> ALL(%(excluded)s::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid
                  AND x.contype IN ('p', 'u', 'x')
                  AND x.conrelid = i.indrelid)
