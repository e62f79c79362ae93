-- name: NextProviderKeyID :one
SELECT nextval(pg_get_serial_sequence('provider_keys', 'id'))::bigint AS id;

-- name: CreateProviderKey :one
INSERT INTO provider_keys (id, provider_id, name, secret_ciphertext, last4, fingerprint, status, weight, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id, provider_id, name, last4, fingerprint, status, weight, version, created_at, rotated_at, expires_at, last_error;

-- name: GetProviderKey :one
SELECT id, provider_id, name, last4, fingerprint, status, weight, version, created_at, rotated_at, expires_at, last_error
FROM provider_keys WHERE id = $1;

-- name: GetProviderKeyForUpdate :one
SELECT id, provider_id, name, last4, fingerprint, status, weight, version, created_at, rotated_at, expires_at, last_error
FROM provider_keys WHERE id = $1 FOR UPDATE;

-- name: GetProviderKeyWithSecret :one
SELECT id, provider_id, name, secret_ciphertext, last4, fingerprint, status, weight, version, created_at,
       rotated_at, expires_at, last_error
FROM provider_keys WHERE id = $1;

-- name: ListProviderKeys :many
SELECT id, provider_id, name, last4, fingerprint, status, weight, version, created_at, rotated_at, expires_at, last_error
FROM provider_keys WHERE provider_id = $1 ORDER BY id;

-- name: ListAllProviderKeysWithSecrets :many
SELECT id, provider_id, name, secret_ciphertext, last4, fingerprint, status, weight, version, created_at,
       rotated_at, expires_at, last_error
FROM provider_keys WHERE status <> 'retired' ORDER BY provider_id, id;

-- name: ListProviderKeysWithSecrets :many
SELECT id, provider_id, name, secret_ciphertext, last4, fingerprint, status, weight, version, created_at,
       rotated_at, expires_at, last_error
FROM provider_keys WHERE provider_id = $1 AND status <> 'retired' ORDER BY id;

-- name: SetProviderKeyStatus :one
-- Compare-and-swap on version; retiring wipes the secret; becoming active
-- from standby or draining records the rotation time.
UPDATE provider_keys
SET status            = sqlc.arg(status),
    last_error        = sqlc.arg(last_error),
    version           = version + 1,
    secret_ciphertext = CASE WHEN sqlc.arg(status) = 'retired' THEN NULL ELSE secret_ciphertext END,
    rotated_at        = CASE WHEN sqlc.arg(status) IN ('active', 'draining', 'retired') AND status <> sqlc.arg(status)
                             THEN now() ELSE rotated_at END
WHERE id = sqlc.arg(id) AND version = sqlc.arg(expected_version)
RETURNING id, provider_id, name, last4, fingerprint, status, weight, version, created_at, rotated_at, expires_at, last_error;

-- name: UpdateProviderKey :one
UPDATE provider_keys
SET name = $2, weight = $3, expires_at = $4, version = version + 1
WHERE id = $1
RETURNING id, provider_id, name, last4, fingerprint, status, weight, version, created_at, rotated_at, expires_at, last_error;

-- name: DeleteProviderKey :execrows
DELETE FROM provider_keys WHERE id = $1;

-- name: ListExpiringProviderKeys :many
SELECT id, provider_id, name, last4, fingerprint, status, weight, version, created_at, rotated_at, expires_at, last_error
FROM provider_keys
WHERE status IN ('active', 'draining') AND expires_at IS NOT NULL AND expires_at < $1
ORDER BY expires_at;
