-- Schemas outside the system ones, with their owner, grants and comment.
SELECT n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner,
       ARRAY(SELECT CASE WHEN g.grantee = 0 THEN 'PUBLIC' WHEN g.grantee = n.nspowner THEN 'OWNER'
                         ELSE pg_get_userbyid(g.grantee) END
                    || ' ' || g.privilege_type
                    || CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
                    || CASE WHEN g.grantor <> n.nspowner
                            THEN ' (granted by ' || pg_get_userbyid(g.grantor) || ')' ELSE '' END
             FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) g ORDER BY 1) AS grants,
       obj_description(n.oid, 'pg_namespace') AS comment
FROM pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_namespace'::regclass
                  AND ed.objid = n.oid AND ed.deptype = 'e')
