-- One backend's CREATE INDEX progress.
SELECT command, phase, blocks_done, blocks_total, tuples_done, tuples_total,
       coalesce(relid::regclass::text, ''), coalesce(index_relid::regclass::text, '')
FROM pg_stat_progress_create_index WHERE pid = %s
