package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

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
