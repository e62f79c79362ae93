package routing

// Snapshots of the live state of every route and key, for the admin API
// and metrics. Split from stats.go, which records attempts.

import (
	"cmp"
	"slices"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// RouteStats is a snapshot of a route's live state.
type RouteStats struct {
	RouteID, ModelID, ProviderID int64
	Model, Provider              string
	UpstreamModel                string
	InFlight                     int64
	// EWMALatency and EWMATTFT are the peak-EWMA values as of their last
	// observation; 0 when never measured.
	EWMALatency, EWMATTFT time.Duration
	// SuccessRate is over the window (1 when WindowRequests is 0).
	SuccessRate         float64
	WindowRequests      int64
	ConsecutiveFailures int64
	// Requests counts ended attempts; Failures those judged failures; Errors
	// those with any error.
	Requests, Failures, Errors     int64
	PromptTokens, CompletionTokens int64
	Cost                           float64
	Health                         domain.HealthStatus
	EjectedUntil                   time.Time // zero when not ejected
	Ejections                      int64     // ejections in a row
}

// KeyStats is a snapshot of a key's live state.
type KeyStats struct {
	KeyID, ProviderID int64
	Provider          string
	Status            domain.KeyStatus // configured status
	InFlight          int64
	EWMALatency       time.Duration
	EWMATTFT          time.Duration
	SuccessRate       float64 // 1 when WindowRequests is 0
	WindowRequests    int64
	// ConsecutiveFailures, Failures and the window count auth and rate
	// limit outcomes too.
	ConsecutiveFailures            int64
	Requests, Failures, Errors     int64
	PromptTokens, CompletionTokens int64
	Cost                           float64
	// Health is the last active check, unhealthy when Invalid.
	Health        domain.HealthStatus
	Invalid       bool      // refused by the upstream (401/403) at run time, confirmed by a probe
	CooldownUntil time.Time // zero when not cooling down (after a 429 or an unconfirmed 401/403)
	RateLimits    int64     // 429s seen
}

func fillStats(s *stats, now, width int64) (inflight int64, lat, ttft time.Duration, rate float64, n, consec int64) {
	rate, n = s.successRate(now, width)
	return s.inflight.Load(), time.Duration(s.lat.raw()), time.Duration(s.ttft.raw()), rate, n, s.consec.Load()
}

// RouteStats returns a snapshot of every configured route, in model then
// route ID order. It reports the return of routes whose ejection is over.
func (r *Router) RouteStats() []RouteStats {
	s := r.snap.Load()
	now := r.now()
	out := make([]RouteStats, 0, len(s.routes))
	var evs []Event
	for _, rt := range s.routes {
		st := rt.st
		if u := st.ejectedUntil.Load(); u != 0 && u <= now && st.ejectedUntil.CompareAndSwap(u, 0) {
			evs = append(evs, rt.event(EventRouteReturned, time.Unix(0, u), "ejection time is up"))
		}
		rs := RouteStats{
			RouteID: rt.d.ID, ModelID: rt.m.d.ID, ProviderID: rt.d.ProviderID,
			Model: rt.m.d.Name, UpstreamModel: rt.d.UpstreamModel,
			Requests: st.requests.Load(), Failures: st.failures.Load(), Errors: st.errors.Load(),
			PromptTokens: st.promptTokens.Load(), CompletionTokens: st.completionTokens.Load(),
			Cost: st.cost(), Ejections: st.ejections.Load(),
		}
		rs.InFlight, rs.EWMALatency, rs.EWMATTFT, rs.SuccessRate, rs.WindowRequests, rs.ConsecutiveFailures = fillStats(&st.stats, now, r.bucketW)
		h := healthUnknown
		if rt.p != nil {
			rs.Provider = rt.p.d.Name
			h = health(rt.p.st.health.Load())
		}
		if u := st.ejectedUntil.Load(); u > now {
			rs.EjectedUntil = time.Unix(0, u)
			h = healthUnhealthy
		}
		if h == healthUnknown {
			if ok, _ := st.win.read(now, r.bucketW); ok > 0 {
				h = healthHealthy
			}
		}
		rs.Health = h.status()
		out = append(out, rs)
	}
	r.emit(evs)
	return out
}

// KeyStats returns a snapshot of every configured key (not the keyless
// ones), by provider, status and ID.
func (r *Router) KeyStats() []KeyStats {
	s := r.snap.Load()
	now := r.now()
	out := make([]KeyStats, 0, len(s.keys))
	for _, k := range s.keys {
		st := k.st
		ks := KeyStats{
			KeyID: k.d.ID, ProviderID: k.d.ProviderID, Status: k.d.Status,
			Requests: st.requests.Load(), Failures: st.failures.Load(), Errors: st.errors.Load(),
			PromptTokens: st.promptTokens.Load(), CompletionTokens: st.completionTokens.Load(),
			Cost: st.cost(), Invalid: st.invalid.Load(), RateLimits: st.rateLimits.Load(),
			Health: health(st.health.Load()).status(),
		}
		ks.InFlight, ks.EWMALatency, ks.EWMATTFT, ks.SuccessRate, ks.WindowRequests, ks.ConsecutiveFailures = fillStats(&st.stats, now, r.bucketW)
		if k.p != nil {
			ks.Provider = k.p.d.Name
		}
		if ks.Invalid || st.unhealthy.Load() {
			ks.Health = domain.HealthUnhealthy
		}
		if u := max(st.coolUntil.Load(), st.suspectTil.Load()); u > now {
			ks.CooldownUntil = time.Unix(0, u)
		}
		out = append(out, ks)
	}
	slices.SortFunc(out, keyStatsCompare)
	return out
}

func keyStatsCompare(a, b KeyStats) int {
	return cmp.Or(cmp.Compare(a.ProviderID, b.ProviderID), cmp.Compare(keyRank(a.Status), keyRank(b.Status)), cmp.Compare(a.KeyID, b.KeyID))
}
