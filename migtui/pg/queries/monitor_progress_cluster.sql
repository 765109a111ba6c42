-- CLUSTER / VACUUM FULL progress: (pid, relation, phase, done, total, tuples done, tuples total).
SELECT pid, relid::regclass::text, command || ': ' || phase, heap_blks_scanned, heap_blks_total,
       heap_tuples_written, NULL::bigint
FROM pg_stat_progress_cluster WHERE pid <> pg_backend_pid()
