-- name: InsertResponse :exec
INSERT INTO responses (id, client_key_id, model, input, response, previous_response_id, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: GetResponse :one
-- An expired response is gone even before housekeeping deletes it.
SELECT * FROM responses
WHERE id = $1 AND client_key_id = $2 AND (expires_at IS NULL OR expires_at > sqlc.arg(now)::timestamptz);

-- name: DeleteResponse :execrows
DELETE FROM responses
WHERE id = $1 AND client_key_id = $2 AND (expires_at IS NULL OR expires_at > sqlc.arg(now)::timestamptz);

-- name: PruneResponses :execrows
DELETE FROM responses WHERE expires_at IS NOT NULL AND expires_at <= sqlc.arg(now)::timestamptz;
