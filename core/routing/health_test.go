package routing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
)

func TestEjectionDuration(t *testing.T) {
	t.Parallel()
	base, maxD := 30*time.Second, 5*time.Minute
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := ejectionDuration(i+1, base, maxD); got != w {
			t.Errorf("n=%d: %s, want %s", i+1, got, w)
		}
	}
	// Property: never above max, doubling until capped, no overflow.
	for n := 1; n < 200; n++ {
		for _, b := range []time.Duration{time.Nanosecond, time.Second, 1 << 61} {
			for _, m := range []time.Duration{b, 3 * b / 2, time.Hour, 1<<63 - 1} {
				if m < b {
					continue
				}
				d := ejectionDuration(n, b, m)
				if d <= 0 || d > m || (n > 1 && d != m && d != 2*ejectionDuration(n-1, b, m)) {
					t.Fatalf("n=%d base=%d max=%d: %d", n, b, m, d)
				}
			}
		}
	}
}

func failN(f *fixture, id int64, n int, err error) {
	for range n {
		f.attempt(id, 10*time.Millisecond, err)
	}
}

func kinds(evs []Event) []EventKind {
	ks := make([]EventKind, len(evs))
	for i, e := range evs {
		ks[i] = e.Kind
	}
	return ks
}

func TestConsecutiveFailuresEjectWithDoublingTime(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{}, 2, domain.StrategyFallback, "")

	failN(f, 11, 4, err500)
	if s := f.routeStats(11); !s.EjectedUntil.IsZero() || s.ConsecutiveFailures != 4 {
		t.Fatalf("after 4 failures: %+v", s)
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i, d := range want {
		if i == 0 {
			failN(f, 11, 1, err500) // the fifth in a row
		} else {
			failN(f, 11, 5, err500)
		}
		now := f.clock.Now()
		s := f.routeStats(11)
		if !s.EjectedUntil.Equal(now.Add(d)) || s.Ejections != int64(i+1) || s.Health != domain.HealthUnhealthy {
			t.Fatalf("ejection %d: until %v (want now+%s), count %d, health %s", i+1, s.EjectedUntil.Sub(now), d, s.Ejections, s.Health)
		}
		evs := f.takeEvents()
		if len(evs) != 1 || evs[0].Kind != EventRouteEjected || evs[0].RouteID != 11 || evs[0].ModelID != 1 ||
			evs[0].ProviderID != 1 || !evs[0].Until.Equal(now.Add(d)) {
			t.Fatalf("ejection %d events %+v", i+1, evs)
		}
		if got := routeIDs(f.plan(PlanRequest{}, 2)); !slices.Equal(got, []int64{12, 12}) {
			t.Fatalf("plan while ejected %v", got)
		}
		f.clock.Advance(d - time.Nanosecond)
		if got := f.first(PlanRequest{}); got != 12 {
			t.Fatalf("back too early")
		}
		f.clock.Advance(time.Nanosecond)
		if got := f.first(PlanRequest{}); got != 11 {
			t.Fatalf("not back after %s", d)
		}
		f.r.RouteStats() // notices the return
		if evs := f.takeEvents(); !slices.Equal(kinds(evs), []EventKind{EventRouteReturned}) || evs[0].RouteID != 11 {
			t.Fatalf("return events %+v", evs)
		}
		if i == 0 {
			// Failures now start from scratch: four do not eject.
			failN(f, 11, 4, err500)
			if !f.routeStats(11).EjectedUntil.IsZero() {
				t.Fatal("window not cleared by the ejection")
			}
			f.attempt(11, time.Millisecond, nil) // reset the consecutive count
		}
	}
	// Staying in for EjectMax resets the doubling.
	f.clock.Advance(5 * time.Minute)
	failN(f, 11, 5, err500)
	if s := f.routeStats(11); s.Ejections != 1 || !s.EjectedUntil.Equal(f.clock.Now().Add(30*time.Second)) {
		t.Fatalf("after a quiet EjectMax: %+v", s)
	}
}

