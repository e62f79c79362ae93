package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// scheduledAt is the send time of request i of an open-loop run at rate
// requests per second that starts at start.
func scheduledAt(start time.Time, rate float64, i int) time.Time {
	return start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
}

// loopStats describes how well the generator kept to its schedule.
type loopStats struct {
	Dropped int           // not sent: maxInFlight requests were already open
	MaxLag  time.Duration // the latest a request started after its scheduled time
	Late    int           // requests started more than 1 ms after their scheduled time
}

// openLoop calls fire(i, scheduled) for i in [0, n), each in its own
// goroutine, at start + i/rate, whether or not earlier calls have
// returned: an open-loop generator, so a slow server meets the offered
// load instead of slowing the generator down (coordinated omission). fire
// measures latency from scheduled, not from when it started, so a late
// generator is charged to the server rather than hidden. When maxInFlight
// (> 0) calls are already open, request i is dropped (not sent); the
// caller counts it as an error. openLoop returns when every call has
// returned, or stops scheduling when ctx ends.
func openLoop(ctx context.Context, rate float64, n, maxInFlight int, fire func(i int, scheduled time.Time)) loopStats {
	var (
		st       loopStats
		wg       sync.WaitGroup
		inflight atomic.Int64
		timer    = time.NewTimer(time.Hour)
	)
	timer.Stop()
	start := time.Now()
	for i := range n {
		at := scheduledAt(start, rate, i)
		if d := time.Until(at); d > 20*time.Microsecond {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				timer.Stop()
				st.Dropped += n - i
				wg.Wait()
				return st
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			st.Dropped += n - i
			break
		}
		if lag := time.Since(at); lag > 0 {
			st.MaxLag = max(st.MaxLag, lag)
			if lag > time.Millisecond {
				st.Late++
			}
		}
		if maxInFlight > 0 && inflight.Load() >= int64(maxInFlight) {
			st.Dropped++
			continue
		}
		inflight.Add(1)
		wg.Go(func() {
			defer inflight.Add(-1)
			fire(i, at)
		})
	}
	wg.Wait()
	return st
}
