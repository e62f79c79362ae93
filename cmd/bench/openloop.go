package main

import (
	"context"

	"sync/atomic"
	"time"
)

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
