-- VACUUM progress: (pid, relation, phase, done, total, tuples done, tuples total).
SELECT pid, relid::regclass::text, phase, heap_blks_scanned, heap_blks_total, NULL::bigint, NULL::bigint
FROM pg_stat_progress_vacuum WHERE pid <> pg_backend_pid()
