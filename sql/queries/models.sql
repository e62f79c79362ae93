-- name: CreateModel :one
INSERT INTO models (name, strategy, strategy_config, enabled, context_window, default_max_tokens, capabilities)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING *;

-- name: GetModel :one
SELECT * FROM models WHERE id = $1;

-- name: GetModelForUpdate :one
SELECT * FROM models WHERE id = $1 FOR UPDATE;

-- name: GetModelByName :one
SELECT * FROM models WHERE name = $1;

-- name: ListModels :many
SELECT * FROM models ORDER BY name;

-- name: UpdateModel :one
UPDATE models
SET name = $2, strategy = $3, strategy_config = $4, enabled = $5, context_window = $6,
    default_max_tokens = $7, capabilities = $8, updated_at = now()
WHERE id = $1
RETURNING *;

-- name: DeleteModel :execrows
DELETE FROM models WHERE id = $1;
