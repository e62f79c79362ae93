package routing

import (
	"math/rand/v2"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// Options configure a Router. Zero fields take the defaults named here.
type Options struct {
	// DefaultStrategy is used for models without a strategy
	// (LOAD_BALANCING_STRATEGY); "" or an unknown name means auto.
	DefaultStrategy domain.Strategy
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the random source; nil means math/rand/v2.Uint64.
	Rand func() uint64
	// EWMADecay is the decay window of the peak-EWMA latency and TTFT
	// (default 10 s).
	EWMADecay time.Duration
	// SuccessWindow is the sliding window of the success rate and of
	// failure-rate ejection (default 30 s, kept in ten buckets).
	SuccessWindow time.Duration
	// EjectConsecutiveFailures ejects a route after that many consecutive
	// failures (default 5; negative disables the rule).
	EjectConsecutiveFailures int
	// EjectFailureRate ejects a route whose failure rate in the window
	// exceeds it, once the window holds EjectMinRequests judged attempts
	// (defaults 0.5 and 20; a negative rate, a rate of 1 or more or a
	// negative minimum disables the rule).
	EjectFailureRate float64
	EjectMinRequests int
	// EjectBase and EjectMax bound ejections: the n-th in a row lasts
	// EjectBase × 2^(n−1), at most EjectMax (defaults 30 s and 5 m).
	EjectBase, EjectMax time.Duration
	// MaxRateLimitCooldown caps the cooldown of a key after a 429 (default
	// 60 s).
	MaxRateLimitCooldown time.Duration
	// RateLimitCooldown is the cooldown after a 429 without Retry-After
	// (default 5 s).
	RateLimitCooldown time.Duration
	// AuthCooldown is how long a key refused with 401/403 stays out of
	// rotation while the refusal is unconfirmed (default 30 s): the key is
	// only invalidated when a probe of it confirms (InvalidateKey), and
	// returns at once when the probe succeeds (ClearKeySuspicion).
	AuthCooldown time.Duration
	// OnEvent, if set, is called synchronously and never under a lock when
	// a route is ejected or returns and when a key is invalidated or rate
	// limited.
	OnEvent func(Event)
}

// Defaults of Options.
const (
	DefaultEWMADecay                = 10 * time.Second
	DefaultSuccessWindow            = 30 * time.Second
	DefaultEjectConsecutiveFailures = 5
	DefaultEjectFailureRate         = 0.5
	DefaultEjectMinRequests         = 20
	DefaultEjectBase                = 30 * time.Second
	DefaultEjectMax                 = 5 * time.Minute
	DefaultMaxRateLimitCooldown     = 60 * time.Second
	DefaultRateLimitCooldown        = 5 * time.Second
	DefaultAuthCooldown             = 30 * time.Second
)

func (o Options) withDefaults() Options {
	if !o.DefaultStrategy.Valid() {
		o.DefaultStrategy = domain.StrategyAuto
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Uint64
	}
	if o.EWMADecay <= 0 {
		o.EWMADecay = DefaultEWMADecay
	}
	if o.SuccessWindow <= 0 {
		o.SuccessWindow = DefaultSuccessWindow
	}
	if o.EjectConsecutiveFailures == 0 {
		o.EjectConsecutiveFailures = DefaultEjectConsecutiveFailures
	}
	if o.EjectFailureRate == 0 {
		o.EjectFailureRate = DefaultEjectFailureRate
	}
	if o.EjectMinRequests == 0 {
		o.EjectMinRequests = DefaultEjectMinRequests
	}
	if o.EjectBase <= 0 {
		o.EjectBase = DefaultEjectBase
	}
	if o.EjectMax <= 0 {
		o.EjectMax = DefaultEjectMax
	}
	if o.EjectMax < o.EjectBase {
		o.EjectMax = o.EjectBase
	}
	if o.MaxRateLimitCooldown <= 0 {
		o.MaxRateLimitCooldown = DefaultMaxRateLimitCooldown
	}
	if o.RateLimitCooldown <= 0 {
		o.RateLimitCooldown = DefaultRateLimitCooldown
	}
	if o.AuthCooldown <= 0 {
		o.AuthCooldown = DefaultAuthCooldown
	}
	return o
}

// EventKind names what happened.
type EventKind string

const (
	// EventRouteEjected: passive outlier detection took a route out until
	// Event.Until.
	EventRouteEjected EventKind = "route_ejected"
	// EventRouteReturned: an ejected route is back (time up or a healthy
	// active check).
	EventRouteReturned EventKind = "route_returned"
	// EventKeyAuthFailed: the upstream refused a key (401/403) in an
	// attempt; the key is out of rotation until Event.Until, suspected but
	// not invalid. The receiver should probe the key and call InvalidateKey
	// or ClearKeySuspicion.
	EventKeyAuthFailed EventKind = "key_auth_failed"
	// EventKeyInvalidated: a refusal was confirmed (InvalidateKey).
	EventKeyInvalidated EventKind = "key_invalidated"
	// EventKeyRateLimited: a key cools down until Event.Until after a 429.
	EventKeyRateLimited EventKind = "key_rate_limited"
)

// Event reports a change of a route's or key's state. Route events carry
// ModelID, RouteID and ProviderID; key events carry ProviderID and KeyID and,
// when caused by an attempt, that attempt's ModelID and RouteID.
type Event struct {
	Kind       EventKind
	ModelID    int64
	RouteID    int64
	ProviderID int64
	KeyID      int64
	Until      time.Time // end of an ejection or cooldown
	Reason     string
	Status     int // the upstream's HTTP status, when an attempt's failure caused it
}
