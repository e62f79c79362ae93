// Package metrics implements ports.Metrics with Prometheus and serves
// /metrics.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/airouter/airouter/ports"
)

// HealthGauge is one provider's or route's health for the health gauge.
type HealthGauge struct {
	Provider string
	Route    string
	State    string // healthy, degraded, unhealthy, unknown, ejected
}

// Prometheus implements ports.Metrics.
type Prometheus struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	ttft      *prometheus.HistogramVec
	tokens    *prometheus.CounterVec
	cost      *prometheus.CounterVec
	inflight  prometheus.Gauge
	retries   *prometheus.CounterVec
	failures  *prometheus.CounterVec
	logDrops  prometheus.Counter
	applies   *prometheus.CounterVec
	applyTime *prometheus.CounterVec
	shed      prometheus.Counter
	health    *prometheus.GaugeVec
	healthSrc func() []HealthGauge

	// handles caches label lookups: WithLabelValues hashes its labels on
	// every call, a sync.Map hit does not allocate.
	handles sync.Map // reqKey → *reqHandles

	keySpend, keyTokens, keyRequests *prometheus.CounterVec
	keyHandles                       sync.Map // client key name → *keyHandles
}

type keyHandles struct{ spend, tokens, requests prometheus.Counter }

var _ ports.Metrics = (*Prometheus)(nil)

type reqKey struct {
	model, provider string
	status          int
	stream          bool
}

type reqHandles struct {
	requests, promptTokens, completionTokens, cost prometheus.Counter
	latency, ttft                                  prometheus.Observer
}

// New registers the collectors on a fresh registry. healthSrc, if not nil,
// is called at every scrape for the health gauge.
func New(healthSrc func() []HealthGauge) *Prometheus {
	reg := prometheus.NewRegistry()
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	p := &Prometheus{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airouter_requests_total", Help: "Client requests by model, serving provider, HTTP status and streaming.",
		}, []string{"model", "provider", "status", "stream"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "airouter_request_duration_seconds", Help: "Client request latency, to the last byte.", Buckets: buckets,
		}, []string{"model", "provider", "stream"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "airouter_time_to_first_token_seconds", Help: "Time from request to the first generated token of streams.", Buckets: buckets,
		}, []string{"model", "provider"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airouter_tokens_total", Help: "Tokens by model, provider and kind (prompt, completion).",
		}, []string{"model", "provider", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airouter_cost_total", Help: "Cost in the configured price unit (prices are per million tokens).",
		}, []string{"model", "provider"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "airouter_requests_in_flight", Help: "Client requests in flight, streams included.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airouter_retries_total", Help: "Further upstream attempts after a failed one.",
		}, []string{"model"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airouter_upstream_failures_total", Help: "Failed upstream attempts by provider and error class.",
		}, []string{"provider", "class"}),
		logDrops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "airouter_request_log_dropped_total", Help: "Request-log entries that could not be written to PostgreSQL.",
		}),
		applies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airouter_config_applies_total", Help: "Configuration changes applied to this replica, by scope (full reload, or the kind of the part reloaded).",
		}, []string{"scope"}),
		applyTime: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airouter_config_apply_seconds_total", Help: "Time spent applying configuration changes, by scope.",
		}, []string{"scope"}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "airouter_requests_shed_total", Help: "Client requests refused with 503 because MAX_IN_FLIGHT requests were in flight.",
		}),
		health: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "airouter_route_health", Help: "1 for the current health state of each route.",
		}, []string{"provider", "route", "state"}),
		healthSrc: healthSrc,
		keySpend: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airouter_client_key_spend_total", Help: "Cost (USD with USD prices) by client key name.",
		}, []string{"key"}),
		keyTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airouter_client_key_tokens_total", Help: "Prompt and completion tokens by client key name.",
		}, []string{"key"}),
		keyRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airouter_client_key_requests_total", Help: "Client requests by client key name.",
		}, []string{"key"}),
	}
	reg.MustRegister(p.requests, p.latency, p.ttft, p.tokens, p.cost, p.inflight, p.retries, p.failures, p.logDrops, p.applies, p.applyTime, p.shed,
		p.keySpend, p.keyTokens, p.keyRequests, &healthCollector{p}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return p
}