func TestFailureRateEjects(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{EjectConsecutiveFailures: -1}, 2, domain.StrategyFallback, "")
	for range 10 {
		f.attempt(11, time.Millisecond, nil)
	}
	failN(f, 11, 10, err500) // 10/20 is not above 0.5
	if s := f.routeStats(11); !s.EjectedUntil.IsZero() || s.ConsecutiveFailures != 10 {
		t.Fatalf("ejected at 50%%: %+v", s)
	}
	failN(f, 11, 1, err500) // 11/21
	if s := f.routeStats(11); s.EjectedUntil.IsZero() {
		t.Fatalf("not ejected at 11/21: %+v", s)
	}
	if evs := f.takeEvents(); len(evs) != 1 || evs[0].Reason == "" {
		t.Fatalf("events %+v", evs)
	}
	// Below the minimum number of requests the rate does not count.
	f = newFixture(t, Options{EjectConsecutiveFailures: -1})
	f.cfg = standard(2, domain.StrategyFallback, "")
	f.update()
	failN(f, 11, 19, err500)
	if s := f.routeStats(11); !s.EjectedUntil.IsZero() {
		t.Fatal("ejected below EjectMinRequests")
	}
	// The window slides: old failures age out.
	f.clock.Advance(31 * time.Second)
	f.attempt(11, time.Millisecond, nil)
	if s := f.routeStats(11); s.WindowRequests != 1 || s.SuccessRate != 1 || s.Failures != 19 {
		t.Fatalf("window after 31 s: %+v", s)
	}
}

func TestOnlyRouteFailuresCountForEjection(t *testing.T) {
	t.Parallel()
	notFailures := map[string]error{
		"request":  err400,
		"canceled": errCxl,
		"context":  fmt.Errorf("wrapped: %w", context.Canceled),
		"auth":     err401,
		"429":      err429,
	}
	for name, err := range notFailures {
		f := newFixture(t, Options{})
		f.cfg = standard(2, domain.StrategyFallback, "")
		f.cfg.Keys = append(f.cfg.Keys, key(201, 1), key(301, 1))
		f.update()
		failN(f, 11, 3, err500)
		failN(f, 11, 10, err)
		f.takeEvents()
		failN(f, 11, 1, err500)
		s := f.routeStats(11)
		if !s.EjectedUntil.IsZero() {
			t.Errorf("%s: counted as a route failure: %+v", name, s)
		}
		if name == "request" && s.ConsecutiveFailures != 1 {
			t.Errorf("a 400 should reset consecutive failures: %d", s.ConsecutiveFailures)
		}
		if name != "request" && s.ConsecutiveFailures != 4 {
			t.Errorf("%s should leave consecutive failures alone: %d", name, s.ConsecutiveFailures)
		}
	}
	failures := map[string]error{
		"500":      err500,
		"timeout":  &domain.UpstreamError{Class: domain.ClassRetryable, Timeout: true},
		"deadline": context.DeadlineExceeded,
		"ambig":    upstream(domain.ClassAmbiguous, 0),
		"other":    errors.New("connection refused"),
	}
	for name, err := range failures {
		f := standardFixture(t, Options{}, 2, domain.StrategyFallback, "")
		failN(f, 11, 5, err)
		if s := f.routeStats(11); s.EjectedUntil.IsZero() || s.Failures != 5 {
			t.Errorf("%s: five failures did not eject: %+v", name, s)
		}
	}
}

func TestNeverEjectTheLastUsableRoute(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{}, 2, domain.StrategyFallback, "")
	failN(f, 11, 5, err500)
	failN(f, 12, 20, err500)
	if s := f.routeStats(12); !s.EjectedUntil.IsZero() || s.ConsecutiveFailures != 20 {
		t.Fatalf("last usable route ejected: %+v", s)
	}
	if got := routeIDs(f.plan(PlanRequest{}, 2)); !slices.Equal(got, []int64{12, 12}) {
		t.Fatalf("plan %v", got)
	}
	// A model with a single route is never ejected.
	f = newFixture(t, Options{})
	f.cfg = standard(1, domain.StrategyAuto, "")
	f.update()
	failN(f, 11, 50, err500)
	if s := f.routeStats(11); !s.EjectedUntil.IsZero() {
		t.Fatal("single route ejected")
	}
	if evs := f.takeEvents(); len(evs) != 0 {
		t.Fatalf("events %+v", evs)
	}
}

