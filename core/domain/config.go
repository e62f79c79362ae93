package domain

import (
	"encoding/json"
	"strings"
	"time"
)

// ProviderKind names the wire protocol of a provider.
type ProviderKind string

const (
	KindOpenAI           ProviderKind = "openai"
	KindAnthropic        ProviderKind = "anthropic"
	KindVolcengine       ProviderKind = "volcengine"
	KindOpenAICompatible ProviderKind = "openai_compatible"
)

// ProviderKinds lists the supported kinds.
var ProviderKinds = []ProviderKind{KindOpenAI, KindAnthropic, KindVolcengine, KindOpenAICompatible}

// Valid reports whether k is a supported kind.
func (k ProviderKind) Valid() bool {
	for _, v := range ProviderKinds {
		if k == v {
			return true
		}
	}
	return false
}

// DefaultBaseURL is the public endpoint of a kind; empty for
// openai_compatible, which needs an explicit base URL.
func (k ProviderKind) DefaultBaseURL() string {
	switch k {
	case KindOpenAI:
		return "https://api.openai.com/v1"
	case KindAnthropic:
		return "https://api.anthropic.com"
	case KindVolcengine:
		return "https://ark.cn-beijing.volces.com/api/v3"
	}
	return ""
}

// Timeouts bound one upstream attempt. Zero means the default.
type Timeouts struct {
	Connect   time.Duration // TCP+TLS connect
	FirstByte time.Duration // request sent → response headers (and first event when streaming)
	Idle      time.Duration // between two stream chunks
	Total     time.Duration // whole attempt
}

// DefaultTimeouts are used for zero fields.
var DefaultTimeouts = Timeouts{
	Connect:   5 * time.Second,
	FirstByte: 60 * time.Second,
	Idle:      60 * time.Second,
	Total:     10 * time.Minute,
}

// WithDefaults fills zero fields from DefaultTimeouts.
func (t Timeouts) WithDefaults() Timeouts {
	if t.Connect <= 0 {
		t.Connect = DefaultTimeouts.Connect
	}
	if t.FirstByte <= 0 {
		t.FirstByte = DefaultTimeouts.FirstByte
	}
	if t.Idle <= 0 {
		t.Idle = DefaultTimeouts.Idle
	}
	if t.Total <= 0 {
		t.Total = DefaultTimeouts.Total
	}
	return t
}

// Provider is an upstream LLM service.
type Provider struct {
	ID        int64
	Name      string
	Kind      ProviderKind
	BaseURL   string
	Enabled   bool
	Timeouts  Timeouts
	Headers   map[string]string // extra headers sent upstream (e.g. OpenAI-Organization, anthropic-version)
	CreatedAt time.Time
	UpdatedAt time.Time
}

// KeyStatus is the lifecycle state of a provider key.
type KeyStatus string

const (
	KeyActive   KeyStatus = "active"   // in rotation
	KeyStandby  KeyStatus = "standby"  // stored, not yet used (a rotation's new key)
	KeyDraining KeyStatus = "draining" // being replaced; used only when no active key can serve
	KeyRetired  KeyStatus = "retired"  // secret wiped
	KeyInvalid  KeyStatus = "invalid"  // the upstream refused it (401/403)
	KeyDisabled KeyStatus = "disabled" // switched off by an operator
)

// Valid reports whether s is a known key status.
func (s KeyStatus) Valid() bool {
	switch s {
	case KeyActive, KeyStandby, KeyDraining, KeyRetired, KeyInvalid, KeyDisabled:
		return true
	}
	return false
}

// ProviderKey is one API key of a provider. Secret is the plaintext, present
// only in memory after decryption; it is never logged or returned.
type ProviderKey struct {
	ID          int64
	ProviderID  int64
	Name        string
	Secret      string `json:"-"`
	Last4       string
	Fingerprint string
	Status      KeyStatus
	Weight      int
	Version     int64
	CreatedAt   time.Time
	RotatedAt   *time.Time
	ExpiresAt   *time.Time
	LastError   string
}

// String never prints the secret.
func (k ProviderKey) String() string { return "key " + k.Fingerprint + " (…" + k.Last4 + ")" }

// Usable reports whether the router may send requests with the key.
func (k *ProviderKey) Usable() bool {
	return (k.Status == KeyActive || k.Status == KeyDraining) && k.Secret != ""
}

// Strategy names a load-balancing strategy.
type Strategy string

const (
	StrategyAuto              Strategy = "auto"
	StrategySpecifiedProvider Strategy = "specified_provider"
	StrategyFallback          Strategy = "fallback"
	StrategyWeightedRR        Strategy = "weighted_round_robin"
	StrategyLeastConnections  Strategy = "least_connections"
	StrategyResponseTime      Strategy = "response_time"
	StrategyCostOptimized     Strategy = "cost_optimized"
	StrategyHybrid            Strategy = "hybrid"
)

// Strategies lists every strategy.
var Strategies = []Strategy{StrategyAuto, StrategySpecifiedProvider, StrategyFallback, StrategyWeightedRR,
	StrategyLeastConnections, StrategyResponseTime, StrategyCostOptimized, StrategyHybrid}

// Valid reports whether s is a known strategy.
func (s Strategy) Valid() bool {
	for _, v := range Strategies {
		if s == v {
			return true
		}
	}
	return false
}

