-- Lint's catalog facts: inheritance children that are not partitions (parent, child).
SELECT pn.nspname || '.' || p.relname, n.nspname || '.' || c.relname
FROM pg_inherits inh
JOIN pg_class c ON c.oid = inh.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class p ON p.oid = inh.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND n.nspname NOT LIKE 'pg_temp%'
  AND NOT c.relispartition AND c.relkind IN ('r', 'p', 'f')
