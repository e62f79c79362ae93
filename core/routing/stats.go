package routing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// Attempt is one step of a plan: a route and the key to call it with. Key is
// the keyless key (ID 0) for an openai_compatible provider without keys.
type Attempt struct {
	Route *Route
	Key   *Key
}

// Outcome is the result of one attempt.
type Outcome struct {
	// Err is nil on success; a *domain.UpstreamError gives the class, status
	// and RetryAfter. See the package documentation for how each is judged.
	Err error
	// Latency of the attempt; 0 means measured by the router's clock since
	// Begin.
	Latency time.Duration
	// TTFT is the time to the first token of a stream; 0 if unknown.
	TTFT                           time.Duration
	PromptTokens, CompletionTokens int
	Cost                           float64
}

// Ticket is an attempt in flight, returned by Begin. Call End exactly once.
type Ticket struct {
	r     *Router
	route *Route
	key   *Key
	start int64
}

// Begin marks an attempt in flight on its route and key. It also notices an
// ejection whose time is up and reports the route's return.
func (r *Router) Begin(a Attempt) Ticket {
	now := r.now()
	if a.Route != nil {
		a.Route.st.inflight.Add(1)
		if u := a.Route.st.ejectedUntil.Load(); u != 0 && u <= now && a.Route.st.ejectedUntil.CompareAndSwap(u, 0) {
			r.emit([]Event{a.Route.event(EventRouteReturned, time.Unix(0, u), "ejection time is up")})
		}
	}
	if a.Key != nil {
		a.Key.st.inflight.Add(1)
	}
	return Ticket{r: r, route: a.Route, key: a.Key, start: now}
}

// judgement is how an outcome counts for health.
type judgement int

const (
	judgedSuccess  judgement = iota // no error: feeds the EWMAs
	judgedAnswered                  // client error: success for health only
	judgedFailure                   // counts against the route and key
	judgedAuth                      // 401/403: invalidates the key
	judgedLimited                   // 429: cools the key down
	judgedCanceled                  // the client went away
)

func judge(err error) (judgement, *domain.UpstreamError) {
	if err == nil {
		return judgedSuccess, nil
	}
	var ue *domain.UpstreamError
	if errors.As(err, &ue) {
		switch {
		case ue.Class == domain.ClassCanceled:
			return judgedCanceled, ue
		case ue.Timeout:
			return judgedFailure, ue
		case ue.Class == domain.ClassRequest:
			return judgedAnswered, ue
		case ue.Class == domain.ClassAuth:
			return judgedAuth, ue
		case ue.Class == domain.ClassRateLimited:
			return judgedLimited, ue
		}
		return judgedFailure, ue
	}
	if errors.Is(err, context.Canceled) {
		return judgedCanceled, nil
	}
	return judgedFailure, nil
}

// End records the attempt's outcome. It is a no-op on a zero Ticket.
func (t Ticket) End(o Outcome) {
	if t.r == nil {
		return
	}
	r := t.r
	now := r.now()
	lat := o.Latency
	if lat <= 0 {
		lat = time.Duration(max(now-t.start, 0))
	}
	j, ue := judge(o.Err)
	var evs [2]Event
	n := 0
	if rt := t.route; rt != nil {
		rt.st.inflight.Add(-1)
		if ev, ok := r.recordRoute(rt, t.start, now, lat, o, j); ok {
			evs[n] = ev
			n++
		}
	}
	if k := t.key; k != nil {
		k.st.inflight.Add(-1)
		k.st.mu.Lock()
		k.st.count(o, j)
		if j != judgedCanceled {
			k.st.record(r, now, lat, o.TTFT, j)
		}
		k.st.mu.Unlock()
		if ev, ok := r.keyEvent(t, now, j, ue); ok {
			evs[n] = ev
			n++
		}
	}
	if n > 0 {
		r.emit(evs[:n])
	}
}

// count adds an outcome to the counters; s.mu is held, so plain load-store
// pairs suffice (readers load atomically without the lock).
func (s *stats) count(o Outcome, j judgement) {
	s.requests.Store(s.requests.Load() + 1)
	if o.Err != nil {
		s.errors.Store(s.errors.Load() + 1)
	}
	if j == judgedFailure {
		s.failures.Store(s.failures.Load() + 1)
	}
	if o.PromptTokens > 0 {
		s.promptTokens.Store(s.promptTokens.Load() + int64(o.PromptTokens))
	}
	if o.CompletionTokens > 0 {
		s.completionTokens.Store(s.completionTokens.Load() + int64(o.CompletionTokens))
	}
	if o.Cost != 0 {
		s.costBits.Store(math.Float64bits(math.Float64frombits(s.costBits.Load()) + o.Cost))
	}
}

// record feeds the EWMAs, the window and the consecutive failures; s.mu is
// held.
func (s *stats) record(r *Router, now int64, lat, ttft time.Duration, j judgement) {
	switch j {
	case judgedSuccess:
		s.lat.observe(now, float64(lat), r.tau)
		if ttft > 0 {
			s.ttft.observe(now, float64(ttft), r.tau)
		}
		fallthrough
	case judgedAnswered:
		s.win.add(now, r.bucketW, true)
		s.consec.Store(0)
	default: // failure, and auth or rate limit for a key
		if j == judgedFailure {
			s.lat.observeFloor(now, float64(lat))
		}
		s.win.add(now, r.bucketW, false)
		s.consec.Add(1)
	}
}