// Shed counts one request refused for being over the in-flight limit.
func (p *Prometheus) Shed() { p.shed.Inc() }

// Handler serves the metrics in the Prometheus text format.
func (p *Prometheus) Handler() http.Handler {
	return promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{})
}

// RequestDone records one finished client request.
func (p *Prometheus) RequestDone(r ports.RequestMetric) {
	k := reqKey{r.Model, r.Provider, r.Status, r.Stream}
	hv, ok := p.handles.Load(k)
	if !ok {
		stream := strconv.FormatBool(r.Stream)
		hv, _ = p.handles.LoadOrStore(k, &reqHandles{
			requests:         p.requests.WithLabelValues(r.Model, r.Provider, strconv.Itoa(r.Status), stream),
			promptTokens:     p.tokens.WithLabelValues(r.Model, r.Provider, "prompt"),
			completionTokens: p.tokens.WithLabelValues(r.Model, r.Provider, "completion"),
			cost:             p.cost.WithLabelValues(r.Model, r.Provider),
			latency:          p.latency.WithLabelValues(r.Model, r.Provider, stream),
			ttft:             p.ttft.WithLabelValues(r.Model, r.Provider),
		})
	}
	h := hv.(*reqHandles)
	h.requests.Inc()
	h.latency.Observe(r.Latency.Seconds())
	if r.TTFT > 0 {
		h.ttft.Observe(r.TTFT.Seconds())
	}
	if r.PromptTokens > 0 {
		h.promptTokens.Add(float64(r.PromptTokens))
	}
	if r.CompletionTokens > 0 {
		h.completionTokens.Add(float64(r.CompletionTokens))
	}
	if r.Cost > 0 {
		h.cost.Add(r.Cost)
	}
	if r.ClientKey != "" {
		kv, ok := p.keyHandles.Load(r.ClientKey)
		if !ok {
			kv, _ = p.keyHandles.LoadOrStore(r.ClientKey, &keyHandles{
				spend: p.keySpend.WithLabelValues(r.ClientKey), tokens: p.keyTokens.WithLabelValues(r.ClientKey),
				requests: p.keyRequests.WithLabelValues(r.ClientKey),
			})
		}
		kh := kv.(*keyHandles)
		kh.requests.Inc()
		if n := r.PromptTokens + r.CompletionTokens; n > 0 {
			kh.tokens.Add(float64(n))
		}
		if r.Cost > 0 {
			kh.spend.Add(r.Cost)
		}
	}
}

// AttemptFailed counts a failed upstream attempt.
func (p *Prometheus) AttemptFailed(provider, class string) {
	p.failures.WithLabelValues(provider, class).Inc()
}

// Retried counts a further attempt.
func (p *Prometheus) Retried(model string) { p.retries.WithLabelValues(model).Inc() }

// InFlight changes the in-flight gauge.
func (p *Prometheus) InFlight(delta int) { p.inflight.Add(float64(delta)) }

// RequestLogDropped counts dropped request-log entries.
func (p *Prometheus) RequestLogDropped(n int) { p.logDrops.Add(float64(n)) }

// ConfigApplied counts an applied configuration change and its time. Scopes
// are a fixed set chosen by the core.
func (p *Prometheus) ConfigApplied(scope string, d time.Duration) {
	p.applies.WithLabelValues(scope).Inc()
	p.applyTime.WithLabelValues(scope).Add(d.Seconds())
}

type healthCollector struct{ p *Prometheus }

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) { c.p.health.Describe(ch) }

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	if c.p.healthSrc == nil {
		return
	}
	c.p.health.Reset()
	for _, g := range c.p.healthSrc() {
		c.p.health.WithLabelValues(g.Provider, g.Route, g.State).Set(1)
	}
	c.p.health.Collect(ch)
}
