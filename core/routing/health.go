package routing

// Active and passive health: applying health-check results, invalidating
// and clearing keys, and the route tiers and key availability they decide
// (see the package documentation). Split from router.go, which holds the
// snapshot and its updates.

import (
	"math"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// ApplyHealth applies an active health-check result: for a provider when
// KeyID is 0, else for that key (see the package documentation). A result
// older than one already applied is ignored.
func (r *Router) ApplyHealth(h domain.Health) {
	r.mu.Lock()
	evs := r.applyHealth(r.snap.Load(), h, true, nil)
	r.mu.Unlock()
	r.emit(evs)
}

// applyHealth needs r.mu. A live result (ApplyHealth) is applied unless it
// is older than the last one applied; a stored one (Config.Health) only if it
// is newer, so that reloading the configuration does not replay it. A stored
// result without CheckedAt is applied only to a provider or key that has had
// none.
func (r *Router) applyHealth(s *snapshot, h domain.Health, live bool, evs []Event) []Event {
	var last *int64
	var k *Key
	var p *provider
	if h.KeyID != 0 {
		if k = s.keys[h.KeyID]; k == nil {
			return evs
		}
		last = &k.st.healthAt
	} else {
		if p = s.providers[h.ProviderID]; p == nil {
			return evs
		}
		last = &p.st.healthAt
	}
	at := int64(1) // no CheckedAt: older than any real result
	if !h.CheckedAt.IsZero() {
		at = max(h.CheckedAt.UnixNano(), 1)
	}
	if at < *last || (!live && at == *last) {
		return evs
	}
	*last = at
	st := toHealth(h.Status)
	if k != nil {
		k.st.health.Store(int32(st))
		switch st {
		case healthUnhealthy:
			k.st.unhealthy.Store(true)
		case healthDegraded:
			k.st.unhealthy.Store(false)
		case healthHealthy:
			k.st.unhealthy.Store(false)
			k.st.invalid.Store(false)
			k.st.suspectTil.Store(0)
		}
		return evs
	}
	p.st.health.Store(int32(st))
	if st != healthHealthy {
		return evs
	}
	for _, rt := range s.byProvider[p.d.ID] {
		if u := rt.st.ejectedUntil.Load(); u != 0 && rt.st.ejectedUntil.CompareAndSwap(u, 0) {
			evs = append(evs, rt.event(EventRouteReturned, time.Time{}, "healthy active check of the provider"))
		}
	}
	return evs
}

// Usable reports whether the attempt's route is still in tier 0 or 1 and its
// key still good, as a Plan made now would see them. The gateway may skip an
// attempt that is no longer usable, e.g. a key that has since been rate
// limited.
func (r *Router) Usable(a Attempt) bool {
	if a.Route == nil || a.Key == nil {
		return false
	}
	now := r.now()
	t, _ := a.Route.tier(now)
	return t <= tierDegraded && a.Key.good(now)
}

// KeyReady reports whether the attempt's key may be called now: it is not
// invalid and not cooling down (after a 429, or an unconfirmed 401/403).
// Otherwise it returns when the key frees up (0: never, it is invalid). A
// key that an active check found unhealthy is ready: a plan uses it as a
// last resort.
func (r *Router) KeyReady(a Attempt) (bool, time.Time) {
	if a.Key == nil {
		return false, time.Time{}
	}
	k := a.Key
	now := r.now()
	if !k.candidate(now) {
		return false, time.Time{}
	}
	if at := k.coolingUntil(); at > now {
		return false, time.Unix(0, at)
	}
	return true, time.Time{}
}

// KeysFree returns the earliest time a key of one of the model's routes
// that is cooling down frees up, or the zero time when none is cooling.
func (m *Model) KeysFree() time.Time {
	now := m.r.now()
	best := int64(math.MaxInt64)
	for _, rt := range m.routes {
		p := rt.p
		if p.keyless != nil {
			if at := p.keyless.coolingUntil(); at > now {
				best = min(best, at)
			}
			continue
		}
		for _, k := range p.keys {
			if k.candidate(now) {
				if at := k.coolingUntil(); at > now {
					best = min(best, at)
				}
			}
		}
	}
	if best == math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(0, best)
}

// Key returns the key with the given ID in the current snapshot.
func (r *Router) Key(id int64) (*Key, bool) {
	k, ok := r.snap.Load().keys[id]
	return k, ok
}

// InvalidateKey marks a key refused by the upstream, confirmed by a probe
// after EventKeyAuthFailed: it is not used until a healthy active check of
// it or a configuration change of the key. It emits EventKeyInvalidated.
func (r *Router) InvalidateKey(id int64, reason string) {
	k, ok := r.Key(id)
	if !ok || k.d.ID == 0 {
		return
	}
	k.st.suspectTil.Store(0)
	if k.st.invalid.CompareAndSwap(false, true) {
		r.emit([]Event{{Kind: EventKeyInvalidated, ProviderID: k.d.ProviderID, KeyID: id, Reason: reason}})
	}
}

// ClearKeySuspicion returns a key that was taken out by an unconfirmed
// 401/403 (its probe succeeded). A 429 cooldown is kept.
func (r *Router) ClearKeySuspicion(id int64) {
	if k, ok := r.Key(id); ok {
		k.st.suspectTil.Store(0)
	}
}

// Route tiers, see the package documentation.
const (
	tierHealthy = iota
	tierDegraded
	tierOut
	tierUnusable
)

// good reports whether the key may be used now.
func (k *Key) good(now int64) bool {
	return !k.st.invalid.Load() && !k.st.unhealthy.Load() && k.st.coolUntil.Load() <= now && k.st.suspectTil.Load() <= now && (k.expiry == 0 || now < k.expiry)
}

// coolingUntil is the end of the key's cooldown after a 429 or an
// unconfirmed 401/403 (either may be in the past).
func (k *Key) coolingUntil() int64 { return max(k.st.coolUntil.Load(), k.st.suspectTil.Load()) }

// candidate reports whether the key may be used as a last resort.
func (k *Key) candidate(now int64) bool {
	return !k.st.invalid.Load() && (k.expiry == 0 || now < k.expiry)
}

// availableAt returns when a candidate key will be good again (0 for
// unknown, e.g. unhealthy).
func (k *Key) availableAt() int64 {
	if k.st.unhealthy.Load() {
		return math.MaxInt64
	}
	return k.coolingUntil()
}

// keyAvailability reports whether the provider has a good key and otherwise
// when its first candidate key is available again (MaxInt64 if none is).
func (p *provider) keyAvailability(now int64) (good, candidate bool, at int64) {
	if k := p.keyless; k != nil {
		if k.good(now) {
			return true, true, 0
		}
		return false, true, k.availableAt()
	}
	at = math.MaxInt64
	for _, k := range p.keys {
		if k.good(now) {
			return true, true, 0
		}
		if k.candidate(now) {
			candidate = true
			at = min(at, k.availableAt())
		}
	}
	return false, candidate, at
}

// tier returns the route's tier now and, for tier 2, when it will be back.
func (rt *Route) tier(now int64) (int, int64) {
	good, cand, kat := rt.p.keyAvailability(now)
	if !cand {
		return tierUnusable, 0
	}
	out := false
	ret := int64(0)
	if u := rt.st.ejectedUntil.Load(); u > now {
		out, ret = true, u
	}
	h := health(rt.p.st.health.Load())
	if h == healthUnhealthy {
		out, ret = true, math.MaxInt64
	}
	if !good {
		out, ret = true, max(ret, kat)
	}
	switch {
	case out:
		return tierOut, ret
	case h == healthDegraded:
		return tierDegraded, 0
	}
	return tierHealthy, 0
}

func (rt *Route) listable(now int64) bool {
	_, cand, _ := rt.p.keyAvailability(now)
	return cand && rt.st.ejectedUntil.Load() <= now && health(rt.p.st.health.Load()) != healthUnhealthy
}

func (rt *Route) event(kind EventKind, until time.Time, reason string) Event {
	return Event{Kind: kind, ModelID: rt.m.d.ID, RouteID: rt.d.ID, ProviderID: rt.d.ProviderID, Until: until, Reason: reason}
}
