package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Recovery defaults.
const (
	DefaultRecoveryInitialBackoff = time.Second
	DefaultRecoveryMaxBackoff     = time.Minute
	DefaultRecoveryMaxDuration    = time.Hour
	// recoveryHistoryLimit: past this many events the workflow continues as
	// new, carrying its state.
	recoveryHistoryLimit = 1000
)

// QueryRecoveryState is the query that returns a recovery's RecoveryState.
const QueryRecoveryState = "state"

// Recovery statuses.
const (
	RecoveryProbing   = "probing"
	RecoveryWaiting   = "waiting"
	RecoveryRecovered = "recovered"
	RecoveryGaveUp    = "gave_up"
	RecoveryGone      = "gone" // the provider was deleted or disabled
)

// RecoveryInput starts (or continues) the recovery probe of a provider.
type RecoveryInput struct {
	ProviderID     int64
	ProbeTimeout   time.Duration // per probe; zero: the worker's
	InitialBackoff time.Duration // zero: 1 s
	MaxBackoff     time.Duration // zero: 1 min
	MaxDuration    time.Duration // zero: 1 h; the workflow then gives up

	// Carried over when the workflow continues as new.
	StartedAt time.Time
	Attempts  int
	Backoff   time.Duration
	LastError string
}

// RecoveryState is a recovery's progress, returned by the "state" query and
// as the workflow's result.
type RecoveryState struct {
	ProviderID  int64
	Status      string // probing, waiting, recovered, gave_up, gone
	Attempts    int
	Backoff     time.Duration // the current pause between probes
	NextProbeAt time.Time
	LastError   string
	StartedAt   time.Time
}

// RecoveryWorkflow probes an ejected provider with exponential backoff (1 s
// doubling to 1 min by default) until it answers, then records its health
// (healthy, or degraded when slow) and ends; routers return its routes when
// they see a healthy check. It gives up after MaxDuration (1 h): a later
// ejection starts a new recovery. Each probe is one ProbeProvider activity
// without retries, the pauses are durable timers, and the "state" query
// shows where it is. The workflow ID is "recovery-<provider id>", started
// with conflict policy use-existing, so there is at most one per provider.
func RecoveryWorkflow(ctx workflow.Context, in RecoveryInput) (RecoveryState, error) {
	if in.InitialBackoff <= 0 {
		in.InitialBackoff = DefaultRecoveryInitialBackoff
	}
	if in.MaxBackoff <= 0 {
		in.MaxBackoff = DefaultRecoveryMaxBackoff
	}
	if in.MaxDuration <= 0 {
		in.MaxDuration = DefaultRecoveryMaxDuration
	}
	if in.StartedAt.IsZero() {
		in.StartedAt = workflow.Now(ctx)
	}
	if in.Backoff <= 0 {
		in.Backoff = in.InitialBackoff
	}
	st := RecoveryState{ProviderID: in.ProviderID, Status: RecoveryProbing, Attempts: in.Attempts, Backoff: in.Backoff,
		LastError: in.LastError, StartedAt: in.StartedAt}
	if err := workflow.SetQueryHandler(ctx, QueryRecoveryState, func() (RecoveryState, error) { return st, nil }); err != nil {
		return st, err
	}
	logger := workflow.GetLogger(ctx)

	var a *Activities
	pctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: probeActivityTimeout(in.ProbeTimeout),
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1}, // the loop is the retry
	})
	rctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 10,
		},
	})
	for {
		st.Status = RecoveryProbing
		st.NextProbeAt = time.Time{}
		st.Attempts++
		var rep ProbeReport
		err := workflow.ExecuteActivity(pctx, a.ProbeProvider, ProbeInput{ProviderID: in.ProviderID, Timeout: in.ProbeTimeout}).Get(ctx, &rep)
		switch {
		case err != nil:
			if temporal.IsCanceledError(err) {
				return st, err
			}
			st.LastError = errorMessage(err)
		case rep.Skipped != "":
			st.Status, st.LastError = RecoveryGone, rep.Skipped
			logger.Info("recovery ended: " + rep.Skipped)
			return st, nil
		case rep.Answered():
			if err := workflow.ExecuteActivity(rctx, a.RecordHealth, rep).Get(ctx, nil); err != nil {
				return st, err
			}
			st.Status, st.LastError = RecoveryRecovered, ""
			logger.Info("provider answered again; health recorded", "provider_id", in.ProviderID, "status", rep.Status, "attempts", st.Attempts)
			return st, nil
		default:
			st.LastError = rep.Error
		}

		elapsed := workflow.Now(ctx).Sub(in.StartedAt)
		if elapsed >= in.MaxDuration {
			st.Status = RecoveryGaveUp
			logger.Warn("recovery gave up; the next ejection starts a new one", "provider_id", in.ProviderID, "attempts", st.Attempts, "last_error", st.LastError)
			return st, nil
		}
		wait := min(st.Backoff, in.MaxDuration-elapsed)
		st.Status, st.NextProbeAt = RecoveryWaiting, workflow.Now(ctx).Add(wait)
		if err := workflow.Sleep(ctx, wait); err != nil {
			return st, err
		}
		st.Backoff = min(st.Backoff*2, in.MaxBackoff)

		info := workflow.GetInfo(ctx)
		if info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > recoveryHistoryLimit {
			next := in
			next.Attempts, next.Backoff, next.LastError = st.Attempts, st.Backoff, st.LastError
			return st, workflow.NewContinueAsNewError(ctx, RecoveryWorkflow, next)
		}
	}
}
