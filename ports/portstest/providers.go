package portstest

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
)

var providerTests = []test{
	{"CreateGetList", func(t *testing.T, s Stores) {
		before := time.Now().Add(-time.Second)
		in := domain.Provider{
			Name: "openai-main", Kind: domain.KindOpenAI, BaseURL: "https://api.openai.com/v1", Enabled: true,
			Timeouts: domain.Timeouts{Connect: 2 * time.Second, FirstByte: 30 * time.Second, Idle: 15 * time.Second, Total: 5 * time.Minute},
			Headers:  map[string]string{"OpenAI-Organization": "org-1"},
		}
		p := must[domain.Provider](t)(s.Providers.CreateProvider(ctx(t), in))
		if p.ID == 0 || p.CreatedAt.Before(before) || !p.UpdatedAt.Equal(p.CreatedAt) {
			t.Fatalf("created %+v: want an id and creation time", p)
		}
		checkProvider(t, p, in)
		checkProvider(t, must[domain.Provider](t)(s.Providers.GetProvider(ctx(t), p.ID)), in)
		checkProvider(t, must[domain.Provider](t)(s.Providers.GetProviderByName(ctx(t), "openai-main")), in)

		mkProvider(t, s, "anthropic")
		mkProvider(t, s, "zeta")
		list := must[[]domain.Provider](t)(s.Providers.ListProviders(ctx(t)))
		var names []string
		for _, p := range list {
			names = append(names, p.Name)
		}
		if want := []string{"anthropic", "openai-main", "zeta"}; !equalStrings(names, want) {
			t.Fatalf("ListProviders names %v, want %v (by name)", names, want)
		}
	}},
	{"ZeroValues", func(t *testing.T, s Stores) {
		in := domain.Provider{Name: "bare", Kind: domain.KindOpenAICompatible, BaseURL: "http://localhost:1"}
		p := must[domain.Provider](t)(s.Providers.CreateProvider(ctx(t), in))
		checkProvider(t, p, in)
		if p.Headers != nil || p.Enabled {
			t.Fatalf("got %+v, want no headers and disabled", p)
		}
		if list := must[[]domain.Provider](t)(s.Providers.ListProviders(ctx(t))); len(list) != 1 {
			t.Fatalf("ListProviders: %d providers, want 1", len(list))
		}
	}},
	{"DuplicateName", func(t *testing.T, s Stores) {
		mkProvider(t, s, "dup")
		other := mkProvider(t, s, "other")
		_, err := s.Providers.CreateProvider(ctx(t), domain.Provider{Name: "dup", Kind: domain.KindOpenAI, BaseURL: "x"})
		wantErr(t, err, domain.CodeConflict, "name")
		_, err = s.Providers.UpdateProvider(ctx(t), other.ID, func(p *domain.Provider) error { p.Name = "dup"; return nil })
		wantErr(t, err, domain.CodeConflict, "name")
		if got := must[domain.Provider](t)(s.Providers.GetProvider(ctx(t), other.ID)); got.Name != "other" {
			t.Fatalf("a failed update changed the provider: %+v", got)
		}
	}},
	{"Invalid", func(t *testing.T, s Stores) {
		cases := []struct {
			p     domain.Provider
			field string
		}{
			{domain.Provider{Name: "k", Kind: "nope", BaseURL: "x"}, "kind"},
			{domain.Provider{Name: "bad name!", Kind: domain.KindOpenAI, BaseURL: "x"}, "name"},
			{domain.Provider{Name: "", Kind: domain.KindOpenAI, BaseURL: "x"}, "name"},
			{domain.Provider{Name: "t", Kind: domain.KindOpenAI, BaseURL: "x", Timeouts: domain.Timeouts{Idle: -time.Second}}, "timeouts"},
		}
		for _, c := range cases {
			_, err := s.Providers.CreateProvider(ctx(t), c.p)
			wantErr(t, err, domain.CodeInvalid, c.field)
		}
		p := mkProvider(t, s, "valid")
		_, err := s.Providers.UpdateProvider(ctx(t), p.ID, func(p *domain.Provider) error { p.Kind = "nope"; return nil })
		wantErr(t, err, domain.CodeInvalid, "kind")
	}},
	{"NotFound", func(t *testing.T, s Stores) {
		_, err := s.Providers.GetProvider(ctx(t), 999)
		wantErr(t, err, domain.CodeNotFound, "")
		wantMsg(t, err, "provider 999 not found")
		_, err = s.Providers.GetProviderByName(ctx(t), "nope")
		wantErr(t, err, domain.CodeNotFound, "")
		_, err = s.Providers.UpdateProvider(ctx(t), 999, func(*domain.Provider) error { return nil })
		wantErr(t, err, domain.CodeNotFound, "")
		wantErr(t, s.Providers.DeleteProvider(ctx(t), 999), domain.CodeNotFound, "")
	}},
	{"Update", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "before")
		time.Sleep(2 * time.Millisecond)
		got := must[domain.Provider](t)(s.Providers.UpdateProvider(ctx(t), p.ID, func(q *domain.Provider) error {
			if q.ID != p.ID || q.Name != "before" {
				t.Errorf("fn got %+v, want the stored provider", q)
			}
			q.ID = 12345 // ignored
			q.Name, q.Kind, q.BaseURL, q.Enabled = "after", domain.KindAnthropic, "https://a.test", false
			q.Timeouts.Total = time.Minute
			q.Headers = map[string]string{"anthropic-version": "2023-06-01"}
			return nil
		}))
		want := domain.Provider{Name: "after", Kind: domain.KindAnthropic, BaseURL: "https://a.test",
			Timeouts: domain.Timeouts{Total: time.Minute}, Headers: map[string]string{"anthropic-version": "2023-06-01"}}
		checkProvider(t, got, want)
		if got.ID != p.ID || !got.CreatedAt.Equal(p.CreatedAt) || !got.UpdatedAt.After(p.UpdatedAt) {
			t.Fatalf("updated %+v: want the same id and creation time and a later update time than %+v", got, p)
		}
		checkProvider(t, must[domain.Provider](t)(s.Providers.GetProvider(ctx(t), p.ID)), want)

		// An error from fn aborts the update and is returned as is.
		boom := errors.New("boom")
		_, err := s.Providers.UpdateProvider(ctx(t), p.ID, func(q *domain.Provider) error { q.Name = "x"; return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("got %v, want fn's error", err)
		}
		checkProvider(t, must[domain.Provider](t)(s.Providers.GetProvider(ctx(t), p.ID)), want)
	}},
	{"DeleteCascades", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "doomed")
		keep := mkProvider(t, s, "kept")
		k := mkKey(t, s, p.ID, "sk-doomed-0000000001", domain.KeyActive)
		kk := mkKey(t, s, keep.ID, "sk-kept-00000000001", domain.KeyActive)
		m := mkModel(t, s, "m",
			domain.Route{ProviderID: p.ID, UpstreamModel: "u", Weight: 1, Enabled: true},
			domain.Route{ProviderID: keep.ID, UpstreamModel: "u", Weight: 1, Enabled: true})
		ok(t, s.Health.RecordChecks(ctx(t), []domain.HealthCheck{
			{ProviderID: p.ID, Status: domain.HealthHealthy},
			{ProviderID: p.ID, KeyID: k.ID, Status: domain.HealthHealthy},
			{ProviderID: keep.ID, KeyID: kk.ID, Status: domain.HealthHealthy},
		}))
		must[domain.Rotation](t)(s.Rotations.SaveRotation(ctx(t), domain.Rotation{ID: "rot-doomed", ProviderID: p.ID, NewKeyID: k.ID}))

		ok(t, s.Providers.DeleteProvider(ctx(t), p.ID))

		_, err := s.Providers.GetProvider(ctx(t), p.ID)
		wantErr(t, err, domain.CodeNotFound, "")
		_, err = s.Keys.GetKey(ctx(t), k.ID)
		wantErr(t, err, domain.CodeNotFound, "")
		_, err = s.Models.GetRoute(ctx(t), m.Routes[0].ID)
		wantErr(t, err, domain.CodeNotFound, "")
		_, err = s.Rotations.GetRotation(ctx(t), "rot-doomed")
		wantErr(t, err, domain.CodeNotFound, "")
		_, err = s.Health.RecentChecks(ctx(t), p.ID, 10)
		wantErr(t, err, domain.CodeNotFound, "")
		for _, h := range must[[]domain.Health](t)(s.Health.ListHealth(ctx(t))) {
			if h.ProviderID == p.ID {
				t.Fatalf("health of the deleted provider remains: %+v", h)
			}
		}
		got := must[domain.Model](t)(s.Models.GetModel(ctx(t), m.ID))
		if len(got.Routes) != 1 || got.Routes[0].ProviderID != keep.ID {
			t.Fatalf("model routes after delete: %+v, want only the kept provider's", got.Routes)
		}
		if keys := must[[]domain.ProviderKey](t)(s.Keys.ListKeys(ctx(t), keep.ID)); len(keys) != 1 {
			t.Fatalf("the other provider's keys: %+v", kvs(keys))
		}
	}},
}

func checkProvider(t *testing.T, got, want domain.Provider) {
	t.Helper()
	if got.Name != want.Name || got.Kind != want.Kind || got.BaseURL != want.BaseURL || got.Enabled != want.Enabled ||
		got.Timeouts != want.Timeouts || !maps.Equal(got.Headers, want.Headers) {
		t.Fatalf("provider\n got %+v\nwant %+v", got, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
