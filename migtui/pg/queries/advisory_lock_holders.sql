-- Sessions in this database holding the advisory lock with the given bigint key, split as pg_locks shows
-- it: (classid, objid) = (high 32 bits, low 32 bits), objsubid 1.
SELECT l.pid, coalesce(a.application_name, ''), coalesce(a.backend_start::text, ''), coalesce(a.state, '')
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
