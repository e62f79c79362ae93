package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/airouter/airouter/adapters/postgres/sqlcgen"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// The partial loads below let a replica apply one change (ports.Change)
// without rereading the whole configuration: a provider with its own keys,
// one model with its routes, one client key.

// LoadProvider reads one provider and its keys, secrets opened as LoadConfig
// opens them, in one read-only snapshot. found is false when the provider no
// longer exists.
func (s *Store) LoadProvider(ctx context.Context, id int64) (pc ports.ProviderConfig, found bool, err error) {
	var (
		row  sqlcgen.Provider
		keys []sqlcgen.ProviderKey
	)
	err = s.inTx(ctx, snapshot, func(q *sqlcgen.Queries) error {
		var err error
		if row, err = q.GetProvider(ctx, id); err != nil {
			return err
		}
		keys, err = q.ListProviderKeysWithSecrets(ctx, id)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ports.ProviderConfig{}, false, nil
	}
	if err != nil {
		return ports.ProviderConfig{}, false, dbError(err, "load provider", "provider", id)
	}
	if pc.Provider, err = toProvider(row); err != nil {
		return ports.ProviderConfig{}, false, err
	}
	pc.Keys = s.openKeys(ctx, keys)
	return pc, true, nil
}

// LoadModel reads one model with its routes. found is false when the model
// no longer exists.
func (s *Store) LoadModel(ctx context.Context, id int64) (m domain.Model, found bool, err error) {
	var (
		row    sqlcgen.Model
		routes []sqlcgen.ModelRoute
	)
	err = s.inTx(ctx, snapshot, func(q *sqlcgen.Queries) error {
		var err error
		if row, err = q.GetModel(ctx, id); err != nil {
			return err
		}
		routes, err = q.ListRoutesByModel(ctx, id)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Model{}, false, nil
	}
	if err != nil {
		return domain.Model{}, false, dbError(err, "load model", "model", id)
	}
	return withRoutes([]sqlcgen.Model{row}, routes)[0], true, nil
}

// LoadClientKey reads one client key. found is false when it no longer
// exists.
func (s *Store) LoadClientKey(ctx context.Context, id int64) (k domain.ClientKey, found bool, err error) {
	row, err := s.q.GetClientKey(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.ClientKey{}, false, nil
	}
	if err != nil {
		return domain.ClientKey{}, false, dbError(err, "load client key", "client key", id)
	}
	return toClientKey(row), true, nil
}

// openKeys converts key rows, opening the secrets of active and draining
// keys. A key whose secret does not open is marked invalid (compare-and-swap
// on its version) and returned invalid, without secret.
func (s *Store) openKeys(ctx context.Context, rows []sqlcgen.ProviderKey) []domain.ProviderKey {
	out := make([]domain.ProviderKey, 0, len(rows))
	for _, r := range rows {
		k := toKey(secretKeyRow(r))
		if k.Status == domain.KeyActive || k.Status == domain.KeyDraining {
			secret, marked, ok := s.open(ctx, r)
			switch {
			case ok:
				k.Secret = secret
			case marked != nil:
				k = *marked
			default:
				k.Status, k.LastError = domain.KeyInvalid, domain.KeyErrorUndecryptable
			}
		}
		out = append(out, k)
	}
	return out
}
