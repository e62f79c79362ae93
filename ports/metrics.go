package ports

import "time"

// Metrics receives the request path's measurements. Implementations must be
// cheap and safe for concurrent use; they are called on every request.
type Metrics interface {
	// RequestDone is called once per client request.
	RequestDone(r RequestMetric)
	// AttemptFailed is called for each failed upstream attempt.
	AttemptFailed(provider string, class string)
	// Retried is called when a further attempt is made.
	Retried(model string)
	// InFlight changes the number of client requests in flight.
	InFlight(delta int)
	// RequestLogDropped counts request-log entries that could not be written.
	RequestLogDropped(n int)
	// ConfigApplied is called for each configuration change applied to
	// this replica: scope is "full" for a whole reload, else the change's
	// kind ("provider", "key", "model", "client_key", "health"); "unchanged"
	// when a change was loaded but found nothing new (an echo).
	ConfigApplied(scope string, d time.Duration)
}

// RequestMetric describes one finished client request.
type RequestMetric struct {
	Model            string
	Provider         string
	Status           int
	Stream           bool
	Latency          time.Duration
	TTFT             time.Duration
	PromptTokens     int
	CompletionTokens int
	Cost             float64
	// ClientKey is the client key's name; empty when the request had no
	// (known) key. Names come from the configuration only.
	ClientKey string
}

// NopMetrics discards everything.
type NopMetrics struct{}

func (NopMetrics) RequestDone(RequestMetric)           {}
func (NopMetrics) AttemptFailed(string, string)        {}
func (NopMetrics) Retried(string)                      {}
func (NopMetrics) InFlight(int)                        {}
func (NopMetrics) RequestLogDropped(int)               {}
func (NopMetrics) ConfigApplied(string, time.Duration) {}

var _ Metrics = NopMetrics{}
