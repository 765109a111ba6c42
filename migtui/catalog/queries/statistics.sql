-- Extended statistics objects (CREATE STATISTICS); target -1 is the default.
SELECT n.nspname AS schema, s.stxname AS name, pg_get_statisticsobjdef(s.oid) AS definition,
       coalesce(s.stxstattarget::int, -1) AS target,
       pg_get_userbyid(s.stxowner) AS owner, obj_description(s.oid, 'pg_statistic_ext') AS comment,
       tn.nspname AS table_schema, tc.relname AS relname
FROM pg_statistic_ext s
JOIN pg_namespace n ON n.oid = s.stxnamespace
JOIN pg_class tc ON tc.oid = s.stxrelid
JOIN pg_namespace tn ON tn.oid = tc.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND tc.oid <> ALL(%(excluded)s::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_statistic_ext'::regclass
                  AND ed.objid = s.oid AND ed.deptype = 'e')
