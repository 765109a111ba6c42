-- Table and domain constraints; PostgreSQL 18's NOT NULL rows (contype 'n') and partitions' copies left out.
SELECT n.nspname AS schema, co.conname AS name, co.contype,
       c.relname AS relname, c.relkind, t.typname AS domain,
       pg_get_constraintdef(co.oid, true) AS definition,
       co.condeferrable, co.condeferred, co.convalidated,
       coalesce((to_jsonb(co)->>'conenforced')::boolean, true) AS enforced,
       co.confupdtype, co.confdeltype,
       obj_description(co.oid, 'pg_constraint') AS comment
FROM pg_constraint co
JOIN pg_namespace n ON n.oid = co.connamespace
LEFT JOIN pg_class c ON c.oid = co.conrelid AND co.conrelid <> 0
LEFT JOIN pg_type t ON t.oid = co.contypid AND co.contypid <> 0
WHERE co.contype <> 'n' AND co.conparentid = 0
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND (c.oid IS NOT NULL OR t.oid IS NOT NULL)
  AND coalesce(c.oid, 0) <> ALL(%(excluded)s::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_class'::regclass
                  AND ed.objid = coalesce(c.oid, 0) AND ed.deptype = 'e')
  AND NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_type'::regclass
                  AND ed.objid = coalesce(t.oid, 0) AND ed.deptype = 'e')
