package routing

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
)

func TestValidateStrategyConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s     domain.Strategy
		raw   string
		field string // "" = valid
	}{
		{domain.StrategyAuto, ``, ""},
		{domain.StrategyAuto, `null`, ""},
		{domain.StrategyAuto, `{}`, ""},
		{"", `{}`, ""},
		{domain.StrategyAuto, `{"explore":0.1}`, "strategy_config.explore"},
		{domain.StrategyAuto, `[]`, "strategy_config"},
		{domain.StrategyAuto, `"x"`, "strategy_config"},
		{domain.StrategyAuto, `{`, "strategy_config"},
		{"round_robin", `{}`, "strategy"},
		{domain.StrategySpecifiedProvider, `{"allow_fallback":true}`, ""},
		{domain.StrategySpecifiedProvider, `{"allow_fallback":"yes"}`, "strategy_config.allow_fallback"},
		{domain.StrategySpecifiedProvider, `{"fallback":true}`, "strategy_config.fallback"},
		{domain.StrategyFallback, `{"weights":{}}`, "strategy_config.weights"},
		{domain.StrategyWeightedRR, `{}`, ""},
		{domain.StrategyLeastConnections, `{"x":1}`, "strategy_config.x"},
		{domain.StrategyResponseTime, `{"explore":0}`, ""},
		{domain.StrategyResponseTime, `{"explore":1}`, ""},
		{domain.StrategyResponseTime, `{"explore":null}`, ""},
		{domain.StrategyResponseTime, `{"explore":1.5}`, "strategy_config.explore"},
		{domain.StrategyResponseTime, `{"explore":-0.1}`, "strategy_config.explore"},
		{domain.StrategyResponseTime, `{"explore":"0.1"}`, "strategy_config.explore"},
		{domain.StrategyCostOptimized, `{"max_latency_ms":2000,"min_success_rate":0.9}`, ""},
		{domain.StrategyCostOptimized, `{"max_latency_ms":-1}`, "strategy_config.max_latency_ms"},
		{domain.StrategyCostOptimized, `{"min_success_rate":2}`, "strategy_config.min_success_rate"},
		{domain.StrategyCostOptimized, `{"max_cost":1}`, "strategy_config.max_cost"},
		{domain.StrategyHybrid, `{"weights":{"latency":1,"success":1,"cost":1,"load":1}}`, ""},
		{domain.StrategyHybrid, `{"weights":{"cost":1}}`, ""},
		{domain.StrategyHybrid, `{"weights":{"latency":-0.1,"cost":1}}`, "strategy_config.weights.latency"},
		{domain.StrategyHybrid, `{"weights":{"latency":0,"cost":0}}`, "strategy_config.weights"},
		{domain.StrategyHybrid, `{"weights":{}}`, "strategy_config.weights"},
		{domain.StrategyHybrid, `{"weights":{"speed":1}}`, "strategy_config.weights.speed"},
		{domain.StrategyHybrid, `{"weights":{"load":true}}`, "strategy_config.weights.load"},
		{domain.StrategyHybrid, `{"weights":[1,2]}`, "strategy_config.weights"},
		{domain.StrategyHybrid, `{"weights":null}`, ""},
	}
	for _, tt := range tests {
		err := ValidateStrategyConfig(tt.s, json.RawMessage(tt.raw))
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s %s: unexpected error %v", tt.s, tt.raw, err)
			}
			continue
		}
		var de *domain.Error
		if !errors.As(err, &de) {
			t.Errorf("%s %s: got %v, want *domain.Error on %s", tt.s, tt.raw, err, tt.field)
			continue
		}
		if de.Code != domain.CodeInvalid || de.Field != tt.field {
			t.Errorf("%s %s: got %s on %q (%v), want invalid on %q", tt.s, tt.raw, de.Code, de.Field, de, tt.field)
		}
	}
}

func TestRouterValidateStrategyConfigUsesDefault(t *testing.T) {
	t.Parallel()
	r := New(Options{DefaultStrategy: domain.StrategyHybrid})
	if err := r.ValidateStrategyConfig("", json.RawMessage(`{"weights":{"cost":1}}`)); err != nil {
		t.Fatal(err)
	}
	if err := ValidateStrategyConfig("", json.RawMessage(`{"weights":{"cost":1}}`)); err == nil {
		t.Fatal("package function should validate \"\" as auto")
	}
}

