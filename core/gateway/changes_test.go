package gateway_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// TestApplyByKind: a change is applied by its kind and id — only the
// named provider's client is rebuilt, a model or client key change reaches
// routing and auth, health needs no load at all — and an echo of a change
// already applied installs nothing.
func TestApplyByKind(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 1)
	fx.provider(t, "a", "sk-a-00000001")
	fx.provider(t, "b", "sk-b-00000001")
	fx.model(t, "m", "", "a")
	ctx := context.Background()
	apply := func(ch ...ports.Change) {
		t.Helper()
		if err := fx.svc.Apply(ctx, ch...); err != nil {
			t.Fatal(err)
		}
	}
	a, b := fx.store.provider(t, "a"), fx.store.provider(t, "b")
	built := fx.built.Load()

	// An echo: nothing changed, nothing is rebuilt.
	apply(ports.Change{Kind: ports.ChangeProvider, ID: a.ID}, ports.Change{Kind: ports.ChangeKey, ID: 1, ProviderID: b.ID})
	if fx.built.Load() != built {
		t.Fatalf("an unchanged provider's client was rebuilt")
	}
	// Provider b changes: only b's client is rebuilt.
	fx.store.updateProvider(t, "b", func(p *domain.Provider) { p.BaseURL = "https://b.example.com/v1" }, "sk-b-replacement")
	apply(ports.Change{Kind: ports.ChangeProvider, ID: b.ID})
	if fx.built.Load() != built+1 {
		t.Fatalf("built %d clients, want exactly b's", fx.built.Load()-built)
	}
	// A new model is served after its change.
	m2 := fx.store.addModel(t, "m2", "", "b")
	if _, _, err := fx.svc.Complete(ctx, fx.call("m2", "")); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("an unapplied model was served: %v", err)
	}
	apply(ports.Change{Kind: ports.ChangeModel, ID: m2.ID})
	if _, res, err := fx.svc.Complete(ctx, fx.call("m2", "")); err != nil || res.Provider != "b" {
		t.Fatalf("after its change: %v (%+v)", err, res)
	}
	// Health goes straight to the router.
	listed := func(name string) bool {
		for _, m := range fx.svc.ListModels() {
			if m.Name == name {
				return true
			}
		}
		return false
	}
	if !listed("m") {
		t.Fatal("m not listed")
	}
	apply(ports.Change{Kind: ports.ChangeHealth, ProviderID: a.ID, Health: &domain.Health{ProviderID: a.ID, Status: domain.HealthUnhealthy, CheckedAt: time.Now()}})
	if listed("m") {
		t.Fatal("a health change did not reach the router")
	}
	// A client key: created, then disabled.
	ck, tok := fx.store.addClientKey(t, "late")
	if _, err := fx.svc.Authenticate(tok); err == nil {
		t.Fatal("an unapplied client key authenticated")
	}
	apply(ports.Change{Kind: ports.ChangeClientKey, ID: ck.ID})
	if _, err := fx.svc.Authenticate(tok); err != nil {
		t.Fatalf("after its change: %v", err)
	}
	fx.store.setClientKeyEnabled(t, ck.ID, false)
	apply(ports.Change{Kind: ports.ChangeClientKey, ID: ck.ID})
	if _, err := fx.svc.Authenticate(tok); err == nil {
		t.Fatal("a disabled client key still authenticates")
	}
	// A deleted provider's change removes it and its client.
	fx.store.mu.Lock()
	fx.store.cfg.Providers = slices.DeleteFunc(fx.store.cfg.Providers, func(p domain.Provider) bool { return p.ID == b.ID })
	fx.store.cfg.Keys = slices.DeleteFunc(fx.store.cfg.Keys, func(k domain.ProviderKey) bool { return k.ProviderID == b.ID })
	fx.store.mu.Unlock()
	apply(ports.Change{Kind: ports.ChangeProvider, ID: b.ID})
	if _, res, err := fx.svc.Complete(ctx, fx.call("m2", "")); err == nil {
		t.Fatalf("a deleted provider still serves: %+v", res)
	}
}
