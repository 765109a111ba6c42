-- Bytes of WAL from the second position to the first.
SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)::bigint
