package gateway_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/core/routing"
)

// countingStore is a fake of Observability's ports that counts the calls
// (each one query against PostgreSQL).
type countingStore struct {
	providers []domain.Provider
	keys      []domain.ProviderKey
	calls     map[string]int
}

func (c *countingStore) GetProvider(_ context.Context, id int64) (domain.Provider, error) {
	c.calls["GetProvider"]++
	for _, p := range c.providers {
		if p.ID == id {
			return p, nil
		}
	}
	return domain.Provider{}, domain.Errorf(domain.CodeNotFound, "provider %d not found", id)
}

func (c *countingStore) GetProviderByName(_ context.Context, name string) (domain.Provider, error) {
	c.calls["GetProviderByName"]++
	for _, p := range c.providers {
		if p.Name == name {
			return p, nil
		}
	}
	return domain.Provider{}, domain.Errorf(domain.CodeNotFound, "provider %q not found", name)
}

func (c *countingStore) ListProviders(context.Context) ([]domain.Provider, error) {
	c.calls["ListProviders"]++
	return c.providers, nil
}

func (c *countingStore) ListKeysOf(_ context.Context, ids []int64) ([]domain.ProviderKey, error) {
	c.calls["ListKeysOf"]++
	var out []domain.ProviderKey
	for _, k := range c.keys {
		for _, id := range ids {
			if k.ProviderID == id {
				out = append(out, k)
			}
		}
	}
	return out, nil
}

func (c *countingStore) ListHealth(context.Context) ([]domain.Health, error) {
	c.calls["ListHealth"]++
	return []domain.Health{{ProviderID: 2, Status: domain.HealthUnhealthy}, {ProviderID: 2, KeyID: 3, Status: domain.HealthHealthy}}, nil
}

func (c *countingStore) RecentChecksOf(_ context.Context, ids []int64, limit int) ([]domain.HealthCheck, error) {
	c.calls["RecentChecksOf"]++
	var out []domain.HealthCheck
	for _, id := range ids {
		for range limit {
			out = append(out, domain.HealthCheck{ProviderID: id, Status: domain.HealthHealthy})
		}
	}
	return out, nil
}

func (c *countingStore) Stats(context.Context, time.Time, time.Time, bool) ([]domain.StatsRow, error) {
	return nil, nil
}

func (c *countingStore) ListRequestLogs(context.Context, domain.RequestLogFilter) ([]domain.RequestLog, error) {
	return nil, nil
}

func (c *countingStore) RouteStats() []routing.RouteStats {
	return []routing.RouteStats{{ProviderID: 2, RouteID: 9}}
}

func (c *countingStore) KeyStats() []routing.KeyStats { return nil }

// TestHealthQueriesDoNotGrowWithProviders: the health report of 50
// providers with two keys each takes the same few queries as that of one.
func TestHealthQueriesDoNotGrowWithProviders(t *testing.T) {
	t.Parallel()
	c := &countingStore{calls: map[string]int{}}
	for i := int64(1); i <= 50; i++ {
		c.providers = append(c.providers, domain.Provider{ID: i, Name: "p" + strconv.FormatInt(i, 10)})
		c.keys = append(c.keys, domain.ProviderKey{ID: 2*i - 1, ProviderID: i}, domain.ProviderKey{ID: 2 * i, ProviderID: i})
	}
	obs, err := gateway.NewObservability(c, c, c, c, c)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := obs.Health(t.Context(), "", 5)
	if err != nil {
		t.Fatal(err)
	}
	queries := 0
	for _, n := range c.calls {
		queries += n
	}
	if queries != 4 {
		t.Errorf("Health made %d store calls (%v), want 4 whatever the number of providers", queries, c.calls)
	}
	if len(hs) != 50 {
		t.Fatalf("%d providers, want 50", len(hs))
	}
	p2 := hs[1]
	if p2.Provider.ID != 2 || p2.Health.Status != domain.HealthUnhealthy || len(p2.Keys) != 2 || len(p2.Recent) != 5 || len(p2.Routes) != 1 {
		t.Errorf("provider 2: %+v", p2)
	}
	if p2.Keys[0].Key.ID != 3 || p2.Keys[0].Health.Status != domain.HealthHealthy || p2.Keys[1].Health.Status != domain.HealthUnknown {
		t.Errorf("provider 2's keys: %+v", p2.Keys)
	}
	if hs[0].Health.Status != domain.HealthUnknown || len(hs[0].Routes) != 0 {
		t.Errorf("provider 1: %+v", hs[0])
	}

	c.calls = map[string]int{}
	one, err := obs.Health(t.Context(), "p7", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != 1 || one[0].Provider.ID != 7 || len(one[0].Keys) != 2 || one[0].Recent != nil {
		t.Errorf("Health(p7) = %+v", one)
	}
	if c.calls["RecentChecksOf"] != 0 || c.calls["ListKeysOf"] != 1 {
		t.Errorf("Health(p7, recent 0) calls %v", c.calls)
	}
	if _, err := obs.Health(t.Context(), "nope", 0); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Errorf("Health(nope) = %v, want not found", err)
	}
}
