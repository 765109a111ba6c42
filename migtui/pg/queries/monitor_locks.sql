-- Every lock but granted virtualxid ones, with the relation's qualified name when it is in this database
-- and how long an ungranted lock has waited. PostgreSQL 13 has no waitstart: monitor_locks_pg13.sql.
-- Run without parameters: format() takes a literal percent sign here.
SELECT l.pid, l.locktype, l.mode, l.granted, l.fastpath,
       l.database, l.relation, l.page, l.tuple, l.virtualxid, l.transactionid::text,
       l.classid, l.objid, l.objsubid,
       CASE WHEN c.oid IS NOT NULL THEN format('%I.%I', n.nspname, c.relname) END,
       EXTRACT(EPOCH FROM (clock_timestamp() - l.waitstart))::float8
FROM pg_locks l
LEFT JOIN pg_class c
       ON c.oid = l.relation
      AND l.database IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid IS NOT NULL AND l.pid <> pg_backend_pid()
  AND (l.locktype <> 'virtualxid' OR NOT l.granted)
ORDER BY l.pid, l.granted, l.locktype
