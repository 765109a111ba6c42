-- Phase drivers (two-key advisory lock (class, hashtext(revision)), objsubid 2) holding the lock of one of the
-- given revisions in this database. backend_start is NULL for another role's session: shown as ''.
SELECT r.revision, l.pid, coalesce(a.application_name, ''), coalesce(a.backend_start::text, '')
FROM unnest(%s::text[]) AS r(revision)
JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.classid = %s::bigint::oid AND l.objid = hashtext(r.revision)::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
LEFT JOIN pg_stat_activity a ON a.pid = l.pid
ORDER BY r.revision, l.pid
