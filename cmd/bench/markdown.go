package main

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	title := "AI Router benchmark"
	if r.cfg.smoke {
		title += " (smoke run: tiny counts, not a measurement)"
	}
	w("# %s — %s\n\n", title, r.Started.Format("2006-01-02 15:04 MST"))
	w("| | |\n|---|---|\n")
	w("| Machine | %s, %d logical CPUs, %s RAM, Linux %s |\n", r.Machine.CPUModel, r.Machine.Cores, r.Machine.MemTotal, r.Machine.Kernel)
	w("| Go | %s (harness runtime %s) |\n", r.GoToolchain, runtime.Version())
	w("| Commit | %s |\n", r.Commit)
	w("| Date | %s, measurements took %v |\n", r.Started.Format(time.RFC3339), r.Finished.Sub(r.Started).Round(time.Second))
	w("| Load average | %s before, %s after |\n", r.LoadBefore, r.LoadAfter)
	w("| CPU outside this benchmark | %.2f cores on average during the run (the harness, mock, router, proxy and the benchmark database's PostgreSQL backends used %.2f) |\n", r.OtherCPU, r.OurCPU)
	w("| Repetitions | %d; every figure is the median of the repetitions with their range (min – max) |\n", r.cfg.reps)
	w("| Peer: Portkey gateway | %s |\n", r.PortkeyNote)
	w("\nAll paths reach the same `mockllm` process: **direct** (the client calls the mock), **router** (`airouter serve`, " +
		"PostgreSQL config store and request log, no Temporal), **revproxy** (a minimal `httputil.ReverseProxy`, the reference). " +
		"Each runs as its own process on this machine; the load generator is the harness process (Go net/http client). " +
		"The mock's latency comes from `X-Mock-*` headers, sent by the client (direct, revproxy) or by the router as its providers' extra headers.\n\n")
	w("**portkey (peer)** is the Portkey gateway (npm `@portkey-ai/gateway`, run with node, `x-portkey-provider: openai` and `x-portkey-custom-host` pointing at the mock, the `X-Mock-*` headers named in `x-portkey-forward-headers`): a gateway users pick instead, shown for comparison in every section; it is not part of the targets, and its failed requests leave out only its own samples.\n\n")

	w("## Targets (router ÷ reverse proxy, same run)\n\n")
	w("| Target | Router | Reverse proxy | Ratio | Goal | Result |\n|---|---|---|---|---|---|\n")
	for _, v := range r.verdicts() {
		res := "MISS"
		if v.Pass {
			res = "PASS"
		}
		rt := "—"
		if !math.IsNaN(v.Ratio) {
			rt = fmt.Sprintf("%.2f×", v.Ratio)
		}
		w("| %s | %s | %s | %s | %s | **%s** |\n", v.Name, v.Router, v.Proxy, rt, v.Limit, res)
	}
	usReq, ceil := r.mockCeiling()
	rr := r.searchSpread(router, func(s searchRes) float64 { return s.Rate })
	ok := "PASS"
	if !(ceil >= 3*rr.Med) {
		ok = "MISS"
	}
	w("\nThe mock is not the bottleneck if its ceiling is ≥ 3× the router's highest rate: mock CPU %.1f µs/request in the 0 ms open-loop runs at %.0f req/s → ceiling ≈ %.0f req/s on %d CPUs (%.1f× the router's %.0f req/s): **%s**.\n",
		usReq, slices.Max(r.cfg.rates), ceil, max(r.MockProcs, 1), ceil/rr.Med, rr.Med, ok)

	// 1.
	w("\n## 1. Added latency at concurrency 1\n\n")
	w("%d interleaved triplets (direct, router, revproxy in rotating order) per repetition, 0 ms mock, small JSON answers. ", r.cfg.pairs)
	w("Added p50 is the median of the paired differences (target − direct of the same triplet); added p99 is p99(target) − p99(direct).")
	if r.hasPeer() {
		w(" The peer is measured after the triplets, in as many pairs of its own with direct (rotating order), and paired with those direct requests: node keeps working for a while after it answers, which in a shared round would land on whichever path comes next.")
	}
	w("\n\n")
	w("| Path | p50 | p99 | Added p50 (paired) | Added p99 | Errors |\n|---|---|---|---|---|---|\n")
	for _, name := range r.paths() {
		p50 := r.pairsSpread(name, func(p pairsRep) map[string]time.Duration { return p.P50 })
		p99 := r.pairsSpread(name, func(p pairsRep) map[string]time.Duration { return p.P99 })
		a50, a99 := "—", "—"
		if name != direct {
			a50 = fmtSpreadUS(r.pairsSpread(name, func(p pairsRep) map[string]time.Duration { return p.AddedP50 }))
			a99 = fmtSpreadUS(r.pairsSpread(name, func(p pairsRep) map[string]time.Duration { return p.AddedP99 }))
		}
		errs := 0
		for _, p := range r.Pairs {
			errs += p.Errors[name]
		}
		w("| %s | %s | %s | %s | %s | %d |\n", pathLabel(name), fmtSpreadUS(p50), fmtSpreadUS(p99), a50, a99, errs)
	}
	r.peerRow(w, nil, 6)
	for _, p := range r.Pairs {
		if p.ErrSample != "" {
			w("\nFirst error: `%s`\n", clip(p.ErrSample))
			break
		}
	}

	// 2.
	w("\n## 2. Open-loop constant load\n\n")
	w("Requests are sent on a fixed schedule whatever the completions (%v measured after %v of warm-up, at most %d open); latency counts from each request's scheduled time, so a stalled server is not hidden (no coordinated omission). ", r.cfg.duration, r.cfg.warmup, maxInFlight)
	w("Added = target − direct at the same percentile, per repetition. CPU is the serving process's user+system time (/proc/<pid>/stat, 10 ms ticks) per request (for direct: the mock's); the router's includes none of PostgreSQL's, shown apart.\n\n")
	w("| Mock | Rate | Path | p50 | p99 | Added p50 | Added p99 | Errors | CPU µs/req |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, sc := range []string{"0ms", "50ms"} {
		for _, rate := range r.cfg.rates {
			for _, name := range r.paths() {
				k := openKey{sc, rate, name}
				if len(r.Open[k]) == 0 {
					continue
				}
				p50 := r.openSpread(sc, rate, name, func(o openRes) float64 { return us(o.P50) })
				p99 := r.openSpread(sc, rate, name, func(o openRes) float64 { return us(o.P99) })
				errRate := r.openSpread(sc, rate, name, func(o openRes) float64 { return 100 * float64(o.N-o.OK) / float64(max(o.N, 1)) })
				cpu := r.openSpread(sc, rate, name, func(o openRes) float64 { return o.CPUus })
				a50, a99 := "—", "—"
				if name != direct {
					a50 = fmtSpreadUS(r.openAdded(sc, rate, name, func(o openRes) time.Duration { return o.P50 }))
					a99 = fmtSpreadUS(r.openAdded(sc, rate, name, func(o openRes) time.Duration { return o.P99 }))
				}
				cpuS := fmtSpread(cpu, "%.0f", "")
				if name == router {
					pg := r.openSpread(sc, rate, name, func(o openRes) float64 { return o.PGCPUus })
					cpuS += fmt.Sprintf(" (+%.0f PostgreSQL)", pg.Med)
				}
				w("| %s | %.0f/s | %s | %s | %s | %s | %s | %s | %s |\n", sc, rate, pathLabel(name), fmtSpreadUS(p50), fmtSpreadUS(p99), a50, a99, fmtSpread(errRate, "%.2f", "%"), cpuS)
			}
		}
	}
	r.peerRow(w, []string{"all", "all"}, 9)
	r.openNotes(w)

	// 3.
	w("\n## 3. Highest rate with p99 < %v and no errors\n\n", r.cfg.p99Limit)
	w("Open-loop probes of %v (after %v of warm-up) against the 0 ms mock: the rate doubles from a start while probes pass, then a bisection narrows it to within 10%%. A probe stops early once over 1%% of its requests failed or exceeded the limit. CPU µs/request is at the highest passing rate.\n\n", r.cfg.probe, r.cfg.probeWarmup)
	w("| Path | Highest rate | p99 there | CPU µs/req there | Probes (rate: p99, ✓ pass) |\n|---|---|---|---|---|\n")
	for _, name := range r.paths() {
		s := r.Search[name]
		if len(s) == 0 {
			continue
		}
		rate := r.searchSpread(name, func(s searchRes) float64 { return s.Rate })
		p99 := r.searchSpread(name, func(s searchRes) float64 { return us(s.P99) })
		cpu := r.searchSpread(name, func(s searchRes) float64 { return s.CPUus })
		cpuS := fmtSpread(cpu, "%.0f", "")
		if name == router {
			pg := r.searchSpread(name, func(s searchRes) float64 { return s.PGCPUus })
			cpuS += fmt.Sprintf(" (+%.0f PostgreSQL)", pg.Med)
		}
		var probes []string
		for _, sr := range s {
			var ps []string
			for _, p := range sr.Probes {
				mark := "✗"
				if p.Pass {
					mark = "✓"
				}
				desc := fmtUS(us(p.P99))
				if p.Aborted {
					desc = "stopped"
				} else if p.Errors > 0 {
					desc += fmt.Sprintf(", %d errors", p.Errors)
				}
				ps = append(ps, fmt.Sprintf("%.0f: %s %s", p.Rate, desc, mark))
			}
			probes = append(probes, strings.Join(ps, "; "))
		}
		label := pathLabel(name)
		if name == direct {
			label = "direct (mock + load generator)"
		}
		w("| %s | %s | %s | %s | %s |\n", label, fmtSpread(rate, "%.0f", " req/s"), fmtSpreadUS(p99), cpuS, strings.Join(probes, " ‖ "))
	}
	r.peerRow(w, nil, 5)

	// 4.
	w("\n## 4. Streaming\n\n")
	w("Time to first token and chunk gaps: %d interleaved stream triplets per repetition at concurrency 1; each stream has 20 content chunks paced 1 ms apart by the mock. Added TTFT is the median of paired differences; added gap is p99(target gaps) − p99(direct gaps).", r.cfg.ttftStreams)
	if r.hasPeer() {
		w(" The peer's streams are paired, as in section 1, with direct streams of rounds of its own.")
	}
	w("\n\n")
	w("| Path | TTFT p50 | Added TTFT | Chunk gap p99 | Added gap p99 |\n|---|---|---|---|---|\n")
	for _, name := range r.paths() {
		t50 := r.ttftSpread(name, func(t ttftRep) map[string]time.Duration { return t.TTFTP50 })
		g99 := r.ttftSpread(name, func(t ttftRep) map[string]time.Duration { return t.GapP99 })
		a, ag := "—", "—"
		if name != direct {
			a = fmtSpreadUS(r.ttftSpread(name, func(t ttftRep) map[string]time.Duration { return t.AddedTTFT }))
			ag = fmtSpreadUS(r.ttftSpread(name, func(t ttftRep) map[string]time.Duration { return t.AddedGapP99 }))
		}
		w("| %s | %s | %s | %s | %s |\n", pathLabel(name), fmtSpreadUS(t50), a, fmtSpreadUS(g99), ag)
	}
	r.peerRow(w, nil, 5)
	if r.hasPeer() {
		w("\nPortkey's stream handler waits 25 ms before passing on a stream's first chunk (a fixed timer in its `build/start-server.js`, 1.15.2); the chunks that arrive meanwhile then leave together, hence its time to first token and its near-zero gaps.\n")
	}
	w("\nEvery frame counted: a stream is complete with all its content frames and `data: [DONE]`; truncated = 200 but incomplete; failed = no 200. Level 1 is the streams above; level %d keeps %d streams open back to back for %v; level %d is the memory test's long streams (%s content frames each), all open at once. Totals over all repetitions.\n\n",
		r.cfg.concStreams, r.cfg.concStreams, r.cfg.concFor, r.cfg.longStreams, longDesc(r.cfg.smoke))
	w("| Concurrent streams | Path | Streams | Complete | Truncated | Failed |\n|---|---|---|---|---|---|\n")
	levels := make([]string, 0, len(r.Trunc))
	for l := range r.Trunc {
		levels = append(levels, l)
	}
	slices.SortFunc(levels, func(a, b string) int { return atoi(a) - atoi(b) })
	var samples []string
	for _, l := range levels {
		for _, name := range r.paths() {
			if c := r.Trunc[l][name]; c != nil {
				w("| %s | %s | %d | %d | %d | %d |\n", l, pathLabel(name), c.Streams, c.Complete, c.Truncated, c.Failed)
				if c.Sample != "" {
					samples = append(samples, fmt.Sprintf("%s at %s: %s", name, l, clip(c.Sample)))
				}
			}
		}
	}
	r.peerRow(w, []string{"all"}, 6)
	for _, s := range samples {
		w("\n- first problem: `%s`", s)
	}
	if len(samples) > 0 {
		w("\n")
	}

	// 5.
	w("\n## 5. Memory\n\n")
	w("VmRSS from /proc/<pid>/status. Per open stream = (RSS with all %d long streams open, sampled once each had its first token − idle RSS of the fresh process) ÷ open streams. ", r.cfg.longStreams)
	w("The router and the proxy are restarted before each repetition (a process that served the streams before keeps their freed memory resident and reuses it); the last column is one more round on the warm processes, against the same idle baseline. The mock is never restarted (its figures are for reference).\n\n")
	w("| Process | Idle RSS at start | Idle RSS after the run | RSS with %d streams open | Per open stream (fresh) | Per open stream (warm) |\n|---|---|---|---|---|---|\n", r.cfg.longStreams)
	for _, name := range append(r.paths()[1:], direct) {
		proc := procName(name)
		var during []float64
		for _, m := range r.Mem[name] {
			during = append(during, float64(m.During)/(1<<20))
		}
		label := pathLabel(proc)
		if name == direct {
			label = "mockllm (serving direct streams)"
		}
		warm := "n/a"
		if m, ok := r.MemWarm[name]; ok && m.Open > 0 {
			warm = fmt.Sprintf("%.1f KiB", m.PerStream/1024)
		}
		w("| %s | %s | %s | %s | %s | %s |\n", label, mib(r.IdleRSS[proc]), mib(r.IdleRSSAfter[proc]),
			fmtSpread(summarize(during), "%.1f", " MiB"), fmtSpread(r.memSpread(name), "%.1f", " KiB"), warm)
	}

	r.peerRow(w, nil, 6)

	// 6.
	r.doorsMarkdown(w, doors())

	// Profile.
	w("\n## CPU profile of the router\n\n")
	if r.Profile == "" {
		w("Profile %s.\n", r.ProfileNote)
	} else {
		w("%s (symbols of the unstripped build).\n\n```\n%s```\n", r.ProfileNote, r.Profile)
		if strings.Contains(r.Profile, "pvm_irq_enable") {
			w("\nKernel samples in this virtual machine pile up in `pvm_irq_enable` (interrupts re-enabled on the way out of syscalls and context switches): it is the kernel's share of socket I/O and scheduling, not one hot function.\n")
		}
	}

	w("\n## Run\n\n")
	w("| Section | Took | CPU used by other processes meanwhile |\n|---|---|---|\n")
	for _, s := range r.SectionTimes {
		w("| %s | %v | %.2f cores |\n", s.Name, s.Took.Round(100*time.Millisecond), s.OtherCPU)
	}
	w("\nReproduce: `make bench` (builds, starts PostgreSQL from the local stack, runs `go run ./cmd/bench -out bench/results`, with `-portkey` when node is present); `go run ./cmd/bench -h` lists the knobs. The targets are reported, not asserted.\n")
	return b.String()
}

