package routing

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
)

func TestUpdateKeepsStateByID(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{}, 3, domain.StrategyFallback, "")
	f.attempt(11, 100*time.Millisecond, nil)
	f.attempt(12, 100*time.Millisecond, nil)
	failN(f, 13, 5, err500)
	f.attempt(11, time.Millisecond, err429)

	// Drop route 12, add route 14 on provider 2, change route 11's weight.
	c := standard(3, domain.StrategyFallback, "")
	c.Models[0].Routes[1] = rte(14, 2)
	c.Models[0].Routes[0].Weight = 7
	f.cfg = c
	f.update()

	ids := []int64{}
	for _, s := range f.r.RouteStats() {
		ids = append(ids, s.RouteID)
	}
	if !slices.Equal(ids, []int64{11, 13, 14}) {
		t.Fatalf("route stats for %v", ids)
	}
	if s := f.routeStats(11); s.Requests != 2 || s.EWMALatency != 100*time.Millisecond {
		t.Fatalf("route 11 lost its stats: %+v", s)
	}
	if s := f.routeStats(13); s.EjectedUntil.IsZero() || s.Ejections != 1 {
		t.Fatalf("route 13 lost its ejection: %+v", s)
	}
	if s := f.routeStats(14); s.Requests != 0 {
		t.Fatalf("route 14 not fresh: %+v", s)
	}
	if s := f.keyStats(101); s.CooldownUntil.IsZero() {
		t.Fatalf("key 101 lost its cooldown: %+v", s)
	}
	if f.route(11).Domain().Weight != 7 {
		t.Fatal("new config not in use")
	}
	// A route moved to another model starts fresh.
	c.Models = append(c.Models, domain.Model{ID: 2, Name: "other", Enabled: true, Routes: []domain.Route{c.Models[0].Routes[0]}})
	c.Models[0].Routes = c.Models[0].Routes[1:]
	f.cfg = c
	f.update()
	if s := f.routeStats(11); s.Requests != 0 || s.ModelID != 2 || s.Model != "other" {
		t.Fatalf("moved route kept its stats: %+v", s)
	}
}

func TestUpdateReportsBadModelsAndKeepsGoing(t *testing.T) {
	t.Parallel()
	r := New(Options{DefaultStrategy: domain.StrategyFallback})
	c := standard(2, "", "")
	c.Models = append(c.Models,
		domain.Model{ID: 2, Name: "bad-config", Strategy: domain.StrategyHybrid, Enabled: true, Routes: []domain.Route{rte(21, 1)},
			StrategyConfig: json.RawMessage(`{"weights":{"latency":-1}}`)},
		domain.Model{ID: 3, Name: "bad-strategy", Strategy: "random", Enabled: true, Routes: []domain.Route{rte(31, 1)}},
	)
	errs := r.Update(c)
	if len(errs) != 2 {
		t.Fatalf("errors %v", errs)
	}
	var de *domain.Error
	if !errors.As(errs[0], &de) || de.Field != "strategy_config.weights.latency" {
		t.Fatalf("first error %v", errs[0])
	}
	if !errors.As(errs[1], &de) || de.Field != "strategy" {
		t.Fatalf("second error %v", errs[1])
	}
	m, ok := r.Model("bad-config")
	if !ok || m.Strategy() != domain.StrategyHybrid || m.cfg.weights != defaultStrategyConfig().weights {
		t.Fatalf("bad config model %+v", m)
	}
	if m, _ := r.Model("bad-strategy"); m.Strategy() != domain.StrategyFallback {
		t.Fatalf("bad strategy model uses %s", m.Strategy())
	}
	if m, _ := r.Model("m"); m.Strategy() != domain.StrategyFallback || m.Domain().Name != "m" {
		t.Fatalf("default strategy not applied: %s", m.Strategy())
	}
	if _, err := m.Plan(PlanRequest{}, make([]Attempt, 0, 2)); err != nil {
		t.Fatal(err)
	}
}

