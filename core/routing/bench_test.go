package routing

import (
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// benchRouter returns a router with model "m" of 8 routes on 8 providers
// with two keys each, all measured, with the real clock and random source.
func benchRouter(b *testing.B, s domain.Strategy, cfg string) *Router {
	r := New(Options{})
	c := standard(8, s, cfg)
	for i := int64(1); i <= 8; i++ {
		c.Keys = append(c.Keys, key(200+i, i))
		c.Models[0].Routes[i-1].Weight = int(i)
		c.Models[0].Routes[i-1].Priority = int(i % 3)
		c.Models[0].Routes[i-1].InputPrice = float64(i)
	}
	if errs := r.Update(c); len(errs) > 0 {
		b.Fatal(errs)
	}
	m, _ := r.Model("m")
	buf := make([]Attempt, 0, 3)
	for i := range 64 {
		req := PlanRequest{}
		if s == domain.StrategySpecifiedProvider {
			req.Provider = c.Providers[i%8].Name
		}
		p, _ := m.Plan(req, buf)
		r.Begin(p[0]).End(Outcome{Latency: time.Duration(50+i) * time.Millisecond, TTFT: 10 * time.Millisecond})
	}
	return r
}

// BenchmarkPlan plans 3 attempts (1 + 2 retries) among 8 routes.
func BenchmarkPlan(b *testing.B) {
	for _, s := range domain.Strategies {
		b.Run(string(s), func(b *testing.B) {
			r := benchRouter(b, s, "")
			m, _ := r.Model("m")
			req := PlanRequest{PromptTokens: 500, MaxTokens: 200}
			if s == domain.StrategySpecifiedProvider {
				req.Provider = "p3"
			}
			buf := make([]Attempt, 0, 3)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Plan(req, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPlanParallel plans concurrently on one model.
func BenchmarkPlanParallel(b *testing.B) {
	r := benchRouter(b, domain.StrategyAuto, "")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]Attempt, 0, 3)
		m, _ := r.Model("m")
		for pb.Next() {
			if _, err := m.Plan(PlanRequest{}, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBeginEndParallel records attempts concurrently, spread over the 8
// routes.
func BenchmarkBeginEndParallel(b *testing.B) {
	r := benchRouter(b, domain.StrategyAuto, "")
	r.Update(standard(8, domain.StrategyFallback, "")) // 8 distinct routes in a plan
	m, _ := r.Model("m")
	p, _ := m.Plan(PlanRequest{}, make([]Attempt, 0, 8))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Begin(p[i%len(p)]).End(Outcome{Latency: 80 * time.Millisecond, PromptTokens: 10, CompletionTokens: 20, Cost: 1e-5})
			i++
		}
	})
}

// BenchmarkBeginEndParallelOneRoute records attempts concurrently on a
// single route (worst-case contention).
func BenchmarkBeginEndParallelOneRoute(b *testing.B) {
	r := benchRouter(b, domain.StrategyAuto, "")
	m, _ := r.Model("m")
	p, _ := m.Plan(PlanRequest{}, make([]Attempt, 0, 1))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Begin(p[0]).End(Outcome{Latency: 80 * time.Millisecond})
		}
	})
}

func BenchmarkBudget(b *testing.B) {
	bg := NewBudget(0.2, 5, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bg.OnRequest()
			bg.TryRetry()
		}
	})
}

func TestPlanDoesNotAllocate(t *testing.T) {
	for _, s := range domain.Strategies {
		r := New(Options{})
		c := standard(8, s, "")
		r.Update(c)
		m, _ := r.Model("m")
		req := PlanRequest{Provider: "p2"}
		buf := make([]Attempt, 0, 3)
		if n := testing.AllocsPerRun(100, func() {
			if _, err := m.Plan(req, buf); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per plan", s, n)
		}
	}
}
