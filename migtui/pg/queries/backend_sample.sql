-- What one backend is doing: state, wait, query, the locks it waits for and who holds them (as JSON).
SELECT a.state, coalesce(a.wait_event_type, ''), coalesce(a.wait_event, ''), coalesce(a.query, ''),
       CASE WHEN a.wait_event_type = 'Lock' THEN (
           SELECT string_agg(l.mode || ' on ' || l.locktype ||
                  coalesce(' ' || l.relation::regclass::text, ''), ', ')
           FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted) END,
       CASE WHEN a.wait_event_type = 'Lock' THEN (
           SELECT json_agg(json_build_object(
               'pid', b.pid, 'application_name', coalesce(b.application_name, ''),
               'state', coalesce(b.state, ''), 'xact_start', coalesce(b.xact_start::text, ''),
               'query', left(coalesce(b.query, ''), 300)))
           FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid))) END
FROM pg_stat_activity a WHERE a.pid = %s
