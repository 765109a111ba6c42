-- Enums, domains, range types and stand-alone composite types (typtype says which).
SELECT t.oid, n.nspname AS schema, t.typname AS name, t.typtype,
       pg_get_userbyid(t.typowner) AS owner,
       ARRAY(SELECT CASE WHEN g.grantee = 0 THEN 'PUBLIC' WHEN g.grantee = t.typowner THEN 'OWNER'
                         ELSE pg_get_userbyid(g.grantee) END
                    || ' ' || g.privilege_type
                    || CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
                    || CASE WHEN g.grantor <> t.typowner
                            THEN ' (granted by ' || pg_get_userbyid(g.grantor) || ')' ELSE '' END
             FROM aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) g ORDER BY 1) AS grants,
       obj_description(t.oid, 'pg_type') AS comment,
       CASE WHEN t.typtype = 'e' THEN
         ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
       END AS enum_values,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
       t.typnotnull AS not_null,
       CASE WHEN t.typtype = 'd' THEN coalesce(pg_get_expr(t.typdefaultbin, 0, true), t.typdefault) END
         AS default_expr,
       CASE WHEN t.typtype = 'd' AND t.typcollation <> bt.typcollation
            THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
       CASE WHEN t.typtype = 'c' THEN ARRAY(
         SELECT quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                || CASE WHEN a.attcollation <> at.typcollation
                        THEN ' COLLATE ' || quote_ident(acn.nspname) || '.' || quote_ident(aco.collname)
                        ELSE '' END
         FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
         LEFT JOIN pg_collation aco ON aco.oid = a.attcollation
         LEFT JOIN pg_namespace acn ON acn.oid = aco.collnamespace
         WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)
       END AS fields,
       CASE WHEN t.typtype = 'r' THEN format_type(r.rngsubtype, NULL) END AS subtype,
       CASE WHEN t.typtype = 'r' THEN quote_ident(opcn.nspname) || '.' || quote_ident(opc.opcname) END
         AS subtype_opclass,
       CASE WHEN t.typtype = 'r' AND r.rngcollation <> 0
            THEN quote_ident(rcn.nspname) || '.' || quote_ident(rco.collname) END AS range_collation,
       CASE WHEN t.typtype = 'r' AND r.rngcanonical <> 0 THEN r.rngcanonical::regproc::text END AS canonical,
       CASE WHEN t.typtype = 'r' AND r.rngsubdiff <> 0 THEN r.rngsubdiff::regproc::text END AS subtype_diff
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
LEFT JOIN pg_collation co ON co.oid = t.typcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_class tc ON tc.oid = t.typrelid
LEFT JOIN pg_range r ON r.rngtypid = t.oid
LEFT JOIN pg_opclass opc ON opc.oid = r.rngsubopc
LEFT JOIN pg_namespace opcn ON opcn.oid = opc.opcnamespace
LEFT JOIN pg_collation rco ON rco.oid = r.rngcollation
LEFT JOIN pg_namespace rcn ON rcn.oid = rco.collnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_type'::regclass
                  AND ed.objid = t.oid AND ed.deptype = 'e')
  AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND tc.relkind = 'c'))
