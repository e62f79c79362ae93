package portstest

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
)

var modelTests = []test{
	{"CreateWithRoutes", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		q := mkProvider(t, s, "q")
		in := domain.Model{
			Name: "gpt-4o", Strategy: domain.StrategyFallback, StrategyConfig: json.RawMessage(`{"max_attempts": 3}`),
			Enabled: true, ContextWindow: 128000, DefaultMaxTokens: 4096,
			Routes: []domain.Route{
				{ProviderID: q.ID, UpstreamModel: "gpt-4o-q", Weight: 1, Priority: 2, InputPrice: 2.5, OutputPrice: 10, Enabled: true},
				{ProviderID: p.ID, UpstreamModel: "gpt-4o", Weight: 3, Priority: 1, InputPrice: 2.5, OutputPrice: 10, Enabled: false},
			},
		}
		m := must[domain.Model](t)(s.Models.CreateModel(ctx(t), in))
		if m.ID == 0 || m.CreatedAt.IsZero() {
			t.Fatalf("created %+v: want an id and creation time", m)
		}
		checkModel(t, m, in)
		for _, r := range m.Routes {
			if r.ID == 0 || r.ModelID != m.ID {
				t.Fatalf("route %+v: want an id and the model's id", r)
			}
		}
		checkModel(t, must[domain.Model](t)(s.Models.GetModel(ctx(t), m.ID)), in)
		checkModel(t, must[domain.Model](t)(s.Models.GetModelByName(ctx(t), "gpt-4o")), in)
		routes := must[[]domain.Route](t)(s.Models.ListRoutes(ctx(t), m.ID))
		if len(routes) != 2 || routes[0].Priority != 1 || routes[1].Priority != 2 {
			t.Fatalf("ListRoutes: %+v, want by priority", routes)
		}
		checkRoute(t, must[domain.Route](t)(s.Models.GetRoute(ctx(t), routes[0].ID)), routes[0])

		mkModel(t, s, "alpha")
		list := must[[]domain.Model](t)(s.Models.ListModels(ctx(t)))
		if len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "gpt-4o" {
			t.Fatalf("ListModels: %+v, want by name", list)
		}
		if len(list[0].Routes) != 0 || len(list[1].Routes) != 2 {
			t.Fatalf("ListModels routes: %+v", list)
		}
		if list[0].Routes == nil {
			t.Fatalf("a model without routes has nil Routes; want an empty slice")
		}
	}},
	{"StrategyConfig", func(t *testing.T, s Stores) {
		m := mkModel(t, s, "plain")
		if !jsonEqual(m.StrategyConfig, json.RawMessage(`{}`)) {
			t.Fatalf("empty strategy config stored as %s, want {}", m.StrategyConfig)
		}
		for _, bad := range []string{`[1]`, `"x"`, `{`, `null`} {
			_, err := s.Models.CreateModel(ctx(t), domain.Model{Name: "bad", StrategyConfig: json.RawMessage(bad)})
			wantErr(t, err, domain.CodeInvalid, "strategy_config")
		}
	}},
	{"Capabilities", func(t *testing.T, s Stores) {
		plain := mkModel(t, s, "plain")
		if !slices.Equal(plain.Capabilities, []domain.Capability{domain.CapChat}) {
			t.Fatalf("a model made without capabilities has %v, want [chat]", plain.Capabilities)
		}
		in := domain.Model{Name: "embed", Enabled: true, Capabilities: []domain.Capability{domain.CapEmbeddings}}
		m := must[domain.Model](t)(s.Models.CreateModel(ctx(t), in))
		checkModel(t, m, in)
		checkModel(t, must[domain.Model](t)(s.Models.GetModel(ctx(t), m.ID)), in)
		both := []domain.Capability{domain.CapImages, domain.CapChat}
		u := must[domain.Model](t)(s.Models.UpdateModel(ctx(t), m.ID, func(m *domain.Model) error {
			if !slices.Equal(m.Capabilities, in.Capabilities) {
				t.Errorf("fn got capabilities %v, want %v", m.Capabilities, in.Capabilities)
			}
			m.Capabilities = both
			return nil
		}))
		in.Capabilities = both
		checkModel(t, u, in)
		checkModel(t, must[domain.Model](t)(s.Models.GetModelByName(ctx(t), "embed")), in)
		cfg := must[portsConfig](t)(s.Config.LoadConfig(ctx(t)))
		for _, c := range cfg.Models {
			if c.ID == m.ID && !slices.Equal(c.Capabilities, both) {
				t.Fatalf("LoadConfig: capabilities %v, want %v", c.Capabilities, both)
			}
		}
		// Emptied again, the model serves chat only.
		u = must[domain.Model](t)(s.Models.UpdateModel(ctx(t), m.ID, func(m *domain.Model) error {
			m.Capabilities = nil
			return nil
		}))
		if !slices.Equal(u.Capabilities, []domain.Capability{domain.CapChat}) {
			t.Fatalf("emptied capabilities read back as %v, want [chat]", u.Capabilities)
		}
		_, err := s.Models.CreateModel(ctx(t), domain.Model{Name: "bad", Capabilities: []domain.Capability{"audio"}})
		wantErr(t, err, domain.CodeInvalid, "capabilities")
		_, err = s.Models.UpdateModel(ctx(t), m.ID, func(m *domain.Model) error {
			m.Capabilities = []domain.Capability{domain.CapChat, "video"}
			return nil
		})
		wantErr(t, err, domain.CodeInvalid, "capabilities")
	}},
	{"DuplicateAndInvalid", func(t *testing.T, s Stores) {
		mkModel(t, s, "dup")
		other := mkModel(t, s, "other")
		_, err := s.Models.CreateModel(ctx(t), domain.Model{Name: "dup"})
		wantErr(t, err, domain.CodeConflict, "name")
		_, err = s.Models.UpdateModel(ctx(t), other.ID, func(m *domain.Model) error { m.Name = "dup"; return nil })
		wantErr(t, err, domain.CodeConflict, "name")
		_, err = s.Models.CreateModel(ctx(t), domain.Model{Name: "x", Strategy: "bogus"})
		wantErr(t, err, domain.CodeInvalid, "strategy")
		_, err = s.Models.CreateModel(ctx(t), domain.Model{Name: ""})
		wantErr(t, err, domain.CodeInvalid, "name")
		_, err = s.Models.CreateModel(ctx(t), domain.Model{Name: "neg", ContextWindow: -1})
		wantErr(t, err, domain.CodeInvalid, "context_window")
	}},
	{"CreateIsAtomic", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		_, err := s.Models.CreateModel(ctx(t), domain.Model{Name: "half", Routes: []domain.Route{
			{ProviderID: p.ID, UpstreamModel: "u", Weight: 1},
			{ProviderID: 999, UpstreamModel: "u", Weight: 1},
		}})
		wantErr(t, err, domain.CodeInvalid, "provider_id")
		wantMsg(t, err, "provider 999 does not exist")
		_, err = s.Models.GetModelByName(ctx(t), "half")
		wantErr(t, err, domain.CodeNotFound, "")
		// The name is free again.
		mkModel(t, s, "half")
	}},
	{"Update", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		m := mkModel(t, s, "m", domain.Route{ProviderID: p.ID, UpstreamModel: "u", Weight: 1, Enabled: true})
		time.Sleep(2 * time.Millisecond)
		u := must[domain.Model](t)(s.Models.UpdateModel(ctx(t), m.ID, func(m *domain.Model) error {
			if len(m.Routes) != 1 {
				t.Errorf("fn got %d routes, want the current one", len(m.Routes))
			}
			m.Name, m.Strategy, m.StrategyConfig, m.Enabled = "m2", domain.StrategyHybrid, json.RawMessage(`{"a":1}`), false
			m.ContextWindow, m.DefaultMaxTokens = 8192, 1024
			m.Routes = nil // routes are not changed by UpdateModel
			return nil
		}))
		want := domain.Model{Name: "m2", Strategy: domain.StrategyHybrid, StrategyConfig: json.RawMessage(`{"a": 1}`),
			ContextWindow: 8192, DefaultMaxTokens: 1024, Routes: m.Routes}
		checkModel(t, u, want)
		if !u.CreatedAt.Equal(m.CreatedAt) || !u.UpdatedAt.After(m.UpdatedAt) {
			t.Fatalf("timestamps after update: %+v (before %+v)", u, m)
		}
		checkModel(t, must[domain.Model](t)(s.Models.GetModel(ctx(t), m.ID)), want)
		boom := errors.New("boom")
		if _, err := s.Models.UpdateModel(ctx(t), m.ID, func(*domain.Model) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("got %v, want fn's error", err)
		}
	}},
	{"Routes", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		q := mkProvider(t, s, "q")
		m := mkModel(t, s, "m")
		r := must[domain.Route](t)(s.Models.CreateRoute(ctx(t), domain.Route{ModelID: m.ID, ProviderID: p.ID, UpstreamModel: "u", Weight: 2, Enabled: true}))
		_, err := s.Models.CreateRoute(ctx(t), domain.Route{ModelID: m.ID, ProviderID: p.ID, UpstreamModel: "u"})
		wantErr(t, err, domain.CodeConflict, "upstream_model")
		_, err = s.Models.CreateRoute(ctx(t), domain.Route{ModelID: m.ID, ProviderID: 999, UpstreamModel: "u"})
		wantErr(t, err, domain.CodeInvalid, "provider_id")
		wantMsg(t, err, "provider 999 does not exist")
		_, err = s.Models.CreateRoute(ctx(t), domain.Route{ModelID: 998, ProviderID: p.ID, UpstreamModel: "u"})
		wantErr(t, err, domain.CodeInvalid, "model_id")
		wantMsg(t, err, "model 998 does not exist")
		_, err = s.Models.CreateRoute(ctx(t), domain.Route{ModelID: m.ID, ProviderID: p.ID, UpstreamModel: "v", Weight: -1})
		wantErr(t, err, domain.CodeInvalid, "weight")
		_, err = s.Models.CreateRoute(ctx(t), domain.Route{ModelID: m.ID, ProviderID: p.ID, UpstreamModel: ""})
		wantErr(t, err, domain.CodeInvalid, "upstream_model")
		_, err = s.Models.CreateRoute(ctx(t), domain.Route{ModelID: m.ID, ProviderID: p.ID, UpstreamModel: "w", InputPrice: -1})
		wantErr(t, err, domain.CodeInvalid, "input_price")

		u := must[domain.Route](t)(s.Models.UpdateRoute(ctx(t), r.ID, func(r *domain.Route) error {
			r.ModelID = 12345 // ignored
			r.ProviderID, r.UpstreamModel, r.Weight, r.Priority, r.InputPrice, r.OutputPrice, r.Enabled = q.ID, "u2", 5, 3, 1.5, 6, false
			return nil
		}))
		want := domain.Route{ID: r.ID, ModelID: m.ID, ProviderID: q.ID, UpstreamModel: "u2", Weight: 5, Priority: 3, InputPrice: 1.5, OutputPrice: 6}
		checkRoute(t, u, want)
		checkRoute(t, must[domain.Route](t)(s.Models.GetRoute(ctx(t), r.ID)), want)
		_, err = s.Models.UpdateRoute(ctx(t), r.ID, func(r *domain.Route) error { r.ProviderID = 999; return nil })
		wantErr(t, err, domain.CodeInvalid, "provider_id")

		ok(t, s.Models.DeleteRoute(ctx(t), r.ID))
		wantErr(t, s.Models.DeleteRoute(ctx(t), r.ID), domain.CodeNotFound, "")
		if routes := must[[]domain.Route](t)(s.Models.ListRoutes(ctx(t), m.ID)); len(routes) != 0 {
			t.Fatalf("routes after delete: %+v", routes)
		}
	}},
	{"DeleteAndNotFound", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		m := mkModel(t, s, "m", domain.Route{ProviderID: p.ID, UpstreamModel: "u"})
		ok(t, s.Models.DeleteModel(ctx(t), m.ID))
		_, err := s.Models.GetModel(ctx(t), m.ID)
		wantErr(t, err, domain.CodeNotFound, "")
		_, err = s.Models.GetRoute(ctx(t), m.Routes[0].ID)
		wantErr(t, err, domain.CodeNotFound, "")
		wantErr(t, s.Models.DeleteModel(ctx(t), m.ID), domain.CodeNotFound, "")
		_, err = s.Models.GetModelByName(ctx(t), "m")
		wantErr(t, err, domain.CodeNotFound, "")
		_, err = s.Models.UpdateModel(ctx(t), m.ID, func(*domain.Model) error { return nil })
		wantErr(t, err, domain.CodeNotFound, "")
		_, err = s.Models.ListRoutes(ctx(t), m.ID)
		wantErr(t, err, domain.CodeNotFound, "")
		_, err = s.Models.UpdateRoute(ctx(t), 999, func(*domain.Route) error { return nil })
		wantErr(t, err, domain.CodeNotFound, "")
		wantMsg(t, err, "route 999 not found")
		if got := must[domain.Provider](t)(s.Providers.GetProvider(ctx(t), p.ID)); got.ID != p.ID {
			t.Fatalf("deleting a model touched its provider")
		}
	}},
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

