package main

import (
	"context"
	"fmt"
	"sync"

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

func (b *bench) rotated(i int) []string { return rotate(b.order, i) }

// --- 5. memory ---

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

// --- 3. the highest rate with p99 under the limit ---

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
