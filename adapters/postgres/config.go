package postgres

import (
	"context"

	"github.com/airouter/airouter/adapters/postgres/sqlcgen"
	"github.com/airouter/airouter/ports"
)

// LoadConfig reads providers, keys, models with routes, client keys and
// health in one repeatable-read, read-only transaction. Active and draining
// keys come with their secrets; a key whose secret does not open is marked
// invalid (after the snapshot, with compare-and-swap) and returned invalid,
// without secret. Retired keys are left out.
func (s *Store) LoadConfig(ctx context.Context) (ports.Config, error) {
	var (
		providers  []sqlcgen.Provider
		keys       []sqlcgen.ProviderKey
		models     []sqlcgen.Model
		routes     []sqlcgen.ModelRoute
		clientKeys []sqlcgen.ClientKey
		ph         []sqlcgen.ProviderHealth
		kh         []sqlcgen.KeyHealth
	)
	err := s.inTx(ctx, snapshot, func(q *sqlcgen.Queries) error {
		var err error
		if providers, err = q.ListProviders(ctx); err != nil {
			return dbError(err, "load config: providers", "provider", nil)
		}
		if keys, err = q.ListAllProviderKeysWithSecrets(ctx); err != nil {
			return dbError(err, "load config: keys", "key", nil)
		}
		if models, err = q.ListModels(ctx); err != nil {
			return dbError(err, "load config: models", "model", nil)
		}
		if routes, err = q.ListAllRoutes(ctx); err != nil {
			return dbError(err, "load config: routes", "route", nil)
		}
		if clientKeys, err = q.ListClientKeys(ctx); err != nil {
			return dbError(err, "load config: client keys", "client key", nil)
		}
		if ph, err = q.ListProviderHealth(ctx); err != nil {
			return dbError(err, "load config: provider health", "health", nil)
		}
		if kh, err = q.ListKeyHealth(ctx); err != nil {
			return dbError(err, "load config: key health", "health", nil)
		}
		return nil
	})
	if err != nil {
		return ports.Config{}, err
	}

	var cfg ports.Config
	if cfg.Providers, err = toProviders(providers); err != nil {
		return ports.Config{}, err
	}
	cfg.Keys = s.openKeys(ctx, keys)
	cfg.Models = withRoutes(models, routes)
	cfg.ClientKeys = toClientKeys(clientKeys)
	cfg.Health = toHealth(ph, kh)
	return cfg, nil
}