// Model is a public model name clients use, mapped to routes.
type Model struct {
	ID               int64
	Name             string
	Strategy         Strategy        // empty: the global default
	StrategyConfig   json.RawMessage // validated by core/routing
	Enabled          bool
	ContextWindow    int
	DefaultMaxTokens int
	// Capabilities is what the model serves; empty means chat only.
	Capabilities []Capability
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Routes       []Route
}

// Route maps a model to a provider's upstream model.
type Route struct {
	ID            int64
	ModelID       int64
	ProviderID    int64
	UpstreamModel string
	Weight        int
	Priority      int     // lower runs first in fallback
	InputPrice    float64 // per million prompt tokens
	OutputPrice   float64 // per million completion tokens
	// CachedInputPrice is per million cached prompt tokens (OpenAI
	// cached_tokens, Anthropic cache reads); 0 means InputPrice.
	CachedInputPrice float64
	Enabled          bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Cost returns the cost of a call on this route.
func (r *Route) Cost(promptTokens, completionTokens int) float64 {
	return (float64(promptTokens)*r.InputPrice + float64(completionTokens)*r.OutputPrice) / 1e6
}

// UsageCost returns the cost of a call's usage: cached prompt tokens at the
// cached-input price, the rest of the prompt at the input price.
func (r *Route) UsageCost(u *Usage) float64 {
	if u == nil {
		return 0
	}
	cached := min(max(u.CachedTokens, 0), u.PromptTokens)
	cp := r.CachedInputPrice
	if cp == 0 {
		cp = r.InputPrice
	}
	return (float64(u.PromptTokens-cached)*r.InputPrice + float64(cached)*cp + float64(u.CompletionTokens)*r.OutputPrice) / 1e6
}

// HealthStatus is the health of a provider or key.
type HealthStatus string

const (
	HealthUnknown   HealthStatus = "unknown"
	HealthHealthy   HealthStatus = "healthy"
	HealthDegraded  HealthStatus = "degraded"
	HealthUnhealthy HealthStatus = "unhealthy"
)

// Health is the last known health of a provider (KeyID 0) or one of its keys.
type Health struct {
	ProviderID          int64
	KeyID               int64
	Status              HealthStatus
	CheckedAt           time.Time
	Latency             time.Duration
	ConsecutiveFailures int
	LastError           string
}

// HealthCheck is one recorded probe.
type HealthCheck struct {
	ProviderID int64
	KeyID      int64
	Status     HealthStatus
	Latency    time.Duration
	Error      string
	CheckedAt  time.Time
}

// ClientKey is one of the router's own API keys. Only the SHA-256 of the
// token is stored.
type ClientKey struct {
	ID         int64
	Name       string
	Hash       []byte
	Prefix     string
	Enabled    bool
	CreatedAt  time.Time
	LastUsedAt *time.Time
	Limits     // allowlist, rates, budget, expiry (clientkey.go)
	Owner      string
	Tags       []string
}

// RequestLog is one client request as recorded in the request log.
type RequestLog struct {
	ID               int64 // assigned by the store; with Time, the pagination cursor
	Time             time.Time
	RequestID        string
	ClientKeyID      int64
	Model            string
	ProviderID       int64
	Provider         string
	KeyID            int64
	RouteID          int64
	Strategy         Strategy
	Attempts         int
	Stream           bool
	Status           int    // HTTP status returned to the client
	ErrorClass       string // empty on success
	ErrorMessage     string
	Latency          time.Duration
	TTFT             time.Duration
	PromptTokens     int
	CompletionTokens int
	Cost             float64
}

// RequestLogFilter selects request-log entries.
type RequestLogFilter struct {
	From, To time.Time
	Model    string
	Provider string
	Status   int // 0: any; otherwise the HTTP status
	Failed   *bool
	Limit    int
	// Before is a cursor: entries strictly older than this (time, id) pair.
	BeforeTime *time.Time
	BeforeID   int64
}

// StatsRow is aggregated statistics for a model or a route over a time range.
type StatsRow struct {
	Model            string
	RouteID          int64
	Provider         string
	Requests         int64
	Errors           int64
	SuccessRate      float64
	LatencyP50       time.Duration
	LatencyP95       time.Duration
	LatencyP99       time.Duration
	TTFTP50          time.Duration
	TTFTP95          time.Duration
	PromptTokens     int64
	CompletionTokens int64
	Cost             float64
}

// Rotation is a key rotation's state.
type Rotation struct {
	ID         string // workflow ID
	ProviderID int64
	OldKeyID   int64
	NewKeyID   int64
	Step       string
	Status     string // running, completed, failed, canceled
	Error      string
	StartedAt  time.Time
	UpdatedAt  time.Time
}

// KeyErrorUndecryptable is the last error of a key whose secret does not open
// under the current master key; such a key is marked invalid, never used with
// an empty secret.
const KeyErrorUndecryptable = "secret cannot be decrypted with the current AIROUTER_MASTER_KEY"

// forbiddenHeaders may not be a provider's extra headers: keys are provider
// keys (never headers), and framing headers belong to the HTTP client.
var forbiddenHeaders = map[string]bool{
	"authorization": true, "x-api-key": true, "api-key": true, "proxy-authorization": true, "cookie": true,
	"host": true, "content-length": true, "content-type": true, "transfer-encoding": true, "connection": true,
	"te": true, "upgrade": true, "keep-alive": true, "trailer": true, "accept-encoding": true,
}

// ForbiddenHeader reports whether a provider may not set header name (any
// case) among its extra headers. Both the admin API and the provider
// adapters enforce it.
func ForbiddenHeader(name string) bool { return forbiddenHeaders[strings.ToLower(name)] }
