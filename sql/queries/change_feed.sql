-- name: NotifyConfigChange :exec
-- Tells every replica's listener that the configuration changed.
SELECT pg_notify('airouter_config', sqlc.arg(payload)::text);

-- name: ListenConfigChanges :exec
LISTEN airouter_config;
