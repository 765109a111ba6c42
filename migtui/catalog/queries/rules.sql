-- Rewrite rules; a view's own _RETURN rule is its definition, not a rule.
SELECT n.nspname AS schema, c.relname AS relname, c.relkind, r.rulename AS name,
       pg_get_ruledef(r.oid, true) AS definition, r.ev_enabled::text AS enabled,
       obj_description(r.oid, 'pg_rewrite') AS comment
FROM pg_rewrite r
JOIN pg_class c ON c.oid = r.ev_class
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE r.rulename <> '_RETURN'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND c.oid <> ALL(%(excluded)s::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_class'::regclass
                  AND ed.objid = c.oid AND ed.deptype = 'e')
