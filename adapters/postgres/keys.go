package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/airouter/airouter/adapters/postgres/sqlcgen"
	"github.com/airouter/airouter/core/domain"
)

// keyAD is the associated data a key's secret is sealed with: it binds the
// ciphertext to its row, so that a ciphertext copied elsewhere does not open.
func keyAD(providerID, keyID int64) []byte {
	return []byte("airouter:provider_key:" + strconv.FormatInt(providerID, 10) + ":" + strconv.FormatInt(keyID, 10))
}

// fingerprint identifies a secret without revealing it: "sha256:" and the
// first 12 hex digits of its SHA-256.
func fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])[:12]
}

// last4 returns the last four characters of a secret, or "" for secrets
// shorter than eight characters, which would be half revealed.
func last4(secret string) string {
	r := []rune(secret)
	if len(r) < 8 {
		return ""
	}
	return string(r[len(r)-4:])
}

// keyRow is the common shape of the provider-key queries without secret.
type keyRow struct {
	ID          int64
	ProviderID  int64
	Name        string
	Last4       string
	Fingerprint string
	Status      string
	Weight      int32
	Version     int64
	CreatedAt   time.Time
	RotatedAt   *time.Time
	ExpiresAt   *time.Time
	LastError   string
}

func toKey(r keyRow) domain.ProviderKey {
	return domain.ProviderKey{
		ID: r.ID, ProviderID: r.ProviderID, Name: r.Name, Last4: r.Last4, Fingerprint: r.Fingerprint,
		Status: domain.KeyStatus(r.Status), Weight: int(r.Weight), Version: r.Version,
		CreatedAt: r.CreatedAt, RotatedAt: r.RotatedAt, ExpiresAt: r.ExpiresAt, LastError: r.LastError,
	}
}

func secretKeyRow(r sqlcgen.ProviderKey) keyRow {
	return keyRow{r.ID, r.ProviderID, r.Name, r.Last4, r.Fingerprint, r.Status, r.Weight, r.Version,
		r.CreatedAt, r.RotatedAt, r.ExpiresAt, r.LastError}
}

// AddKey seals k.Secret and stores the key, in one transaction: the id is
// drawn first because it is part of the associated data.
func (s *Store) AddKey(ctx context.Context, k domain.ProviderKey) (domain.ProviderKey, error) {
	if k.Secret == "" {
		return domain.ProviderKey{}, domain.FieldError("secret", "is required")
	}
	if k.Status == "" {
		k.Status = domain.KeyActive
	}
	if k.Fingerprint == "" {
		k.Fingerprint = fingerprint(k.Secret)
	}
	if k.Last4 == "" {
		k.Last4 = last4(k.Secret)
	}
	weight, err := int32Field("weight", k.Weight)
	if err != nil {
		return domain.ProviderKey{}, err
	}
	var out domain.ProviderKey
	err = s.inTx(ctx, readWrite, func(q *sqlcgen.Queries) error {
		id, err := q.NextProviderKeyID(ctx)
		if err != nil {
			return dbError(err, "add key", "key", 0)
		}
		ct, err := s.box.Seal([]byte(k.Secret), keyAD(k.ProviderID, id))
		if err != nil {
			return fmt.Errorf("postgres: add key: seal: %w", err)
		}
		row, err := q.CreateProviderKey(ctx, sqlcgen.CreateProviderKeyParams{
			ID: id, ProviderID: k.ProviderID, Name: k.Name, SecretCiphertext: ct, Last4: k.Last4,
			Fingerprint: k.Fingerprint, Status: string(k.Status), Weight: weight, ExpiresAt: k.ExpiresAt,
		})
		if err != nil {
			return dbError(err, "add key", "key", id, ref{"provider_id", k.ProviderID})
		}
		out = toKey(keyRow(row))
		return nil
	})
	if err != nil {
		return domain.ProviderKey{}, err
	}
	return out, nil
}

// GetKey returns a key without its secret.
func (s *Store) GetKey(ctx context.Context, id int64) (domain.ProviderKey, error) {
	row, err := s.q.GetProviderKey(ctx, id)
	if err != nil {
		return domain.ProviderKey{}, dbError(err, "get key", "key", id)
	}
	return toKey(keyRow(row)), nil
}

// ListKeys returns a provider's keys without secrets, by id.
func (s *Store) ListKeys(ctx context.Context, providerID int64) ([]domain.ProviderKey, error) {
	rows, err := s.q.ListProviderKeys(ctx, providerID)
	if err != nil {
		return nil, dbError(err, "list keys", "provider", providerID)
	}
	if len(rows) == 0 {
		if err := s.providerExists(ctx, s.q, providerID); err != nil {
			return nil, err
		}
	}
	out := make([]domain.ProviderKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, toKey(keyRow(r)))
	}
	return out, nil
}

