-- One backend's CLUSTER / VACUUM FULL progress.
SELECT command, phase, heap_blks_scanned, heap_blks_total, coalesce(relid::regclass::text, '')
FROM pg_stat_progress_cluster WHERE pid = %s
