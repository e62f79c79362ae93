package portstest

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

func mkClientKey(t *testing.T, s Stores, name string) domain.ClientKey {
	t.Helper()
	return must[domain.ClientKey](t)(s.ClientKeys.CreateClientKey(ctx(t), domain.ClientKey{Name: name, Hash: hash("tok-" + name), Prefix: "p", Enabled: true}))
}

var leaseWindow = time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)

func sync1(t *testing.T, s Stores, key int64, replica string, cap, used, delta float64, ttl time.Duration) ports.LeaseGrant {
	t.Helper()
	return must[ports.LeaseGrant](t)(s.Leases.SyncLease(ctx(t), ports.LeaseRequest{
		ClientKeyID: key, Kind: ports.LimitBudget, Window: leaseWindow, Cap: cap, Replica: replica, Used: used, Delta: delta, TTL: ttl,
	}))
}

var leaseTests = []test{
	{"ClientKeyLimitsRoundTrip", func(t *testing.T, s Stores) {
		exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
		k := must[domain.ClientKey](t)(s.ClientKeys.CreateClientKey(ctx(t), domain.ClientKey{
			Name: "lim", Hash: hash("tok-lim"), Prefix: "p", Enabled: true, Owner: "team-a", Tags: []string{"prod"},
			Limits: domain.Limits{Allow: []string{"gpt-4o", "claude-*"}, RPM: 60, TPM: 1000, ExpiresAt: &exp,
				Budget: domain.Budget{USD: 5, Period: domain.PeriodMonthly, HardStop: true}},
		}))
		if k.RPM != 60 || k.TPM != 1000 || k.Budget.USD != 5 || k.Budget.Period != domain.PeriodMonthly || !k.Budget.HardStop ||
			!equalStrings(k.Allow, []string{"gpt-4o", "claude-*"}) || k.Owner != "team-a" || !equalStrings(k.Tags, []string{"prod"}) ||
			k.ExpiresAt == nil || !k.ExpiresAt.Equal(exp) {
			t.Fatalf("created %+v", k)
		}
		u := must[domain.ClientKey](t)(s.ClientKeys.UpdateClientKey(ctx(t), k.ID, func(c *domain.ClientKey) error {
			c.RPM, c.Allow, c.ExpiresAt, c.Budget = 0, nil, nil, domain.Budget{}
			return nil
		}))
		if u.RPM != 0 || len(u.Allow) != 0 || u.ExpiresAt != nil || u.Budget.USD != 0 || u.TPM != 1000 || u.Owner != "team-a" {
			t.Fatalf("updated %+v", u)
		}
		_, err := s.ClientKeys.UpdateClientKey(ctx(t), k.ID, func(c *domain.ClientKey) error {
			c.Budget.Period = "weekly"
			return nil
		})
		wantErr(t, err, domain.CodeInvalid, "budget.period")
		_, err = s.ClientKeys.UpdateClientKey(ctx(t), k.ID, func(c *domain.ClientKey) error {
			c.RPM = -1
			return nil
		})
		wantErr(t, err, domain.CodeInvalid, "rpm")
		_, err = s.ClientKeys.UpdateClientKey(ctx(t), 999999, func(*domain.ClientKey) error { return nil })
		wantErr(t, err, domain.CodeNotFound, "")
	}},
	{"GrantsNeverExceedCap", func(t *testing.T, s Stores) {
		k := mkClientKey(t, s, "cap")
		var mu sync.Mutex
		var total float64
		var wg sync.WaitGroup
		for r := 0; r < 4; r++ {
			for i := 0; i < 10; i++ {
				wg.Add(1)
				go func(replica string) {
					defer wg.Done()
					g, err := s.Leases.SyncLease(ctx(t), ports.LeaseRequest{ClientKeyID: k.ID, Kind: ports.LimitBudget,
						Window: leaseWindow, Cap: 50, Replica: replica, Delta: 3, TTL: time.Minute})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					total += g.Granted
					mu.Unlock()
				}(string(rune('a' + r)))
			}
		}
		wg.Wait()
		if math.Abs(total-50) > 1e-9 {
			t.Fatalf("granted %v in all, want exactly the cap 50", total)
		}
		if g := sync1(t, s, k.ID, "a", 50, 0, 1, time.Minute); g.Granted != 0 || g.Free != 0 {
			t.Fatalf("a grant beyond the cap: %+v", g)
		}
	}},
	{"SettleAndReturn", func(t *testing.T, s Stores) {
		k := mkClientKey(t, s, "settle")
		g := sync1(t, s, k.ID, "a", 10, 0, 4, time.Minute)
		if g.Granted != 4 || g.Held != 4 || g.Free != 6 {
			t.Fatalf("first grant %+v", g)
		}
		// 3 of the 4 were spent; return the last one.
		g = sync1(t, s, k.ID, "a", 10, 3, -1, time.Minute)
		if g.Granted != -1 || g.Held != 0 || g.Free != 7 {
			t.Fatalf("after settling 3 and returning 1: %+v", g)
		}
		g = sync1(t, s, k.ID, "b", 10, 0, 100, time.Minute)
		if g.Granted != 7 || g.Free != 0 {
			t.Fatalf("b got %+v, want the 7 left", g)
		}
		// Spending more than held counts as spent all the same.
		g = sync1(t, s, k.ID, "b", 10, 9, 0, time.Minute)
		if g.Held != 0 || g.Free != 0 {
			t.Fatalf("after overspending: %+v", g)
		}
	}},
	{"ExpiredLeasesReturn", func(t *testing.T, s Stores) {
		k := mkClientKey(t, s, "expiry")
		if g := sync1(t, s, k.ID, "crashed", 10, 0, 10, 300*time.Millisecond); g.Granted != 10 {
			t.Fatalf("grant %+v", g)
		}
		if g := sync1(t, s, k.ID, "alive", 10, 0, 5, time.Minute); g.Granted != 0 {
			t.Fatalf("granted %+v while the other replica's lease is live", g)
		}
		time.Sleep(400 * time.Millisecond)
		if g := sync1(t, s, k.ID, "alive", 10, 0, 5, time.Minute); g.Granted != 5 || g.Free != 5 {
			t.Fatalf("after the lease expired: %+v, want 5 granted and 5 free", g)
		}
	}},
}
