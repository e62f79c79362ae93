package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// HealthCheckInput is the argument the health schedule of a provider passes
// to each run.
type HealthCheckInput struct {
	ProviderID   int64
	ProbeTimeout time.Duration // per probe; zero: the worker's
}

// probeActivityTimeout bounds the ProbeProvider activity: every key is
// probed concurrently (up to 16 at a time), so twice the probe timeout and a
// little slack covers reading the keys and a second round.
func probeActivityTimeout(probe time.Duration) time.Duration {
	if probe <= 0 {
		probe = maxProbeTimeout
	}
	return 2*probe + 5*time.Second
}

// HealthCheckWorkflow is one scheduled health check of a provider: the
// ProbeProvider activity probes every enabled key (marking keys the upstream
// refuses as invalid), then RecordHealth stores key and provider health,
// which every router applies within a second. The probe is not retried: the
// next scheduled run is the retry. It returns the report, which the Temporal
// UI shows as the run's result.
func HealthCheckWorkflow(ctx workflow.Context, in HealthCheckInput) (ProbeReport, error) {
	var a *Activities
	pctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: probeActivityTimeout(in.ProbeTimeout),
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var rep ProbeReport
	if err := workflow.ExecuteActivity(pctx, a.ProbeProvider, ProbeInput{ProviderID: in.ProviderID, Timeout: in.ProbeTimeout}).Get(ctx, &rep); err != nil {
		return rep, err
	}
	if rep.Skipped != "" {
		workflow.GetLogger(ctx).Info("health check skipped", "provider_id", in.ProviderID, "reason", rep.Skipped)
		return rep, nil
	}
	rctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 2 * time.Second, MaximumAttempts: 3,
		},
	})
	if err := workflow.ExecuteActivity(rctx, a.RecordHealth, rep).Get(ctx, nil); err != nil {
		return rep, err
	}
	return rep, nil
}

// KeyExpiryWorkflow is the daily sweep of the "key-expiry" schedule: see
// Activities.CheckKeyExpiry.
func KeyExpiryWorkflow(ctx workflow.Context, in ExpiryInput) (ExpiryReport, error) {
	var a *Activities
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 5,
		},
	})
	var rep ExpiryReport
	err := workflow.ExecuteActivity(actx, a.CheckKeyExpiry, in).Get(ctx, &rep)
	return rep, err
}
