-- name: CreateProvider :one
INSERT INTO providers (name, kind, base_url, enabled, connect_timeout_ms, first_byte_timeout_ms,
                       idle_timeout_ms, total_timeout_ms, headers)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING *;

-- name: GetProvider :one
SELECT * FROM providers WHERE id = $1;

-- name: GetProviderForUpdate :one
SELECT * FROM providers WHERE id = $1 FOR UPDATE;

-- name: GetProviderByName :one
SELECT * FROM providers WHERE name = $1;

-- name: ListProviders :many
SELECT * FROM providers ORDER BY name;

-- name: UpdateProvider :one
UPDATE providers
SET name = $2, kind = $3, base_url = $4, enabled = $5, connect_timeout_ms = $6,
    first_byte_timeout_ms = $7, idle_timeout_ms = $8, total_timeout_ms = $9, headers = $10,
    updated_at = now()
WHERE id = $1
RETURNING *;

-- name: DeleteProvider :execrows
DELETE FROM providers WHERE id = $1;
