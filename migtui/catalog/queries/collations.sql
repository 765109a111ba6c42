-- Collations; locale and ICU rules are read through to_jsonb because their columns differ by version.
SELECT n.nspname AS schema, c.collname AS name, c.collprovider AS provider,
       c.collisdeterministic AS deterministic, c.collcollate AS lc_collate, c.collctype AS lc_ctype,
       coalesce(to_jsonb(c)->>'colllocale', to_jsonb(c)->>'colliculocale') AS locale,
       to_jsonb(c)->>'collicurules' AS rules,
       pg_get_userbyid(c.collowner) AS owner, obj_description(c.oid, 'pg_collation') AS comment
FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_collation'::regclass
                  AND ed.objid = c.oid AND ed.deptype = 'e')
