-- The table a (schema, name) pair names; no schema: the caller's current_schema(), as alembic resolves it.
SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname = coalesce(%(schema)s, current_schema()) AND c.relname = %(name)s
