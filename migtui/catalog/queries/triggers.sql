-- User triggers on tables and views; not internal ones (constraint triggers of foreign keys) nor a
-- partition's copy of its parent's trigger (tgparentid).
SELECT n.nspname AS schema, c.relname AS relname, c.relkind, tg.tgname AS name,
       pg_get_triggerdef(tg.oid, true) AS definition, tg.tgenabled::text AS enabled,
       obj_description(tg.oid, 'pg_trigger') AS comment
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT tg.tgisinternal AND coalesce((to_jsonb(tg)->>'tgparentid')::oid, 0) = 0
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_class'::regclass
                  AND ed.objid = c.oid AND ed.deptype = 'e')
  AND NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_trigger'::regclass
                  AND ed.objid = tg.oid AND ed.deptype = 'e')
  AND c.oid <> ALL(%(excluded)s::oid[])
