package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// The front doors' figures: a repetition's summary, the smoke run's
// problems and section 6 of the report.

// doorRep is one repetition of one door.
type doorRep struct {
	N                  int // rounds where every path succeeded
	Errors             map[string]int
	ErrSample          string
	P50, P99           map[string]time.Duration // latency, or time to first token
	AddedP50, AddedP99 map[string]time.Duration // paired p50 of path − direct; p99 − p99(direct)
	// Translation cost: translated − native, paired p50 and p99 − p99;
	// HasTrans when the door has both routes.
	TransP50, TransP99 time.Duration
	HasTrans           bool
}

// summarizeDoor computes a repetition's figures from per-path samples of
// the same rounds (lat[path][i]) and the rounds where all paths
// succeeded (ok).
func summarizeDoor(paths []string, lat map[string][]time.Duration, ok []bool) doorRep {
	dr := doorRep{Errors: map[string]int{}, P50: map[string]time.Duration{}, P99: map[string]time.Duration{},
		AddedP50: map[string]time.Duration{}, AddedP99: map[string]time.Duration{}}
	sel := func(name string) []time.Duration {
		var out []time.Duration
		for i, d := range lat[name] {
			if i < len(ok) && ok[i] {
				out = append(out, d)
			}
		}
		return out
	}
	for _, v := range ok {
		if v {
			dr.N++
		}
	}
	if dr.N == 0 {
		return dr
	}
	for _, name := range paths {
		dr.P50[name] = percentile(sel(name), 50)
		dr.P99[name] = percentile(sel(name), 99)
		if name != direct {
			dr.AddedP50[name] = percentile(pairedDiffs(lat[name], lat[direct], ok), 50)
			dr.AddedP99[name] = dr.P99[name] - dr.P99[direct]
		}
	}
	nat, tr := doorPath("native"), doorPath("translated")
	if _, ok1 := lat[nat]; ok1 {
		if _, ok2 := lat[tr]; ok2 {
			dr.HasTrans = true
			dr.TransP50 = percentile(pairedDiffs(lat[tr], lat[nat], ok), 50)
			dr.TransP99 = dr.P99[tr] - dr.P99[nat]
		}
	}
	return dr
}

// doorsProblems lists the doors a smoke run found broken: one without a
// round where every path succeeded.
func (r *report) doorsProblems(ds []door) []string {
	if r.DoorsNote != "" {
		return nil
	}
	var p []string
	for _, d := range ds {
		reps := r.Doors[d.key]
		if len(reps) == 0 || reps[0].N == 0 {
			msg := "front door " + d.key + ": no round succeeded on every path"
			if len(reps) > 0 && reps[0].ErrSample != "" {
				msg += " (" + reps[0].ErrSample + ")"
			}
			p = append(p, msg)
		}
	}
	return p
}

// upstreamCall is what a door's path sends to the mock, for the report.
func (d door) upstreamCall(path string) string {
	for _, r := range d.routes {
		if path != doorPath(r.name) {
			continue
		}
		up := d.path
		if r.name == "translated" {
			up = "/v1/chat/completions"
		}
		return fmt.Sprintf("%s provider, `%s`", r.kind, up)
	}
	return "`" + d.path + "`"
}

func (r *report) doorSpread(key, path string, f func(doorRep) map[string]time.Duration) spread {
	var ds []time.Duration
	for _, dr := range r.Doors[key] {
		if v, ok := f(dr)[path]; ok {
			ds = append(ds, v)
		}
	}
	return durSpread(ds)
}

func (r *report) transSpread(key string, f func(doorRep) time.Duration) spread {
	var ds []time.Duration
	for _, dr := range r.Doors[key] {
		if dr.HasTrans {
			ds = append(ds, f(dr))
		}
	}
	return durSpread(ds)
}

