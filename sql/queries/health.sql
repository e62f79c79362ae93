-- name: UpsertProviderHealth :exec
INSERT INTO provider_health (provider_id, status, checked_at, latency_ms, consecutive_failures, last_error)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (provider_id) DO UPDATE
SET status = EXCLUDED.status, checked_at = EXCLUDED.checked_at, latency_ms = EXCLUDED.latency_ms,
    consecutive_failures = EXCLUDED.consecutive_failures, last_error = EXCLUDED.last_error;

-- name: UpsertKeyHealth :exec
INSERT INTO key_health (key_id, provider_id, status, checked_at, latency_ms, consecutive_failures, last_error)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (key_id) DO UPDATE
SET status = EXCLUDED.status, checked_at = EXCLUDED.checked_at, latency_ms = EXCLUDED.latency_ms,
    consecutive_failures = EXCLUDED.consecutive_failures, last_error = EXCLUDED.last_error;

-- name: RecordProviderCheck :exec
-- Updates current provider health from a probe, counting consecutive failures.
INSERT INTO provider_health (provider_id, status, checked_at, latency_ms, consecutive_failures, last_error)
VALUES (sqlc.arg(provider_id), sqlc.arg(status), sqlc.arg(checked_at), sqlc.arg(latency_ms),
        CASE WHEN sqlc.arg(status) = 'unhealthy' THEN 1 ELSE 0 END, sqlc.arg(last_error))
ON CONFLICT (provider_id) DO UPDATE
SET status = EXCLUDED.status, checked_at = EXCLUDED.checked_at, latency_ms = EXCLUDED.latency_ms,
    consecutive_failures = CASE WHEN EXCLUDED.status = 'unhealthy'
                                THEN provider_health.consecutive_failures + 1 ELSE 0 END,
    last_error = EXCLUDED.last_error;

-- name: RecordKeyCheck :exec
INSERT INTO key_health (key_id, provider_id, status, checked_at, latency_ms, consecutive_failures, last_error)
VALUES (sqlc.arg(key_id), sqlc.arg(provider_id), sqlc.arg(status), sqlc.arg(checked_at), sqlc.arg(latency_ms),
        CASE WHEN sqlc.arg(status) = 'unhealthy' THEN 1 ELSE 0 END, sqlc.arg(last_error))
ON CONFLICT (key_id) DO UPDATE
SET status = EXCLUDED.status, checked_at = EXCLUDED.checked_at, latency_ms = EXCLUDED.latency_ms,
    consecutive_failures = CASE WHEN EXCLUDED.status = 'unhealthy'
                                THEN key_health.consecutive_failures + 1 ELSE 0 END,
    last_error = EXCLUDED.last_error;

-- name: InsertHealthCheck :exec
INSERT INTO health_checks (provider_id, key_id, status, latency_ms, error, checked_at)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: ListProviderHealth :many
SELECT * FROM provider_health ORDER BY provider_id;

-- name: ListKeyHealth :many
SELECT * FROM key_health ORDER BY provider_id, key_id;

-- name: ListRecentHealthChecks :many
SELECT * FROM health_checks WHERE provider_id = $1 ORDER BY checked_at DESC, id DESC LIMIT $2;

-- name: PruneHealthChecks :execrows
DELETE FROM health_checks WHERE checked_at < $1;

-- The health report (admin GET /health) reads many providers at once, in a
-- constant number of queries.

-- name: ListRecentHealthChecksOf :many
-- The latest checks of each given provider, up to per_provider each.
SELECT c.id, c.provider_id, c.key_id, c.status, c.latency_ms, c.error, c.checked_at
FROM unnest(sqlc.arg(provider_ids)::bigint[]) AS p (id)
CROSS JOIN LATERAL (
    SELECT h.id, h.provider_id, h.key_id, h.status, h.latency_ms, h.error, h.checked_at
    FROM health_checks h WHERE h.provider_id = p.id
    ORDER BY h.checked_at DESC, h.id DESC LIMIT sqlc.arg(per_provider)::int
) c
ORDER BY c.provider_id, c.checked_at DESC, c.id DESC;

-- name: ListProviderKeysOf :many
SELECT id, provider_id, name, last4, fingerprint, status, weight, version, created_at, rotated_at, expires_at, last_error
FROM provider_keys WHERE provider_id = ANY(sqlc.arg(provider_ids)::bigint[]) ORDER BY provider_id, id;
