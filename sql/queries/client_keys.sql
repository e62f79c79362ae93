-- name: CreateClientKey :one
INSERT INTO client_keys (name, token_sha256, prefix, enabled)
VALUES ($1, $2, $3, $4)
RETURNING *;

-- name: ListClientKeys :many
SELECT * FROM client_keys ORDER BY id;

-- name: SetClientKeyEnabled :one
UPDATE client_keys SET enabled = $2 WHERE id = $1 RETURNING *;

-- name: DeleteClientKey :execrows
DELETE FROM client_keys WHERE id = $1;

-- name: TouchClientKeys :exec
UPDATE client_keys AS c
SET last_used_at = GREATEST(COALESCE(c.last_used_at, u.used_at), u.used_at)
FROM (SELECT unnest(sqlc.arg(ids)::bigint[]) AS id, unnest(sqlc.arg(used_at)::timestamptz[]) AS used_at) AS u
WHERE c.id = u.id;
