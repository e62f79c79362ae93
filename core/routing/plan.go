package routing

import (
	"math"
	"slices"

	"github.com/airouter/airouter/core/domain"
)

// PlanRequest is what Plan needs to know about a request.
type PlanRequest struct {
	// Provider is the provider the request names (X-Provider or the body's
	// "provider"); "" for none.
	Provider string
	// PromptTokens and MaxTokens are estimates for cost-based strategies;
	// MaxTokens 0 means the model's DefaultMaxTokens, else 256.
	PromptTokens, MaxTokens int
}

// DefaultEstimatedCompletionTokens is the completion size assumed for cost
// estimates when neither the request nor the model gives one.
const DefaultEstimatedCompletionTokens = 256

// stackCands is how many candidate routes Plan handles without allocating.
const stackCands = 32

// unmeasuredBusy is the auto score of a never-measured route with requests in
// flight: behind every measured route.
const unmeasuredBusy = 1e15

type cand struct {
	r          *Route
	first      *Key // key of the route's first visit
	group      int16
	unmeasured bool
	idx        int32   // position in the model's routes
	tb         int32   // last tie-break
	s1, s2, s3 float64 // sort keys, lower first
	ret        int64   // tier 2: when the route is back
}

func candLess(a, b *cand) bool {
	switch {
	case a.group != b.group:
		return a.group < b.group
	case a.s1 != b.s1:
		return a.s1 < b.s1
	case a.s2 != b.s2:
		return a.s2 < b.s2
	case a.s3 != b.s3:
		return a.s3 < b.s3
	}
	return a.tb < b.tb
}

func sortCands(cs []cand) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && candLess(&cs[j], &cs[j-1]); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// Plan writes an ordered attempt plan into buf[:0] and returns it, filling
// buf up to its capacity (1 + the retries allowed); see the package
// documentation for the order. It does not allocate for models of up to 32
// routes.
//
// Errors are *domain.Error: CodeInvalid on field "provider" when the model
// uses specified_provider and the request names no provider; CodeNotFound
// when the named provider serves no enabled route of the model;
// CodeUnavailable when the model uses specified_provider without
// allow_fallback and the named provider has no route in tier 0 or 1, or when
// the model has no enabled route with a usable key at all.
func (m *Model) Plan(req PlanRequest, buf []Attempt) ([]Attempt, error) {
	out := buf[:0]
	spec := m.strategy == domain.StrategySpecifiedProvider
	if req.Provider == "" {
		if spec {
			return out, domain.FieldError("provider", "is required: model %q is served by the provider the request names", m.d.Name)
		}
	} else if !slices.Contains(m.provs, req.Provider) {
		return out, domain.Errorf(domain.CodeNotFound, "provider %q serves no route of model %q", req.Provider, m.d.Name)
	}
	r := m.r
	now := r.now()
	var arr [stackCands]cand
	cs := arr[:0]
	if len(m.routes) > stackCands {
		cs = make([]cand, 0, len(m.routes))
	}
	usable, prefUsable := 0, 0
	for i, rt := range m.routes {
		t, ret := rt.tier(now)
		if t == tierUnusable {
			continue
		}
		pref := req.Provider != "" && rt.p.d.Name == req.Provider
		if spec && !pref && !m.cfg.allowFallback {
			continue
		}
		c := cand{r: rt, idx: int32(i), ret: ret, group: int16(t)}
		if req.Provider != "" && !pref {
			c.group += 4
		}
		if t <= tierDegraded {
			usable++
			if pref {
				prefUsable++
			}
		}
		cs = append(cs, c)
	}
	switch {
	case spec && prefUsable == 0 && !m.cfg.allowFallback:
		return out, domain.Errorf(domain.CodeUnavailable, "provider %q is unavailable for model %q: unhealthy, ejected or without a usable key", req.Provider, m.d.Name)
	case len(cs) == 0:
		return out, domain.Errorf(domain.CodeUnavailable, "model %q has no enabled route with a usable key", m.d.Name)
	}
	if usable > 0 {
		n := 0
		for i := range cs {
			if cs[i].group&3 <= tierDegraded {
				cs[n] = cs[i]
				n++
			}
		}
		cs = cs[:n]
		m.order(cs, req, now)
	} else {
		lastResort(cs)
	}
	n := len(cs)
	for k := 0; k < cap(buf); k++ {
		c := &cs[k%n]
		out = append(out, Attempt{Route: c.r, Key: c.r.p.keyFor(now, k/n, &c.first)})
	}
	return out, nil
}

// lastResort orders routes that are all out: named provider first, then
// earliest return, fewest consecutive failures, route ID.
func lastResort(cs []cand) {
	for i := range cs {
		c := &cs[i]
		c.group /= 4
		c.s1 = float64(c.ret)
		c.s2 = float64(c.r.st.consec.Load())
		c.tb = c.idx
	}
	sortCands(cs)
}

