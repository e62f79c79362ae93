package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// mockCeiling is the mock's requests per second at full use of its CPUs,
// from its CPU time per request in the 0 ms open-loop runs at the highest
// rate (at low rates idle wake-ups inflate the cost per request).
func (r *report) mockCeiling() (usPerReq, ceiling float64) {
	var reqs uint64
	var cpu float64
	top := slices.Max(r.cfg.rates)
	for k, runs := range r.Open {
		if k.sc != "0ms" || k.rate != top {
			continue
		}
		for _, v := range runs {
			reqs += v.MockReqs
			cpu += v.MockCPU
		}
	}
	if reqs == 0 || cpu <= 0 {
		return math.NaN(), math.NaN()
	}
	usPerReq = cpu * 1e6 / float64(reqs)
	return usPerReq, float64(max(r.MockProcs, 1)) * 1e6 / usPerReq
}

// verdict is one target of the issue: router against revproxy.
type verdict struct {
	Name          string
	Router, Proxy string
	Ratio         float64
	Limit         string
	Pass          bool
}

func costVerdict(name string, rv, pv spread, limit float64, format func(spread) string) verdict {
	v := verdict{Name: name, Router: format(rv), Proxy: format(pv), Ratio: ratio(rv.Med, pv.Med), Limit: fmt.Sprintf("≤ %.1f×", limit)}
	// A reference cost not above zero (noise) leaves no ratio: the router
	// must then cost no more than the reference itself.
	bound := limit * pv.Med
	if pv.Med <= 0 {
		bound = pv.Med
	}
	v.Pass = !math.IsNaN(rv.Med) && !math.IsNaN(pv.Med) && rv.Med <= bound
	return v
}

func (r *report) verdicts() []verdict {
	var vs []verdict
	vs = append(vs, costVerdict("Added latency at concurrency 1, p50 (paired)",
		r.pairsSpread(router, func(p pairsRep) map[string]time.Duration { return p.AddedP50 }),
		r.pairsSpread(revproxy, func(p pairsRep) map[string]time.Duration { return p.AddedP50 }), 0.7, fmtSpreadUS))
	vs = append(vs, costVerdict("Added latency at concurrency 1, p99 − p99(direct)",
		r.pairsSpread(router, func(p pairsRep) map[string]time.Duration { return p.AddedP99 }),
		r.pairsSpread(revproxy, func(p pairsRep) map[string]time.Duration { return p.AddedP99 }), 1.0, fmtSpreadUS))
	rr := r.searchSpread(router, func(s searchRes) float64 { return s.Rate })
	pr := r.searchSpread(revproxy, func(s searchRes) float64 { return s.Rate })
	fr := func(s spread) string { return fmtSpread(s, "%.0f", " req/s") }
	vs = append(vs, verdict{Name: fmt.Sprintf("Highest rate with p99 < %v and no errors", r.cfg.p99Limit), Router: fr(rr), Proxy: fr(pr),
		Ratio: ratio(rr.Med, pr.Med), Limit: "≥ 1.5×", Pass: rr.Med > 0 && rr.Med >= 1.5*pr.Med})
	vs = append(vs, costVerdict("Added time to first token (paired p50)",
		r.ttftSpread(router, func(t ttftRep) map[string]time.Duration { return t.AddedTTFT }),
		r.ttftSpread(revproxy, func(t ttftRep) map[string]time.Duration { return t.AddedTTFT }), 1.0, fmtSpreadUS))
	rs, rb := r.truncTotal(router)
	ps, pb := r.truncTotal(revproxy)
	vs = append(vs, verdict{Name: "Truncated or failed streams (all levels)", Router: fmt.Sprintf("%d of %d", rb, rs), Proxy: fmt.Sprintf("%d of %d", pb, ps),
		Ratio: math.NaN(), Limit: "0", Pass: rs > 0 && rb == 0})
	fk := func(s spread) string { return fmtSpread(s, "%.1f", " KiB") }
	vs = append(vs, costVerdict(fmt.Sprintf("Memory per open stream (%d concurrent)", r.cfg.longStreams),
		r.memSpread(router), r.memSpread(revproxy), 0.8, fk))
	return vs
}

// smokeProblems lists what shows the harness itself broken: a section with
// no successful request, or any truncated or failed stream.
func (r *report) smokeProblems() []string {
	var p []string
	if len(r.Pairs) == 0 || r.Pairs[0].N == 0 {
		p = append(p, "concurrency-1 pairs: no triplet succeeded")
	}
	for k, runs := range r.Open {
		for _, v := range runs {
			if v.OK == 0 {
				p = append(p, fmt.Sprintf("open loop %s %.0f/s %s: no successful request (%s)", k.sc, k.rate, k.target, v.Err))
			}
		}
	}
	if len(r.Open) == 0 {
		p = append(p, "open loop: nothing measured")
	}
	for _, name := range r.Targets {
		ok := false
		for _, s := range r.Search[name] {
			for _, pr := range s.Probes {
				ok = ok || pr.Errors < int(pr.Rate*r.cfg.probe.Seconds())
			}
		}
		if !ok {
			p = append(p, "max-rate search "+name+": no probe had a successful request")
		}
		streams, bad := r.truncTotal(name)
		if streams == 0 {
			p = append(p, "streams "+name+": none measured")
		}
		if bad > 0 {
			p = append(p, fmt.Sprintf("streams %s: %d of %d truncated or failed", name, bad, streams))
		}
		if len(r.Mem[name]) == 0 || r.Mem[name][0].During == 0 {
			p = append(p, "memory "+name+": no RSS sample")
		}
	}
	if len(r.TTFT) == 0 || r.TTFT[0].TTFTP50[r.Targets[len(r.Targets)-1]] == 0 {
		p = append(p, "streaming: no time to first token measured")
	}
	return append(p, r.doorsProblems(doors())...)
}
