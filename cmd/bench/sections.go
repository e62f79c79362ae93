package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// maxInFlight bounds the open requests of an open-loop run; beyond it
// requests are dropped and counted as errors (the target has collapsed).
const maxInFlight = 2048

// reqTimeout bounds one JSON request under load.
const reqTimeout = 10 * time.Second

// rotations interleave the targets in every order, so no target is always
// measured first (or right after another one's connection reuse).
var rotations = map[int][][]int{
	1: {{0}},
	2: {{0, 1}, {1, 0}},
	3: {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 2, 1}, {2, 1, 0}, {1, 0, 2}},
	// With the peer: every cyclic shift, forwards and backwards, so each
	// path comes first and right after each other path equally often.
	4: {{0, 1, 2, 3}, {1, 2, 3, 0}, {2, 3, 0, 1}, {3, 0, 1, 2}, {3, 2, 1, 0}, {2, 1, 0, 3}, {1, 0, 3, 2}, {0, 3, 2, 1}},
}

func (b *bench) rotated(i int) []string {
	rs := rotations[len(b.order)]
	r := rs[i%len(rs)]
	out := make([]string, len(r))
	for j, k := range r {
		out[j] = b.order[k]
	}
	return out
}

// --- 5. memory ---

func (b *bench) idleMemory(ctx context.Context) error {
	// Let the processes settle after the readiness checks.
	b.pause(ctx, time.Second)
	b.rep.IdleRSS = b.rssAll()
	return nil
}

func (b *bench) idleMemoryAfter(ctx context.Context) error {
	for _, t := range b.targets {
		t.tr.CloseIdleConnections()
	}
	b.pause(ctx, 2*time.Second)
	b.rep.IdleRSSAfter = b.rssAll()
	return nil
}

func (b *bench) rssAll() map[string]int64 {
	m := map[string]int64{}
	for name, p := range map[string]*proc{router: b.router, revproxy: b.proxy, portkey: b.portkey, "mockllm": b.mock} {
		if p == nil {
			continue
		}
		if v, err := procRSS(p.pid()); err == nil {
			m[name] = v
		}
	}
	return m
}

// memory opens longStreams concurrent long streams through each target,
// samples the resident memory of the process that serves them once every
// stream has its first token, and counts every frame of every stream. The
// router and the proxy are restarted before every repetition: a process
// that already served the streams once keeps their memory (freed but
// resident, and reused without growing), so only a fresh one shows what
// the streams need. A last round on the warm processes shows the steady
// state.
func (b *bench) memory(ctx context.Context) error {
	n := b.cfg.longStreams
	level := fmt.Sprint(n)
	idle := b.rep.IdleRSS
	for rep := range b.cfg.reps + 1 {
		warm := rep == b.cfg.reps
		if rep > 0 && !warm {
			if err := b.restartServers(ctx); err != nil {
				return fmt.Errorf("restart: %w", err)
			}
			b.pause(ctx, time.Second)
			idle = b.rssAll()
			idle["mockllm"] = b.rep.IdleRSS["mockllm"]
		}
		for _, name := range b.rotated(rep) {
			t := b.targets[name]
			m, tc := b.longStreams(ctx, t, n)
			m.Idle = idle[procName(name)]
			if m.Open > 0 {
				m.PerStream = float64(m.During-m.Idle) / float64(m.Open)
			}
			if warm {
				b.rep.MemWarm[name] = m
			} else {
				b.rep.Mem[name] = append(b.rep.Mem[name], m)
			}
			b.rep.addTrunc(level, name, tc)
			t.tr.CloseIdleConnections()
			b.pause(ctx, 300*time.Millisecond)
		}
	}
	return ctx.Err()
}

func (b *bench) longStreams(ctx context.Context, t *target, n int) (memRes, truncCount) {
	var (
		m        memRes
		tc       truncCount
		first    atomic.Int64
		finished atomic.Int64
		allFirst = make(chan struct{})
		done     = make(chan struct{})
		res      = make([]streamResult, n)
		wg       sync.WaitGroup
		tokens   = t.reqs["long"].tokens
	)
	m.Before, _ = procRSS(t.pid)
	for i := range n {
		wg.Go(func() {
			res[i] = t.doStream(ctx, "long", false, func() {
				if first.Add(1) == int64(n) {
					close(allFirst)
				}
			})
			finished.Add(1)
		})
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-allFirst:
	case <-done:
	case <-ctx.Done():
	}
	sleep(ctx, 200*time.Millisecond)
	m.Open = int(first.Load() - finished.Load())
	for range 3 {
		if v, err := procRSS(t.pid); err == nil {
			m.During = max(m.During, v)
		}
		sleep(ctx, 100*time.Millisecond)
	}
	<-done
	for i := range res {
		tc.add(&res[i], tokens)
	}
	return m, tc
}

