-- Lint's catalog facts: (relation, column, view or materialized view whose query uses the column).
SELECT DISTINCT sn.nspname || '.' || s.relname, a.attname, n.nspname || '.' || v.relname
FROM pg_rewrite rw
JOIN pg_class v ON v.oid = rw.ev_class JOIN pg_namespace n ON n.oid = v.relnamespace
JOIN pg_depend d ON d.objid = rw.oid AND d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
JOIN pg_class s ON s.oid = d.refobjid JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_attribute a ON a.attrelid = s.oid AND a.attnum = d.refobjsubid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND s.oid <> v.oid AND v.relkind IN ('v', 'm') AND d.refobjsubid > 0
