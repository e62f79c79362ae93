package limits

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// fakeStore is a single-process ledger with the store's semantics (no
// expiry), counting the round trips.
type fakeStore struct {
	mu    sync.Mutex
	calls atomic.Int64
	spent map[fakeKey]float64
	held  map[fakeKey]float64
}

type fakeKey struct {
	key    int64
	kind   ports.LimitKind
	window int64
}

func newFake() *fakeStore {
	return &fakeStore{spent: map[fakeKey]float64{}, held: map[fakeKey]float64{}}
}

func (f *fakeStore) total(kind ports.LimitKind) (spent, held float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range f.spent {
		if k.kind == kind {
			spent += v
		}
	}
	for k, v := range f.held {
		if k.kind == kind {
			held += v
		}
	}
	return spent, held
}

func (f *fakeStore) SyncLease(_ context.Context, r ports.LeaseRequest) (ports.LeaseGrant, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	k := fakeKey{r.ClientKeyID, r.Kind, r.Window.UnixNano()}
	f.spent[k] += r.Used
	f.held[k] = max(f.held[k]-r.Used, 0)
	free := max(r.Cap-f.spent[k]-f.held[k], 0)
	g := min(r.Delta, free)
	if r.Delta < 0 {
		g = -min(-r.Delta, f.held[k])
	}
	f.held[k] += g
	return ports.LeaseGrant{Granted: g, Free: max(r.Cap-f.spent[k]-f.held[k], 0), Held: f.held[k]}, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newLimiter(t testing.TB, store ports.LeaseStore, now func() time.Time) *Limiter {
	l, err := New(Options{Store: store, Replica: "r1", Now: now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestNewRejectsMissing(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New accepted no store")
	}
}

func TestUnlimitedKeyCostsNothing(t *testing.T) {
	f := newFake()
	l := newLimiter(t, f, time.Now)
	r, st, err := l.Reserve(t.Context(), &domain.ClientKey{ID: 1}, Need{Tokens: 10, Cost: 1})
	if r != nil || err != nil || st != (Status{}) || f.calls.Load() != 0 {
		t.Fatalf("unlimited key: %v %+v %v, %d store calls", r, st, err, f.calls.Load())
	}
}

func TestRPMRefusesOverTheLimitAndResetsNextMinute(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 10, 0, 10, 0, time.UTC)}
	f := newFake()
	l := newLimiter(t, f, c.Now)
	k := &domain.ClientKey{ID: 1, Limits: domain.Limits{RPM: 40}}
	for i := 0; i < 40; i++ {
		r, st, err := l.Reserve(t.Context(), k, Need{})
		if err != nil {
			t.Fatalf("request %d refused: %v", i, err)
		}
		if st.LimitRequests != 40 || st.RemainingRequests != int64(39-i) || st.ResetRequests != 50*time.Second {
			t.Fatalf("request %d: status %+v", i, st)
		}
		l.Settle(r, 0, 0)
	}
	_, st, err := l.Reserve(t.Context(), k, Need{})
	if domain.ErrorCode(err) != domain.CodeRateLimited || st.RetryAfter != 50*time.Second || st.RemainingRequests != 0 {
		t.Fatalf("41st request: %v %+v", err, st)
	}
	if n := f.calls.Load(); n > 40/2+2 {
		t.Fatalf("%d store round trips for 41 requests: the lease is not spent locally", n)
	}
	c.Add(time.Minute)
	if _, _, err := l.Reserve(t.Context(), k, Need{}); err != nil {
		t.Fatalf("next minute: %v", err)
	}
}

func TestBudgetSettlesRealCostAndHardStop(t *testing.T) {
	f := newFake()
	l := newLimiter(t, f, time.Now)
	k := &domain.ClientKey{ID: 1, Limits: domain.Limits{Budget: domain.Budget{USD: 1, Period: domain.PeriodTotal, HardStop: true}}}
	// Worst case 0.25, real cost 0.125: seven calls fit (the 8th could
	// cost 0.25 with only 0.125 left), not four.
	for i := 0; i < 7; i++ {
		r, _, err := l.Reserve(t.Context(), k, Need{Cost: 0.25})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		l.Settle(r, 0, 0.125)
	}
	if _, st, err := l.Reserve(t.Context(), k, Need{Cost: 0.25}); domain.ErrorCode(err) != domain.CodeRateLimited || st.RetryAfter != 0 {
		t.Fatalf("over budget: %v %+v", err, st)
	}
	l.Close(t.Context())
	if s, h := f.total(ports.LimitBudget); s != 0.875 || h != 0 {
		t.Fatalf("spent %v held %v after Close, want 0.875 and 0", s, h)
	}
	// Without a hard stop the budget is tracked, not enforced.
	k.ID, k.Budget.HardStop = 2, false
	if _, _, err := l.Reserve(t.Context(), k, Need{Cost: 5}); err != nil {
		t.Fatalf("soft budget refused: %v", err)
	}
}

func TestConcurrentReservationsNeverExceed(t *testing.T) {
	f := newFake()
	l := newLimiter(t, f, time.Now)
	k := &domain.ClientKey{ID: 1, Limits: domain.Limits{TPM: 1000, RPM: 1_000_000}}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := l.Reserve(context.Background(), k, Need{Tokens: 10})
			if err == nil {
				ok.Add(1)
				l.Settle(r, 10, 0)
			}
		}()
	}
	wg.Wait()
	if ok.Load() > 100 {
		t.Fatalf("%d requests of 10 tokens admitted under a 1000-token limit", ok.Load())
	}
}