// --- 4. streaming ---

// streaming measures time to first token and the gaps between chunks at
// concurrency 1 (interleaved triplets of streams), then keeps concStreams
// streams open back to back through each target, counting every frame.
func (b *bench) streaming(ctx context.Context) error {
	tokens := b.targets[direct].reqs["stream"].tokens
	for rep := range b.cfg.reps {
		for i := range 3 { // warm-up
			for _, name := range b.rotated(i) {
				b.targets[name].doStream(ctx, "stream", true, nil)
			}
		}
		n := b.cfg.ttftStreams
		ttft := map[string][]time.Duration{}
		gaps := map[string][]time.Duration{}
		okAll := make([]bool, n)
		okPeer := map[string][]bool{}
		for i := range n {
			okAll[i] = true
			for _, name := range b.rotated(i) {
				r := b.targets[name].doStream(ctx, "stream", true, nil)
				if len(ttft[name]) == 0 {
					ttft[name] = make([]time.Duration, n)
				}
				ttft[name][i] = r.TTFT
				gaps[name] = append(gaps[name], r.Gaps...)
				switch {
				case isPeer(name):
					if okPeer[name] == nil {
						okPeer[name] = make([]bool, n)
					}
					okPeer[name][i] = r.complete(tokens)
				case !r.complete(tokens):
					okAll[i] = false
				}
				var tc truncCount
				tc.add(&r, tokens)
				b.rep.addTrunc("1", name, tc)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		tr := ttftRep{TTFTP50: map[string]time.Duration{}, AddedTTFT: map[string]time.Duration{}, GapP99: map[string]time.Duration{}, AddedGapP99: map[string]time.Duration{}}
		for _, name := range b.order {
			okN := both(okAll, okPeer[name])
			var ok []time.Duration
			for i, d := range ttft[name] {
				if okN[i] {
					ok = append(ok, d)
				}
			}
			tr.TTFTP50[name] = percentile(ok, 50)
			tr.GapP99[name] = percentile(gaps[name], 99)
			if name != direct {
				tr.AddedTTFT[name] = percentile(pairedDiffs(ttft[name], ttft[direct], okN), 50)
				tr.AddedGapP99[name] = tr.GapP99[name] - tr.GapP99[direct]
			}
		}
		b.rep.TTFT = append(b.rep.TTFT, tr)

		// The middle level: concStreams streams open at any time.
		level := fmt.Sprint(b.cfg.concStreams)
		for _, name := range b.rotated(rep) {
			b.rep.addTrunc(level, name, b.concurrentStreams(ctx, b.targets[name], b.cfg.concStreams, b.cfg.concFor, tokens))
		}
	}
	return ctx.Err()
}

func (b *bench) concurrentStreams(ctx context.Context, t *target, workers int, d time.Duration, tokens int) truncCount {
	var (
		mu sync.Mutex
		tc truncCount
		wg sync.WaitGroup
	)
	end := time.Now().Add(d)
	for range workers {
		wg.Go(func() {
			var local truncCount
			for time.Now().Before(end) && ctx.Err() == nil {
				r := t.doStream(ctx, "stream", false, nil)
				local.add(&r, tokens)
			}
			mu.Lock()
			tc.merge(local)
			mu.Unlock()
		})
	}
	wg.Wait()
	return tc
}

// --- 1. added latency at concurrency 1 ---

func (b *bench) pairs(ctx context.Context) error {
	for range b.cfg.reps {
		for i := range 50 { // warm-up
			for _, name := range b.rotated(i) {
				_ = b.targets[name].doJSON(ctx, "0ms")
			}
		}
		n := b.cfg.pairs
		lat := map[string][]time.Duration{}
		for _, name := range b.order {
			lat[name] = make([]time.Duration, n)
		}
		ok := make([]bool, n)
		okPeer := map[string][]bool{}
		for _, name := range b.order {
			if isPeer(name) {
				okPeer[name] = make([]bool, n)
			}
		}
		pr := pairsRep{Errors: map[string]int{}, P50: map[string]time.Duration{}, P99: map[string]time.Duration{},
			AddedP50: map[string]time.Duration{}, AddedP99: map[string]time.Duration{}}
		for i := range n {
			ok[i] = true
			for _, name := range b.rotated(i) {
				t0 := time.Now()
				err := b.targets[name].doJSON(ctx, "0ms")
				lat[name][i] = time.Since(t0)
				if isPeer(name) {
					okPeer[name][i] = err == nil
				}
				if err != nil {
					if !isPeer(name) {
						ok[i] = false
					}
					pr.Errors[name]++
					if pr.ErrSample == "" {
						pr.ErrSample = name + ": " + err.Error()
					}
				}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		sel := func(name string) []time.Duration {
			var out []time.Duration
			okN := both(ok, okPeer[name])
			for i, d := range lat[name] {
				if okN[i] {
					out = append(out, d)
				}
			}
			return out
		}
		for _, name := range b.order {
			pr.P50[name] = percentile(sel(name), 50)
			pr.P99[name] = percentile(sel(name), 99)
		}
		for _, name := range b.order[1:] {
			pr.AddedP50[name] = percentile(pairedDiffs(lat[name], lat[direct], both(ok, okPeer[name])), 50)
			pr.AddedP99[name] = pr.P99[name] - pr.P99[direct]
		}
		for _, v := range ok {
			if v {
				pr.N++
			}
		}
		b.rep.Pairs = append(b.rep.Pairs, pr)
	}
	return nil
}

// both is a and b element by element; a alone when b is nil. The peer's
// own failures leave its sample out of its figures without discarding the
// other paths' samples of the same round.
func both(a, b []bool) []bool {
	if b == nil {
		return a
	}
	out := make([]bool, len(a))
	for i := range a {
		out[i] = a[i] && i < len(b) && b[i]
	}
	return out
}

// --- 2. open-loop constant load ---

type runOpts struct {
	sc        string
	rate      float64
	dur, warm time.Duration
	// limit > 0 aborts the run once more than 1% of its requests failed or
	// took longer than limit: its p99 cannot be under limit any more.
	limit time.Duration
}

func (b *bench) openLoopGrid(ctx context.Context) error {
	k := 0
	for rep := range b.cfg.reps {
		for _, sc := range []string{"0ms", "50ms"} {
			for _, rate := range b.cfg.rates {
				for _, name := range b.rotated(k) {
					r := b.openRun(ctx, b.targets[name], runOpts{sc: sc, rate: rate, dur: b.cfg.duration, warm: b.cfg.warmup})
					b.rep.addOpen(openKey{sc, rate, name}, rep, r)
					b.settle(ctx)
					if ctx.Err() != nil {
						return ctx.Err()
					}
				}
				k++
			}
		}
	}
	return nil
}

// openRun offers rate requests per second for o.dur (after o.warm of
// unmeasured load) and measures latency from each request's scheduled
// time, errors, and the CPU time the serving process (and the mock, and
// the router's PostgreSQL backends) spent per request.
func (b *bench) openRun(ctx context.Context, t *target, o runOpts) openRes {
	if o.warm > 0 {
		n := int(o.rate * o.warm.Seconds())
		openLoop(ctx, o.rate, n, maxInFlight, func(int, time.Time) {
			rctx, cancel := context.WithTimeout(ctx, reqTimeout)
			_ = t.doJSON(rctx, o.sc)
			cancel()
		})
	}
	n := max(int(o.rate*o.dur.Seconds()), 1)
	lat := make([]time.Duration, n)
	ok := make([]bool, n)
	var (
		errs   tally
		bad    atomic.Int64
		maxBad = int64(n / 100)
	)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()

	var pg []int
	if t.name == router {
		pg = pgBackends(b.dbName)
	}
	ms0, mErr0 := b.mockStats()
	cpu0, _ := procCPU(t.pid)
	pg0 := cpuSum(pg)
	ls := openLoop(runCtx, o.rate, n, maxInFlight, func(i int, at time.Time) {
		rctx, cancel := context.WithTimeout(runCtx, reqTimeout)
		err := t.doJSON(rctx, o.sc)
		cancel()
		lat[i] = time.Since(at)
		ok[i] = err == nil
		if err != nil && runCtx.Err() == nil {
			errs.add(err)
		}
		if o.limit > 0 && (err != nil || lat[i] > o.limit) && bad.Add(1) > maxBad {
			stop()
		}
	})
	cpu1, _ := procCPU(t.pid)
	pg1 := cpuSum(pg)
	ms1, mErr1 := b.mockStats()

	r := openRes{N: n, Lag: ls, Aborted: runCtx.Err() != nil && ctx.Err() == nil, Err: errs.String()}
	var good []time.Duration
	for i := range n {
		if ok[i] {
			good = append(good, lat[i])
		}
	}
	r.OK = len(good)
	r.P50 = percentile(good, 50)
	r.P99 = percentile(good, 99)
	r.CPUus = us(cpu1-cpu0) / float64(n)
	if pg != nil {
		r.PGCPUus = us(pg1-pg0) / float64(n)
	}
	if mErr0 == nil && mErr1 == nil && ms1.Requests > ms0.Requests {
		r.MockReqs = ms1.Requests - ms0.Requests
		r.MockCPU = ms1.CPUSeconds - ms0.CPUSeconds
		r.MockCPUus = r.MockCPU * 1e6 / float64(r.MockReqs)
		b.rep.MockProcs = ms1.GOMAXPROCS
	}
	return r
}

// --- 3. the highest rate with p99 under the limit ---

func (b *bench) maxRate(ctx context.Context) error {
	start := 500.0
	if b.cfg.smoke {
		start = 200
	}
	precision := 0.1
	maxProbes := 9
	if b.cfg.smoke {
		maxProbes = 2
	}
	for rep := range b.cfg.reps {
		for _, name := range b.rotated(rep) {
			t := b.targets[name]
			var sr searchRes
			probe := func(rate float64) bool {
				r := b.openRun(ctx, t, runOpts{sc: "0ms", rate: rate, dur: b.cfg.probe, warm: b.cfg.probeWarmup, limit: b.cfg.p99Limit})
				pass := !r.Aborted && r.OK == r.N && r.P99 < b.cfg.p99Limit
				sr.Probes = append(sr.Probes, probeRes{Rate: rate, Pass: pass, P99: r.P99, Errors: r.N - r.OK, Aborted: r.Aborted, CPUus: r.CPUus, PGCPUus: r.PGCPUus})
				if pass && rate > sr.Rate {
					sr.Rate, sr.CPUus, sr.PGCPUus, sr.P99 = rate, r.CPUus, r.PGCPUus, r.P99
				}
				b.settle(ctx)
				return pass
			}
			searchMaxRate(probe, start, 64000, precision, maxProbes)
			b.rep.Search[name] = append(b.rep.Search[name], sr)
			b.logf("  %s: %.0f req/s (%d probes)", name, sr.Rate, len(sr.Probes))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

// searchMaxRate finds the highest rate for which pass holds: it doubles
// from start while probes pass (halves while they fail), then bisects the
// bracket until hi/lo < 1+precision or maxProbes probes were made. It
// returns the highest passing rate, or 0.
func searchMaxRate(pass func(rate float64) bool, start, maxRate, precision float64, maxProbes int) float64 {
	probes := 0
	try := func(r float64) bool { probes++; return pass(r) }
	lo, hi := 0.0, 0.0
	r := start
	if try(r) {
		lo = r
		for hi == 0 && lo < maxRate && probes < maxProbes {
			r = min(lo*2, maxRate)
			if try(r) {
				lo = r
			} else {
				hi = r
			}
		}
	} else {
		hi = r
		for lo == 0 && hi > start/64 && probes < maxProbes {
			r = hi / 2
			if try(r) {
				lo = r
			} else {
				hi = r
			}
		}
	}
	for lo > 0 && hi > 0 && hi/lo > 1+precision && probes < maxProbes {
		mid := (lo + hi) / 2
		if try(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// --- profile ---

func (b *bench) profile(ctx context.Context) error {
	if b.cfg.profile <= 0 {
		b.rep.ProfileNote = "not taken (-profile 0)"
		return nil
	}
	if b.router == nil {
		b.rep.ProfileNote = "not taken (no router)"
		return nil
	}
	rate := 1000.0
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loadDone := make(chan openRes, 1)
	go func() {
		loadDone <- b.openRun(pctx, b.targets[router], runOpts{sc: "0ms", rate: rate, dur: b.cfg.profile + 2*time.Second, warm: 500 * time.Millisecond})
	}()
	sleep(ctx, time.Second)
	top, err := perfProfile(ctx, b.router.pid(), b.cfg.profile, b.logDir)
	cancel()
	<-loadDone
	if err != nil {
		b.rep.ProfileNote = "not taken: " + err.Error()
		return nil
	}
	b.rep.ProfileNote = fmt.Sprintf("perf record -F 999 -g of the router for %v under %.0f req/s of 0 ms JSON requests", b.cfg.profile, rate)
	b.rep.Profile = top
	return nil
}

// settle waits until the measured processes (mock, router, proxy and the
// router's PostgreSQL backends) are idle, for at most 3 s: after an
// overload the router still drains queued requests and writes its request
// log, work that would otherwise be charged to the next measurement of
// another path. Idle is under a tenth of a core over 200 ms (two clock
// ticks); other processes on the machine do not count.
func (b *bench) settle(ctx context.Context) {
	if b.cfg.smoke {
		return // a smoke run checks the harness, not the numbers
	}
	window, limit := 200*time.Millisecond, 3*time.Second
	deadline := time.Now().Add(limit)
	prev := b.serversCPU()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		sleep(ctx, window)
		cur := b.serversCPU()
		if cur-prev <= 2*clockTick {
			return
		}
		prev = cur
	}
}

// pause waits d, a fifth of it in a smoke run.
func (b *bench) pause(ctx context.Context, d time.Duration) {
	if b.cfg.smoke {
		d /= 5
	}
	sleep(ctx, d)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