// KeySecret opens one key's secret. A retired key has none; a key whose
// ciphertext does not open is marked invalid.
func (s *Store) KeySecret(ctx context.Context, id int64) (string, error) {
	row, err := s.q.GetProviderKeyWithSecret(ctx, id)
	if err != nil {
		return "", dbError(err, "get key secret", "key", id)
	}
	if row.SecretCiphertext == nil {
		return "", domain.Errorf(domain.CodeConflict, "key %d is %s and has no secret", id, row.Status)
	}
	secret, _, ok := s.open(ctx, row)
	if !ok {
		return "", domain.Errorf(domain.CodeConflict, "key %d: %s", id, domain.KeyErrorUndecryptable)
	}
	return secret, nil
}

// open decrypts a key's secret. When it does not open, the key is marked
// invalid with compare-and-swap on its version and ok is false; marked is
// the updated key, or nil when a concurrent change won (the next load sees
// that change).
func (s *Store) open(ctx context.Context, r sqlcgen.ProviderKey) (secret string, marked *domain.ProviderKey, ok bool) {
	pt, err := s.box.Open(r.SecretCiphertext, keyAD(r.ProviderID, r.ID))
	if err == nil && len(pt) > 0 {
		return string(pt), nil, true
	}
	if r.Status == string(domain.KeyInvalid) && r.LastError == domain.KeyErrorUndecryptable {
		return "", nil, false
	}
	row, err := s.q.SetProviderKeyStatus(ctx, sqlcgen.SetProviderKeyStatusParams{
		Status: string(domain.KeyInvalid), LastError: domain.KeyErrorUndecryptable,
		ID: r.ID, ExpectedVersion: r.Version,
	})
	if err != nil {
		return "", nil, false
	}
	k := toKey(keyRow(row))
	return "", &k, false
}

// SetKeyStatus changes a key's status if its version is still
// expectedVersion. Retiring wipes the secret.
func (s *Store) SetKeyStatus(ctx context.Context, id, expectedVersion int64, status domain.KeyStatus, lastError string) (domain.ProviderKey, error) {
	row, err := s.q.SetProviderKeyStatus(ctx, sqlcgen.SetProviderKeyStatusParams{
		Status: string(status), LastError: lastError, ID: id, ExpectedVersion: expectedVersion,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		cur, gerr := s.q.GetProviderKey(ctx, id)
		if gerr != nil {
			return domain.ProviderKey{}, dbError(gerr, "set key status", "key", id)
		}
		return domain.ProviderKey{}, domain.Errorf(domain.CodeConflict,
			"key %d was changed concurrently: version is %d, expected %d", id, cur.Version, expectedVersion)
	}
	if err != nil {
		return domain.ProviderKey{}, dbError(err, "set key status", "key", id)
	}
	return toKey(keyRow(row)), nil
}

// UpdateKey lets fn change a key's name, weight and expiry, in one
// transaction, and bumps its version.
func (s *Store) UpdateKey(ctx context.Context, id int64, fn func(*domain.ProviderKey) error) (domain.ProviderKey, error) {
	var out domain.ProviderKey
	err := s.inTx(ctx, readWrite, func(q *sqlcgen.Queries) error {
		row, err := q.GetProviderKeyForUpdate(ctx, id)
		if err != nil {
			return dbError(err, "update key", "key", id)
		}
		k := toKey(keyRow(row))
		if err := fn(&k); err != nil {
			return err
		}
		weight, err := int32Field("weight", k.Weight)
		if err != nil {
			return err
		}
		updated, err := q.UpdateProviderKey(ctx, sqlcgen.UpdateProviderKeyParams{
			ID: id, Name: k.Name, Weight: weight, ExpiresAt: k.ExpiresAt,
		})
		if err != nil {
			return dbError(err, "update key", "key", id)
		}
		out = toKey(keyRow(updated))
		return nil
	})
	if err != nil {
		return domain.ProviderKey{}, err
	}
	return out, nil
}

// DeleteKey deletes a key and its health.
func (s *Store) DeleteKey(ctx context.Context, id int64) error {
	n, err := s.q.DeleteProviderKey(ctx, id)
	if err != nil {
		return dbError(err, "delete key", "key", id)
	}
	if n == 0 {
		return notFound("key", id)
	}
	return nil
}

// ListExpiringKeys returns active and draining keys that expire before t,
// soonest first.
func (s *Store) ListExpiringKeys(ctx context.Context, before time.Time) ([]domain.ProviderKey, error) {
	rows, err := s.q.ListExpiringProviderKeys(ctx, &before)
	if err != nil {
		return nil, dbError(err, "list expiring keys", "key", nil)
	}
	out := make([]domain.ProviderKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, toKey(keyRow(r)))
	}
	return out, nil
}