// recordRoute counts an outcome on a route and, for judged outcomes (not
// auth, rate limit or cancel), records it and ejects the route if it is an
// outlier.
func (r *Router) recordRoute(rt *Route, start, now int64, lat time.Duration, o Outcome, j judgement) (Event, bool) {
	st := &rt.st.stats
	st.mu.Lock()
	defer st.mu.Unlock()
	st.count(o, j)
	if j == judgedAuth || j == judgedLimited || j == judgedCanceled {
		return Event{}, false
	}
	if start < rt.st.ejectedAt.Load() {
		// Begun before the last ejection: latency only.
		if j == judgedSuccess {
			st.lat.observe(now, float64(lat), r.tau)
		}
		return Event{}, false
	}
	st.record(r, now, lat, o.TTFT, j)
	if j != judgedFailure || rt.st.ejectedUntil.Load() > now {
		return Event{}, false
	}
	reason := ""
	if c := st.consec.Load(); r.o.EjectConsecutiveFailures > 0 && c >= int64(r.o.EjectConsecutiveFailures) {
		reason = fmt.Sprintf("%d consecutive failures", c)
	} else if ok, fail := st.win.read(now, r.bucketW); r.o.EjectMinRequests >= 0 && r.o.EjectFailureRate > 0 && r.o.EjectFailureRate < 1 &&
		ok+fail >= int64(r.o.EjectMinRequests) && float64(fail) > r.o.EjectFailureRate*float64(ok+fail) {
		reason = fmt.Sprintf("failure rate %.0f%% over %d attempts", 100*float64(fail)/float64(ok+fail), ok+fail)
	}
	if reason == "" {
		return Event{}, false
	}
	return r.eject(rt, now, reason)
}

// eject takes rt out unless it is the last usable route of its model;
// rt.st.mu is held.
func (r *Router) eject(rt *Route, now int64, reason string) (Event, bool) {
	m := rt.m
	m.st.mu.Lock()
	defer m.st.mu.Unlock()
	other := false
	for _, o := range m.routes {
		if o.st == rt.st {
			continue
		}
		if t, _ := o.tier(now); t <= tierDegraded {
			other = true
			break
		}
	}
	if !other {
		return Event{}, false
	}
	d := r.ejectionFor(rt.st, now)
	until := now + int64(d)
	rt.st.ejectedAt.Store(now)
	rt.st.ejectedUntil.Store(until)
	rt.st.lastEjectEnd = until
	rt.st.win.reset()
	rt.st.consec.Store(0)
	return rt.event(EventRouteEjected, time.Unix(0, until), fmt.Sprintf("%s; ejection %d for %s", reason, rt.st.ejections.Load(), d)), true
}

// ejectionFor counts one more ejection and returns its length: EjectBase ×
// 2^(n−1) capped at EjectMax, n restarting at 1 when the route stayed in for
// EjectMax since its last ejection ended. The model state's mutex is held.
func (r *Router) ejectionFor(st *routeState, now int64) time.Duration {
	n := st.ejections.Load()
	if n > 0 && now-st.lastEjectEnd >= int64(r.o.EjectMax) {
		n = 0
	}
	n++
	st.ejections.Store(n)
	return ejectionDuration(int(n), r.o.EjectBase, r.o.EjectMax)
}

// ejectionDuration is base × 2^(n−1), capped at max.
func ejectionDuration(n int, base, maxD time.Duration) time.Duration {
	d := base
	for i := 1; i < n; i++ {
		if d >= maxD/2 {
			return maxD
		}
		d *= 2
	}
	return min(d, maxD)
}

// keyEvent applies auth and rate-limit outcomes to the key.
func (r *Router) keyEvent(t Ticket, now int64, j judgement, ue *domain.UpstreamError) (Event, bool) {
	k := t.key
	ev := Event{KeyID: k.d.ID, ProviderID: k.d.ProviderID}
	if t.route != nil {
		ev.ModelID, ev.RouteID = t.route.m.d.ID, t.route.d.ID
	}
	switch j {
	case judgedAuth:
		// One refusal may be the request's doing or a blip: the key is
		// only suspected (out of rotation for AuthCooldown) until a probe
		// of it confirms (InvalidateKey) or clears it.
		if k.d.ID == 0 {
			return Event{}, false
		}
		until := now + int64(r.o.AuthCooldown)
		for {
			old := k.st.suspectTil.Load()
			if old > now {
				return Event{}, false // already suspected: one probe is enough
			}
			if k.st.suspectTil.CompareAndSwap(old, until) {
				ev.Kind = EventKeyAuthFailed
				ev.Until = time.Unix(0, until)
				ev.Reason = "upstream refused the key"
				if ue != nil && ue.Status != 0 {
					ev.Reason = fmt.Sprintf("upstream returned %d", ue.Status)
					ev.Status = ue.Status
				}
				return ev, true
			}
		}
	case judgedLimited:
		k.st.rateLimits.Add(1)
		d := r.o.RateLimitCooldown
		if ue != nil && ue.RetryAfter > 0 {
			d = ue.RetryAfter
		}
		d = min(d, r.o.MaxRateLimitCooldown)
		until := now + int64(d)
		for {
			old := k.st.coolUntil.Load()
			if old >= until {
				return Event{}, false
			}
			if k.st.coolUntil.CompareAndSwap(old, until) {
				if old > now || k.d.ID == 0 {
					return Event{}, false // already cooling (extended silently), or keyless
				}
				ev.Kind = EventKeyRateLimited
				ev.Until = time.Unix(0, until)
				ev.Reason = fmt.Sprintf("rate limited for %s", d)
				return ev, true
			}
		}
	}
	return Event{}, false
}
