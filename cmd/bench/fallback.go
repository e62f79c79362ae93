package main

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/airouter/airouter/adapters/postgres"
	"github.com/airouter/airouter/adapters/secretbox"
	"github.com/airouter/airouter/core/domain"
)

// storeFallback writes provider keys and model routes straight into the
// router's database through its PostgreSQL adapter, for when the admin
// API cannot (see isEmptyPathParam). The database's triggers notify the
// router, which reloads as it would after an API call. It connects
// lazily, only if needed.
type storeFallback struct {
	dbURL     string
	masterKey string

	once  sync.Once
	err   error
	pool  *pgxpool.Pool
	store *postgres.Store
}

func (f *storeFallback) open(ctx context.Context) error {
	f.once.Do(func() {
		key, err := secretbox.ParseKey(f.masterKey)
		if err != nil {
			f.err = err
			return
		}
		box, err := secretbox.New(key)
		if err != nil {
			f.err = err
			return
		}
		if f.pool, f.err = postgres.Open(ctx, f.dbURL, 2); f.err != nil {
			return
		}
		f.store, f.err = postgres.New(f.pool, box)
	})
	return f.err
}

func (f *storeFallback) addKey(ctx context.Context, providerID int64, secret string) error {
	if err := f.open(ctx); err != nil {
		return err
	}
	_, err := f.store.AddKey(ctx, domain.ProviderKey{ProviderID: providerID, Name: "k1", Secret: secret, Weight: 1, Status: domain.KeyActive})
	return err
}

func (f *storeFallback) addRoute(ctx context.Context, modelID, providerID int64, upstream string) error {
	if err := f.open(ctx); err != nil {
		return err
	}
	_, err := f.store.CreateRoute(ctx, domain.Route{ModelID: modelID, ProviderID: providerID, UpstreamModel: upstream, Weight: 1, Enabled: true})
	return err
}

func (f *storeFallback) close() {
	if f.pool != nil {
		f.pool.Close()
	}
}
