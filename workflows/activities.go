package workflows

import (
	"context"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/airouter/airouter/ports"
)

// Activities holds the ports every activity uses. Register it with
// w.RegisterActivity(&Activities{...}); workflows call its methods through a
// nil *Activities, so the activity names are the method names. Renaming a
// method breaks running workflows: the names are part of the history.
//
// Activities never retry on their own: Temporal's retry policy, set by the
// calling workflow, is the only retry loop (ProviderClient implementations do
// not retry either).
type Activities struct {
	Providers ports.ProviderStore
	Keys      ports.KeyStore
	Health    ports.HealthStore
	Rotations ports.RotationStore
	Factory   ports.ProviderFactory
	Clock     ports.Clock
	Logger    *slog.Logger
	// Models, when set, gives probes a model this provider serves: some
	// providers (Volcengine Ark) have no model listing and are probed with
	// a one-token chat, which needs one.
	Models ports.ModelStore

	ProbeTimeout      time.Duration // per probe when the input does not say; zero: 10 s
	DegradedThreshold time.Duration // zero: 3 s
	ExpiryWarning     time.Duration // zero: 7 days
}

// NewActivities returns the activities over deps with cfg's settings.
func NewActivities(cfg Config, deps Deps) (*Activities, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := deps.validate(); err != nil {
		return nil, err
	}
	return &Activities{
		Providers: deps.Providers, Keys: deps.Keys, Health: deps.Health, Rotations: deps.Rotations,
		Factory: deps.Factory, Clock: deps.Clock, Logger: cfg.Logger, Models: deps.Models,
		ProbeTimeout: cfg.ProbeTimeout, DegradedThreshold: cfg.DegradedThreshold, ExpiryWarning: cfg.ExpiryWarning,
	}, nil
}

// Error types of non-retryable activity failures; workflows match on them.
const (
	// ErrTypeKeyConflict: a key's version is not the one the workflow
	// expected: someone changed it concurrently and the workflow stops
	// rather than overwrite that change.
	ErrTypeKeyConflict = "KeyConflict"
	// ErrTypeKeyRejected: the upstream refused a key (401/403).
	ErrTypeKeyRejected = "KeyRejected"
	// ErrTypeBadRequest: the rotation's input does not fit the stored keys.
	ErrTypeBadRequest = "BadRotation"
)

func (a *Activities) log() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

func (a *Activities) now() time.Time {
	if a.Clock == nil {
		return time.Now()
	}
	return a.Clock.Now()
}

func (a *Activities) probeTimeout(d time.Duration) time.Duration {
	switch {
	case d > 0:
		return d
	case a.ProbeTimeout > 0:
		return a.ProbeTimeout
	}
	return maxProbeTimeout
}

func (a *Activities) degradedThreshold() time.Duration {
	if a.DegradedThreshold > 0 {
		return a.DegradedThreshold
	}
	return DefaultDegradedThreshold
}

func (a *Activities) expiryWarning() time.Duration {
	if a.ExpiryWarning > 0 {
		return a.ExpiryWarning
	}
	return DefaultExpiryWarning
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// probeModel returns the upstream model of one enabled route of the
// provider (enabled models first), or "" when there is none or no ModelStore.
func (a *Activities) probeModel(ctx context.Context, providerID int64) string {
	if a.Models == nil {
		return ""
	}
	models, err := a.Models.ListModels(ctx)
	if err != nil {
		return ""
	}
	fallback := ""
	for _, m := range models {
		for _, r := range m.Routes {
			if r.ProviderID != providerID || !r.Enabled {
				continue
			}
			if m.Enabled {
				return r.UpstreamModel
			}
			if fallback == "" {
				fallback = r.UpstreamModel
			}
		}
	}
	return fallback
}
