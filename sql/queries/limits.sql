-- name: SyncLease :one
-- One statement settles and refills (or returns) a replica's lease; see
-- airouter_lease_sync in migration 000003.
SELECT airouter_lease_sync(sqlc.arg(client_key_id)::bigint, sqlc.arg(kind)::text, sqlc.arg(window_start)::timestamptz,
    sqlc.arg(cap)::float8, sqlc.arg(replica)::text, sqlc.arg(used)::float8, sqlc.arg(delta)::float8,
    sqlc.arg(ttl_ms)::bigint)::float8[] AS result;

-- name: GetLimitCounter :one
SELECT * FROM limit_counters WHERE client_key_id = $1 AND kind = $2 AND window_start = $3;

-- name: PruneLimitCounters :execrows
-- Counters of windows that ended long ago (their leases go with them):
-- minute windows an hour before now, daily and monthly budget windows that
-- started over 62 days before now. Total budgets (window at the epoch) stay.
DELETE FROM limit_counters
WHERE (kind IN ('rpm', 'tpm') AND window_start < sqlc.arg(now)::timestamptz - interval '1 hour')
   OR (kind = 'budget' AND window_start > 'epoch'::timestamptz
       AND window_start < sqlc.arg(now)::timestamptz - interval '62 days');
