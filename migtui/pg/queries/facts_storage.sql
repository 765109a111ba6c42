-- Lint's catalog facts: where a relation's storage is (relation, tablespace, table access method);
-- an empty tablespace is the database's default.
SELECT n.nspname || '.' || c.relname, COALESCE(ts.spcname, ''), COALESCE(am.amname, '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
LEFT JOIN pg_am am ON am.oid = c.relam
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND n.nspname NOT LIKE 'pg_temp%' AND c.relkind IN ('r', 'p', 'm')
