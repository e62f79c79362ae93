package main

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestScheduledAt(t *testing.T) {
	t.Parallel()
	start := time.Unix(1000, 0)
	if got := scheduledAt(start, 2000, 3).Sub(start); got != 1500*time.Microsecond {
		t.Errorf("request 3 at 2000/s: %v, want 1.5ms", got)
	}
	if got := scheduledAt(start, 3, 1).Sub(start); got != 333333333 {
		t.Errorf("request 1 at 3/s: %v", got)
	}
}

// A slow server does not slow the generator: every request starts on its
// schedule, and latency measured from the schedule includes any lateness.
func TestOpenLoopDoesNotWaitForCompletions(t *testing.T) {
	t.Parallel()
	const (
		rate = 1000.0
		n    = 100
		work = 50 * time.Millisecond
	)
	var mu sync.Mutex
	scheduled := make([]time.Time, n)
	startedLate := make([]time.Duration, n)
	t0 := time.Now()
	st := openLoop(context.Background(), rate, n, 0, func(i int, at time.Time) {
		mu.Lock()
		scheduled[i] = at
		startedLate[i] = time.Since(at)
		mu.Unlock()
		time.Sleep(work) // a server slower than the request interval
	})
	elapsed := time.Since(t0)
	// Closed loop would take n × work = 5 s; open loop ≈ n/rate + work.
	if elapsed > time.Second {
		t.Fatalf("open loop took %v: it waited for completions", elapsed)
	}
	if elapsed < work {
		t.Fatalf("returned after %v, before the calls finished", elapsed)
	}
	for i := 1; i < n; i++ {
		if d := scheduled[i].Sub(scheduled[i-1]); d < 999*time.Microsecond || d > 1001*time.Microsecond {
			t.Fatalf("requests %d and %d scheduled %v apart, want 1ms", i-1, i, d)
		}
		// openLoop does not sleep for the last 20 µs before a request's
		// time (a timer cannot wait that little), so it may start that early.
		if startedLate[i] < -20*time.Microsecond {
			t.Fatalf("request %d started %v before its scheduled time", i, -startedLate[i])
		}
	}
	if st.Dropped != 0 {
		t.Errorf("dropped %d without a limit", st.Dropped)
	}
}

// Beyond maxInFlight open calls, requests are dropped, not queued.
func TestOpenLoopDropsBeyondMaxInFlight(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	fired := 0
	go func() { time.Sleep(200 * time.Millisecond); close(release) }()
	st := openLoop(context.Background(), 1000, 50, 5, func(int, time.Time) {
		mu.Lock()
		fired++
		mu.Unlock()
		<-release
	})
	if fired != 5 || st.Dropped != 45 {
		t.Errorf("fired %d, dropped %d; want 5 and 45", fired, st.Dropped)
	}
}

// Canceling stops the schedule; the unsent requests count as dropped.
func TestOpenLoopStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	fired := 0
	st := openLoop(ctx, 1000, 1000, 0, func(i int, _ time.Time) {
		mu.Lock()
		fired++
		mu.Unlock()
		if i == 9 {
			cancel()
		}
	})
	if fired+st.Dropped != 1000 || fired > 50 {
		t.Errorf("fired %d, dropped %d", fired, st.Dropped)
	}
}