func TestModelsRoutesAndKeysThatCanServe(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	c := standard(5, domain.StrategyFallback, "")
	c.Providers[1].Enabled = false                    // p2 disabled
	c.Models[0].Routes[2].Enabled = false             // route 13 disabled
	c.Keys[3].Status = domain.KeyRetired              // p4's only key retired
	c.Keys[3].Secret = ""                             //
	c.Providers[4].Kind = domain.KindOpenAICompatible // p5 keyless
	c.Keys = slices.DeleteFunc(c.Keys, func(k domain.ProviderKey) bool { return k.ProviderID == 5 })
	c.Models = append(c.Models,
		domain.Model{ID: 2, Name: "off", Enabled: false, Routes: []domain.Route{rte(21, 1)}},
		domain.Model{ID: 3, Name: "a-first", Enabled: true, Routes: []domain.Route{rte(31, 5), rte(32, 1)},
			CreatedAt: time.Unix(100, 0)},
		domain.Model{ID: 4, Name: "nothing", Enabled: true, Routes: []domain.Route{rte(41, 4)}},
	)
	f.cfg = c
	f.update()
	if _, ok := f.r.Model("off"); ok {
		t.Fatal("disabled model found")
	}
	p := f.plan(PlanRequest{}, 4)
	if got := routeIDs(p); !slices.Equal(got, []int64{11, 15, 11, 15}) {
		t.Fatalf("plan %v", got)
	}
	if k := p[1].Key; k.ID() != 0 || !k.Keyless() || k.Secret() != "" || p[1].Route.ProviderName() != "p5" {
		t.Fatalf("keyless key %+v", k)
	}
	if k := p[0].Key; k.ID() != 101 || k.Secret() != "sk-101" || k.Domain().ProviderID != 1 {
		t.Fatalf("key %+v", k)
	}
	if rt := p[0].Route; rt.UpstreamModel() != "up-11" || rt.Provider().Name != "p1" || rt.Model().Name() != "m" {
		t.Fatalf("route accessors")
	}
	// A disabled provider's name is known (not found would be wrong), its
	// routes are not usable.
	if _, err := f.model("m").Plan(PlanRequest{Provider: "p2"}, make([]Attempt, 0, 1)); err != nil {
		t.Fatalf("p2 named: %v", err) // auto-ish strategies just prefer it; it has nothing usable
	}
	if _, err := f.model("m").Plan(PlanRequest{Provider: "p3"}, make([]Attempt, 0, 1)); codeOf(err) != domain.CodeNotFound {
		t.Fatalf("p3 only has a disabled route: %v", err)
	}
	if _, err := f.model("nothing").Plan(PlanRequest{}, make([]Attempt, 0, 1)); codeOf(err) != domain.CodeUnavailable {
		t.Fatalf("model without usable keys: %v", err)
	}
	got := f.r.ListModels()
	want := []ModelInfo{
		{Name: "a-first", Created: time.Unix(100, 0), Providers: []string{"p1", "p5"}},
		{Name: "m", Providers: []string{"p1", "p5"}},
	}
	if len(got) != len(want) {
		t.Fatalf("ListModels %+v", got)
	}
	for i := range want {
		if got[i].Name != want[i].Name || !got[i].Created.Equal(want[i].Created) || !slices.Equal(got[i].Providers, want[i].Providers) {
			t.Fatalf("ListModels %+v, want %+v", got, want)
		}
	}
	// Keyless attempts record statistics without key stats.
	f.attempt(15, time.Millisecond, err401)
	if evs := f.takeEvents(); len(evs) != 0 {
		t.Fatalf("events for the keyless key %+v", evs)
	}
	for _, s := range f.r.KeyStats() {
		if s.KeyID == 0 {
			t.Fatal("keyless key in KeyStats")
		}
	}
}

