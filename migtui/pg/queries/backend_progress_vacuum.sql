-- One backend's VACUUM progress.
SELECT phase, heap_blks_scanned, heap_blks_total, coalesce(relid::regclass::text, '')
FROM pg_stat_progress_vacuum WHERE pid = %s
