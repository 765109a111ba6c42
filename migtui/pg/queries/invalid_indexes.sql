-- INVALID indexes in this database.
SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid
