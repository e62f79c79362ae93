package portstest

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
)

func hash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

var clientKeyTests = []test{
	{"CreateListEnableDelete", func(t *testing.T, s Stores) {
		a := must[domain.ClientKey](t)(s.ClientKeys.CreateClientKey(ctx(t), domain.ClientKey{
			Name: "ci", Hash: hash("ar-token-a"), Prefix: "ar-tok", Enabled: true,
		}))
		if a.ID == 0 || a.CreatedAt.IsZero() || a.LastUsedAt != nil || !a.Enabled || a.Name != "ci" ||
			a.Prefix != "ar-tok" || !bytes.Equal(a.Hash, hash("ar-token-a")) {
			t.Fatalf("created %+v", a)
		}
		b := must[domain.ClientKey](t)(s.ClientKeys.CreateClientKey(ctx(t), domain.ClientKey{Name: "b", Hash: hash("ar-token-b")}))
		list := must[[]domain.ClientKey](t)(s.ClientKeys.ListClientKeys(ctx(t)))
		if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID || list[1].Enabled {
			t.Fatalf("ListClientKeys: %+v, want both by id", list)
		}
		d := must[domain.ClientKey](t)(s.ClientKeys.SetClientKeyEnabled(ctx(t), a.ID, false))
		if d.Enabled || d.ID != a.ID || d.Name != "ci" {
			t.Fatalf("after disabling: %+v", d)
		}
		ok(t, s.ClientKeys.DeleteClientKey(ctx(t), b.ID))
		list = must[[]domain.ClientKey](t)(s.ClientKeys.ListClientKeys(ctx(t)))
		if len(list) != 1 || list[0].ID != a.ID || list[0].Enabled {
			t.Fatalf("after delete: %+v", list)
		}
	}},
	{"ConflictsAndNotFound", func(t *testing.T, s Stores) {
		must[domain.ClientKey](t)(s.ClientKeys.CreateClientKey(ctx(t), domain.ClientKey{Name: "one", Hash: hash("t1")}))
		_, err := s.ClientKeys.CreateClientKey(ctx(t), domain.ClientKey{Name: "one", Hash: hash("t2")})
		wantErr(t, err, domain.CodeConflict, "name")
		_, err = s.ClientKeys.CreateClientKey(ctx(t), domain.ClientKey{Name: "two", Hash: hash("t1")})
		wantErr(t, err, domain.CodeConflict, "hash")
		_, err = s.ClientKeys.CreateClientKey(ctx(t), domain.ClientKey{Name: "three", Hash: []byte("short")})
		wantErr(t, err, domain.CodeInvalid, "hash")
		_, err = s.ClientKeys.SetClientKeyEnabled(ctx(t), 999, true)
		wantErr(t, err, domain.CodeNotFound, "")
		wantMsg(t, err, "client key 999 not found")
		wantErr(t, s.ClientKeys.DeleteClientKey(ctx(t), 999), domain.CodeNotFound, "")
	}},
	{"Touch", func(t *testing.T, s Stores) {
		a := must[domain.ClientKey](t)(s.ClientKeys.CreateClientKey(ctx(t), domain.ClientKey{Name: "a", Hash: hash("a")}))
		b := must[domain.ClientKey](t)(s.ClientKeys.CreateClientKey(ctx(t), domain.ClientKey{Name: "b", Hash: hash("b")}))
		c := must[domain.ClientKey](t)(s.ClientKeys.CreateClientKey(ctx(t), domain.ClientKey{Name: "c", Hash: hash("c")}))
		t1 := ms(time.Now())
		t0 := t1.Add(-time.Minute)
		ok(t, s.ClientKeys.TouchClientKeys(ctx(t), nil))
		ok(t, s.ClientKeys.TouchClientKeys(ctx(t), map[int64]time.Time{a.ID: t1, b.ID: t0, 999: t1}))
		ok(t, s.ClientKeys.TouchClientKeys(ctx(t), map[int64]time.Time{a.ID: t0, b.ID: t1})) // a never moves back
		byID := map[int64]domain.ClientKey{}
		for _, k := range must[[]domain.ClientKey](t)(s.ClientKeys.ListClientKeys(ctx(t))) {
			byID[k.ID] = k
		}
		if !sameTimePtr(byID[a.ID].LastUsedAt, &t1) || !sameTimePtr(byID[b.ID].LastUsedAt, &t1) || byID[c.ID].LastUsedAt != nil {
			t.Fatalf("last used: a %v, b %v, c %v; want %v, %v, never", byID[a.ID].LastUsedAt, byID[b.ID].LastUsedAt, byID[c.ID].LastUsedAt, t1, t1)
		}
	}},
}