func (r *report) openNotes(w func(string, ...any)) {
	var notes []string
	keys := make([]openKey, 0, len(r.Open))
	for k := range r.Open {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b openKey) int {
		if c := strings.Compare(a.sc, b.sc); c != 0 {
			return c
		}
		if a.rate != b.rate {
			return int(a.rate - b.rate)
		}
		return strings.Compare(a.target, b.target)
	})
	late := 0
	var maxLag time.Duration
	for _, k := range keys {
		for i, v := range r.Open[k] {
			late += v.Lag.Late
			maxLag = max(maxLag, v.Lag.MaxLag)
			if v.Err != "" {
				notes = append(notes, fmt.Sprintf("%s %.0f/s %s rep %d: %s", k.sc, k.rate, k.target, i+1, clip(v.Err)))
			}
			if v.Lag.Dropped > 0 {
				notes = append(notes, fmt.Sprintf("%s %.0f/s %s rep %d: %d requests not sent (%d already open)", k.sc, k.rate, k.target, i+1, v.Lag.Dropped, maxInFlight))
			}
		}
	}
	w("\nGenerator: %d requests started more than 1 ms after their scheduled time (latest by %v); their latency counts from the schedule.\n", late, maxLag.Round(time.Microsecond))
	for i, n := range notes {
		if i == 10 {
			w("- … %d more\n", len(notes)-10)
			break
		}
		if i == 0 {
			w("\n")
		}
		w("- `%s`\n", n)
	}
}

