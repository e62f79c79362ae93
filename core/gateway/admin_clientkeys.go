package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// ClientKeyEditor is what ClientKeys needs of the client-key store.
type ClientKeyEditor interface {
	CreateClientKey(ctx context.Context, k domain.ClientKey) (domain.ClientKey, error)
	ListClientKeys(ctx context.Context) ([]domain.ClientKey, error)
	SetClientKeyEnabled(ctx context.Context, id int64, enabled bool) (domain.ClientKey, error)
	UpdateClientKey(ctx context.Context, id int64, fn func(*domain.ClientKey) error) (domain.ClientKey, error)
	DeleteClientKey(ctx context.Context, id int64) error
}

// ClientKeyStatsReader aggregates the request log per client key.
type ClientKeyStatsReader interface {
	StatsByClientKey(ctx context.Context, from, to time.Time) ([]domain.ClientKeyStats, error)
}

// ClientKeys is the use case of the router's own API keys.
type ClientKeys struct {
	store ClientKeyEditor
	stats ClientKeyStatsReader
	applier
}

// NewClientKeys checks the dependencies and returns the use case.
func NewClientKeys(store ClientKeyEditor, stats ClientKeyStatsReader, r Reloader, log *slog.Logger) (*ClientKeys, error) {
	if store == nil || stats == nil {
		return nil, errors.New("gateway: NewClientKeys needs a client-key store and a stats reader")
	}
	ap, err := newApplier(r, log)
	if err != nil {
		return nil, err
	}
	return &ClientKeys{store: store, stats: stats, applier: ap}, nil
}

// ClientKeyPrefix starts every client token.
const ClientKeyPrefix = "sk-ar-"

// NewClientToken returns a fresh random client token.
func NewClientToken() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return ClientKeyPrefix + hex.EncodeToString(b[:]), nil
}

// ClientKeyFor is the stored form of a token: its SHA-256 and a short
// prefix to recognise it by.
func ClientKeyFor(name, token string) domain.ClientKey {
	h := sha256.Sum256([]byte(token))
	return domain.ClientKey{Name: name, Hash: h[:], Prefix: token[:min(len(token), len(ClientKeyPrefix)+4)], Enabled: true}
}

// CreateClientKey creates a client key and returns its token, the only time
// it is ever shown.
func (a *ClientKeys) CreateClientKey(ctx context.Context, name string) (domain.ClientKey, string, error) {
	return a.CreateLimitedClientKey(ctx, domain.ClientKey{Name: name})
}

// CreateLimitedClientKey creates a client key with spec's name, limits and
// metadata and returns its token, the only time it is ever shown.
func (a *ClientKeys) CreateLimitedClientKey(ctx context.Context, spec domain.ClientKey) (domain.ClientKey, string, error) {
	if err := spec.Validate(); err != nil {
		return domain.ClientKey{}, "", err
	}
	token, err := NewClientToken()
	if err != nil {
		return domain.ClientKey{}, "", err
	}
	k := ClientKeyFor(spec.Name, token)
	k.Limits, k.Owner, k.Tags = spec.Limits, spec.Owner, spec.Tags
	out, err := a.store.CreateClientKey(ctx, k)
	if err != nil {
		return out, "", err
	}
	a.applied(ctx, changed(ports.ChangeClientKey, out.ID))
	return out, token, nil
}

// ListClientKeys lists client keys (digests are not returned by the API).
func (a *ClientKeys) ListClientKeys(ctx context.Context) ([]domain.ClientKey, error) {
	return a.store.ListClientKeys(ctx)
}

// SetClientKeyEnabled revokes or restores a client key.
func (a *ClientKeys) SetClientKeyEnabled(ctx context.Context, id int64, enabled bool) (domain.ClientKey, error) {
	out, err := a.store.SetClientKeyEnabled(ctx, id, enabled)
	if err != nil {
		return out, err
	}
	a.applied(ctx, changed(ports.ChangeClientKey, id))
	return out, nil
}

// UpdateClientKey changes a client key's name, limits and metadata; fn
// edits the stored key, which is validated afterwards.
func (a *ClientKeys) UpdateClientKey(ctx context.Context, id int64, fn func(*domain.ClientKey) error) (domain.ClientKey, error) {
	out, err := a.store.UpdateClientKey(ctx, id, func(k *domain.ClientKey) error {
		if err := fn(k); err != nil {
			return err
		}
		return k.Validate()
	})
	if err != nil {
		return out, err
	}
	a.applied(ctx, changed(ports.ChangeClientKey, id))
	return out, nil
}

// ClientKeyStats aggregates the request log per client key.
func (a *ClientKeys) ClientKeyStats(ctx context.Context, from, to time.Time) ([]domain.ClientKeyStats, error) {
	return a.stats.StatsByClientKey(ctx, from, to)
}

// DeleteClientKey deletes a client key.
func (a *ClientKeys) DeleteClientKey(ctx context.Context, id int64) error {
	if err := a.store.DeleteClientKey(ctx, id); err != nil {
		return err
	}
	a.applied(ctx, changed(ports.ChangeClientKey, id))
	return nil
}
