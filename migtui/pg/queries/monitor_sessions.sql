-- Sessions of the given backend types, with ages in seconds and whom a lock wait is blocked by.
SELECT a.pid, a.datname, a.usename, a.application_name, host(a.client_addr), a.backend_type, a.state,
       a.wait_event_type, a.wait_event,
       EXTRACT(EPOCH FROM (clock_timestamp() - a.xact_start))::float8,
       EXTRACT(EPOCH FROM (clock_timestamp() - a.query_start))::float8,
       EXTRACT(EPOCH FROM (clock_timestamp() - a.state_change))::float8,
       left(a.query, 4000),
       CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) ELSE '{}'::int[] END
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid() AND a.backend_type = ANY(%s)
ORDER BY a.pid
