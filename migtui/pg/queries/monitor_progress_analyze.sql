-- ANALYZE progress: (pid, relation, phase, done, total, tuples done, tuples total).
SELECT pid, relid::regclass::text, phase, sample_blks_scanned, sample_blks_total, NULL::bigint, NULL::bigint
FROM pg_stat_progress_analyze WHERE pid <> pg_backend_pid()