func TestAllRoutesOutPlansLeastBad(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{}, 3, domain.StrategyFallback, "")
	failN(f, 12, 5, err500) // ejected for 30 s
	f.clock.Advance(10 * time.Second)
	f.attempt(13, time.Millisecond, err429) // only key cools down 5 s
	f.r.ApplyHealth(domain.Health{ProviderID: 1, Status: domain.HealthUnhealthy})
	p := f.plan(PlanRequest{}, 4)
	if got := routeIDs(p); !slices.Equal(got, []int64{13, 12, 11, 13}) {
		t.Fatalf("plan %v, want soonest back first: 13 (5 s), 12 (20 s), 11 (unknown)", got)
	}
	if p[0].Key.ID() != 103 {
		t.Fatalf("key %d", p[0].Key.ID())
	}
	if got := f.r.ListModels(); len(got) != 1 || !slices.Equal(got[0].Providers, []string{"p3"}) {
		t.Fatalf("ListModels %+v", got)
	}
	// A provider down and the rest ejected: ListModels drops the model.
	f.r.ApplyHealth(domain.Health{ProviderID: 3, Status: domain.HealthUnhealthy})
	if got := f.r.ListModels(); len(got) != 0 {
		t.Fatalf("ListModels %+v", got)
	}
	// A named provider goes first among the out routes as well.
	if got := routeIDs(f.plan(PlanRequest{Provider: "p1"}, 2)); !slices.Equal(got, []int64{11, 12}) {
		t.Fatalf("plan %v", got)
	}
}

func TestHealthyProviderCheckReturnsEjectedRoutes(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{}, 2, domain.StrategyFallback, "")
	failN(f, 11, 5, err500)
	f.takeEvents()
	f.r.ApplyHealth(domain.Health{ProviderID: 1, Status: domain.HealthHealthy, CheckedAt: f.clock.Now()})
	if s := f.routeStats(11); !s.EjectedUntil.IsZero() || s.Health != domain.HealthHealthy {
		t.Fatalf("after healthy check: %+v", s)
	}
	if evs := f.takeEvents(); !slices.Equal(kinds(evs), []EventKind{EventRouteReturned}) {
		t.Fatalf("events %+v", evs)
	}
	if got := f.first(PlanRequest{}); got != 11 {
		t.Fatalf("first %d", got)
	}
	// An older result is ignored.
	f.r.ApplyHealth(domain.Health{ProviderID: 1, Status: domain.HealthUnhealthy, CheckedAt: f.clock.Now().Add(-time.Second)})
	if got := f.first(PlanRequest{}); got != 11 {
		t.Fatal("stale check applied")
	}
	f.r.ApplyHealth(domain.Health{ProviderID: 1, Status: domain.HealthUnhealthy, CheckedAt: f.clock.Now()})
	if got := f.first(PlanRequest{}); got != 12 {
		t.Fatal("unhealthy check not applied")
	}
	if s := f.routeStats(11); s.Health != domain.HealthUnhealthy {
		t.Fatalf("health %s", s.Health)
	}
}

func TestAttemptsBegunBeforeEjectionDoNotCount(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{}, 2, domain.StrategyFallback, "")
	a := Attempt{Route: f.route(11), Key: f.route(11).p.keys[0]}
	var old []Ticket
	for range 6 {
		old = append(old, f.r.Begin(a))
	}
	failN(f, 11, 5, err500)
	f.clock.Advance(30 * time.Second)
	for _, tk := range old {
		tk.End(Outcome{Err: err500})
	}
	s := f.routeStats(11)
	if s.ConsecutiveFailures != 0 || s.Failures != 11 || s.InFlight != 0 {
		t.Fatalf("stats %+v", s)
	}
	failN(f, 11, 4, err500)
	if s := f.routeStats(11); !s.EjectedUntil.IsZero() {
		t.Fatal("stale failures counted towards the next ejection")
	}
}

