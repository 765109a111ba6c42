-- The recorded phase of every phased revision (migtui.phase_state, written by migtui.phases), in the
-- order they were expanded; drift's expected schema follows them. Run only when the table exists.
SELECT revision, phase, step, plan
FROM migtui.phase_state
ORDER BY coalesce(expanded_at, created_at), revision
