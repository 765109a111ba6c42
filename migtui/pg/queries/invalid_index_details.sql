-- INVALID indexes in this database with their table, and whether a CREATE INDEX (CONCURRENTLY) or REINDEX is
-- building that index right now (then INVALID is its normal state until the build ends).
SELECT n.nspname, c.relname, tn.nspname, t.relname,
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid) AS building
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE NOT i.indisvalid
ORDER BY 1, 2
