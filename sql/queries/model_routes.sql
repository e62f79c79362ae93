-- name: CreateRoute :one
INSERT INTO model_routes (model_id, provider_id, upstream_model, weight, priority, input_price, output_price, enabled,
                          cached_input_price)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING *;

-- name: GetRoute :one
SELECT * FROM model_routes WHERE id = $1;

-- name: GetRouteForUpdate :one
SELECT * FROM model_routes WHERE id = $1 FOR UPDATE;

-- name: ListRoutesByModel :many
SELECT * FROM model_routes WHERE model_id = $1 ORDER BY priority, id;

-- name: ListAllRoutes :many
SELECT * FROM model_routes ORDER BY model_id, priority, id;

-- name: UpdateRoute :one
UPDATE model_routes
SET provider_id = $2, upstream_model = $3, weight = $4, priority = $5, input_price = $6,
    output_price = $7, enabled = $8, cached_input_price = $9, updated_at = now()
WHERE id = $1
RETURNING *;

-- name: DeleteRoute :execrows
DELETE FROM model_routes WHERE id = $1;