func TestKeysWithinProvider(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	f.cfg = standard(1, domain.StrategyAuto, "")
	f.cfg.Keys[0].Weight = 2
	f.cfg.Keys = append(f.cfg.Keys, key(102, 1), key(103, 1), key(104, 1))
	f.cfg.Keys[1].Status = domain.KeyDraining
	f.cfg.Keys[2].Status = domain.KeyStandby // not usable
	exp := f.clock.Now().Add(time.Minute)
	f.cfg.Keys[3].ExpiresAt = &exp
	f.update()
	// Active keys 101 (weight 2), 104 (1); draining 102; standby 103 never.
	counts := map[int64]int{}
	for range 300 {
		p := f.plan(PlanRequest{}, 4)
		counts[p[0].Key.ID()]++
		// Later visits: the other good keys, active first, then draining.
		ks := keyIDs(p)
		if ks[0] == ks[1] || ks[1] == ks[2] || slices.Contains(ks, 103) {
			t.Fatalf("keys %v", ks)
		}
	}
	if counts[101] != 200 || counts[104] != 100 {
		t.Fatalf("first keys %v, want 2:1 by weight", counts)
	}
	// After expiry, 104 is no longer used; when 101 cools down the draining
	// key serves.
	f.clock.Advance(time.Minute)
	f.attempt(11, time.Millisecond, err429)
	for range 10 {
		if p := f.plan(PlanRequest{}, 2); !slices.Equal(keyIDs(p), []int64{102, 102}) {
			t.Fatalf("keys %v", keyIDs(p))
		}
	}
	// When no key is good the one available soonest is tried.
	f.r.Begin(Attempt{Route: f.route(11), Key: f.r.snap.Load().keys[102]}).End(Outcome{Err: &domain.UpstreamError{Class: domain.ClassRateLimited, RetryAfter: time.Second}})
	if p := f.plan(PlanRequest{}, 2); !slices.Equal(keyIDs(p), []int64{102, 102}) {
		t.Fatalf("keys %v, want 102 (back in 1 s) over 101 (5 s)", keyIDs(p))
	}
}

func TestSmoothKeySequence(t *testing.T) {
	t.Parallel()
	mk := func(ws ...int64) []*Key {
		ks := make([]*Key, len(ws))
		for i, w := range ws {
			ks[i] = &Key{d: domain.ProviderKey{ID: int64(i + 1)}, weight: w, st: &keyState{}}
		}
		return ks
	}
	ids := func(seq []*Key) []int64 {
		out := make([]int64, len(seq))
		for i, k := range seq {
			out[i] = k.ID()
		}
		return out
	}
	if got := ids(smoothSequence(mk(5, 1, 1))); !slices.Equal(got, []int64{1, 1, 2, 1, 3, 1, 1}) {
		t.Fatalf("5,1,1: %v", got)
	}
	if got := ids(smoothSequence(mk(4, 2))); !slices.Equal(got, []int64{1, 2, 1}) {
		t.Fatalf("4,2 reduced by the GCD: %v", got)
	}
	if got := smoothSequence(mk(100000, 1)); len(got) > maxSeq || !slices.Contains(ids(got), 2) {
		t.Fatalf("large weights: %d entries", len(got))
	}
	// Skipping a key that is not good keeps the others' shares.
	ks := mk(1, 1, 1, 2)
	ks[0].st.invalid.Store(true)
	seq := smoothSequence(ks)
	var turn atomic.Uint64
	counts := map[int64]int{}
	for range 400 {
		counts[nextGood(seq, &turn, 0).ID()]++
	}
	if counts[1] != 0 || counts[2] != 100 || counts[3] != 100 || counts[4] != 200 {
		t.Fatalf("shares with key 1 out: %v", counts)
	}
	ks[1].st.invalid.Store(true)
	ks[2].st.invalid.Store(true)
	ks[3].st.invalid.Store(true)
	if k := nextGood(seq, &turn, 0); k != nil {
		t.Fatalf("no good key, got %d", k.ID())
	}
}

func TestPlanShape(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	f.cfg = standard(2, domain.StrategyFallback, "")
	f.cfg.Keys = append(f.cfg.Keys, key(201, 1))
	f.update()
	p := f.plan(PlanRequest{}, 5)
	if got := routeIDs(p); !slices.Equal(got, []int64{11, 12, 11, 12, 11}) {
		t.Fatalf("routes %v", got)
	}
	if k := keyIDs(p); k[0] == k[2] || k[2] == k[4] || k[1] != 102 || k[3] != 102 {
		t.Fatalf("keys %v", k)
	}
	// The plan is written into the caller's buffer.
	buf := make([]Attempt, 0, 3)
	p, _ = f.model("m").Plan(PlanRequest{}, buf)
	if len(p) != 3 || &p[0] != &buf[:1][0] {
		t.Fatal("plan not in buf")
	}
	// cap 0: nothing to fill, errors still reported.
	if p, err := f.model("m").Plan(PlanRequest{}, nil); err != nil || len(p) != 0 {
		t.Fatalf("cap 0: %v %v", p, err)
	}
}

