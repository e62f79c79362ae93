package routing

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// clock is an injected clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// rng is an injected random source: scripted values first, then a seeded
// PCG.
type rng struct {
	mu     sync.Mutex
	script []uint64
	src    *rand.Rand
}

func newRng(seed uint64) *rng { return &rng{src: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

func (g *rng) Uint64() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.script) > 0 {
		v := g.script[0]
		g.script = g.script[1:]
		return v
	}
	return g.src.Uint64()
}

func (g *rng) push(vs ...uint64) {
	g.mu.Lock()
	g.script = append(g.script, vs...)
	g.mu.Unlock()
}

// fixture is a router with an injected clock and random source that records
// its events.
type fixture struct {
	t     testing.TB
	clock *clock
	rng   *rng
	r     *Router
	cfg   Config

	mu     sync.Mutex
	events []Event
}

func newFixture(t testing.TB, o Options) *fixture {
	f := &fixture{t: t, clock: newClock(), rng: newRng(1)}
	o.Now = f.clock.Now
	o.Rand = f.rng.Uint64
	o.OnEvent = func(e Event) {
		f.mu.Lock()
		f.events = append(f.events, e)
		f.mu.Unlock()
	}
	f.r = New(o)
	return f
}

// standardFixture is a fixture whose router has standard(n, s, cfg).
func standardFixture(t testing.TB, o Options, n int, s domain.Strategy, cfg string) *fixture {
	f := newFixture(t, o)
	f.cfg = standard(n, s, cfg)
	f.update()
	return f
}

// pricedFixture is a fixture whose router has standard(len(prices), s,
// cfg) with route 10+i priced prices[i-1]: input and output, per million
// tokens.
func pricedFixture(t testing.TB, s domain.Strategy, cfg string, prices ...[2]float64) *fixture {
	f := newFixture(t, Options{})
	f.cfg = standard(len(prices), s, cfg)
	for i, p := range prices {
		rt := &f.cfg.Models[0].Routes[i]
		rt.InputPrice, rt.OutputPrice = p[0], p[1]
	}
	f.update()
	return f
}

func (f *fixture) takeEvents() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	evs := f.events
	f.events = nil
	return evs
}

func (f *fixture) update() {
	f.t.Helper()
	if errs := f.r.Update(f.cfg); len(errs) > 0 {
		f.t.Fatalf("Update: %v", errs)
	}
}

func (f *fixture) model(name string) *Model {
	f.t.Helper()
	m, ok := f.r.Model(name)
	if !ok {
		f.t.Fatalf("model %q not found", name)
	}
	return m
}

// plan returns the plan of model "m" with cap n.
func (f *fixture) plan(req PlanRequest, n int) []Attempt {
	f.t.Helper()
	p, err := f.model("m").Plan(req, make([]Attempt, 0, n))
	if err != nil {
		f.t.Fatalf("Plan: %v", err)
	}
	return p
}

// first returns the ID of the first route of a plan of model "m".
func (f *fixture) first(req PlanRequest) int64 {
	f.t.Helper()
	return f.plan(req, 1)[0].Route.ID()
}

func routeIDs(p []Attempt) []int64 {
	ids := make([]int64, len(p))
	for i, a := range p {
		ids[i] = a.Route.ID()
	}
	return ids
}

func keyIDs(p []Attempt) []int64 {
	ids := make([]int64, len(p))
	for i, a := range p {
		ids[i] = a.Key.ID()
	}
	return ids
}

// route returns route id of model "m" from the current snapshot.
func (f *fixture) route(id int64) *Route {
	f.t.Helper()
	for _, rt := range f.r.snap.Load().routes {
		if rt.ID() == id {
			return rt
		}
	}
	f.t.Fatalf("route %d not found", id)
	return nil
}

// attempt runs one attempt on route id with its provider's first good key.
func (f *fixture) attempt(id int64, lat time.Duration, err error) {
	f.t.Helper()
	rt := f.route(id)
	k := rt.p.keyless
	if k == nil {
		k = rt.p.pickKey(f.r.now())
	}
	t := f.r.Begin(Attempt{Route: rt, Key: k})
	f.clock.Advance(lat)
	t.End(Outcome{Err: err, Latency: lat})
}

func (f *fixture) routeStats(id int64) RouteStats {
	f.t.Helper()
	return findStats(f.t, f.r.RouteStats(), func(s RouteStats) bool { return s.RouteID == id }, "route", id)
}

func (f *fixture) keyStats(id int64) KeyStats {
	f.t.Helper()
	return findStats(f.t, f.r.KeyStats(), func(s KeyStats) bool { return s.KeyID == id }, "key", id)
}

// findStats is the entry of all for which is holds; the test fails, naming
// what and id, when there is none.
func findStats[S any](t testing.TB, all []S, is func(S) bool, what string, id int64) S {
	t.Helper()
	for _, s := range all {
		if is(s) {
			return s
		}
	}
	t.Fatalf("no stats for %s %d", what, id)
	var zero S
	return zero
}

// Config builders.

func prov(id int64) domain.Provider {
	return domain.Provider{ID: id, Name: fmt.Sprintf("p%d", id), Kind: domain.KindOpenAI, Enabled: true}
}

func key(id, providerID int64) domain.ProviderKey {
	return domain.ProviderKey{ID: id, ProviderID: providerID, Secret: fmt.Sprintf("sk-%d", id), Status: domain.KeyActive, Weight: 1, Version: 1}
}

func rte(id, providerID int64) domain.Route {
	return domain.Route{ID: id, ProviderID: providerID, UpstreamModel: fmt.Sprintf("up-%d", id), Weight: 1, Enabled: true,
		InputPrice: 1, OutputPrice: 2}
}

// standard builds providers 1..n, key 100+i for provider i, and model "m"
// (ID 1) with route 10+i on provider i.
func standard(n int, s domain.Strategy, cfg string) Config {
	var c Config
	m := domain.Model{ID: 1, Name: "m", Strategy: s, Enabled: true}
	if cfg != "" {
		m.StrategyConfig = json.RawMessage(cfg)
	}
	for i := int64(1); i <= int64(n); i++ {
		c.Providers = append(c.Providers, prov(i))
		c.Keys = append(c.Keys, key(100+i, i))
		m.Routes = append(m.Routes, rte(10+i, i))
	}
	c.Models = []domain.Model{m}
	return c
}

func upstream(class domain.ErrorClass, status int) error {
	return &domain.UpstreamError{Class: class, Status: status}
}

var (
	err500 = upstream(domain.ClassRetryable, 500)
	err429 = upstream(domain.ClassRateLimited, 429)
	err401 = upstream(domain.ClassAuth, 401)
	err400 = upstream(domain.ClassRequest, 400)
	errCxl = upstream(domain.ClassCanceled, 0)
)

func codeOf(err error) domain.Code {
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Code
	}
	return ""
}