var configTests = []test{
	{"Empty", func(t *testing.T, s Stores) {
		cfg := must[portsConfig](t)(s.Config.LoadConfig(ctx(t)))
		if len(cfg.Providers)+len(cfg.Keys)+len(cfg.Models)+len(cfg.ClientKeys)+len(cfg.Health) != 0 {
			t.Fatalf("config of an empty store: %+v", cfg)
		}
	}},
	{"Snapshot", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		q := mkProvider(t, s, "q")
		active := mkKey(t, s, p.ID, "sk-active-0000000001", domain.KeyActive)
		draining := mkKey(t, s, p.ID, "sk-draining-00000001", domain.KeyDraining)
		standby := mkKey(t, s, p.ID, "sk-standby-000000001", domain.KeyStandby)
		disabled := mkKey(t, s, q.ID, "sk-disabled-00000001", domain.KeyDisabled)
		invalid := mkKey(t, s, q.ID, "sk-invalid-000000001", domain.KeyInvalid)
		retired := mkKey(t, s, q.ID, "sk-retired-000000001", domain.KeyActive)
		retired = must[domain.ProviderKey](t)(s.Keys.SetKeyStatus(ctx(t), retired.ID, retired.Version, domain.KeyRetired, ""))
		m := mkModel(t, s, "m",
			domain.Route{ProviderID: p.ID, UpstreamModel: "up", Weight: 1, Enabled: true},
			domain.Route{ProviderID: q.ID, UpstreamModel: "uq", Weight: 1, Priority: 1, Enabled: true})
		mkModel(t, s, "bare")
		ck := must[domain.ClientKey](t)(s.ClientKeys.CreateClientKey(ctx(t), domain.ClientKey{Name: "ck", Hash: hash("ck"), Enabled: true}))
		ok(t, s.Health.RecordChecks(ctx(t), []domain.HealthCheck{
			{ProviderID: p.ID, Status: domain.HealthHealthy, Latency: 120 * time.Millisecond},
			{ProviderID: p.ID, KeyID: active.ID, Status: domain.HealthUnhealthy, Error: "401"},
		}))

		cfg := must[portsConfig](t)(s.Config.LoadConfig(ctx(t)))
		if len(cfg.Providers) != 2 || cfg.Providers[0].ID != p.ID || cfg.Providers[1].ID != q.ID {
			t.Fatalf("config providers: %+v", cfg.Providers)
		}
		keys := keysByID(cfg.Keys)
		if len(cfg.Keys) != 5 {
			t.Fatalf("config keys: %+v, want every key but the retired one", kvs(cfg.Keys))
		}
		if _, ok := keys[retired.ID]; ok {
			t.Fatalf("the retired key is in the config")
		}
		for id, want := range map[int64]string{active.ID: "sk-active-0000000001", draining.ID: "sk-draining-00000001",
			standby.ID: "", disabled.ID: "", invalid.ID: ""} {
			if got := keys[id]; got.Secret != want {
				t.Fatalf("key %d (%s) in the config has secret %q, want %q", id, got.Status, got.Secret, want)
			}
		}
		usable := func(k domain.ProviderKey) bool { return k.Usable() }
		if !usable(keys[active.ID]) || !usable(keys[draining.ID]) || usable(keys[standby.ID]) {
			t.Fatalf("usable keys wrong: %+v", kvs(cfg.Keys))
		}
		if k := keys[active.ID]; k.Fingerprint != active.Fingerprint || k.Version != active.Version || k.Weight != 1 {
			t.Fatalf("config key %+v, want the stored key %+v", kv(k), kv(active))
		}
		if len(cfg.Models) != 2 || cfg.Models[0].Name != "bare" || cfg.Models[1].ID != m.ID || len(cfg.Models[1].Routes) != 2 ||
			cfg.Models[1].Routes[0].ProviderID != p.ID {
			t.Fatalf("config models: %+v", cfg.Models)
		}
		if len(cfg.ClientKeys) != 1 || cfg.ClientKeys[0].ID != ck.ID || !bytes.Equal(cfg.ClientKeys[0].Hash, hash("ck")) {
			t.Fatalf("config client keys: %+v", cfg.ClientKeys)
		}
		if len(cfg.Health) != 2 {
			t.Fatalf("config health: %+v", cfg.Health)
		}
		ph, kh := cfg.Health[0], cfg.Health[1]
		if ph.ProviderID != p.ID || ph.KeyID != 0 || ph.Status != domain.HealthHealthy || ph.Latency != 120*time.Millisecond {
			t.Fatalf("provider health: %+v", ph)
		}
		if kh.ProviderID != p.ID || kh.KeyID != active.ID || kh.Status != domain.HealthUnhealthy || kh.ConsecutiveFailures != 1 || kh.LastError != "401" {
			t.Fatalf("key health: %+v", kh)
		}
	}},
}
