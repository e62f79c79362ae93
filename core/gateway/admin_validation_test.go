package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/ports"
)

// adminStore is the store side of the admin use cases in TestAdminValidation:
// provider "a" exists, creating another provider called "a" is a conflict
// (the unique constraint PostgreSQL enforces, tested in ports/portstest),
// and every write that reaches it is counted. The embedded interfaces are
// nil: an invalid request must fail before any other store call.
type adminStore struct {
	ports.ProviderStore
	ports.KeyStore
	ports.ModelStore
	ports.RotationStore
	writes atomic.Int64
}

func (s *adminStore) GetProviderByName(_ context.Context, name string) (domain.Provider, error) {
	if name == "a" {
		return domain.Provider{ID: 1, Name: "a", Kind: domain.KindOpenAI, Enabled: true}, nil
	}
	return domain.Provider{}, domain.Errorf(domain.CodeNotFound, "provider %q not found", name)
}

func (s *adminStore) CreateProvider(_ context.Context, p domain.Provider) (domain.Provider, error) {
	s.writes.Add(1)
	if p.Name == "a" {
		return domain.Provider{}, &domain.Error{Code: domain.CodeConflict, Field: "name", Msg: "a provider with this name exists"}
	}
	p.ID = 2
	return p, nil
}

type countingReloader struct{ n atomic.Int64 }

func (r *countingReloader) Apply(context.Context, ...ports.Change) error { r.n.Add(1); return nil }

// TestAdminValidation: the admin use cases refuse invalid providers, models
// and keys naming the field, before anything is stored or reloaded, and
// pass a store's conflict on.
func TestAdminValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := &adminStore{}
	reloads := &countingReloader{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	providers, err := gateway.NewProviders(gateway.ProvidersDeps{Store: store, Keys: store, Models: store, Reloader: reloads, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := gateway.NewProviderKeys(store, store, store, nil, reloads, log)
	if err != nil {
		t.Fatal(err)
	}
	models, err := gateway.NewModels(store, store, reloads, log)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		p     domain.Provider
		field string
	}{
		{domain.Provider{Name: "", Kind: domain.KindOpenAI}, "name"},
		{domain.Provider{Name: "x", Kind: "nope"}, "kind"},
		{domain.Provider{Name: "x", Kind: domain.KindOpenAICompatible}, "base_url"},
		{domain.Provider{Name: "x", Kind: domain.KindOpenAI, BaseURL: "ftp://x"}, "base_url"},
		{domain.Provider{Name: "x", Kind: domain.KindOpenAI, BaseURL: "https://u:p@x"}, "base_url"},
		{domain.Provider{Name: "x", Kind: domain.KindOpenAI, Headers: map[string]string{"Authorization": "x"}}, "headers.Authorization"},
		{domain.Provider{Name: "x", Kind: domain.KindOpenAI, Timeouts: domain.Timeouts{Idle: -1}}, "timeouts.idle_ms"},
	}
	for _, c := range cases {
		_, err := providers.CreateProvider(ctx, c.p)
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.CodeInvalid || de.Field != c.field {
			t.Errorf("%+v: %v, want invalid %s", c.p, err, c.field)
		}
	}
	if n := store.writes.Load(); n != 0 {
		t.Errorf("%d invalid providers reached the store", n)
	}
	if _, err := providers.CreateProvider(ctx, domain.Provider{Name: "a", Kind: domain.KindOpenAI}); domain.ErrorCode(err) != domain.CodeConflict {
		t.Errorf("duplicate: %v", err)
	}
	_, err = models.CreateModel(ctx, domain.Model{Name: "m", Strategy: domain.StrategyHybrid, StrategyConfig: json.RawMessage(`{"weights":{"latency":-1}}`)})
	var de *domain.Error
	if !errors.As(err, &de) || !strings.Contains(de.Field, "weights.latency") {
		t.Errorf("bad strategy config: %v", err)
	}
	if _, err := keys.AddKey(ctx, "a", gateway.NewKey{Secret: "short"}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Errorf("short secret: %v", err)
	}
	if n := reloads.n.Load(); n != 0 {
		t.Errorf("refused writes reloaded %d times", n)
	}
}
