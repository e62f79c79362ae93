package routing

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Backoff returns the pause before retry number attempt (1 for the first
// retry) with full jitter: a uniformly random duration in [0, c], where
// c = base × 2^(attempt−1) capped at maxD (maxD ≤ 0: no cap). It returns 0
// for attempt < 1 or base ≤ 0. rnd nil means math/rand/v2.Uint64.
func Backoff(attempt int, base, maxD time.Duration, rnd func() uint64) time.Duration {
	if attempt < 1 || base <= 0 {
		return 0
	}
	if maxD <= 0 {
		maxD = 1 << 62
	}
	c := ejectionDuration(attempt, base, maxD)
	if rnd == nil {
		rnd = rand.Uint64
	}
	return time.Duration(rnd() % (uint64(c) + 1))
}

// budgetSeconds is the length of a Budget's sliding window.
const budgetSeconds = 10

// Budget bounds retries to a share of requests: over a sliding window of the
// last 10 seconds, retries ≤ ratio × requests + minPerSecond × 10. A retry
// that TryRetry refuses is not counted. It is lock-free and safe for
// concurrent use; under concurrency it may refuse slightly early, never
// allow more.
type Budget struct {
	ratio float64
	min   int64
	now   func() time.Time
	// Each bucket packs the second (low 32 bits of its Unix time) in the
	// high half and the count in the low half.
	reqs    [budgetSeconds]atomic.Uint64
	retries [budgetSeconds]atomic.Uint64
}

// NewBudget returns a retry budget (the gateway uses ratio 0.2, minimum 5).
// now nil means time.Now; negative values count as 0.
func NewBudget(ratio float64, minPerSecond int, now func() time.Time) *Budget {
	if now == nil {
		now = time.Now
	}
	return &Budget{ratio: max(ratio, 0), min: int64(max(minPerSecond, 0)), now: now}
}

// OnRequest counts one client request.
func (b *Budget) OnRequest() { bump(&b.reqs, b.now().Unix(), 1) }

// TryRetry reports whether one more retry fits in the budget, and counts it
// if so.
func (b *Budget) TryRetry() bool {
	sec := b.now().Unix()
	bump(&b.retries, sec, 1)
	allowed := b.ratio*float64(sum(&b.reqs, sec)) + float64(b.min*budgetSeconds)
	if float64(sum(&b.retries, sec)) <= allowed {
		return true
	}
	bump(&b.retries, sec, -1)
	return false
}

func bump(a *[budgetSeconds]atomic.Uint64, sec int64, delta int64) {
	s := uint32(sec)
	w := &a[uint64(sec)%budgetSeconds]
	for {
		old := w.Load()
		var nw uint64
		switch {
		case uint32(old>>32) == s:
			c := int64(uint32(old)) + delta
			if c < 0 {
				return
			}
			nw = uint64(s)<<32 | uint64(uint32(c))
		case delta < 0:
			return // the bucket moved on; nothing to undo
		default:
			nw = uint64(s)<<32 | uint64(delta)
		}
		if w.CompareAndSwap(old, nw) {
			return
		}
	}
}

func sum(a *[budgetSeconds]atomic.Uint64, sec int64) int64 {
	s := uint32(sec)
	var n int64
	for i := range a {
		w := a[i].Load()
		if w == 0 {
			continue
		}
		if age := s - uint32(w>>32); age < budgetSeconds {
			n += int64(uint32(w))
		}
	}
	return n
}
