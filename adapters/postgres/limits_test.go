package postgres

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airouter/airouter/adapters/postgres/pgtest"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/limits"
	"github.com/airouter/airouter/ports"
)

// These tests run core/limits against the real ledger with several
// Limiters standing for replicas (distinct replica ids, one database).

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func replica(t *testing.T, s *Store, id string, now func() time.Time, ttl time.Duration) *limits.Limiter {
	t.Helper()
	l, err := limits.New(limits.Options{Store: s, Replica: id, Now: now, TTL: ttl, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func limitedKey(t *testing.T, s *Store, name string, l domain.Limits) *domain.ClientKey {
	t.Helper()
	k, err := s.CreateClientKey(t.Context(), domain.ClientKey{Name: name, Hash: make32(name), Prefix: "p", Enabled: true, Limits: l})
	if err != nil {
		t.Fatal(err)
	}
	return &k
}

func make32(s string) []byte {
	b := make([]byte, 32)
	copy(b, s)
	return b
}

// TestLimitsRPMAcrossTwoReplicas: an rpm limit of 60 holds over a minute
// (and the next) with requests split over two replicas; the clock is
// injected, so the minute passes at once.
func TestLimitsRPMAcrossTwoReplicas(t *testing.T) {
	t.Parallel()
	s := newStore(t, openPool(t, migratedDB(t)), newBox(t))
	clk := &testClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	a, b := replica(t, s, "a", clk.Now, time.Minute), replica(t, s, "b", clk.Now, time.Minute)
	k := limitedKey(t, s, "rpm", domain.Limits{RPM: 60})
	for m := 0; m < 2; m++ {
		var admitted int
		// 240 requests spread evenly over the minute, alternating replicas.
		for i := 0; i < 240; i++ {
			l := a
			if i%2 == 1 {
				l = b
			}
			r, st, err := l.Reserve(t.Context(), k, limits.Need{})
			if err == nil {
				admitted++
				l.Settle(r, 0, 0)
			} else if domain.ErrorCode(err) != domain.CodeRateLimited || st.RetryAfter <= 0 || st.LimitRequests != 60 {
				t.Fatalf("refusal %v %+v", err, st)
			}
			clk.Add(time.Minute / 240)
		}
		if admitted < 57 || admitted > 63 {
			t.Fatalf("minute %d: %d requests admitted under rpm 60 on two replicas, want 60±5%%", m, admitted)
		}
		t.Logf("minute %d: %d admitted", m, admitted)
	}
}

// TestLimitsBudgetConcurrentReplicas: concurrent requests on three
// replicas never spend more than the budget.
func TestLimitsBudgetConcurrentReplicas(t *testing.T) {
	t.Parallel()
	s := newStore(t, openPool(t, migratedDB(t)), newBox(t))
	k := limitedKey(t, s, "budget", domain.Limits{Budget: domain.Budget{USD: 0.05, Period: domain.PeriodDaily, HardStop: true}})
	ls := []*limits.Limiter{replica(t, s, "a", time.Now, time.Minute), replica(t, s, "b", time.Now, time.Minute), replica(t, s, "c", time.Now, time.Minute)}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func(l *limits.Limiter) {
			defer wg.Done()
			r, _, err := l.Reserve(context.Background(), k, limits.Need{Cost: 0.001})
			if err != nil {
				return
			}
			ok.Add(1)
			l.Settle(r, 0, 0.001)
		}(ls[i%3])
	}
	wg.Wait()
	for _, l := range ls {
		l.Close(t.Context())
	}
	spent, reserved, err := s.LimitCounter(t.Context(), k.ID, ports.LimitBudget, domain.PeriodDaily.Start(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if n := ok.Load(); n > 50 || n < 40 || spent > 0.05+1e-9 || reserved > 1e-9 {
		t.Fatalf("%d calls of $0.001 admitted, $%v spent, $%v still reserved, under a $0.05 budget", n, spent, reserved)
	}
}

// TestLimitsCrashedReplicaLeaseReturns: a replica that dies holding a
// lease (no Close, no renewal) loses it after the lease TTL.
func TestLimitsCrashedReplicaLeaseReturns(t *testing.T) {
	t.Parallel()
	s := newStore(t, openPool(t, migratedDB(t)), newBox(t))
	k := limitedKey(t, s, "crash", domain.Limits{TPM: 1000})
	const ttl = 500 * time.Millisecond
	crashed, alive := replica(t, s, "crashed", time.Now, ttl), replica(t, s, "alive", time.Now, ttl)
	// The crashed replica has 900 tokens in flight when it dies.
	if _, _, err := crashed.Reserve(t.Context(), k, limits.Need{Tokens: 900}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := alive.Reserve(t.Context(), k, limits.Need{Tokens: 500}); domain.ErrorCode(err) != domain.CodeRateLimited {
		t.Fatalf("the other replica got 500 tokens while 900 of 1000 are in flight: %v", err)
	}
	start := time.Now()
	for {
		_, _, err := alive.Reserve(t.Context(), k, limits.Need{Tokens: 500})
		if err == nil {
			break
		}
		if time.Since(start) > 2*ttl {
			t.Fatalf("the crashed replica's lease did not return within %v: %v", 2*ttl, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := time.Since(start); d > ttl+200*time.Millisecond {
		t.Fatalf("returned after %v, lease TTL %v", d, ttl)
	} else {
		t.Logf("returned after %v (lease TTL %v)", d, ttl)
	}
}

// BenchmarkLeaseSync is the cost of one refill: the single statement a
// replica runs when its local lease of a counter runs out.
func BenchmarkLeaseSync(b *testing.B) {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		b.Skip("TEST_DATABASE_URL not set")
	}
	s := benchStore(b)
	k, err := s.CreateClientKey(b.Context(), domain.ClientKey{Name: "bench", Hash: make32("bench"), Prefix: "p", Enabled: true})
	if err != nil {
		b.Fatal(err)
	}
	w := time.Now().UTC().Truncate(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.SyncLease(b.Context(), ports.LeaseRequest{ClientKeyID: k.ID, Kind: ports.LimitRPM, Window: w,
			Cap: 1e12, Replica: "bench", Used: 1, Delta: 1, TTL: time.Minute}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchStore is a store over a fresh migrated database, for a benchmark.
func benchStore(b *testing.B) *Store {
	b.Helper()
	return newStore(b, openPool(b, pgtest.Migrated(b, os.Getenv, Migrate)), newBox(b))
}
