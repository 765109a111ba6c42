-- Columns of tables, partitioned tables and foreign tables, with the identity sequence's options.
-- The PostgreSQL 13 form of columns.sql: no column compression (attcompression) yet.
SELECT n.nspname AS schema, c.relname AS relname, a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       a.attidentity, a.attgenerated,
       pg_get_expr(ad.adbin, ad.adrelid, true) AS expr,
       CASE WHEN a.attcollation <> t.typcollation
            THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
       CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END AS storage,
       NULL::text AS compression,
       col_description(c.oid, a.attnum) AS comment,
       CASE WHEN a.attacl IS NULL THEN ARRAY[]::text[]
            ELSE ARRAY(SELECT CASE WHEN g.grantee = 0 THEN 'PUBLIC' WHEN g.grantee = c.relowner THEN 'OWNER'
                                   ELSE pg_get_userbyid(g.grantee) END
                              || ' ' || g.privilege_type
                              || CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
                              || CASE WHEN g.grantor <> c.relowner
                                      THEN ' (granted by ' || pg_get_userbyid(g.grantor) || ')' ELSE '' END
                       FROM aclexplode(a.attacl) g ORDER BY 1) END AS grants,
       seq.seqtypid, seq.seqstart, seq.seqincrement, seq.seqmax, seq.seqmin, seq.seqcache, seq.seqcycle
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_depend idd ON a.attidentity <> '' AND idd.refclassid = 'pg_class'::regclass
     AND idd.refobjid = c.oid AND idd.refobjsubid = a.attnum AND idd.classid = 'pg_class'::regclass
     AND idd.deptype = 'i'
LEFT JOIN pg_sequence seq ON seq.seqrelid = idd.objid
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_class'::regclass
                  AND ed.objid = c.oid AND ed.deptype = 'e')
  AND c.oid <> ALL(%(excluded)s::oid[])
