package workflows

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/airouter/airouter/ports"
)

// Config configures the orchestrator (the client side) and the worker.
type Config struct {
	HostPort  string // Temporal frontend host:port (TEMPORAL_ADDRESS)
	Namespace string // TEMPORAL_NAMESPACE; empty: "default"
	TaskQueue string // TEMPORAL_TASK_QUEUE

	// HealthInterval is the interval of every provider's health schedule
	// (LOAD_BALANCING_HEALTH_CHECK_INTERVAL).
	HealthInterval time.Duration
	// DegradedThreshold: a probe slower than this is "degraded". Zero: 3 s.
	DegradedThreshold time.Duration
	// ProbeTimeout bounds one probe. Zero: min(10 s, HealthInterval/2).
	ProbeTimeout time.Duration
	// RotationGrace is how long an old key stays draining after a rotation
	// activated the new one, before it is retired. Zero: 10 minutes.
	RotationGrace time.Duration
	// ExpiryWarning: keys expiring within this window are flagged. Zero: 7
	// days.
	ExpiryWarning time.Duration

	Logger *slog.Logger

	// IDPrefix is put before every schedule and workflow ID, so that
	// deployments (or tests) sharing a Temporal namespace with their own
	// task queues do not collide. cmd leaves it empty for the default task
	// queue, so IDs read "health-<provider>".
	IDPrefix string
}

// Deps are the ports the worker's activities use.
type Deps struct {
	Providers ports.ProviderStore
	Keys      ports.KeyStore
	Health    ports.HealthStore
	Rotations ports.RotationStore
	Factory   ports.ProviderFactory
	// Models is optional; it lets probes name a model (see Activities).
	Models ports.ModelStore
	Clock  ports.Clock
}

// Defaults of the optional Config fields.
const (
	DefaultDegradedThreshold = 3 * time.Second
	DefaultRotationGrace     = 10 * time.Minute
	DefaultExpiryWarning     = 7 * 24 * time.Hour
	maxProbeTimeout          = 10 * time.Second
)

// withDefaults validates c and fills its optional fields.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.HostPort == "":
		return c, errors.New("workflows: Config.HostPort (TEMPORAL_ADDRESS) is required")
	case c.TaskQueue == "":
		return c, errors.New("workflows: Config.TaskQueue (TEMPORAL_TASK_QUEUE) is required")
	case c.HealthInterval <= 0:
		return c, errors.New("workflows: Config.HealthInterval must be positive")
	case c.Logger == nil:
		return c, errors.New("workflows: Config.Logger is required")
	case c.DegradedThreshold < 0, c.ProbeTimeout < 0, c.RotationGrace < 0, c.ExpiryWarning < 0:
		return c, errors.New("workflows: durations in Config must not be negative")
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.DegradedThreshold == 0 {
		c.DegradedThreshold = DefaultDegradedThreshold
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = min(maxProbeTimeout, c.HealthInterval/2)
		if c.ProbeTimeout < 100*time.Millisecond {
			c.ProbeTimeout = 100 * time.Millisecond
		}
	}
	if c.RotationGrace == 0 {
		c.RotationGrace = DefaultRotationGrace
	}
	if c.ExpiryWarning == 0 {
		c.ExpiryWarning = DefaultExpiryWarning
	}
	return c, nil
}

func (d Deps) validate() error {
	if d.Providers == nil || d.Keys == nil || d.Health == nil || d.Rotations == nil || d.Factory == nil || d.Clock == nil {
		return fmt.Errorf("workflows: Deps needs every port (Providers, Keys, Health, Rotations, Factory, Clock)")
	}
	return nil
}

// runTimeout bounds one health-check run: shorter than the interval, so a
// stuck run never overlaps the next one.
func runTimeout(interval time.Duration) time.Duration {
	return interval - interval/10
}

// catchupWindow is short: a missed health check is worth nothing later.
func catchupWindow(interval time.Duration) time.Duration {
	return max(interval, time.Minute)
}
