-- Before an apply: sessions holding or waiting for a lock on one of the given relations (qualified names,
-- %(relations)s) and sessions whose transaction is older than %(long_seconds)s seconds, with those locks.
WITH target_locks AS (
    SELECT l.pid, l.granted, l.mode, format('%%I.%%I', n.nspname, c.relname) AS rel
    FROM pg_locks l
    JOIN pg_class c ON c.oid = l.relation
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE l.locktype = 'relation'
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND format('%%I.%%I', n.nspname, c.relname) = ANY(%(relations)s)
)
SELECT a.pid, a.application_name, a.usename, a.state,
       EXTRACT(EPOCH FROM (clock_timestamp() - a.xact_start))::float8,
       EXTRACT(EPOCH FROM (clock_timestamp() - a.state_change))::float8,
       a.backend_start,
       coalesce((SELECT array_agg(DISTINCT CASE WHEN t.granted THEN 'holds ' ELSE 'waits for ' END
                                          || t.mode || ' on ' || t.rel)
                 FROM target_locks t WHERE t.pid = a.pid), '{}'),
       left(a.query, 4000)
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid() AND a.backend_type = 'client backend' AND a.datname = current_database()
  AND (EXISTS (SELECT 1 FROM target_locks t WHERE t.pid = a.pid)
       OR clock_timestamp() - a.xact_start >= make_interval(secs => %(long_seconds)s))
ORDER BY a.xact_start NULLS LAST