// order sorts usable candidates by the model's strategy and moves the
// strategy's first pick to the front.
func (m *Model) order(cs []cand, req PlanRequest, now int64) {
	r := m.r
	n := int32(len(cs))
	off := int32(0)
	if n > 1 && m.strategy != domain.StrategyFallback && m.strategy != domain.StrategyWeightedRR {
		off = int32(r.o.Rand() % uint64(n))
	}
	maxTok := req.MaxTokens
	if maxTok <= 0 {
		maxTok = m.d.DefaultMaxTokens
	}
	if maxTok <= 0 {
		maxTok = DefaultEstimatedCompletionTokens
	}
	if m.strategy == domain.StrategyHybrid {
		m.hybrid(cs, req.PromptTokens, maxTok, now)
	}
	for i := range cs {
		c := &cs[i]
		rt := c.r
		c.tb = (int32(i) + off) % n
		switch m.strategy {
		case domain.StrategyFallback:
			c.s1, c.s2, c.tb = float64(rt.d.Priority), -float64(rt.d.Weight), c.idx
		case domain.StrategyWeightedRR:
			c.s1, c.tb = -float64(rt.d.Weight), c.idx
		case domain.StrategyLeastConnections:
			c.s1, c.s2 = float64(rt.st.inflight.Load()), -float64(rt.d.Weight)
		case domain.StrategyResponseTime:
			c.s1, _ = rt.st.lat.decayed(now, r.tau)
			c.s2 = rt.d.Cost(req.PromptTokens, maxTok)
		case domain.StrategyCostOptimized:
			lat, measured := rt.st.lat.decayed(now, r.tau)
			p, cnt := rt.st.successRate(now, r.bucketW)
			if (m.cfg.maxLatency > 0 && measured && lat > m.cfg.maxLatency) || (m.cfg.minSuccess > 0 && cnt > 0 && p < m.cfg.minSuccess) {
				c.s1 = 1 // outside the bounds
			}
			c.s2 = rt.d.Cost(req.PromptTokens, maxTok)
			c.s3, _ = autoScore(lat, measured, p, rt.st.inflight.Load())
		case domain.StrategyHybrid:
			// scored by m.hybrid
		default: // auto, specified_provider
			lat, measured := rt.st.lat.decayed(now, r.tau)
			p := 1.0
			if measured {
				p, _ = rt.st.successRate(now, r.bucketW)
			}
			c.s1, c.unmeasured = autoScore(lat, measured, p, rt.st.inflight.Load())
			c.s2 = rt.d.Cost(req.PromptTokens, maxTok)
		}
	}
	sortCands(cs)

	g := 1
	for g < len(cs) && cs[g].group == cs[0].group {
		g++
	}
	pick := 0
	switch m.strategy {
	case domain.StrategyAuto, domain.StrategySpecifiedProvider:
		if g > 1 && !(cs[0].unmeasured && cs[0].s1 == 0) {
			x := r.o.Rand()
			i := int((x >> 32) % uint64(g))
			j := int(uint32(x) % uint32(g-1))
			if j >= i {
				j++
			}
			pick = min(i, j) // sorted: the lower index is the better score
		}
	case domain.StrategyWeightedRR:
		pick = m.wrrPick(cs[:g])
	case domain.StrategyResponseTime:
		if g > 1 && m.cfg.explore > 0 && unitFloat(r.o.Rand()) < m.cfg.explore {
			pick = 1
			for i := 2; i < g; i++ {
				if cs[i].r.st.lat.at.Load() < cs[pick].r.st.lat.at.Load() {
					pick = i
				}
			}
		}
	}
	if pick > 0 {
		c := cs[pick]
		copy(cs[1:pick+1], cs[:pick])
		cs[0] = c
	}
}

// hybrid sets s1 to the weighted score and s2 to the cost of each candidate.
func (m *Model) hybrid(cs []cand, promptTokens, maxTok int, now int64) {
	r := m.r
	var maxLat, maxCost, maxLoad float64
	for i := range cs {
		c := &cs[i]
		rt := c.r
		p, _ := rt.st.successRate(now, r.bucketW)
		lat, _ := rt.st.lat.decayed(now, r.tau)
		// Park the raw metrics in the sort keys until the maxima are known.
		c.s1, c.s2, c.s3 = lat, rt.d.Cost(promptTokens, maxTok), float64(max(rt.st.inflight.Load(), 0))
		c.ret = int64(math.Float64bits(1 - p))
		maxLat, maxCost, maxLoad = max(maxLat, c.s1), max(maxCost, c.s2), max(maxLoad, c.s3)
	}
	w := &m.cfg.weights
	for i := range cs {
		c := &cs[i]
		score := w.success * math.Float64frombits(uint64(c.ret))
		if maxLat > 0 {
			score += w.latency * c.s1 / maxLat
		}
		if maxCost > 0 {
			score += w.cost * c.s2 / maxCost
		}
		if maxLoad > 0 {
			score += w.load * c.s3 / maxLoad
		}
		c.s1, c.s3, c.ret = score, 0, 0 // s2 stays the cost: ties by cost
	}
}

// unitFloat maps x to [0, 1).
func unitFloat(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// autoScore returns latency × (in-flight + 1) / success rate (at least
// 0.01), and whether the route was never measured (then 0 while idle,
// unmeasuredBusy + in-flight otherwise).
func autoScore(lat float64, measured bool, p float64, inflight int64) (float64, bool) {
	inflight = max(inflight, 0)
	if !measured {
		if inflight == 0 {
			return 0, true
		}
		return unmeasuredBusy + float64(inflight), true
	}
	return max(lat, 1) * float64(inflight+1) / max(p, 0.01), false
}

// wrrPick is one step of smooth weighted round robin over cs; it returns the
// index picked.
func (m *Model) wrrPick(cs []cand) int {
	all0 := true
	for i := range cs {
		if cs[i].r.d.Weight > 0 {
			all0 = false
			break
		}
	}
	m.st.mu.Lock()
	best := -1
	var total int64
	for i := range cs {
		w := int64(cs[i].r.d.Weight)
		if all0 {
			w = 1
		}
		if w <= 0 {
			continue
		}
		st := cs[i].r.st
		st.wrr += w
		total += w
		if best < 0 || st.wrr > cs[best].r.st.wrr {
			best = i
		}
	}
	cs[best].r.st.wrr -= total
	m.st.mu.Unlock()
	return best
}
