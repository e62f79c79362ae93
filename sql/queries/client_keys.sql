-- name: CreateClientKey :one
INSERT INTO client_keys (name, token_sha256, prefix, enabled, allow, rpm, tpm, budget_usd, budget_period,
                         budget_hard_stop, expires_at, owner, tags)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING *;

-- name: ListClientKeys :many
SELECT * FROM client_keys ORDER BY id;

-- name: GetClientKey :one
SELECT * FROM client_keys WHERE id = $1;

-- name: GetClientKeyForUpdate :one
SELECT * FROM client_keys WHERE id = $1 FOR UPDATE;

-- name: UpdateClientKeyLimits :one
UPDATE client_keys
SET name = $2, allow = $3, rpm = $4, tpm = $5, budget_usd = $6, budget_period = $7, budget_hard_stop = $8,
    expires_at = $9, owner = $10, tags = $11
WHERE id = $1
RETURNING *;

-- name: SetClientKeyEnabled :one
UPDATE client_keys SET enabled = $2 WHERE id = $1 RETURNING *;

-- name: DeleteClientKey :execrows
DELETE FROM client_keys WHERE id = $1;

-- name: TouchClientKeys :exec
UPDATE client_keys AS c
SET last_used_at = GREATEST(COALESCE(c.last_used_at, u.used_at), u.used_at)
FROM (SELECT unnest(sqlc.arg(ids)::bigint[]) AS id, unnest(sqlc.arg(used_at)::timestamptz[]) AS used_at) AS u
WHERE c.id = u.id;
