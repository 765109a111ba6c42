-- Lint's catalog facts: (view or materialized view, a relation it reads).
SELECT DISTINCT n.nspname || '.' || v.relname, sn.nspname || '.' || s.relname
FROM pg_rewrite rw
JOIN pg_class v ON v.oid = rw.ev_class JOIN pg_namespace n ON n.oid = v.relnamespace
JOIN pg_depend d ON d.objid = rw.oid AND d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
JOIN pg_class s ON s.oid = d.refobjid JOIN pg_namespace sn ON sn.oid = s.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND n.nspname NOT LIKE 'pg_temp%'
  AND s.oid <> v.oid AND v.relkind IN ('v', 'm')
