-- name: InsertRequestLogs :copyfrom
INSERT INTO request_log (ts, request_id, client_key_id, model, provider_id, provider, key_id, route_id, strategy,
                         attempts, stream, status, error_class, error_message, latency_us, ttft_us, prompt_tokens,
                         completion_tokens, cost)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19);

-- name: ListRequestLogs :many
-- Keyset pagination, newest first: pass the last row's (ts, id) as the cursor.
SELECT * FROM request_log
WHERE ts >= sqlc.arg(from_ts) AND ts < sqlc.arg(to_ts)
  AND (sqlc.narg(model)::text IS NULL OR model = sqlc.narg(model))
  AND (sqlc.narg(provider)::text IS NULL OR provider = sqlc.narg(provider))
  AND (sqlc.narg(status)::integer IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(failed)::boolean IS NULL OR (status >= 400) = sqlc.narg(failed))
  AND (sqlc.narg(before_ts)::timestamptz IS NULL OR (ts, id) < (sqlc.narg(before_ts), sqlc.arg(before_id)::bigint))
ORDER BY ts DESC, id DESC
LIMIT sqlc.arg(lim);

-- name: Stats :many
-- Per model, or with by_route per model, route and provider (per model,
-- route_id is 0 and provider '').
SELECT model,
       (CASE WHEN sqlc.arg(by_route)::boolean THEN COALESCE(route_id, 0) ELSE 0 END)::bigint AS route_id,
       (CASE WHEN sqlc.arg(by_route)::boolean THEN provider ELSE '' END)::text              AS provider,
       count(*)::bigint                                                                     AS requests,
       count(*) FILTER (WHERE status >= 400)::bigint                                        AS errors,
       COALESCE(percentile_cont(0.50) WITHIN GROUP (ORDER BY latency_us), 0)::double precision AS latency_p50,
       COALESCE(percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_us), 0)::double precision AS latency_p95,
       COALESCE(percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_us), 0)::double precision AS latency_p99,
       COALESCE(percentile_cont(0.50) WITHIN GROUP (ORDER BY ttft_us) FILTER (WHERE ttft_us > 0), 0)::double precision AS ttft_p50,
       COALESCE(percentile_cont(0.95) WITHIN GROUP (ORDER BY ttft_us) FILTER (WHERE ttft_us > 0), 0)::double precision AS ttft_p95,
       COALESCE(sum(prompt_tokens), 0)::bigint                                              AS prompt_tokens,
       COALESCE(sum(completion_tokens), 0)::bigint                                          AS completion_tokens,
       COALESCE(sum(cost), 0)::double precision                                             AS cost
FROM request_log
WHERE ts >= sqlc.arg(from_ts) AND ts < sqlc.arg(to_ts)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;

-- name: PruneRequestLogs :execrows
DELETE FROM request_log WHERE ts < $1;

-- name: StatsByClientKey :many
SELECT COALESCE(l.client_key_id, 0)::bigint                                                AS client_key_id,
       COALESCE(k.name, '')::text                                                          AS client_key,
       count(*)::bigint                                                                     AS requests,
       count(*) FILTER (WHERE l.status >= 400)::bigint                                      AS errors,
       COALESCE(percentile_cont(0.50) WITHIN GROUP (ORDER BY l.latency_us), 0)::double precision AS latency_p50,
       COALESCE(percentile_cont(0.95) WITHIN GROUP (ORDER BY l.latency_us), 0)::double precision AS latency_p95,
       COALESCE(percentile_cont(0.99) WITHIN GROUP (ORDER BY l.latency_us), 0)::double precision AS latency_p99,
       COALESCE(sum(l.prompt_tokens), 0)::bigint                                            AS prompt_tokens,
       COALESCE(sum(l.completion_tokens), 0)::bigint                                        AS completion_tokens,
       COALESCE(sum(l.cost), 0)::double precision                                           AS cost
FROM request_log l
LEFT JOIN client_keys k ON k.id = l.client_key_id
WHERE l.ts >= sqlc.arg(from_ts) AND l.ts < sqlc.arg(to_ts)
GROUP BY l.client_key_id, k.name
ORDER BY client_key_id;
