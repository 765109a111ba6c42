-- Tables, views, materialized views and sequences (relkind says which), without the excluded tables.
-- A relation never granted (NULL ACL) has its type's default ACL: a sequence's is not a table's.
SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind, c.relpersistence,
       pg_get_userbyid(c.relowner) AS owner,
       ARRAY(SELECT CASE WHEN g.grantee = 0 THEN 'PUBLIC' WHEN g.grantee = c.relowner THEN 'OWNER'
                         ELSE pg_get_userbyid(g.grantee) END
                    || ' ' || g.privilege_type
                    || CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
                    || CASE WHEN g.grantor <> c.relowner
                            THEN ' (granted by ' || pg_get_userbyid(g.grantor) || ')' ELSE '' END
             FROM aclexplode(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char",
                                                           c.relowner))) g
             ORDER BY 1) AS grants,
       obj_description(c.oid, 'pg_class') AS comment,
       ARRAY(SELECT x FROM unnest(c.reloptions) x ORDER BY 1) AS reloptions,
       c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.relispartition, c.relispopulated,
       CASE WHEN c.reloftype <> 0 THEN format_type(c.reloftype, NULL) END AS of_type,
       am.amname AS access_method, ts.spcname AS tablespace,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       CASE WHEN c.relispartition THEN (
         SELECT quote_ident(pn.nspname) || '.' || quote_ident(pc.relname)
         FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
         JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE i.inhrelid = c.oid) END AS partition_of,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       CASE WHEN NOT c.relispartition THEN ARRAY(
         SELECT quote_ident(pn.nspname) || '.' || quote_ident(pc.relname)
         FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
         JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE i.inhrelid = c.oid ORDER BY i.inhseqno) END AS inherits,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS definition,
       CASE WHEN c.relreplident = 'i' THEN (
         SELECT ri.relname FROM pg_index x JOIN pg_class ri ON ri.oid = x.indexrelid
         WHERE x.indrelid = c.oid AND x.indisreplident) END AS replica_identity_index,
       fs.srvname AS foreign_server, ARRAY(SELECT x FROM unnest(ft.ftoptions) x ORDER BY 1) AS foreign_options,
       s.seqtypid, s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle,
       (SELECT d.deptype::text || ':' || quote_ident(dn.nspname) || '.' || quote_ident(dc.relname) || '.'
               || quote_ident(da.attname)
        FROM pg_depend d JOIN pg_class dc ON dc.oid = d.refobjid
        JOIN pg_namespace dn ON dn.oid = dc.relnamespace
        JOIN pg_attribute da ON da.attrelid = d.refobjid AND da.attnum = d.refobjsubid
        WHERE c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid
          AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1) AS sequence_owner
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_am am ON am.oid = c.relam
LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
LEFT JOIN pg_sequence s ON s.seqrelid = c.oid
WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_class'::regclass
                  AND ed.objid = c.oid AND ed.deptype = 'e')
  AND c.oid <> ALL(%(excluded)s::oid[])
