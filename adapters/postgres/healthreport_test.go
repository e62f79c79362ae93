package postgres

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// TestHealthReportQueries: the set-based queries of the admin health report
// return what the per-provider ones return, for every provider at once.
func TestHealthReportQueries(t *testing.T) {
	t.Parallel()
	pool := openPool(t, migratedDB(t))
	s := newStore(t, pool, newBox(t))
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	var ids []int64
	for i := range 3 {
		p, err := s.CreateProvider(ctx, domain.Provider{Name: "p" + strconv.Itoa(i), Kind: domain.KindOpenAI, BaseURL: "https://example.com"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
		for j := range i { // p0 has no keys and no checks
			k, err := s.AddKey(ctx, domain.ProviderKey{ProviderID: p.ID, Secret: "sk-secret-" + strconv.Itoa(i*10+j), Weight: 1, Status: domain.KeyActive})
			if err != nil {
				t.Fatal(err)
			}
			var checks []domain.HealthCheck
			for n := range 4 {
				checks = append(checks, domain.HealthCheck{ProviderID: p.ID, KeyID: k.ID, Status: domain.HealthHealthy, CheckedAt: now.Add(-time.Duration(n) * time.Second)})
			}
			if err := s.RecordChecks(ctx, checks); err != nil {
				t.Fatal(err)
			}
		}
	}
	unknown := ids[len(ids)-1] + 100
	keys, err := s.ListKeysOf(ctx, append(ids, unknown))
	if err != nil {
		t.Fatal(err)
	}
	checks, err := s.RecentChecksOf(ctx, append(ids, unknown), 3)
	if err != nil {
		t.Fatal(err)
	}
	var wantKeys []domain.ProviderKey
	var wantChecks []domain.HealthCheck
	for _, id := range ids {
		ks, err := s.ListKeys(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		wantKeys = append(wantKeys, ks...)
		cs, err := s.RecentChecks(ctx, id, 3)
		if err != nil {
			t.Fatal(err)
		}
		wantChecks = append(wantChecks, cs...)
	}
	if len(wantKeys) != 3 || !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("ListKeysOf = %+v\nwant %+v", keys, wantKeys)
	}
	if len(wantChecks) != 6 || !reflect.DeepEqual(checks, wantChecks) {
		t.Errorf("RecentChecksOf = %+v\nwant %+v", checks, wantChecks)
	}
	if ks, err := s.ListKeysOf(ctx, nil); err != nil || len(ks) != 0 {
		t.Errorf("ListKeysOf(nil) = %v, %v; want none", ks, err)
	}
}
