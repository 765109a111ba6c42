-- Functions, procedures, aggregates and window functions; not the ones a type owns (a range type's
-- constructors). The PostgreSQL 13 form of functions.sql: no SQL-standard bodies (prosqlbody) yet.
SELECT n.nspname AS schema, p.proname AS name, pg_get_function_identity_arguments(p.oid) AS identity,
       p.prokind, pg_get_function_arguments(p.oid) AS arguments,
       CASE WHEN p.prokind <> 'p' THEN pg_get_function_result(p.oid) END AS returns,
       l.lanname AS language, p.provolatile, p.prosecdef, p.proisstrict, p.proleakproof, p.proparallel,
       p.procost, p.prorows, ARRAY(SELECT x FROM unnest(p.proconfig) x ORDER BY 1) AS config,
       p.prosrc AS body,
       p.probin,
       pg_get_userbyid(p.proowner) AS owner,
       ARRAY(SELECT CASE WHEN g.grantee = 0 THEN 'PUBLIC' WHEN g.grantee = p.proowner THEN 'OWNER'
                         ELSE pg_get_userbyid(g.grantee) END
                    || ' ' || g.privilege_type
                    || CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
                    || CASE WHEN g.grantor <> p.proowner
                            THEN ' (granted by ' || pg_get_userbyid(g.grantor) || ')' ELSE '' END
             FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) g ORDER BY 1) AS grants,
       obj_description(p.oid, 'pg_proc') AS comment,
       ag.aggtransfn::regproc::text AS agg_transfn,
       nullif(ag.aggfinalfn::regproc::text, '-') AS agg_finalfn,
       format_type(ag.aggtranstype, NULL) AS agg_stype, ag.agginitval AS agg_initcond,
       nullif(ag.aggcombinefn::regproc::text, '-') AS agg_combinefn
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
LEFT JOIN pg_aggregate ag ON ag.aggfnoid = p.oid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_proc'::regclass
                  AND ed.objid = p.oid AND ed.deptype = 'e')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                  AND d.deptype = 'i')
