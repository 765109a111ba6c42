-- Lint's catalog facts: table constraints (table, name, type, validated, referenced table, definition).
SELECT n.nspname || '.' || c.relname, con.conname, con.contype::text, con.convalidated,
       CASE WHEN con.confrelid <> 0 THEN rn.nspname || '.' || r.relname END,
       pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class r ON r.oid = con.confrelid LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND n.nspname NOT LIKE 'pg_temp%'
