-- Event triggers (database-wide, no schema).
SELECT e.evtname AS name, e.evtevent AS event, e.evtfoid::regproc::text AS function,
       ARRAY(SELECT x FROM unnest(e.evttags) x ORDER BY 1) AS tags, e.evtenabled::text AS enabled,
       pg_get_userbyid(e.evtowner) AS owner, obj_description(e.oid, 'pg_event_trigger') AS comment
FROM pg_event_trigger e
WHERE NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_event_trigger'::regclass
                  AND ed.objid = e.oid AND ed.deptype = 'e')
