-- name: UpsertRotation :one
INSERT INTO key_rotations (id, provider_id, old_key_id, new_key_id, step, status, error)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO UPDATE
SET step = EXCLUDED.step, status = EXCLUDED.status, error = EXCLUDED.error,
    old_key_id = COALESCE(EXCLUDED.old_key_id, key_rotations.old_key_id), updated_at = now()
RETURNING *;

-- name: GetRotation :one
SELECT * FROM key_rotations WHERE id = $1;

-- name: ListRotations :many
SELECT * FROM key_rotations WHERE provider_id = $1 ORDER BY started_at DESC, id LIMIT $2;