// doorsMarkdown writes the new front doors' section.
func (r *report) doorsMarkdown(w func(string, ...any), ds []door) {
	w("\n## 6. New front doors\n\n")
	if r.DoorsNote != "" {
		w("%s.\n", capitalize(r.DoorsNote))
		return
	}
	w("The router's other endpoints at concurrency 1, measured like section 1: per repetition and endpoint, %d interleaved rounds, each sending the endpoint's request once on every path in rotating order, 0 ms mock. ", r.cfg.doorRequests)
	w("**direct** and **revproxy** send the request in the endpoint's own format to the mock's same endpoint; the router takes it on a **native** route (a provider of the endpoint's format: the body passes through), a **translated** one (an `openai_compatible` provider: the router turns the request into a chat completion and the answer back), or, for embeddings, a **passthrough** one. ")
	w("Added p50 is the median of the paired differences (path − direct of the same round), added p99 is p99(path) − p99(direct); for streams (%d text deltas 1 ms apart) the figures are the time to the first `response.output_text.delta`, and a stream counts only with all its deltas and `response.completed`. ", doorTokens)
	w("Responses requests send `store: false` (stored responses would add a PostgreSQL write on every route). The peer is not measured here.\n\n")
	w("| Endpoint | Path | Upstream call | p50 | p99 | Added p50 (paired) | Added p99 | Added p50 ÷ revproxy's | Errors |\n|---|---|---|---|---|---|---|---|---|\n")
	var errSamples []string
	for _, d := range ds {
		key := d.key
		proxy := r.doorSpread(key, revproxy, func(dr doorRep) map[string]time.Duration { return dr.AddedP50 })
		for _, path := range d.paths() {
			p50 := r.doorSpread(key, path, func(dr doorRep) map[string]time.Duration { return dr.P50 })
			p99 := r.doorSpread(key, path, func(dr doorRep) map[string]time.Duration { return dr.P99 })
			a50, a99, rt := "—", "—", "—"
			if path != direct {
				s50 := r.doorSpread(key, path, func(dr doorRep) map[string]time.Duration { return dr.AddedP50 })
				a50 = fmtSpreadUS(s50)
				a99 = fmtSpreadUS(r.doorSpread(key, path, func(dr doorRep) map[string]time.Duration { return dr.AddedP99 }))
				if path != revproxy {
					if v := ratio(s50.Med, proxy.Med); !math.IsNaN(v) {
						rt = fmt.Sprintf("%.2f×", v)
					}
				}
			}
			errs := 0
			for _, dr := range r.Doors[key] {
				errs += dr.Errors[path]
			}
			w("| %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", d.label, path, d.upstreamCall(path), fmtSpreadUS(p50), fmtSpreadUS(p99), a50, a99, rt, errs)
		}
		for _, dr := range r.Doors[key] {
			if dr.ErrSample != "" {
				errSamples = append(errSamples, key+", "+dr.ErrSample)
				break
			}
		}
	}
	w("\n**Translation cost** (translated − native route, same rounds): p50 is the median of the paired differences, p99 is p99(translated) − p99(native).\n\n")
	w("| Endpoint | Added p50, native | Added p50, translated | Translation cost p50 (paired) | Translation cost p99 |\n|---|---|---|---|---|\n")
	for _, d := range ds {
		if _, ok := d.routeNamed("translated"); !ok {
			continue
		}
		nat := r.doorSpread(d.key, doorPath("native"), func(dr doorRep) map[string]time.Duration { return dr.AddedP50 })
		tr := r.doorSpread(d.key, doorPath("translated"), func(dr doorRep) map[string]time.Duration { return dr.AddedP50 })
		c50 := r.transSpread(d.key, func(dr doorRep) time.Duration { return dr.TransP50 })
		c99 := r.transSpread(d.key, func(dr doorRep) time.Duration { return dr.TransP99 })
		w("| %s | %s | %s | **%s** | %s |\n", d.label, fmtSpreadUS(nat), fmtSpreadUS(tr), fmtSpreadUS(c50), fmtSpreadUS(c99))
	}
	for _, s := range errSamples {
		w("\n- first error: `%s`", clip(s))
	}
	if len(errSamples) > 0 {
		w("\n")
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
