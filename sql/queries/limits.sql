-- name: SyncLease :one
-- One statement settles and refills (or returns) a replica's lease; see
-- airouter_lease_sync in migration 000003.
SELECT airouter_lease_sync(sqlc.arg(client_key_id)::bigint, sqlc.arg(kind)::text, sqlc.arg(window_start)::timestamptz,
    sqlc.arg(cap)::float8, sqlc.arg(replica)::text, sqlc.arg(used)::float8, sqlc.arg(delta)::float8,
    sqlc.arg(ttl_ms)::bigint)::float8[] AS result;

-- name: GetLimitCounter :one
SELECT * FROM limit_counters WHERE client_key_id = $1 AND kind = $2 AND window_start = $3;