// BenchmarkLeaseReserveSettle is the hot path of a key with rpm, tpm and a
// budget: both run against the local lease; the store is hit once per slice.
func BenchmarkLeaseReserveSettle(b *testing.B) {
	f := newFake()
	l := newLimiter(b, f, time.Now)
	k := &domain.ClientKey{ID: 1, Limits: domain.Limits{RPM: 1 << 40, TPM: 1 << 50,
		Budget: domain.Budget{USD: 1e12, Period: domain.PeriodMonthly, HardStop: true}}}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, _, err := l.Reserve(ctx, k, Need{Tokens: 500, Cost: 0.001})
			if err != nil {
				b.Fatal(err)
			}
			l.Settle(r, 400, 0.0008)
		}
	})
	b.ReportMetric(float64(f.calls.Load())/float64(b.N), "syncs/op")
}

// TestIdleLeaseIsReturned: a lease nobody reserved from for a TTL used to be
// renewed at every flush forever, holding its slice of a daily budget away
// from the other replicas. Flush now reports its spend and returns it.
func TestIdleLeaseIsReturned(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 10, 0, 10, 0, time.UTC)}
	f := newFake()
	l := newLimiter(t, f, c.Now)
	k := &domain.ClientKey{ID: 1, Limits: domain.Limits{Budget: domain.Budget{USD: 10, Period: domain.PeriodDaily, HardStop: true}}}
	r, _, err := l.Reserve(t.Context(), k, Need{Cost: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	l.Settle(r, 0, 0.05)
	l.Flush(t.Context()) // active: renewed, still held
	if _, h := f.total(ports.LimitBudget); h <= 0 {
		t.Fatalf("held %v after a flush of an active lease", h)
	}
	c.Add(31 * time.Second) // over the default 30 s TTL without a reservation
	l.Flush(t.Context())
	if s, h := f.total(ports.LimitBudget); h != 0 || s != 0.05 {
		t.Fatalf("idle lease: spent %v held %v, want 0.05 and 0", s, h)
	}
	if _, _, err := l.Reserve(t.Context(), k, Need{Cost: 0.1}); err != nil {
		t.Fatalf("after the idle return: %v", err)
	}
}

// TestRegressionUsageAcrossAWindowIsCounted: a request that reserved in one
// minute and settled in the next was counted in neither window (the old
// lease had been returned at the rollover). Its usage now goes to the
// window it started in.
func TestRegressionUsageAcrossAWindowIsCounted(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 10, 0, 50, 0, time.UTC)}
	f := newFake()
	l := newLimiter(t, f, c.Now)
	k := &domain.ClientKey{ID: 1, Limits: domain.Limits{TPM: 10000}}
	long, _, err := l.Reserve(t.Context(), k, Need{Tokens: 500})
	if err != nil {
		t.Fatal(err)
	}
	c.Add(20 * time.Second) // the next minute
	short, _, err := l.Reserve(t.Context(), k, Need{Tokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	l.Settle(short, 10, 0)
	l.Settle(long, 300, 0) // started in the old minute
	l.Close(t.Context())
	deadline := time.Now().Add(2 * time.Second)
	for {
		if spent, _ := f.total(ports.LimitTPM); spent == 310 {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("tokens counted across both windows: %v, want 310", spent)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