func TestAuthInvalidatesKeyNotRoute(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	f.cfg = standard(2, domain.StrategyFallback, "")
	f.cfg.Keys = append(f.cfg.Keys, key(201, 1))
	f.update()
	a := Attempt{Route: f.route(11), Key: f.r.snap.Load().keys[101]}
	f.r.Begin(a).End(Outcome{Err: err401})
	f.r.Begin(a).End(Outcome{Err: err401}) // one event only
	evs := f.takeEvents()
	if len(evs) != 1 || evs[0].Kind != EventKeyAuthFailed || evs[0].KeyID != 101 || evs[0].RouteID != 11 || evs[0].ProviderID != 1 || evs[0].Until.IsZero() {
		t.Fatalf("events %+v", evs)
	}
	// Suspected, not invalid: out of rotation until a probe decides.
	if s := f.keyStats(101); s.Invalid || s.CooldownUntil.IsZero() {
		t.Fatalf("suspected key stats %+v", s)
	}
	if ok, until := f.r.KeyReady(a); ok || until.IsZero() || f.r.Usable(a) {
		t.Fatal("suspected key still usable")
	}
	f.r.InvalidateKey(101, "probe refused")
	f.r.InvalidateKey(101, "probe refused") // one event only
	if evs := f.takeEvents(); len(evs) != 1 || evs[0].Kind != EventKeyInvalidated || evs[0].KeyID != 101 {
		t.Fatalf("events %+v", evs)
	}
	if ok, until := f.r.KeyReady(a); ok || !until.IsZero() || f.r.Usable(a) {
		t.Fatal("invalid key still usable")
	}
	for range 10 {
		p := f.plan(PlanRequest{}, 2)
		if p[0].Route.ID() != 11 || p[0].Key.ID() != 201 || p[1].Route.ID() != 12 {
			t.Fatalf("plan %v keys %v", routeIDs(p), keyIDs(p))
		}
	}
	if s := f.keyStats(101); !s.Invalid || s.Health != domain.HealthUnhealthy || s.Failures != 0 || s.Errors != 2 {
		t.Fatalf("key stats %+v", s)
	}
	if s := f.routeStats(11); s.ConsecutiveFailures != 0 || s.Health == domain.HealthUnhealthy {
		t.Fatalf("route stats %+v", s)
	}
	// With every key of the provider invalid its route is out for good.
	f.r.Begin(Attempt{Route: f.route(11), Key: f.r.snap.Load().keys[201]}).End(Outcome{Err: err401})
	f.r.InvalidateKey(201, "probe refused")
	if got := routeIDs(f.plan(PlanRequest{}, 2)); !slices.Equal(got, []int64{12, 12}) {
		t.Fatalf("plan %v", got)
	}
	// A healthy check of the key lifts the invalidation.
	f.r.ApplyHealth(domain.Health{ProviderID: 1, KeyID: 201, Status: domain.HealthHealthy})
	if p := f.plan(PlanRequest{}, 1); p[0].Key.ID() != 201 {
		t.Fatalf("plan keys %v", keyIDs(p))
	}
	// So does a new key version from the store.
	f.cfg.Keys[0].Version = 2
	f.update()
	if f.keyStats(101).Invalid {
		t.Fatal("new key version kept the invalidation")
	}
	// An unhealthy key check takes the key out.
	f.r.ApplyHealth(domain.Health{ProviderID: 1, KeyID: 101, Status: domain.HealthUnhealthy})
	for range 5 {
		if p := f.plan(PlanRequest{}, 1); p[0].Key.ID() != 201 {
			t.Fatalf("plan keys %v", keyIDs(p))
		}
	}
	// A model whose keys are all invalid is unavailable.
	f = newFixture(t, Options{})
	f.cfg = standard(1, domain.StrategyAuto, "")
	f.update()
	f.attempt(11, time.Millisecond, err401)
	f.r.InvalidateKey(101, "probe refused")
	if _, err := f.model("m").Plan(PlanRequest{}, make([]Attempt, 0, 1)); codeOf(err) != domain.CodeUnavailable {
		t.Fatalf("err %v", err)
	}
}