func TestHybridWeightsNormalised(t *testing.T) {
	t.Parallel()
	cfg, err := parseStrategyConfig(domain.StrategyHybrid, json.RawMessage(`{"weights":{"latency":2,"cost":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.weights; w != (hybridWeights{0.5, 0, 0.5, 0}) {
		t.Fatalf("weights %+v", w)
	}
	cfg, _ = parseStrategyConfig(domain.StrategyHybrid, nil)
	if w := cfg.weights; math.Abs(w.latency+w.success+w.cost+w.load-1) > 1e-9 || w.latency != 0.4 {
		t.Fatalf("default weights %+v", w)
	}
}

// measure gives route id a latency EWMA by one successful attempt.
func (f *fixture) measure(id int64, lat time.Duration) { f.attempt(id, lat, nil) }

func TestAutoExploresUnmeasuredFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	f.cfg = standard(3, domain.StrategyAuto, "")
	f.cfg.Models[0].Routes[1].InputPrice = 5 // route 12 dearer than 13
	f.update()
	f.measure(11, 100*time.Millisecond)
	for range 20 {
		if got := f.first(PlanRequest{PromptTokens: 100}); got != 13 {
			t.Fatalf("first = %d, want the cheapest unmeasured route 13", got)
		}
	}
	f.measure(13, 100*time.Millisecond)
	if got := f.first(PlanRequest{}); got != 12 {
		t.Fatalf("first = %d, want unmeasured 12", got)
	}
	// An unmeasured route with a request in flight is behind measured ones.
	t12 := f.r.Begin(Attempt{Route: f.route(12), Key: f.route(12).p.keys[0]})
	for range 50 {
		if p := f.plan(PlanRequest{}, 3); p[0].Route.ID() == 12 || p[2].Route.ID() != 12 {
			t.Fatalf("plan %v: busy unmeasured route 12 should be last", routeIDs(p))
		}
	}
	t12.End(Outcome{Latency: time.Second})
}

func TestAutoPowerOfTwoChoices(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{}, 3, domain.StrategyAuto, "")
	f.measure(11, 100*time.Millisecond)
	f.measure(12, 200*time.Millisecond)
	f.measure(13, 400*time.Millisecond)
	counts := map[int64]int{}
	const n = 3000
	for range n {
		p := f.plan(PlanRequest{}, 3)
		counts[p[0].Route.ID()]++
		// The rest follow by score.
		rest := slices.DeleteFunc(routeIDs(p), func(id int64) bool { return id == p[0].Route.ID() })
		if !slices.IsSorted(rest) {
			t.Fatalf("plan %v: rest not by score", routeIDs(p))
		}
	}
	// With three routes the better of two random draws is the best 2/3 of
	// the time, the middle 1/3 and the worst never.
	if counts[13] != 0 || math.Abs(float64(counts[11])/n-2.0/3) > 0.05 || math.Abs(float64(counts[12])/n-1.0/3) > 0.05 {
		t.Fatalf("first picks %v", counts)
	}
}

func TestAutoScore(t *testing.T) {
	t.Parallel()
	t.Run("in-flight", func(t *testing.T) {
		f := standardFixture(t, Options{}, 2, domain.StrategyAuto, "")
		f.measure(11, 100*time.Millisecond)
		f.measure(12, 250*time.Millisecond)
		if got := f.first(PlanRequest{}); got != 11 {
			t.Fatalf("first = %d, want faster 11", got)
		}
		a := Attempt{Route: f.route(11), Key: f.route(11).p.keys[0]}
		t1, t2 := f.r.Begin(a), f.r.Begin(a) // 100 ms × 3 > 250 ms × 1
		if got := f.first(PlanRequest{}); got != 12 {
			t.Fatalf("first = %d, want 12 while 11 has two in flight", got)
		}
		t1.End(Outcome{Latency: 100 * time.Millisecond})
		t2.End(Outcome{Latency: 100 * time.Millisecond})
	})
	t.Run("failure rate", func(t *testing.T) {
		f := standardFixture(t, Options{}, 2, domain.StrategyAuto, "")
		f.measure(11, 100*time.Millisecond)
		f.measure(12, 250*time.Millisecond)
		for range 3 { // success rate 1/4: score 400 ms
			f.attempt(11, time.Millisecond, err500)
		}
		if got := f.first(PlanRequest{}); got != 12 {
			t.Fatalf("first = %d, want 12 over the failing 11", got)
		}
	})
	t.Run("ties by cost", func(t *testing.T) {
		f := newFixture(t, Options{})
		f.cfg = standard(3, domain.StrategyAuto, "")
		f.cfg.Models[0].Routes[0].OutputPrice = 9
		f.cfg.Models[0].Routes[1].OutputPrice = 0.1
		f.update()
		for range 20 {
			if p := f.plan(PlanRequest{MaxTokens: 100}, 3); !slices.Equal(routeIDs(p), []int64{12, 13, 11}) {
				t.Fatalf("plan %v, want by cost [12 13 11]", routeIDs(p))
			}
		}
	})
}

func TestLatencyDecayReexploresIdleRoutes(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{EWMADecay: 10 * time.Second}, 2, domain.StrategyResponseTime, `{"explore":0}`)
	f.measure(11, 2*time.Second)
	f.measure(12, 200*time.Millisecond)
	if got := f.first(PlanRequest{}); got != 12 {
		t.Fatalf("first = %d", got)
	}
	// 12 keeps being used, 11 idles: after ~ln(10) × 10 s 11 looks faster.
	for range 30 {
		f.clock.Advance(time.Second)
		f.measure(12, 200*time.Millisecond)
	}
	if got := f.first(PlanRequest{}); got != 11 {
		t.Fatalf("first = %d, want idle 11 to be tried again", got)
	}
	f.measure(11, 2*time.Second) // peak: back to slow at once
	if got := f.first(PlanRequest{}); got != 12 {
		t.Fatalf("first = %d after re-measuring", got)
	}
}

func TestSpecifiedProvider(t *testing.T) {
	t.Parallel()
	setup := func(cfg string) *fixture {
		f := newFixture(t, Options{})
		f.cfg = standard(3, domain.StrategySpecifiedProvider, cfg)
		f.cfg.Keys = append(f.cfg.Keys, key(202, 2))
		f.update()
		return f
	}
	f := setup("")
	m := f.model("m")
	buf := make([]Attempt, 0, 4)
	_, err := m.Plan(PlanRequest{}, buf)
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeInvalid || de.Field != "provider" {
		t.Fatalf("no provider: %v", err)
	}
	if _, err := m.Plan(PlanRequest{Provider: "nope"}, buf); codeOf(err) != domain.CodeNotFound {
		t.Fatalf("unknown provider: %v", err)
	}
	p, err := m.Plan(PlanRequest{Provider: "p2"}, buf)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(routeIDs(p), []int64{12, 12, 12, 12}) {
		t.Fatalf("routes %v, want only p2's", routeIDs(p))
	}
	if k := keyIDs(p); k[0] == k[1] || k[1] == k[2] || k[2] == k[3] {
		t.Fatalf("keys %v should alternate", k)
	}
	f.r.ApplyHealth(domain.Health{ProviderID: 2, Status: domain.HealthUnhealthy})
	if _, err := m.Plan(PlanRequest{Provider: "p2"}, buf); codeOf(err) != domain.CodeUnavailable {
		t.Fatalf("down provider without fallback: %v", err)
	}

	f = setup(`{"allow_fallback":true}`)
	m = f.model("m")
	p, err = m.Plan(PlanRequest{Provider: "p2"}, make([]Attempt, 0, 3))
	if err != nil || p[0].Route.ID() != 12 || !slices.Contains(routeIDs(p), 11) || !slices.Contains(routeIDs(p), 13) {
		t.Fatalf("fallback plan %v, %v: want 12 then the others", routeIDs(p), err)
	}
	f.r.ApplyHealth(domain.Health{ProviderID: 2, Status: domain.HealthUnhealthy})
	p, err = m.Plan(PlanRequest{Provider: "p2"}, make([]Attempt, 0, 3))
	if err != nil || slices.Contains(routeIDs(p), 12) {
		t.Fatalf("fallback plan with p2 down %v, %v", routeIDs(p), err)
	}
}

func TestFallback(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	f.cfg = standard(3, domain.StrategyFallback, "")
	rs := f.cfg.Models[0].Routes
	rs[0].Priority, rs[1].Priority, rs[2].Priority = 2, 1, 1
	rs[2].Weight = 5
	f.update()
	want := []int64{13, 12, 11, 13}
	for range 10 {
		if got := routeIDs(f.plan(PlanRequest{}, 4)); !slices.Equal(got, want) {
			t.Fatalf("plan %v, want %v", got, want)
		}
	}
	// Healthy first: a degraded provider moves down, an unhealthy one out.
	f.r.ApplyHealth(domain.Health{ProviderID: 3, Status: domain.HealthDegraded})
	if got := routeIDs(f.plan(PlanRequest{}, 3)); !slices.Equal(got, []int64{12, 11, 13}) {
		t.Fatalf("with 13 degraded: %v", got)
	}
	f.r.ApplyHealth(domain.Health{ProviderID: 2, Status: domain.HealthUnhealthy})
	if got := routeIDs(f.plan(PlanRequest{}, 3)); !slices.Equal(got, []int64{11, 13, 11}) {
		t.Fatalf("with 12 down: %v", got)
	}
	// A named provider goes first whatever the strategy.
	if got := routeIDs(f.plan(PlanRequest{Provider: "p3"}, 2)); !slices.Equal(got, []int64{13, 11}) {
		t.Fatalf("with X-Provider p3: %v", got)
	}
}

// wrrSequence returns n first picks of model "m".
func wrrSequence(f *fixture, n int) []int64 {
	seq := make([]int64, n)
	buf := make([]Attempt, 0, 1)
	m := f.model("m")
	for i := range seq {
		p, err := m.Plan(PlanRequest{}, buf)
		if err != nil {
			f.t.Fatal(err)
		}
		seq[i] = p[0].Route.ID()
	}
	return seq
}

func wrrFixture(t testing.TB, weights ...int) *fixture {
	f := newFixture(t, Options{})
	f.cfg = standard(len(weights), domain.StrategyWeightedRR, "")
	for i, w := range weights {
		f.cfg.Models[0].Routes[i].Weight = w
	}
	f.update()
	return f
}

func TestWeightedRoundRobinShares(t *testing.T) {
	t.Parallel()
	f := wrrFixture(t, 5, 3, 2)
	seq := wrrSequence(f, 10000)
	counts := map[int64]int{}
	for _, id := range seq {
		counts[id]++
	}
	for id, want := range map[int64]int{11: 5000, 12: 3000, 13: 2000} {
		if math.Abs(float64(counts[id]-want)) > 100 {
			t.Errorf("route %d: %d picks, want %d ± 1%%", id, counts[id], want)
		}
	}
	// Smooth: 5/3/2 interleaves, never more than two in a row.
	if run := maxRun(seq); run > 2 {
		t.Errorf("longest run %d in %v", run, seq[:20])
	}
	// The rest of a plan follows by weight.
	p := f.plan(PlanRequest{}, 3)
	if rest := routeIDs(p)[1:]; !slices.IsSorted(rest) { // weights 5, 3, 2 are in ID order
		t.Errorf("plan %v", routeIDs(p))
	}
}

func maxRun(seq []int64) int {
	best, run := 0, 0
	for i := range seq {
		if i > 0 && seq[i] == seq[i-1] {
			run++
		} else {
			run = 1
		}
		best = max(best, run)
	}
	return best
}

// Property: for random weights, every whole cycle of W = Σw picks gives each
// route exactly its weight, and no route runs longer than
// ceil(w/(W−w)) + 1 picks in a row (a naive round robin would run w).
func TestWeightedRoundRobinProperty(t *testing.T) {
	t.Parallel()
	g := rand.New(rand.NewPCG(7, 11))
	for trial := range 40 {
		n := 2 + g.IntN(5)
		ws := make([]int, n)
		total := 0
		for i := range ws {
			ws[i] = 1 + g.IntN(9)
			total += ws[i]
		}
		f := wrrFixture(t, ws...)
		seq := wrrSequence(f, total*20)
		for c := 0; c < 20; c++ {
			counts := map[int64]int{}
			for _, id := range seq[c*total : (c+1)*total] {
				counts[id]++
			}
			for i, w := range ws {
				if counts[int64(11+i)] != w {
					t.Fatalf("trial %d weights %v cycle %d: route %d got %d picks", trial, ws, c, 11+i, counts[int64(11+i)])
				}
			}
		}
		for i, w := range ws {
			bound := 1
			if total > w {
				bound = (w+total-w-1)/(total-w) + 1
			}
			id := int64(11 + i)
			run := 0
			for _, s := range seq {
				if s == id {
					run++
					if run > bound {
						t.Fatalf("trial %d weights %v: route %d ran %d > %d", trial, ws, id, run, bound)
					}
				} else {
					run = 0
				}
			}
		}
	}
}

func TestWeightedRoundRobinZeroWeightAndUnusable(t *testing.T) {
	t.Parallel()
	f := wrrFixture(t, 0, 1, 1)
	for _, id := range wrrSequence(f, 100) {
		if id == 11 {
			t.Fatal("weight 0 route picked first")
		}
	}
	f = wrrFixture(t, 0, 0)
	counts := map[int64]int{}
	for _, id := range wrrSequence(f, 100) {
		counts[id]++
	}
	if counts[11] != 50 || counts[12] != 50 {
		t.Fatalf("all weights 0 should share evenly: %v", counts)
	}
	// An unusable route drops out and the others keep their shares.
	f = wrrFixture(t, 2, 1, 1)
	f.r.ApplyHealth(domain.Health{ProviderID: 1, Status: domain.HealthUnhealthy})
	counts = map[int64]int{}
	for _, id := range wrrSequence(f, 100) {
		counts[id]++
	}
	if counts[11] != 0 || counts[12] != 50 || counts[13] != 50 {
		t.Fatalf("with 11 down: %v", counts)
	}
}

func TestLeastConnections(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	f.cfg = standard(3, domain.StrategyLeastConnections, "")
	f.cfg.Models[0].Routes[2].Weight = 3
	f.update()
	// All idle: ties by weight.
	if got := f.first(PlanRequest{}); got != 13 {
		t.Fatalf("first = %d, want heaviest 13", got)
	}
	begin := func(id int64) Ticket { return f.r.Begin(Attempt{Route: f.route(id), Key: f.route(id).p.keys[0]}) }
	ts := []Ticket{begin(13), begin(13), begin(11)}
	if got := routeIDs(f.plan(PlanRequest{}, 3)); !slices.Equal(got, []int64{12, 11, 13}) {
		t.Fatalf("plan %v, want by in-flight [12 11 13]", got)
	}
	for _, tk := range ts {
		tk.End(Outcome{})
	}
	// Equal in-flight and weight: ties rotate at random.
	f.cfg.Models[0].Routes[2].Weight = 1
	f.update()
	counts := map[int64]int{}
	for range 300 {
		counts[f.first(PlanRequest{})]++
	}
	for _, id := range []int64{11, 12, 13} {
		if counts[id] < 50 {
			t.Fatalf("ties not spread: %v", counts)
		}
	}
}

func TestResponseTime(t *testing.T) {
	t.Parallel()
	f := standardFixture(t, Options{}, 3, domain.StrategyResponseTime, `{"explore":0.5}`)
	f.measure(11, 300*time.Millisecond) // measured longest ago
	f.measure(12, 100*time.Millisecond)
	f.measure(13, 200*time.Millisecond)
	// Rand calls: tie rotation, then the explore coin.
	f.rng.push(0, math.MaxUint64)
	if got := routeIDs(f.plan(PlanRequest{}, 3)); !slices.Equal(got, []int64{12, 13, 11}) {
		t.Fatalf("plan %v, want by latency", got)
	}
	f.rng.push(0, 0)
	if got := routeIDs(f.plan(PlanRequest{}, 3)); !slices.Equal(got, []int64{11, 12, 13}) {
		t.Fatalf("explore plan %v, want the stalest 11 first", got)
	}
}

func TestResponseTimeExploreShare(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	f.cfg = standard(2, domain.StrategyResponseTime, "") // default explore 0.05
	f.update()
	f.measure(11, 900*time.Millisecond)
	f.measure(12, 100*time.Millisecond)
	slow := 0
	const n = 4000
	for range n {
		if f.first(PlanRequest{}) == 11 {
			slow++
		}
	}
	if share := float64(slow) / n; share < 0.03 || share > 0.07 {
		t.Fatalf("explore share %.3f, want about 0.05", share)
	}
}

func TestCostOptimized(t *testing.T) {
	t.Parallel()
	setup := func(cfg string) *fixture {
		return pricedFixture(t, domain.StrategyCostOptimized, cfg, [2]float64{1, 2}, [2]float64{0.5, 1}, [2]float64{3, 6})
	}
	req := PlanRequest{PromptTokens: 1000, MaxTokens: 100}
	f := setup("")
	if got := routeIDs(f.plan(req, 3)); !slices.Equal(got, []int64{12, 11, 13}) {
		t.Fatalf("plan %v, want by cost", got)
	}
	f = setup(`{"max_latency_ms":500}`)
	f.measure(12, 900*time.Millisecond)
	if got := routeIDs(f.plan(req, 3)); !slices.Equal(got, []int64{11, 13, 12}) {
		t.Fatalf("plan %v, want the slow cheap route last", got)
	}
	f.measure(11, 800*time.Millisecond)
	f.measure(13, 700*time.Millisecond)
	if got := routeIDs(f.plan(req, 3)); !slices.Equal(got, []int64{12, 11, 13}) {
		t.Fatalf("plan %v, want cheapest overall when none is within bounds", got)
	}
	f = setup(`{"min_success_rate":0.9}`)
	f.measure(12, time.Millisecond)
	f.attempt(12, time.Millisecond, err500)
	if got := f.first(req); got != 11 {
		t.Fatalf("first = %d, want 11 over 12 at 50%% success", got)
	}
}

func TestCostEstimateUsesTokens(t *testing.T) {
	t.Parallel()
	f := pricedFixture(t, domain.StrategyCostOptimized, "",
		[2]float64{10, 0}, // 11: input-priced
		[2]float64{0, 10}, // 12: output-priced
	)
	if got := f.first(PlanRequest{PromptTokens: 1000, MaxTokens: 10}); got != 12 {
		t.Fatalf("long prompt: first = %d", got)
	}
	if got := f.first(PlanRequest{PromptTokens: 10, MaxTokens: 1000}); got != 11 {
		t.Fatalf("long answer: first = %d", got)
	}
	// MaxTokens 0: the default of 256 against a 200-token prompt.
	if got := f.first(PlanRequest{PromptTokens: 200}); got != 11 {
		t.Fatalf("default max tokens: first = %d", got)
	}
	f.cfg.Models[0].DefaultMaxTokens = 100
	f.update()
	if got := f.first(PlanRequest{PromptTokens: 200}); got != 12 {
		t.Fatalf("model default max tokens: first = %d", got)
	}
}

func TestHybrid(t *testing.T) {
	t.Parallel()
	setup := func(cfg string) *fixture {
		f := pricedFixture(t, domain.StrategyHybrid, cfg,
			[2]float64{10, 2}, // 11: fast, dear
			[2]float64{1, 2},  // 12: slow, cheap
			[2]float64{5, 2},  // 13: middling, flaky
		)
		f.measure(11, 100*time.Millisecond)
		f.measure(12, 1000*time.Millisecond)
		f.measure(13, 400*time.Millisecond)
		f.attempt(13, time.Millisecond, err500)
		return f
	}
	req := PlanRequest{PromptTokens: 1000}
	tests := []struct {
		cfg  string
		want int64
	}{
		{`{"weights":{"cost":1}}`, 12},
		{`{"weights":{"latency":1}}`, 11},
		{`{"weights":{"success":1,"cost":0.01}}`, 12},
		{``, 11}, // 0.4·0.1 + 0.2·1 = 0.24 beats 0.4·1 + 0.2·0.1 = 0.42 and 13's 0.16 + 0.15 + 0.1
	}
	for _, tt := range tests {
		f := setup(tt.cfg)
		if got := f.first(req); got != tt.want {
			t.Errorf("%s: first = %d, want %d", tt.cfg, got, tt.want)
		}
	}
	f := setup(`{"weights":{"load":1}}`)
	a11 := Attempt{Route: f.route(11), Key: f.route(11).p.keys[0]}
	a12 := Attempt{Route: f.route(12), Key: f.route(12).p.keys[0]}
	ts := []Ticket{f.r.Begin(a11), f.r.Begin(a11), f.r.Begin(a12)}
	if got := routeIDs(f.plan(req, 3)); !slices.Equal(got, []int64{13, 12, 11}) {
		t.Fatalf("load: plan %v", got)
	}
	for _, tk := range ts {
		tk.End(Outcome{})
	}
}

// Every strategy honours X-Provider and plans only usable routes when some
// are usable.
func TestEveryStrategyPrefersNamedProviderAndSkipsOutRoutes(t *testing.T) {
	t.Parallel()
	for _, s := range domain.Strategies {
		f := standardFixture(t, Options{}, 4, s, "")
		f.r.ApplyHealth(domain.Health{ProviderID: 4, Status: domain.HealthUnhealthy})
		for range 50 {
			p := f.plan(PlanRequest{Provider: "p3"}, 4)
			if p[0].Route.ID() != 13 {
				t.Fatalf("%s: plan %v does not start with p3's route", s, routeIDs(p))
			}
			if slices.Contains(routeIDs(p), 14) {
				t.Fatalf("%s: plan %v uses the route of the unhealthy provider", s, routeIDs(p))
			}
			if s != domain.StrategySpecifiedProvider {
				p = f.plan(PlanRequest{}, 3)
				if ids := routeIDs(p); slices.Contains(ids, 14) || ids[0] == ids[1] || ids[1] == ids[2] {
					t.Fatalf("%s: plan %v", s, ids)
				}
			}
		}
	}
}