// paths is the rows of a section, in order: direct, router, revproxy,
// then the peer when it ran.
func (r *report) paths() []string {
	p := []string{direct, router, revproxy}
	if r.hasPeer() {
		p = append(p, portkey)
	}
	return p
}

func (r *report) hasPeer() bool { return slices.Contains(r.Targets, portkey) }

func pathLabel(name string) string {
	if isPeer(name) {
		return name + " (peer)"
	}
	return name
}

// peerRow writes the peer's row when it did not run: the cells before
// the path (lead), the label, its note, and a dash in each remaining of
// the table's cols columns.
func (r *report) peerRow(w func(string, ...any), lead []string, cols int) {
	if r.hasPeer() {
		return
	}
	var b strings.Builder
	b.WriteString("|")
	for _, c := range lead {
		b.WriteString(" " + c + " |")
	}
	b.WriteString(" " + pathLabel(portkey) + " | " + strings.ReplaceAll(clip(r.PortkeyNote), "|", "/") + " |")
	for range cols - len(lead) - 2 {
		b.WriteString(" — |")
	}
	w("%s\n", b.String())
}

func procName(target string) string {
	if target == direct {
		return "mockllm"
	}
	return target
}

func longDesc(smoke bool) string {
	if smoke {
		return "5, 10 a second"
	}
	return "20, 5 a second"
}

func mib(v int64) string {
	if v == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20))
}

func clip(s string) string {
	s = strings.ReplaceAll(s, "`", "'")
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 240 {
		n := 240
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}
