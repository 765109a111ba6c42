-- The monitored server and the monitor's own backend (left out of every other monitor query).
SELECT split_part(current_setting('server_version'), ' ', 1), current_setting('server_version_num')::int,
       current_database(), pg_backend_pid()
