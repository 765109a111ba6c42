-- What a server is: full version string, version number, whether it is a standby, and (primary only) its
-- current WAL write position.
SELECT current_setting('server_version'), current_setting('server_version_num')::int, pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn()::text END
