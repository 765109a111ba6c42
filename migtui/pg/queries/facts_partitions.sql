-- Lint's catalog facts: partitions (parent, partition, whether it is the default partition).
SELECT pn.nspname || '.' || p.relname, n.nspname || '.' || c.relname,
       pt.partdefid = c.oid
FROM pg_inherits inh
JOIN pg_class c ON c.oid = inh.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class p ON p.oid = inh.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
LEFT JOIN pg_partitioned_table pt ON pt.partrelid = p.oid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND n.nspname NOT LIKE 'pg_temp%'
  AND c.relispartition
