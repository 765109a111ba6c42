-- One backend as the operator confirms an action on it: application, user, state, ages in seconds, the
-- start of the backend (identifies it beyond its pid), its query.
SELECT a.pid, a.application_name, a.usename, a.state,
       EXTRACT(EPOCH FROM (clock_timestamp() - a.xact_start))::float8,
       EXTRACT(EPOCH FROM (clock_timestamp() - a.state_change))::float8,
       a.backend_start, left(a.query, 4000)
FROM pg_stat_activity a
WHERE a.pid = %(pid)s
