package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/ports"
)

func TestExposition(t *testing.T) {
	t.Parallel()
	p := New(func() []HealthGauge { return []HealthGauge{{Provider: "mock", Route: "1", State: "healthy"}} })
	p.RequestDone(ports.RequestMetric{Model: "m", Provider: "mock", Status: 200, Latency: 20 * time.Millisecond, TTFT: 5 * time.Millisecond, PromptTokens: 3, CompletionTokens: 4, Cost: 0.5})
	p.RequestDone(ports.RequestMetric{Model: "m", Provider: "mock", Status: 200, Latency: 20 * time.Millisecond})
	p.AttemptFailed("mock", "retryable")
	p.Retried("m")
	p.InFlight(2)
	p.InFlight(-1)
	p.RequestLogDropped(3)
	rec := httptest.NewRecorder()
	p.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`airouter_requests_total{model="m",provider="mock",status="200",stream="false"} 2`,
		`airouter_tokens_total{kind="completion",model="m",provider="mock"} 4`,
		`airouter_cost_total{model="m",provider="mock"} 0.5`,
		`airouter_requests_in_flight 1`,
		`airouter_retries_total{model="m"} 1`,
		`airouter_upstream_failures_total{class="retryable",provider="mock"} 1`,
		`airouter_request_log_dropped_total 3`,
		`airouter_route_health{provider="mock",route="1",state="healthy"} 1`,
		`airouter_time_to_first_token_seconds_count{model="m",provider="mock"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("missing %s", want)
		}
	}
}

func BenchmarkRequestDone(b *testing.B) {
	p := New(nil)
	r := ports.RequestMetric{Model: "m", Provider: "mock", Status: 200, Latency: time.Millisecond, PromptTokens: 3, CompletionTokens: 4}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.RequestDone(r)
		}
	})
}
