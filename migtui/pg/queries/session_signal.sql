-- Cancel the query of (cancel = true) or terminate the backend %(pid)s, only if it is still the session the
-- operator confirmed (same backend_start: a pid can be reused; a role that cannot read another role's
-- backend_start sees NULL, and the server then decides by privilege alone). NULL: another backend now.
SELECT CASE
         WHEN a.backend_start IS NOT NULL AND a.backend_start IS DISTINCT FROM %(backend_start)s THEN NULL
         WHEN %(cancel)s THEN pg_cancel_backend(a.pid)
         ELSE pg_terminate_backend(a.pid)
       END
FROM pg_stat_activity a
WHERE a.pid = %(pid)s
