package portstest

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
)

const secret1 = "sk-live-abcdefghijklmnop1234"

func fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])[:12]
}

var keyTests = []test{
	{"AddGetList", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		exp := ms(time.Now().Add(30 * 24 * time.Hour))
		k := must[domain.ProviderKey](t)(s.Keys.AddKey(ctx(t), domain.ProviderKey{
			ProviderID: p.ID, Name: "main", Secret: secret1, Weight: 3, ExpiresAt: &exp,
		}))
		want := domain.ProviderKey{ID: k.ID, ProviderID: p.ID, Name: "main", Last4: "1234", Fingerprint: fingerprint(secret1),
			Status: domain.KeyActive, Weight: 3, Version: 1, ExpiresAt: &exp}
		checkKey(t, k, want)
		if k.ID == 0 || k.CreatedAt.IsZero() || k.RotatedAt != nil {
			t.Fatalf("added %+v: want an id, a creation time and no rotation time", kv(k))
		}
		checkKey(t, must[domain.ProviderKey](t)(s.Keys.GetKey(ctx(t), k.ID)), want)
		k2 := mkKey(t, s, p.ID, "sk-second-key-000000", domain.KeyStandby)
		list := must[[]domain.ProviderKey](t)(s.Keys.ListKeys(ctx(t), p.ID))
		if len(list) != 2 || list[0].ID != k.ID || list[1].ID != k2.ID {
			t.Fatalf("ListKeys: %+v, want both keys by id", kvs(list))
		}
		for _, k := range list {
			if k.Secret != "" {
				t.Fatalf("ListKeys returned a secret")
			}
		}
		if got := must[string](t)(s.Keys.KeySecret(ctx(t), k.ID)); got != secret1 {
			t.Fatalf("KeySecret = %q, want the plaintext", got)
		}
		if got := must[string](t)(s.Keys.KeySecret(ctx(t), k2.ID)); got != "sk-second-key-000000" {
			t.Fatalf("KeySecret of a standby key = %q", got)
		}
		other := mkProvider(t, s, "empty")
		if list := must[[]domain.ProviderKey](t)(s.Keys.ListKeys(ctx(t), other.ID)); len(list) != 0 {
			t.Fatalf("ListKeys of a provider without keys: %+v", kvs(list))
		}
	}},
	{"GivenLast4AndFingerprint", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		k := must[domain.ProviderKey](t)(s.Keys.AddKey(ctx(t), domain.ProviderKey{
			ProviderID: p.ID, Secret: "short", Last4: "hort", Fingerprint: "custom:1", Status: domain.KeyStandby,
		}))
		if k.Last4 != "hort" || k.Fingerprint != "custom:1" || k.Status != domain.KeyStandby {
			t.Fatalf("got %+v, want the given Last4, Fingerprint and Status kept", kv(k))
		}
	}},
	{"DuplicateSecret", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		mkKey(t, s, p.ID, secret1, domain.KeyActive)
		_, err := s.Keys.AddKey(ctx(t), domain.ProviderKey{ProviderID: p.ID, Secret: secret1, Status: domain.KeyStandby, Weight: 1})
		wantErr(t, err, domain.CodeConflict, "secret")
		wantMsg(t, err, "this key is already registered for the provider")
		if strings.Contains(err.Error(), secret1) || strings.Contains(err.Error(), "abcdefgh") {
			t.Fatalf("the error reveals the secret: %v", err)
		}
		// The same secret may serve another provider.
		q := mkProvider(t, s, "q")
		mkKey(t, s, q.ID, secret1, domain.KeyActive)
	}},
	{"Invalid", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		_, err := s.Keys.AddKey(ctx(t), domain.ProviderKey{ProviderID: p.ID})
		wantErr(t, err, domain.CodeInvalid, "secret")
		_, err = s.Keys.AddKey(ctx(t), domain.ProviderKey{ProviderID: 999, Secret: secret1})
		wantErr(t, err, domain.CodeInvalid, "provider_id")
		wantMsg(t, err, "provider 999 does not exist")
		_, err = s.Keys.AddKey(ctx(t), domain.ProviderKey{ProviderID: p.ID, Secret: secret1, Status: "bogus"})
		wantErr(t, err, domain.CodeInvalid, "status")
		_, err = s.Keys.AddKey(ctx(t), domain.ProviderKey{ProviderID: p.ID, Secret: secret1, Weight: -1})
		wantErr(t, err, domain.CodeInvalid, "weight")
		if list := must[[]domain.ProviderKey](t)(s.Keys.ListKeys(ctx(t), p.ID)); len(list) != 0 {
			t.Fatalf("failed adds stored keys: %+v", kvs(list))
		}
		k := mkKey(t, s, p.ID, secret1, domain.KeyActive)
		_, err = s.Keys.UpdateKey(ctx(t), k.ID, func(k *domain.ProviderKey) error { k.Weight = -5; return nil })
		wantErr(t, err, domain.CodeInvalid, "weight")
	}},
	{"NotFound", func(t *testing.T, s Stores) {
		_, err := s.Keys.GetKey(ctx(t), 999)
		wantErr(t, err, domain.CodeNotFound, "")
		wantMsg(t, err, "key 999 not found")
		_, err = s.Keys.ListKeys(ctx(t), 999)
		wantErr(t, err, domain.CodeNotFound, "")
		_, err = s.Keys.KeySecret(ctx(t), 999)
		wantErr(t, err, domain.CodeNotFound, "")
		_, err = s.Keys.SetKeyStatus(ctx(t), 999, 1, domain.KeyDraining, "")
		wantErr(t, err, domain.CodeNotFound, "")
		_, err = s.Keys.UpdateKey(ctx(t), 999, func(*domain.ProviderKey) error { return nil })
		wantErr(t, err, domain.CodeNotFound, "")
		wantErr(t, s.Keys.DeleteKey(ctx(t), 999), domain.CodeNotFound, "")
	}},
	{"SetStatusCompareAndSwap", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		k := mkKey(t, s, p.ID, secret1, domain.KeyActive)
		d := must[domain.ProviderKey](t)(s.Keys.SetKeyStatus(ctx(t), k.ID, k.Version, domain.KeyDraining, "rotating"))
		if d.Status != domain.KeyDraining || d.Version != k.Version+1 || d.LastError != "rotating" || d.RotatedAt == nil {
			t.Fatalf("after SetKeyStatus: %+v, want draining, version+1, the last error and a rotation time", kv(d))
		}
		// The old version lost.
		_, err := s.Keys.SetKeyStatus(ctx(t), k.ID, k.Version, domain.KeyInvalid, "")
		wantErr(t, err, domain.CodeConflict, "")
		if got := must[domain.ProviderKey](t)(s.Keys.GetKey(ctx(t), k.ID)); got.Status != domain.KeyDraining || got.Version != d.Version {
			t.Fatalf("a lost compare-and-swap changed the key: %+v", kv(got))
		}
		_, err = s.Keys.SetKeyStatus(ctx(t), k.ID, d.Version, "bogus", "")
		wantErr(t, err, domain.CodeInvalid, "status")
		// Retiring wipes the secret, for good.
		r := must[domain.ProviderKey](t)(s.Keys.SetKeyStatus(ctx(t), k.ID, d.Version, domain.KeyRetired, ""))
		if r.Status != domain.KeyRetired || r.Version != d.Version+1 {
			t.Fatalf("retired: %+v", kv(r))
		}
		_, err = s.Keys.KeySecret(ctx(t), k.ID)
		wantErr(t, err, domain.CodeConflict, "")
		_, err = s.Keys.SetKeyStatus(ctx(t), k.ID, r.Version, domain.KeyActive, "")
		wantErr(t, err, domain.CodeInvalid, "status")
	}},
	{"UpdateKey", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		k := mkKey(t, s, p.ID, secret1, domain.KeyActive)
		exp := ms(time.Now().Add(time.Hour))
		u := must[domain.ProviderKey](t)(s.Keys.UpdateKey(ctx(t), k.ID, func(k *domain.ProviderKey) error {
			if k.Secret != "" {
				t.Errorf("UpdateKey's fn got the secret")
			}
			k.Name, k.Weight, k.ExpiresAt = "renamed", 7, &exp
			k.Status = domain.KeyDisabled // not changed by UpdateKey
			return nil
		}))
		want := k
		want.Name, want.Weight, want.ExpiresAt, want.Version = "renamed", 7, &exp, k.Version+1
		checkKey(t, u, want)
		checkKey(t, must[domain.ProviderKey](t)(s.Keys.GetKey(ctx(t), k.ID)), want)
		if got := must[string](t)(s.Keys.KeySecret(ctx(t), k.ID)); got != secret1 {
			t.Fatalf("UpdateKey changed the secret")
		}
		// Clearing the expiry.
		u = must[domain.ProviderKey](t)(s.Keys.UpdateKey(ctx(t), k.ID, func(k *domain.ProviderKey) error { k.ExpiresAt = nil; return nil }))
		if u.ExpiresAt != nil {
			t.Fatalf("expiry not cleared: %+v", kv(u))
		}
	}},
	{"Delete", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		k := mkKey(t, s, p.ID, secret1, domain.KeyActive)
		ok(t, s.Health.RecordChecks(ctx(t), []domain.HealthCheck{{ProviderID: p.ID, KeyID: k.ID, Status: domain.HealthHealthy}}))
		ok(t, s.Keys.DeleteKey(ctx(t), k.ID))
		_, err := s.Keys.GetKey(ctx(t), k.ID)
		wantErr(t, err, domain.CodeNotFound, "")
		wantErr(t, s.Keys.DeleteKey(ctx(t), k.ID), domain.CodeNotFound, "")
		for _, h := range must[[]domain.Health](t)(s.Health.ListHealth(ctx(t))) {
			if h.KeyID == k.ID {
				t.Fatalf("the deleted key's health remains")
			}
		}
		// The secret may be added again.
		mkKey(t, s, p.ID, secret1, domain.KeyActive)
	}},
	{"ListExpiring", func(t *testing.T, s Stores) {
		p := mkProvider(t, s, "p")
		now := ms(time.Now())
		add := func(secret string, status domain.KeyStatus, exp *time.Time) domain.ProviderKey {
			return must[domain.ProviderKey](t)(s.Keys.AddKey(ctx(t), domain.ProviderKey{ProviderID: p.ID, Secret: secret, Status: status, ExpiresAt: exp}))
		}
		in1, in2, in3, later := now.Add(time.Hour), now.Add(2*time.Hour), now.Add(3*time.Hour), now.Add(48*time.Hour)
		b := add("sk-expiring-b-000000", domain.KeyActive, &in2)
		a := add("sk-expiring-a-000000", domain.KeyActive, &in1)
		c := add("sk-expiring-c-000000", domain.KeyDraining, &in3)
		add("sk-standby-000000000", domain.KeyStandby, &in1)
		add("sk-later-00000000000", domain.KeyActive, &later)
		add("sk-never-00000000000", domain.KeyActive, nil)
		got := must[[]domain.ProviderKey](t)(s.Keys.ListExpiringKeys(ctx(t), now.Add(24*time.Hour)))
		if len(got) != 3 || got[0].ID != a.ID || got[1].ID != b.ID || got[2].ID != c.ID {
			t.Fatalf("ListExpiringKeys: %+v, want a, b, c (usable, expiring, soonest first)", kvs(got))
		}
		for _, k := range got {
			if k.Secret != "" {
				t.Fatalf("ListExpiringKeys returned a secret")
			}
		}
	}},
	{"CiphertextBoundToRow", func(t *testing.T, s Stores) {
		if s.CopyCiphertext == nil {
			t.Fatal("Stores.CopyCiphertext is not set")
		}
		p := mkProvider(t, s, "p")
		k1 := mkKey(t, s, p.ID, secret1, domain.KeyActive)
		k2 := mkKey(t, s, p.ID, "sk-victim-0000000000", domain.KeyActive)
		s.CopyCiphertext(t, k1.ID, k2.ID)
		_, err := s.Keys.KeySecret(ctx(t), k2.ID)
		wantErr(t, err, domain.CodeConflict, "")
		wantMsg(t, err, domain.KeyErrorUndecryptable)
		if strings.Contains(err.Error(), secret1) {
			t.Fatalf("the error reveals a secret: %v", err)
		}
		got := must[domain.ProviderKey](t)(s.Keys.GetKey(ctx(t), k2.ID))
		if got.Status != domain.KeyInvalid || got.LastError != domain.KeyErrorUndecryptable || got.Version != k2.Version+1 {
			t.Fatalf("after a failed open: %+v, want invalid with the undecryptable error and version+1", kv(got))
		}
		// Asking again neither succeeds nor bumps the version again.
		_, err = s.Keys.KeySecret(ctx(t), k2.ID)
		wantErr(t, err, domain.CodeConflict, "")
		if again := must[domain.ProviderKey](t)(s.Keys.GetKey(ctx(t), k2.ID)); again.Version != got.Version {
			t.Fatalf("a second failed open changed the key again: %+v", kv(again))
		}
		if got := must[string](t)(s.Keys.KeySecret(ctx(t), k1.ID)); got != secret1 {
			t.Fatalf("the source key no longer opens")
		}
	}},
	{"UndecryptableInConfig", func(t *testing.T, s Stores) {
		if s.CopyCiphertext == nil {
			t.Fatal("Stores.CopyCiphertext is not set")
		}
		p := mkProvider(t, s, "p")
		k1 := mkKey(t, s, p.ID, secret1, domain.KeyActive)
		k2 := mkKey(t, s, p.ID, "sk-victim-0000000000", domain.KeyDraining)
		s.CopyCiphertext(t, k1.ID, k2.ID)
		cfg := must[portsConfig](t)(s.Config.LoadConfig(ctx(t)))
		byID := keysByID(cfg.Keys)
		if got := byID[k1.ID]; got.Secret != secret1 || got.Status != domain.KeyActive {
			t.Fatalf("the good key in the config: %+v", kv(got))
		}
		got := byID[k2.ID]
		if got.Secret != "" || got.Status != domain.KeyInvalid || got.LastError != domain.KeyErrorUndecryptable || got.Usable() {
			t.Fatalf("the undecryptable key in the config: %+v, want invalid without secret", kv(got))
		}
		stored := must[domain.ProviderKey](t)(s.Keys.GetKey(ctx(t), k2.ID))
		if stored.Status != domain.KeyInvalid || stored.LastError != domain.KeyErrorUndecryptable {
			t.Fatalf("the undecryptable key was not marked invalid: %+v", kv(stored))
		}
	}},
}

func checkKey(t *testing.T, got, want domain.ProviderKey) {
	t.Helper()
	if got.ID != want.ID || got.ProviderID != want.ProviderID || got.Name != want.Name || got.Last4 != want.Last4 ||
		got.Fingerprint != want.Fingerprint || got.Status != want.Status || got.Weight != want.Weight ||
		got.Version != want.Version || !sameTimePtr(got.ExpiresAt, want.ExpiresAt) || got.LastError != want.LastError {
		t.Fatalf("key\n got %+v\nwant %+v", kv(got), kv(want))
	}
	if got.Secret != "" {
		t.Fatalf("a key was returned with its secret")
	}
}

func keysByID(keys []domain.ProviderKey) map[int64]domain.ProviderKey {
	m := make(map[int64]domain.ProviderKey, len(keys))
	for _, k := range keys {
		m[k.ID] = k
	}
	return m
}
