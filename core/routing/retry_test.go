package routing

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	top := func() uint64 { return math.MaxUint64 }
	zero := func() uint64 { return 0 }
	base, maxD := 100*time.Millisecond, 2*time.Second
	tests := []struct {
		attempt int
		rnd     func() uint64
		want    time.Duration
	}{
		{0, top, 0},
		{-1, top, 0},
		{1, zero, 0},
		{1, func() uint64 { return uint64(100 * time.Millisecond) }, 100 * time.Millisecond}, // the cap itself is reachable
		{2, func() uint64 { return uint64(200*time.Millisecond) + 1 }, 0},                    // wraps modulo cap+1
		{3, func() uint64 { return uint64(150 * time.Millisecond) }, 150 * time.Millisecond},
		{10, func() uint64 { return uint64(2 * time.Second) }, 2 * time.Second},
		{1000, func() uint64 { return uint64(2 * time.Second) }, 2 * time.Second},
	}
	for _, tt := range tests {
		if got := Backoff(tt.attempt, base, maxD, tt.rnd); got != tt.want {
			t.Errorf("attempt %d: %s, want %s", tt.attempt, got, tt.want)
		}
	}
	// Property: within [0, min(max, base·2^(n−1))], for any random value.
	g := newRng(3)
	for n := 1; n < 100; n++ {
		c := min(maxD, base*time.Duration(1<<min(n-1, 20)))
		for range 50 {
			if d := Backoff(n, base, maxD, g.Uint64); d < 0 || d > c {
				t.Fatalf("attempt %d: %s outside [0, %s]", n, d, c)
			}
		}
	}
	if d := Backoff(70, time.Second, 0, nil); d < 0 {
		t.Fatalf("uncapped backoff overflowed: %s", d)
	}
}

func TestBudget(t *testing.T) {
	t.Parallel()
	c := newClock()
	b := NewBudget(0.2, 5, c.Now)
	for range 100 {
		b.OnRequest()
	}
	allowed := 0
	for range 200 {
		if b.TryRetry() {
			allowed++
		}
	}
	if allowed != 20+50 {
		t.Fatalf("allowed %d retries, want 0.2 × 100 + 5/s × 10 s", allowed)
	}
	// Ten seconds later the window has slid past all of it.
	c.Advance(10 * time.Second)
	b.OnRequest()
	allowed = 0
	for range 200 {
		if b.TryRetry() {
			allowed++
		}
	}
	if allowed != 50 {
		t.Fatalf("after the window: %d", allowed)
	}
}

// Under a total outage, where every attempt fails and every request would
// retry three times, upstream attempts stay ≤ 1.2 × requests + a constant per
// second.
func TestBudgetBoundsAttemptsInOutage(t *testing.T) {
	t.Parallel()
	c := newClock()
	b := NewBudget(0.2, 5, c.Now)
	requests, attempts := 0, 0
	const seconds, rps = 120, 200
	for range seconds {
		for range rps {
			b.OnRequest()
			requests++
			attempts++
			for range 3 {
				if !b.TryRetry() {
					break
				}
				attempts++
			}
			c.Advance(time.Second / rps)
		}
	}
	if limit := 1.2*float64(requests) + 5*seconds + 50; float64(attempts) > limit {
		t.Fatalf("%d attempts for %d requests, above %v", attempts, requests, limit)
	}
	if float64(attempts) < 1.15*float64(requests) {
		t.Fatalf("budget too tight: %d attempts for %d requests", attempts, requests)
	}
}

func TestBudgetConcurrent(t *testing.T) {
	t.Parallel()
	c := newClock()
	b := NewBudget(0.5, 0, c.Now)
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			n := 0
			for range 1000 {
				b.OnRequest()
				if b.TryRetry() {
					n++
				}
			}
			mu.Lock()
			allowed += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if allowed > 2000 || allowed < 1900 {
		t.Fatalf("allowed %d of 4000 requests at ratio 0.5", allowed)
	}
}
