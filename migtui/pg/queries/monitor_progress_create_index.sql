-- CREATE INDEX / REINDEX progress: (pid, relation, phase, done, total, tuples done, tuples total).
SELECT pid, relid::regclass::text, phase, blocks_done, blocks_total, tuples_done, tuples_total
FROM pg_stat_progress_create_index WHERE pid <> pg_backend_pid()
