package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// Registry is where workflows and activities are registered: a
// worker.Worker, a replayer or a test environment.
type Registry interface {
	RegisterWorkflow(w any)
	RegisterActivity(a any)
}

// Register registers every workflow and the activities on r.
func Register(r Registry, a *Activities) {
	RegisterWorkflows(r)
	r.RegisterActivity(a)
}

// RegisterWorkflows registers every workflow (for a replayer, which needs no
// activities). The workflow type names are the function names.
func RegisterWorkflows(r interface{ RegisterWorkflow(w any) }) {
	r.RegisterWorkflow(HealthCheckWorkflow)
	r.RegisterWorkflow(KeyExpiryWorkflow)
	r.RegisterWorkflow(RecoveryWorkflow)
	r.RegisterWorkflow(RotationWorkflow)
}

// Worker timing.
const (
	dialAttemptTimeout = 10 * time.Second
	dialBackoffMax     = 30 * time.Second
	// resyncInterval: schedules are made to match the providers again this
	// often, repairing any change the admin API could not sync while
	// Temporal was down.
	resyncInterval   = 10 * time.Minute
	syncRetryMax     = time.Minute
	workerStopWait   = 15 * time.Second
	providerListWait = 30 * time.Second
)

// RunWorker runs the Temporal worker until ctx ends, then stops it
// gracefully (in-flight activities get up to 15 s) and returns nil.
//
// It connects to Temporal, retrying with backoff (and logging) while it is
// unreachable; registers the workflows and activities on cfg.TaskQueue;
// upserts one health schedule per enabled provider plus the daily
// "key-expiry" schedule and deletes the health schedules of providers that
// are gone, disabled or renamed; and triggers every schedule once, so the
// routers learn every provider's health at once. Schedules are synced again
// every 10 minutes (without triggering).
func RunWorker(ctx context.Context, cfg Config, deps Deps) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	acts, err := NewActivities(cfg, deps)
	if err != nil {
		return err
	}
	log := cfg.Logger.With("component", "worker", "task_queue", cfg.TaskQueue)

	c, err := dial(ctx, cfg, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer c.Close()

	fatal := make(chan error, 1)
	w := worker.New(c, cfg.TaskQueue, worker.Options{
		WorkerStopTimeout: workerStopWait,
		OnFatalError: func(err error) {
			select {
			case fatal <- err:
			default:
			}
		},
	})
	Register(w, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start the Temporal worker: %w", err)
	}
	defer w.Stop()
	log.Info("Temporal worker started", "namespace", cfg.Namespace, "address", cfg.HostPort)

	o := &Orchestrator{cfg: cfg, c: c, log: log}
	first, wait := true, time.Second
	for {
		if err := o.syncFromStore(ctx, deps, first); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("cannot sync the health schedules; retrying", "err", err, "retry_in", wait)
		} else {
			if first {
				log.Info("health schedules synced and triggered")
			}
			first, wait = false, resyncInterval
		}
		select {
		case <-ctx.Done():
			log.Info("stopping the Temporal worker")
			return nil
		case err := <-fatal:
			return fmt.Errorf("temporal worker: %w", err)
		case <-time.After(wait):
		}
		if first {
			wait = min(wait*2, syncRetryMax)
		}
	}
}

func (o *Orchestrator) syncFromStore(ctx context.Context, deps Deps, trigger bool) error {
	lctx, cancel := context.WithTimeout(ctx, providerListWait)
	providers, err := deps.Providers.ListProviders(lctx)
	cancel()
	if err != nil {
		return fmt.Errorf("list providers: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute+time.Duration(len(providers))*time.Second)
	defer cancel()
	return o.syncAll(sctx, providers, trigger)
}

// dial connects to Temporal, retrying with exponential backoff until it
// answers or ctx ends.
func dial(ctx context.Context, cfg Config, log *slog.Logger) (client.Client, error) {
	backoff := time.Second
	for {
		dctx, cancel := context.WithTimeout(ctx, dialAttemptTimeout)
		c, err := client.DialContext(dctx, clientOptions(cfg))
		cancel()
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		log.Warn("Temporal is not reachable; the worker keeps trying (health schedules, recovery probes and rotations wait for it)",
			"address", cfg.HostPort, "namespace", cfg.Namespace, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, dialBackoffMax)
	}
}