func checkModel(t *testing.T, got, want domain.Model) {
	t.Helper()
	wantCfg := want.StrategyConfig
	if len(wantCfg) == 0 {
		wantCfg = json.RawMessage(`{}`)
	}
	if got.Name != want.Name || got.Strategy != want.Strategy || !jsonEqual(got.StrategyConfig, wantCfg) ||
		got.Enabled != want.Enabled || got.ContextWindow != want.ContextWindow || got.DefaultMaxTokens != want.DefaultMaxTokens {
		t.Fatalf("model\n got %+v (config %s)\nwant %+v (config %s)", got, got.StrategyConfig, want, wantCfg)
	}
	wantCaps := want.Capabilities
	if len(wantCaps) == 0 {
		wantCaps = []domain.Capability{domain.CapChat}
	}
	if !slices.Equal(got.Capabilities, wantCaps) {
		t.Fatalf("model capabilities %v, want %v", got.Capabilities, wantCaps)
	}
	if len(got.Routes) != len(want.Routes) {
		t.Fatalf("model routes\n got %+v\nwant %+v", got.Routes, want.Routes)
	}
	// Routes come by priority, then id; want lists them in any order.
	for _, w := range want.Routes {
		found := false
		for _, g := range got.Routes {
			if g.ProviderID == w.ProviderID && g.UpstreamModel == w.UpstreamModel {
				found = true
				w.ID, w.ModelID = g.ID, g.ModelID
				checkRoute(t, g, w)
			}
		}
		if !found {
			t.Fatalf("route %+v missing from %+v", w, got.Routes)
		}
	}
	for i := 1; i < len(got.Routes); i++ {
		a, b := got.Routes[i-1], got.Routes[i]
		if a.Priority > b.Priority || a.Priority == b.Priority && a.ID > b.ID {
			t.Fatalf("routes not by priority, then id: %+v", got.Routes)
		}
	}
}

func checkRoute(t *testing.T, got, want domain.Route) {
	t.Helper()
	if got.ID != want.ID || got.ModelID != want.ModelID || got.ProviderID != want.ProviderID ||
		got.UpstreamModel != want.UpstreamModel || got.Weight != want.Weight || got.Priority != want.Priority ||
		got.InputPrice != want.InputPrice || got.OutputPrice != want.OutputPrice || got.Enabled != want.Enabled {
		t.Fatalf("route\n got %+v\nwant %+v", got, want)
	}
}
