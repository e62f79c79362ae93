// Package portstest is the contract test suite of the store ports. Their
// one implementation, adapters/postgres, runs it against a fresh PostgreSQL
// database per test (use-case tests use small consumer-side fakes instead of
// a second store):
//
//	portstest.TestStores(t, func(t *testing.T) portstest.Stores { ... fresh stores ... })
//
// Each test asks for fresh stores and runs in parallel.
package portstest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// Stores bundles the store ports of one implementation, all over the same
// (empty) data.
type Stores struct {
	Providers   ports.ProviderStore
	Keys        ports.KeyStore
	Models      ports.ModelStore
	ClientKeys  ports.ClientKeyStore
	Config      ports.ConfigLoader
	Health      ports.HealthStore
	RequestLogs ports.RequestLogStore
	Rotations   ports.RotationStore
	Leases      ports.LeaseStore
	Feed        ports.ChangeFeed
	// Publish sends a change to Feed's listeners as another replica would;
	// the feed tests use it to see that a listener is up.
	Publish func(ctx context.Context, c ports.Change) error
	// CopyCiphertext copies the sealed secret of one key onto
	// another key's row, behind the store's back; the suite then checks that
	// the associated data binds a ciphertext to its row.
	CopyCiphertext func(t *testing.T, fromKeyID, toKeyID int64)
}

// TestStores runs the whole contract suite.
func TestStores(t *testing.T, newStores func(t *testing.T) Stores) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Providers", providerTests},
		{"Keys", keyTests},
		{"Models", modelTests},
		{"ClientKeys", clientKeyTests},
		{"Config", configTests},
		{"Health", healthTests},
		{"RequestLogs", requestLogTests},
		{"Rotations", rotationTests},
		{"Feed", feedTests},
		{"Leases", leaseTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, newStores(t))
				})
			}
		})
	}
}

type test struct {
	name string
	run  func(t *testing.T, s Stores)
}

// wantErr fails unless err is a *domain.Error with code and field.
func wantErr(t *testing.T, err error, code domain.Code, field string) *domain.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (field %q)", code, field)
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("got %T %v, want a *domain.Error %s (field %q)", err, err, code, field)
	}
	if de.Code != code || de.Field != field {
		t.Fatalf("got %s (field %q): %v; want %s (field %q)", de.Code, de.Field, err, code, field)
	}
	return de
}

func wantMsg(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %v does not say %q", err, substr)
	}
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func mkProvider(t *testing.T, s Stores, name string) domain.Provider {
	t.Helper()
	return must[domain.Provider](t)(s.Providers.CreateProvider(ctx(t), domain.Provider{
		Name: name, Kind: domain.KindOpenAICompatible, BaseURL: "http://" + name + ".test/v1", Enabled: true,
	}))
}

func mkKey(t *testing.T, s Stores, providerID int64, secret string, status domain.KeyStatus) domain.ProviderKey {
	t.Helper()
	return must[domain.ProviderKey](t)(s.Keys.AddKey(ctx(t), domain.ProviderKey{
		ProviderID: providerID, Name: "k", Secret: secret, Status: status, Weight: 1,
	}))
}

func mkModel(t *testing.T, s Stores, name string, routes ...domain.Route) domain.Model {
	t.Helper()
	return must[domain.Model](t)(s.Models.CreateModel(ctx(t), domain.Model{
		Name: name, Enabled: true, Routes: routes,
	}))
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// ms returns a time truncated to the millisecond, which every store keeps
// exactly.
func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

type portsConfig = ports.Config

// rawKey prints every field of a key (ProviderKey's String hides them).
type rawKey domain.ProviderKey

func kv(k domain.ProviderKey) rawKey { return rawKey(k) }

func kvs(keys []domain.ProviderKey) []rawKey {
	out := make([]rawKey, len(keys))
	for i, k := range keys {
		out[i] = rawKey(k)
	}
	return out
}
