-- A standby's replication state as it sees it: WAL received and replayed, the bytes between them, seconds
-- since the last replayed transaction, and its WAL receiver's status (NULL when not streaming; 'unknown' when
-- a receiver runs but this role may not see its details: without pg_read_all_stats only its pid shows).
SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8,
       (SELECT coalesce(status, CASE WHEN pid IS NOT NULL THEN 'unknown' END) FROM pg_stat_wal_receiver LIMIT 1)
