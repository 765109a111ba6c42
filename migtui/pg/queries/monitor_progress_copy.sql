-- COPY progress (PostgreSQL 14+): (pid, relation, phase, done, total, tuples done, tuples total).
SELECT pid, relid::regclass::text, command || ' ' || type, bytes_processed, bytes_total,
       tuples_processed, NULL::bigint
FROM pg_stat_progress_copy WHERE pid <> pg_backend_pid()