// TestRegressionAuthFailureOnlySuspectsKey: a 401/403 of one attempt used
// to invalidate the key at once (and the gateway stored it invalid); now it
// only takes the key out for AuthCooldown, and a probe that succeeds
// (ClearKeySuspicion) returns it at once.
func TestRegressionAuthFailureOnlySuspectsKey(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{AuthCooldown: 10 * time.Second}, 1, domain.StrategyAuto, "")
	a := Attempt{Route: f.route(11), Key: f.r.snap.Load().keys[101]}
	f.r.Begin(a).End(Outcome{Err: err401})
	if s := f.keyStats(101); s.Invalid {
		t.Fatalf("one refusal invalidated the key: %+v", s)
	}
	// The only key is suspected: the model is not refused (the route is in
	// tier 2), but the gateway will not call the key.
	if _, err := f.model("m").Plan(PlanRequest{}, make([]Attempt, 0, 1)); err != nil {
		t.Fatalf("plan: %v", err)
	}
	if ok, until := f.r.KeyReady(a); ok || !until.Equal(f.clock.Now().Add(10*time.Second)) {
		t.Fatalf("KeyReady = %v, %v", ok, until)
	}
	if at := f.model("m").KeysFree(); !at.Equal(f.clock.Now().Add(10 * time.Second)) {
		t.Fatalf("KeysFree = %v", at)
	}
	f.r.ClearKeySuspicion(101)
	if ok, _ := f.r.KeyReady(a); !ok || !f.r.Usable(a) {
		t.Fatal("a cleared key is still out")
	}
	// An unconfirmed suspicion also ends with its cooldown.
	f.r.Begin(a).End(Outcome{Err: err401})
	f.clock.Advance(11 * time.Second)
	if ok, _ := f.r.KeyReady(a); !ok {
		t.Fatal("the suspicion outlived its cooldown")
	}
	// and a new refusal after it asks for a new probe.
	f.takeEvents()
	f.r.Begin(a).End(Outcome{Err: err401})
	if evs := f.takeEvents(); len(evs) != 1 || evs[0].Kind != EventKeyAuthFailed {
		t.Fatalf("events %+v", evs)
	}
}

func TestRateLimitCoolsKeyDown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		retryAfter, want time.Duration
	}{
		{0, 5 * time.Second},
		{10 * time.Second, 10 * time.Second},
		{10 * time.Minute, time.Minute},
	}
	for _, tt := range tests {
		f := newFixture(t, Options{})
		f.cfg = standard(1, domain.StrategyAuto, "")
		f.cfg.Keys = append(f.cfg.Keys, key(201, 1))
		f.update()
		k101 := f.r.snap.Load().keys[101]
		a := Attempt{Route: f.route(11), Key: k101}
		now := f.clock.Now()
		f.r.Begin(a).End(Outcome{Err: &domain.UpstreamError{Class: domain.ClassRateLimited, Status: 429, RetryAfter: tt.retryAfter}})
		f.r.Begin(a).End(Outcome{Err: err429}) // already cooling: no event
		evs := f.takeEvents()
		if len(evs) != 1 || evs[0].Kind != EventKeyRateLimited || evs[0].KeyID != 101 || !evs[0].Until.Equal(now.Add(tt.want)) {
			t.Fatalf("retry after %s: events %+v", tt.retryAfter, evs)
		}
		if s := f.keyStats(101); !s.CooldownUntil.Equal(now.Add(tt.want)) || s.RateLimits != 2 {
			t.Fatalf("key stats %+v", s)
		}
		for range 5 {
			if p := f.plan(PlanRequest{}, 2); !slices.Equal(keyIDs(p), []int64{201, 201}) {
				t.Fatalf("keys %v while 101 cools down", keyIDs(p))
			}
		}
		f.clock.Advance(tt.want)
		if p := f.plan(PlanRequest{}, 2); !slices.Contains(keyIDs(p), 101) {
			t.Fatalf("keys %v after the cooldown", keyIDs(p))
		}
		if s := f.routeStats(11); s.ConsecutiveFailures != 0 || s.Failures != 0 {
			t.Fatalf("429 counted against the route: %+v", s)
		}
	}
}

func TestFastFailuresDoNotLowerLatency(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	f.cfg = standard(2, domain.StrategyResponseTime, `{"explore":0}`)
	f.cfg.Keys = append(f.cfg.Keys, key(201, 1), key(301, 1))
	f.update()
	f.measure(11, time.Second)
	f.measure(12, 500*time.Millisecond)
	for range 3 {
		f.attempt(11, time.Millisecond, err429)
		f.attempt(11, time.Millisecond, err500)
	}
	if s := f.routeStats(11); s.EWMALatency != time.Second {
		t.Fatalf("route latency %s after fast failures", s.EWMALatency)
	}
	if got := f.first(PlanRequest{}); got != 12 {
		t.Fatalf("first %d: fast failures made 11 look fast", got)
	}
	// A slow failure (a timeout) raises it.
	f.attempt(11, 5*time.Second, &domain.UpstreamError{Class: domain.ClassRetryable, Timeout: true})
	if s := f.routeStats(11); s.EWMALatency != 5*time.Second {
		t.Fatalf("route latency %s after a timeout", s.EWMALatency)
	}
}

