-- name: ListenConfigChanges :exec
LISTEN airouter_config;