func TestManyRoutes(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{}, 40, domain.StrategyLeastConnections, "")
	p := f.plan(PlanRequest{}, 40)
	ids := routeIDs(p)
	slices.Sort(ids)
	if len(slices.Compact(ids)) != 40 {
		t.Fatalf("plan %v", routeIDs(p))
	}
}

func TestStatsCounters(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{}, 1, domain.StrategyAuto, "")
	a := Attempt{Route: f.route(11), Key: f.route(11).p.keys[0]}
	tk := f.r.Begin(a)
	if s := f.routeStats(11); s.InFlight != 1 || f.keyStats(101).InFlight != 1 {
		t.Fatalf("in flight %+v", s)
	}
	f.clock.Advance(300 * time.Millisecond)
	tk.End(Outcome{TTFT: 50 * time.Millisecond, PromptTokens: 10, CompletionTokens: 20, Cost: 0.5})
	f.r.Begin(a).End(Outcome{Err: err400, Latency: time.Millisecond, PromptTokens: 5, Cost: 0.25})
	s := f.routeStats(11)
	want := RouteStats{RouteID: 11, ModelID: 1, ProviderID: 1, Model: "m", Provider: "p1", UpstreamModel: "up-11",
		EWMALatency: 300 * time.Millisecond, EWMATTFT: 50 * time.Millisecond, SuccessRate: 1, WindowRequests: 2,
		Requests: 2, Errors: 1, PromptTokens: 15, CompletionTokens: 20, Cost: 0.75, Health: domain.HealthHealthy}
	if s != want {
		t.Fatalf("route stats\n%+v\nwant\n%+v", s, want)
	}
	k := f.keyStats(101)
	if k.Requests != 2 || k.PromptTokens != 15 || k.Cost != 0.75 || k.EWMALatency != 300*time.Millisecond ||
		k.Provider != "p1" || k.Status != domain.KeyActive || k.Health != domain.HealthUnknown {
		t.Fatalf("key stats %+v", k)
	}
	Ticket{}.End(Outcome{}) // zero ticket: no-op
}

// Property-style stress: concurrent plans, attempts, updates, health checks
// and stats reads keep in-flight counts balanced (run with -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{}, 4, domain.StrategyAuto, "")
	strategies := domain.Strategies
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			buf := make([]Attempt, 0, 3)
			errs := []error{nil, err500, err429, err401, err400}
			for i := range 300 {
				m, _ := f.r.Model("m")
				p, err := m.Plan(PlanRequest{Provider: "p1"}, buf)
				if err != nil {
					continue
				}
				a := p[i%len(p)]
				tk := f.r.Begin(a)
				f.clock.Advance(time.Millisecond)
				tk.End(Outcome{Err: errs[(i+g)%len(errs)], Latency: time.Duration(i) * time.Millisecond})
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			c := standard(4, strategies[i%len(strategies)], "")
			c.Keys[0].Version = int64(i)
			f.r.Update(c)
			f.r.ApplyHealth(domain.Health{ProviderID: int64(1 + i%4), Status: domain.HealthHealthy})
			f.r.RouteStats()
			f.r.KeyStats()
			f.r.ListModels()
		}
	})
	wg.Wait()
	for _, s := range f.r.RouteStats() {
		if s.InFlight != 0 {
			t.Fatalf("route %d in flight %d", s.RouteID, s.InFlight)
		}
	}
	for _, s := range f.r.KeyStats() {
		if s.InFlight != 0 {
			t.Fatalf("key %d in flight %d", s.KeyID, s.InFlight)
		}
	}
}
