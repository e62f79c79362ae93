package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/routing"
)

// ProviderLister resolves and lists providers.
type ProviderLister interface {
	ProviderFinder
	ListProviders(ctx context.Context) ([]domain.Provider, error)
}

// KeysLister lists the keys of many providers in one query.
type KeysLister interface {
	// ListKeysOf returns the keys (without secrets) of the given providers,
	// by provider and id.
	ListKeysOf(ctx context.Context, providerIDs []int64) ([]domain.ProviderKey, error)
}

// HealthReader reads current health and recent checks, each in a constant
// number of queries.
type HealthReader interface {
	ListHealth(ctx context.Context) ([]domain.Health, error)
	// RecentChecksOf returns up to limit latest checks of each given
	// provider, by provider and newest first.
	RecentChecksOf(ctx context.Context, providerIDs []int64, limit int) ([]domain.HealthCheck, error)
}

// LogReader reads the request log.
type LogReader interface {
	Stats(ctx context.Context, from, to time.Time, byRoute bool) ([]domain.StatsRow, error)
	ListRequestLogs(ctx context.Context, f domain.RequestLogFilter) ([]domain.RequestLog, error)
}

// LiveStats is the router's in-memory statistics (*routing.Router).
type LiveStats interface {
	RouteStats() []routing.RouteStats
	KeyStats() []routing.KeyStats
}

// Observability is the read-only use case of health, statistics and the
// request log.
type Observability struct {
	providers ProviderLister
	keys      KeysLister
	health    HealthReader
	logs      LogReader
	live      LiveStats
}

// NewObservability checks the dependencies and returns the use case.
func NewObservability(providers ProviderLister, keys KeysLister, health HealthReader, logs LogReader, live LiveStats) (*Observability, error) {
	if providers == nil || keys == nil || health == nil || logs == nil || live == nil {
		return nil, errors.New("gateway: NewObservability needs every dependency")
	}
	return &Observability{providers: providers, keys: keys, health: health, logs: logs, live: live}, nil
}

// ProviderHealth is a provider's current health with its keys'.
type ProviderHealth struct {
	Provider domain.Provider
	Health   domain.Health
	Keys     []KeyHealth
	Routes   []routing.RouteStats
	Recent   []domain.HealthCheck
}

// KeyHealth is a key's current health.
type KeyHealth struct {
	Key    domain.ProviderKey
	Health domain.Health
}

// Health reports the health of every provider, or of one when ref is set,
// with its recent checks. It makes the same few queries whatever the number
// of providers and keys.
func (a *Observability) Health(ctx context.Context, ref string, recent int) ([]ProviderHealth, error) {
	var provs []domain.Provider
	if ref != "" {
		p, err := findProvider(ctx, a.providers, ref)
		if err != nil {
			return nil, err
		}
		provs = []domain.Provider{p}
	} else {
		var err error
		if provs, err = a.providers.ListProviders(ctx); err != nil {
			return nil, err
		}
	}
	ids := make([]int64, len(provs))
	for i, p := range provs {
		ids[i] = p.ID
	}
	hs, err := a.health.ListHealth(ctx)
	if err != nil {
		return nil, err
	}
	type healthRef struct{ provider, key int64 }
	byKey := make(map[healthRef]domain.Health, len(hs))
	for _, h := range hs {
		byKey[healthRef{h.ProviderID, h.KeyID}] = h
	}
	healthOf := func(provider, key int64) domain.Health {
		if h, ok := byKey[healthRef{provider, key}]; ok {
			return h
		}
		return domain.Health{ProviderID: provider, KeyID: key, Status: domain.HealthUnknown}
	}
	keys, err := a.keys.ListKeysOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	keysOf := map[int64][]KeyHealth{}
	for _, k := range keys {
		keysOf[k.ProviderID] = append(keysOf[k.ProviderID], KeyHealth{Key: k, Health: healthOf(k.ProviderID, k.ID)})
	}
	recentOf := map[int64][]domain.HealthCheck{}
	if recent > 0 {
		checks, err := a.health.RecentChecksOf(ctx, ids, recent)
		if err != nil {
			return nil, err
		}
		for _, c := range checks {
			recentOf[c.ProviderID] = append(recentOf[c.ProviderID], c)
		}
	}
	routesOf := map[int64][]routing.RouteStats{}
	for _, rs := range a.live.RouteStats() {
		routesOf[rs.ProviderID] = append(routesOf[rs.ProviderID], rs)
	}
	out := make([]ProviderHealth, 0, len(provs))
	for _, p := range provs {
		out = append(out, ProviderHealth{Provider: p, Health: healthOf(p.ID, 0), Keys: keysOf[p.ID],
			Routes: routesOf[p.ID], Recent: recentOf[p.ID]})
	}
	return out, nil
}

// Stats aggregates the request log over [from, to).
func (a *Observability) Stats(ctx context.Context, from, to time.Time, byRoute bool) ([]domain.StatsRow, error) {
	if err := domain.ValidateStatsRange(from, to); err != nil {
		return nil, err
	}
	return a.logs.Stats(ctx, from, to, byRoute)
}

// LiveStats returns the in-memory statistics of every route and key.
func (a *Observability) LiveStats() ([]routing.RouteStats, []routing.KeyStats) {
	return a.live.RouteStats(), a.live.KeyStats()
}

// RequestLogs pages through the request log.
func (a *Observability) RequestLogs(ctx context.Context, f domain.RequestLogFilter) ([]domain.RequestLog, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return a.logs.ListRequestLogs(ctx, f)
}
