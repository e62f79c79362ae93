package postgres

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// TestChangesNameWhatChanged checks that every write's notification says
// what changed (and, for health, carries the row), and that the partial
// loads read just that part.
func TestChangesNameWhatChanged(t *testing.T) {
	t.Parallel()
	u := migratedDB(t)
	s := newStore(t, openPool(t, u), newBox(t))
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan ports.Change, 256)
	done := make(chan error, 1)
	go func() { done <- s.Listen(ctx, func(c ports.Change) { got <- c }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Listen: %v", err)
		}
	}()
	// The first change is the resync every Listen starts with.
	select {
	case c := <-got:
		if c.Kind != ports.ChangeResync {
			t.Fatalf("first change %+v, want resync", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no resync at the start of Listen")
	}
	expect := func(what string, match func(ports.Change) bool) ports.Change {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case c := <-got:
				if match(c) {
					return c
				}
			case <-deadline:
				t.Fatalf("no change for %s", what)
			}
		}
	}

	p, err := s.CreateProvider(t.Context(), domain.Provider{Name: "p", Kind: domain.KindOpenAI, BaseURL: "https://api.openai.com/v1", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	expect("the provider", func(c ports.Change) bool { return c == ports.Change{Kind: ports.ChangeProvider, ID: p.ID} })
	k, err := s.AddKey(t.Context(), domain.ProviderKey{ProviderID: p.ID, Secret: "sk-change-0000001"})
	if err != nil {
		t.Fatal(err)
	}
	expect("the key", func(c ports.Change) bool {
		return c == ports.Change{Kind: ports.ChangeKey, ID: k.ID, ProviderID: p.ID}
	})
	m, err := s.CreateModel(t.Context(), domain.Model{Name: "m", Enabled: true,
		Routes: []domain.Route{{ProviderID: p.ID, UpstreamModel: "gpt", Weight: 1, Enabled: true}}})
	if err != nil {
		t.Fatal(err)
	}
	expect("the model", func(c ports.Change) bool { return c == ports.Change{Kind: ports.ChangeModel, ID: m.ID} })
	ck, err := s.CreateClientKey(t.Context(), domain.ClientKey{Name: "c", Hash: make32("change-token"), Prefix: "sk-ar-c", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	expect("the client key", func(c ports.Change) bool { return c == ports.Change{Kind: ports.ChangeClientKey, ID: ck.ID} })

	at := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.RecordChecks(t.Context(), []domain.HealthCheck{
		{ProviderID: p.ID, Status: domain.HealthUnhealthy, Latency: 12 * time.Millisecond, Error: "boom", CheckedAt: at},
		{ProviderID: p.ID, KeyID: k.ID, Status: domain.HealthHealthy, Latency: 7 * time.Millisecond, CheckedAt: at},
	}); err != nil {
		t.Fatal(err)
	}
	for _, keyID := range []int64{0, k.ID} {
		c := expect("health", func(c ports.Change) bool {
			return c.Kind == ports.ChangeHealth && c.ProviderID == p.ID && c.ID == keyID
		})
		h := c.Health
		if h == nil || h.ProviderID != p.ID || h.KeyID != keyID || !h.CheckedAt.Equal(at) {
			t.Fatalf("health change %+v carries %+v", c, h)
		}
		if keyID == 0 && (h.Status != domain.HealthUnhealthy || h.Latency != 12*time.Millisecond || h.ConsecutiveFailures != 1 || h.LastError != "boom") {
			t.Fatalf("provider health %+v", h)
		}
		if keyID != 0 && (h.Status != domain.HealthHealthy || h.Latency != 7*time.Millisecond || h.ConsecutiveFailures != 0) {
			t.Fatalf("key health %+v", h)
		}
	}

	// Partial loads.
	pc, found, err := s.LoadProvider(t.Context(), p.ID)
	if err != nil || !found || pc.Provider.Name != "p" || len(pc.Keys) != 1 || pc.Keys[0].Secret != "sk-change-0000001" {
		t.Fatalf("LoadProvider = %+v, %v, %v", pc, found, err)
	}
	lm, found, err := s.LoadModel(t.Context(), m.ID)
	if err != nil || !found || lm.Name != "m" || len(lm.Routes) != 1 || lm.Routes[0].UpstreamModel != "gpt" {
		t.Fatalf("LoadModel = %+v, %v, %v", lm, found, err)
	}
	lk, found, err := s.LoadClientKey(t.Context(), ck.ID)
	if err != nil || !found || lk.Name != "c" || !lk.Enabled {
		t.Fatalf("LoadClientKey = %+v, %v, %v", lk, found, err)
	}

	// Deleting the provider names it, its key and its model (the route
	// went with it); the loads then say not found.
	if err := s.DeleteProvider(t.Context(), p.ID); err != nil {
		t.Fatal(err)
	}
	expect("the deleted provider", func(c ports.Change) bool { return c == ports.Change{Kind: ports.ChangeProvider, ID: p.ID} })
	if _, found, err := s.LoadProvider(t.Context(), p.ID); err != nil || found {
		t.Fatalf("LoadProvider of a deleted provider: found %v, %v", found, err)
	}
	if _, found, err := s.LoadModel(t.Context(), m.ID+1000); err != nil || found {
		t.Fatalf("LoadModel of a missing model: found %v, %v", found, err)
	}
	if _, found, err := s.LoadClientKey(t.Context(), ck.ID+1000); err != nil || found {
		t.Fatalf("LoadClientKey of a missing key: found %v, %v", found, err)
	}
}

func TestParseChange(t *testing.T) {
	t.Parallel()
	for payload, want := range map[string]ports.Change{
		`{"kind":"provider","id":3}`:                            {Kind: ports.ChangeProvider, ID: 3},
		`{"kind":"key","id":4,"provider":3}`:                    {Kind: ports.ChangeKey, ID: 4, ProviderID: 3},
		`{"kind":"key","id":4}`:                                 {Kind: ports.ChangeResync},
		`{"kind":"model","id":0}`:                               {Kind: ports.ChangeResync},
		`{"kind":"client_key","id":8}`:                          {Kind: ports.ChangeClientKey, ID: 8},
		`{"kind":"health","provider":3,"key":4,"deleted":true}`: {Kind: ports.ChangeHealth, ID: 4, ProviderID: 3},
		`providers`:                  {Kind: ports.ChangeResync},
		`{"kind":"whatever","id":1}`: {Kind: ports.ChangeResync},
		`{not json`:                  {Kind: ports.ChangeResync},
	} {
		if got := parseChange(payload); got != want {
			t.Errorf("parseChange(%s) = %+v, want %+v", payload, got, want)
		}
	}
}

// seedFleet writes n providers with two keys each, a model per provider
// with two routes, and health for every provider and key: the shape the
// reload figures in the README were measured on.
func seedFleet(tb testing.TB, s *Store, n int) []domain.Provider {
	tb.Helper()
	ctx := context.Background()
	var ps []domain.Provider
	var checks []domain.HealthCheck
	for i := range n {
		p, err := s.CreateProvider(ctx, domain.Provider{Name: fmt.Sprintf("p%d", i), Kind: domain.KindOpenAI, BaseURL: "https://api.openai.com/v1", Enabled: true})
		if err != nil {
			tb.Fatal(err)
		}
		ps = append(ps, p)
		checks = append(checks, domain.HealthCheck{ProviderID: p.ID, Status: domain.HealthHealthy})
		for j := range 2 {
			k, err := s.AddKey(ctx, domain.ProviderKey{ProviderID: p.ID, Secret: fmt.Sprintf("sk-fleet-%04d-%d-000000", i, j)})
			if err != nil {
				tb.Fatal(err)
			}
			checks = append(checks, domain.HealthCheck{ProviderID: p.ID, KeyID: k.ID, Status: domain.HealthHealthy})
		}
	}
	for i, p := range ps {
		other := ps[(i+1)%len(ps)]
		if _, err := s.CreateModel(ctx, domain.Model{Name: fmt.Sprintf("m%d", i), Enabled: true, Routes: []domain.Route{
			{ProviderID: p.ID, UpstreamModel: "gpt", Weight: 1, Enabled: true},
			{ProviderID: other.ID, UpstreamModel: "gpt", Weight: 1, Enabled: true},
		}}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.RecordChecks(ctx, checks); err != nil {
		tb.Fatal(err)
	}
	return ps
}

// BenchmarkLoadConfig50 is a full reload of 50 providers (100 keys, all
// decrypted), 50 models with 100 routes and 150 health rows.
func BenchmarkLoadConfig50(b *testing.B) {
	s := fleetStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.LoadConfig(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadProvider50 reloads one provider of the same fleet: what a
// provider or key change costs a replica now.
func BenchmarkLoadProvider50(b *testing.B) {
	s := fleetStore(b)
	pc, err := s.LoadConfig(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	id := pc.Providers[len(pc.Providers)/2].ID
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.LoadProvider(b.Context(), id); err != nil {
			b.Fatal(err)
		}
	}
}

func fleetStore(b *testing.B) *Store {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		b.Skip("TEST_DATABASE_URL not set")
	}
	s := benchStore(b)
	seedFleet(b, s, 50)
	return s
}
