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
		okAll := allTrue(n)
		okPeer := map[string][]bool{}
		err := b.interleave(ctx, n, func(i int, name, peer string) {
			r := b.targets[name].doStream(ctx, "stream", true, nil)
			key := sampleKey(name, peer)
			if ttft[key] == nil {
				ttft[key] = make([]time.Duration, n)
			}
			ttft[key][i] = r.TTFT
			gaps[key] = append(gaps[key], r.Gaps...)
			switch {
			case peer != "":
				if okPeer[peer] == nil {
					okPeer[peer] = allTrue(n)
				}
				if !r.complete(tokens) {
					okPeer[peer][i] = false
				}
			case !r.complete(tokens):
				okAll[i] = false
			}
			if key == name { // a peer round's direct streams are counted once, in the targets' rounds
				var tc truncCount
				tc.add(&r, tokens)
				b.rep.addTrunc("1", name, tc)
			}
		})
		if err != nil {
			return err
		}
		tr := ttftRep{TTFTP50: map[string]time.Duration{}, AddedTTFT: map[string]time.Duration{}, GapP99: map[string]time.Duration{}, AddedGapP99: map[string]time.Duration{}}
		for _, name := range b.order {
			okN, base := b.pairing(name, okAll, okPeer)
			var ok []time.Duration
			for i, d := range ttft[name] {
				if okN[i] {
					ok = append(ok, d)
				}
			}
			tr.TTFTP50[name] = percentile(ok, 50)
			tr.GapP99[name] = percentile(gaps[name], 99)
			if name != direct {
				tr.AddedTTFT[name] = percentile(pairedDiffs(ttft[name], ttft[base], okN), 50)
				tr.AddedGapP99[name] = tr.GapP99[name] - percentile(gaps[base], 99)
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
		ok := allTrue(n)
		okPeer := map[string][]bool{}
		pr := pairsRep{Errors: map[string]int{}, P50: map[string]time.Duration{}, P99: map[string]time.Duration{},
			AddedP50: map[string]time.Duration{}, AddedP99: map[string]time.Duration{}}
		err := b.interleave(ctx, n, func(i int, name, peer string) {
			key := sampleKey(name, peer)
			if lat[key] == nil {
				lat[key] = make([]time.Duration, n)
			}
			t0 := time.Now()
			err := b.targets[name].doJSON(ctx, "0ms")
			lat[key][i] = time.Since(t0)
			if peer != "" {
				if okPeer[peer] == nil {
					okPeer[peer] = allTrue(n)
				}
				if err != nil {
					okPeer[peer][i] = false
				}
			} else if err != nil {
				ok[i] = false
			}
			if err != nil {
				pr.Errors[name]++
				if pr.ErrSample == "" {
					pr.ErrSample = name + ": " + err.Error()
				}
			}
		})
		if err != nil {
			return err
		}
		sel := func(key string, okN []bool) []time.Duration {
			var out []time.Duration
			for i, d := range lat[key] {
				if okN[i] {
					out = append(out, d)
				}
			}
			return out
		}
		for _, name := range b.order {
			okN, base := b.pairing(name, ok, okPeer)
			pr.P50[name] = percentile(sel(name, okN), 50)
			pr.P99[name] = percentile(sel(name, okN), 99)
			if name != direct {
				pr.AddedP50[name] = percentile(pairedDiffs(lat[name], lat[base], okN), 50)
				pr.AddedP99[name] = pr.P99[name] - percentile(sel(base, okN), 99)
			}
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

// interleave runs n rounds of measure. The targets (direct, router,
// revproxy) share every round, in rotating order; each peer then gets n
// rounds of its own, with direct: node keeps working for a while after the
// peer answers (its event loop, its GC), which in a shared round would land
// on whichever path comes next, not on the peer. measure gets the round, the
// path, and the peer whose round it is ("" in the targets' rounds).
func (b *bench) interleave(ctx context.Context, n int, measure func(i int, name, peer string)) error {
	var targets, peers []string
	for _, name := range b.order {
		if isPeer(name) {
			peers = append(peers, name)
		} else {
			targets = append(targets, name)
		}
	}
	for i := range n {
		for _, name := range rotate(targets, i) {
			measure(i, name, "")
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	for _, peer := range peers {
		for i := range n {
			for _, name := range rotate([]string{direct, peer}, i) {
				measure(i, name, peer)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

func allTrue(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = true
	}
	return out
}

// sampleKey names the samples of path name measured in peer's rounds: the
// direct samples of a peer's rounds are kept apart from the targets'.
func sampleKey(name, peer string) string {
	if peer != "" && name == direct {
		return direct + "@" + peer
	}
	return name
}

// pairing is, for path name, which rounds count (the targets' rounds that
// all succeeded; for a peer, its own rounds where it and direct succeeded)
// and the key of the direct samples it is paired with.
func (b *bench) pairing(name string, ok []bool, okPeer map[string][]bool) ([]bool, string) {
	if isPeer(name) {
		if okPeer[name] == nil {
			return make([]bool, len(ok)), sampleKey(direct, name)
		}
		return okPeer[name], sampleKey(direct, name)
	}
	return ok, direct
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