func TestPeakEWMA(t *testing.T) {
	t.Parallel()
	var e ewma
	tau := float64(10 * time.Second)
	const t0 = int64(1e18)
	e.observe(t0, 100, tau)
	e.observe(t0+int64(10*time.Second), 50, tau) // weight 1−1/e
	want := 100*0.36787944117144233 + 50*(1-0.36787944117144233)
	if got := e.raw(); math.Abs(got-want) > 1e-6 {
		t.Fatalf("blend %v, want %v", got, want)
	}
	e.observe(t0+int64(11*time.Second), 400, tau) // peak replaces
	if e.raw() != 400 {
		t.Fatalf("peak %v", e.raw())
	}
	if v, ok := e.decayed(t0+int64(21*time.Second), tau); !ok || v < 400*0.3678 || v > 400*0.3679 {
		t.Fatalf("decayed %v", v)
	}
	var un ewma
	if _, ok := un.decayed(t0, tau); ok {
		t.Fatal("unmeasured reads as measured")
	}
}

func TestConfigHealthAppliedOnUpdate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	f.cfg = standard(2, domain.StrategyFallback, "")
	at := f.clock.Now()
	f.cfg.Health = []domain.Health{{ProviderID: 1, Status: domain.HealthUnhealthy, CheckedAt: at}}
	f.update()
	if got := f.first(PlanRequest{}); got != 12 {
		t.Fatalf("first %d", got)
	}
	// A newer active check wins over the same stale entry on the next update.
	f.r.ApplyHealth(domain.Health{ProviderID: 1, Status: domain.HealthHealthy, CheckedAt: at.Add(time.Second)})
	f.update()
	if got := f.first(PlanRequest{}); got != 11 {
		t.Fatalf("first %d: stale config health re-applied", got)
	}
	// Reloading a healthy entry does not return an ejected route.
	f.cfg.Health = []domain.Health{{ProviderID: 1, Status: domain.HealthHealthy, CheckedAt: at.Add(2 * time.Second)}}
	f.update()
	failN(f, 11, 5, err500)
	f.update()
	if s := f.routeStats(11); s.EjectedUntil.IsZero() {
		t.Fatal("reload replayed a healthy check")
	}
	// Entries without CheckedAt apply once.
	f.cfg.Health = []domain.Health{{ProviderID: 2, Status: domain.HealthDegraded}}
	f.update()
	if s := f.routeStats(12); s.Health != domain.HealthDegraded {
		t.Fatalf("health %s", s.Health)
	}
	f.r.ApplyHealth(domain.Health{ProviderID: 2, Status: domain.HealthHealthy, CheckedAt: at})
	f.update()
	if s := f.routeStats(12); s.Health != domain.HealthHealthy {
		t.Fatalf("undated entry replayed: %s", s.Health)
	}
}

func TestKeylessRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	f.cfg = standard(2, domain.StrategyFallback, "")
	f.cfg.Providers[0].Kind = domain.KindOpenAICompatible
	f.cfg.Keys = f.cfg.Keys[1:]
	f.update()
	if p := f.plan(PlanRequest{}, 1); !p[0].Key.Keyless() {
		t.Fatal("not keyless")
	}
	f.attempt(11, time.Millisecond, err401)
	f.attempt(11, time.Millisecond, err429)
	if evs := f.takeEvents(); len(evs) != 0 {
		t.Fatalf("events %+v", evs)
	}
	if got := routeIDs(f.plan(PlanRequest{}, 2)); !slices.Equal(got, []int64{12, 12}) {
		t.Fatalf("plan %v while the keyless server cools down", got)
	}
	f.clock.Advance(5 * time.Second)
	if got := f.first(PlanRequest{}); got != 11 {
		t.Fatalf("first %d after the cooldown", got)
	}
}
