-- Lint's catalog facts: (domain, table with a column of that domain).
SELECT DISTINCT tn.nspname || '.' || ty.typname, n.nspname || '.' || c.relname
FROM pg_attribute a
JOIN pg_type ty ON ty.oid = a.atttypid AND ty.typtype = 'd' JOIN pg_namespace tn ON tn.oid = ty.typnamespace
JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p', 'm')
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
