-- name: GetMasterKeyCheck :one
SELECT sealed FROM master_key_check WHERE id = 1;

-- name: InsertMasterKeyCheck :exec
INSERT INTO master_key_check (id, sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING;
