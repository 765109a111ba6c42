-- Lint's catalog facts: sequences tied to table columns (table, column, sequence, how):
-- 'a' OWNED BY (serial), 'i' identity, 'd' used by the column's DEFAULT (nextval).
SELECT tn.nspname || '.' || t.relname, a.attname, sn.nspname || '.' || s.relname, d.deptype::text
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
  AND tn.nspname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT tn.nspname || '.' || t.relname, a.attname, sn.nspname || '.' || s.relname, 'd'
FROM pg_depend d
JOIN pg_attrdef ad ON ad.oid = d.objid
JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class t ON t.oid = ad.adrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ad.adnum
WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass
  AND tn.nspname NOT IN ('pg_catalog', 'information_schema')
