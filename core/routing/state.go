package routing

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/airouter/airouter/core/domain"
)

// health is a domain.HealthStatus stored in an atomic.
type health int32

const (
	healthUnknown health = iota
	healthHealthy
	healthDegraded
	healthUnhealthy
)

func toHealth(s domain.HealthStatus) health {
	switch s {
	case domain.HealthHealthy:
		return healthHealthy
	case domain.HealthDegraded:
		return healthDegraded
	case domain.HealthUnhealthy:
		return healthUnhealthy
	}
	return healthUnknown
}

func (h health) status() domain.HealthStatus {
	switch h {
	case healthHealthy:
		return domain.HealthHealthy
	case healthDegraded:
		return domain.HealthDegraded
	case healthUnhealthy:
		return domain.HealthUnhealthy
	}
	return domain.HealthUnknown
}

// ewma is a peak-sensitive exponentially weighted moving average in
// nanoseconds. Writers hold the owner's mutex; readers use atomics only and
// may see a value and a stamp from two different writes, which is harmless
// for routing.
type ewma struct {
	bits atomic.Uint64 // float64 value
	at   atomic.Int64  // unix nanos of the last observation; 0: never measured
}

// observe records x at now: above the current value it replaces it (peak),
// below it is blended in with weight 1 − exp(−Δt/tau).
func (e *ewma) observe(now int64, x, tau float64) {
	last := e.at.Load()
	v := x
	if last != 0 {
		cur := math.Float64frombits(e.bits.Load())
		if x <= cur {
			td := float64(max(now-last, 0))
			w := expNeg(td / tau)
			v = cur*w + x*(1-w)
		}
	}
	e.bits.Store(math.Float64bits(v))
	e.at.Store(max(now, 1))
}

// observeFloor records a failed attempt: the value may rise to x but never
// falls, and the stamp is renewed so that the value stops decaying.
func (e *ewma) observeFloor(now int64, x float64) {
	cur := math.Float64frombits(e.bits.Load())
	if e.at.Load() == 0 || x > cur {
		e.bits.Store(math.Float64bits(x))
	}
	e.at.Store(max(now, 1))
}

// raw returns the value as of the last observation.
func (e *ewma) raw() float64 { return math.Float64frombits(e.bits.Load()) }

// expNeg returns e^-x for x ≥ 0 (1 for x ≤ 0) within 2e-7 of math.Exp's
// relative value: a plan decays every candidate's averages, and math.Exp
// was a third of the time of choosing among 8 routes. e^-x = 2^-n · e^-t
// with n = ⌊x/ln 2⌋ and t = x − n·ln 2 in [0, ln 2): the power of two is
// built from its exponent bits, e^-t from its Taylor series to t⁸.
func expNeg(x float64) float64 {
	if !(x > 0) {
		return 1
	}
	if x > 708 {
		return 0 // below the smallest normal float64
	}
	n := int64(x * math.Log2E) // x > 0: truncation is the floor
	t := x - float64(n)*math.Ln2
	p := 1 - t*(1-t*(1.0/2-t*(1.0/6-t*(1.0/24-t*(1.0/120-t*(1.0/720-t*(1.0/5040-t*(1.0/40320))))))))
	return p * math.Float64frombits(uint64(1023-n)<<52)
}

// decayed returns the value decayed to now and whether it was ever measured.
func (e *ewma) decayed(now int64, tau float64) (float64, bool) {
	at := e.at.Load()
	if at == 0 {
		return 0, false
	}
	v := math.Float64frombits(e.bits.Load())
	if td := now - at; td > 0 {
		v *= expNeg(float64(td) / tau)
	}
	return v, true
}

const windowBuckets = 10

type bucket struct {
	epoch    atomic.Int64 // bucket number + 1; 0: empty
	ok, fail atomic.Int64
}

// window counts successes and failures over ten buckets. Writers hold the
// owner's mutex; readers use atomics only.
type window struct {
	b [windowBuckets]bucket
}

func epochOf(now, width int64) int64 { return floorDiv(now, width) + 1 }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (w *window) add(now, width int64, ok bool) {
	e := epochOf(now, width)
	b := &w.b[uint64(e)%windowBuckets]
	if b.epoch.Load() != e {
		b.ok.Store(0)
		b.fail.Store(0)
		b.epoch.Store(e)
	}
	if ok {
		b.ok.Add(1)
	} else {
		b.fail.Add(1)
	}
}

func (w *window) read(now, width int64) (ok, fail int64) {
	cur := epochOf(now, width)
	for i := range w.b {
		b := &w.b[i]
		if e := b.epoch.Load(); e > cur-windowBuckets && e <= cur {
			ok += b.ok.Load()
			fail += b.fail.Load()
		}
	}
	return ok, fail
}

func (w *window) reset() {
	for i := range w.b {
		w.b[i].epoch.Store(0)
		w.b[i].ok.Store(0)
		w.b[i].fail.Store(0)
	}
}

// stats are the live statistics of a route or a key.
type stats struct {
	mu       sync.Mutex // guards every write but to inflight; reads are atomic
	inflight atomic.Int64
	lat      ewma
	ttft     ewma
	win      window
	consec   atomic.Int64

	requests         atomic.Int64
	failures         atomic.Int64
	errors           atomic.Int64
	promptTokens     atomic.Int64
	completionTokens atomic.Int64
	costBits         atomic.Uint64
}

func (s *stats) cost() float64 { return math.Float64frombits(s.costBits.Load()) }

// successRate returns the success rate in the window (1 when empty) and the
// number of judged attempts in it.
func (s *stats) successRate(now, width int64) (float64, int64) {
	ok, fail := s.win.read(now, width)
	n := ok + fail
	if n == 0 {
		return 1, 0
	}
	return float64(ok) / float64(n), n
}

// routeState is the live state of a route, kept across updates.
type routeState struct {
	stats
	modelID int64

	ejectedUntil atomic.Int64 // unix nanos; 0: not ejected
	ejectedAt    atomic.Int64 // start of the last ejection
	ejections    atomic.Int64 // ejections in a row
	lastEjectEnd int64        // guarded by the model state's mutex

	wrr int64 // smooth WRR current weight; guarded by the model state's mutex
}

// keyState is the live state of a key, kept across updates.
type keyState struct {
	stats
	providerID int64
	version    int64 // guarded by Router.mu
	healthAt   int64 // guarded by Router.mu

	invalid    atomic.Bool
	unhealthy  atomic.Bool
	health     atomic.Int32 // last active check
	coolUntil  atomic.Int64 // unix nanos
	suspectTil atomic.Int64 // unix nanos: an unconfirmed 401/403 took the key out
	rateLimits atomic.Int64
}

// providerState is the live state of a provider, kept across updates.
type providerState struct {
	activeTurn atomic.Uint64 // position in the active keys' WRR sequence
	drainTurn  atomic.Uint64 // position in the draining keys' WRR sequence
	health     atomic.Int32
	healthAt   int64    // guarded by Router.mu
	keyless    keyState // statistics of the keyless key
}

// modelState is the live state of a model, kept across updates.
type modelState struct {
	mu sync.Mutex // route WRR and ejection decisions
}
