package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/airouter/airouter/core/domain"
)

// Rotation queries and signals.
const (
	QueryRotationStep  = "step"  // returns the current step (string)
	QueryRotationState = "state" // returns the RotationState
	SignalCancel       = "cancel"
)

// Rotation steps, as stored by RotationStore and returned by the "step"
// query.
const (
	StepStarted     = "started"
	StepVerifying   = "verifying"
	StepActivating  = "activating"
	StepDraining    = "draining"
	StepRetiring    = "retiring"
	StepDone        = "done"
	StepRollingBack = "rolling_back"
	StepRolledBack  = "rolled_back"
)

// Rotation statuses.
const (
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// DefaultVerifyAttempts bounds the live probes of a rotation's new key.
const DefaultVerifyAttempts = 5

// RotationInput starts a rotation. It holds key IDs only: no secret ever
// enters the workflow's history.
type RotationInput struct {
	RotationID     string // the workflow ID; empty: taken from the workflow
	ProviderID     int64
	NewKeyID       int64
	OldKeyID       int64         // 0: every active key of the provider
	Grace          time.Duration // how long old keys stay draining; zero: 10 min
	ProbeTimeout   time.Duration // zero: the worker's
	VerifyAttempts int           // zero: 5
}

// RotationState is a rotation's progress: the "state" query's answer and the
// workflow's result.
type RotationState struct {
	ID              string
	ProviderID      int64
	NewKeyID        int64
	OldKeyIDs       []int64
	Step            string
	Status          string
	Error           string
	StartedAt       time.Time
	UpdatedAt       time.Time
	DrainingUntil   time.Time // while draining: when the old keys are retired
	CancelIgnored   bool      // a cancel came after the new key was active
	CancelRequested bool
}

// Rotation converts the state for the admin API.
func (s RotationState) Rotation() domain.Rotation {
	r := domain.Rotation{ID: s.ID, ProviderID: s.ProviderID, NewKeyID: s.NewKeyID, Step: s.Step, Status: s.Status,
		Error: s.Error, StartedAt: s.StartedAt, UpdatedAt: s.UpdatedAt}
	if len(s.OldKeyIDs) == 1 {
		r.OldKeyID = s.OldKeyIDs[0]
	}
	return r
}

// RotationWorkflow rotates a provider's key. The new key was stored as
// standby before the workflow started. Steps, each an idempotent activity
// guarded by compare-and-swap on the key's version (TransitionKey), so a
// concurrent manual change is never overwritten — the rotation fails with
// an error saying which key changed instead:
//
//  1. verifying: PrepareRotation reads the keys and their versions, then
//     VerifyKey makes a live probe with the new key (up to 5 attempts with
//     exponential backoff; a 401/403 is final).
//  2. activating: the new key becomes active, the old key(s) draining (still
//     used when no active key can serve).
//  3. draining: a durable timer for the grace period (default 10 min).
//  4. retiring: the old key(s) become retired; the store wipes the secret.
//  5. done.
//
// Progress is saved through RotationStore at every step (SaveRotation), and
// the "step" and "state" queries report it live.
//
// The "cancel" signal (and a Temporal cancel request) stops the rotation
// and rolls back while the new key is not yet active: the new key is retired
// (its secret wiped) and the old keys are untouched. Once activation has
// begun, cancel is ignored (noted in the state as CancelIgnored): the
// rotation always finishes, so keys are never left half-rotated. To undo a
// finished activation, re-enable the old key before the grace period ends
// (the retire step then fails on the changed version and leaves it alone)
// or rotate again.
//
// A verification failure also rolls back. The workflow fails (status
// failed, with the error) on verification failure and conflicts, and
// completes with status canceled or completed otherwise.
func RotationWorkflow(ctx workflow.Context, in RotationInput) (RotationState, error) {
	if in.RotationID == "" {
		in.RotationID = workflow.GetInfo(ctx).WorkflowExecution.ID
	}
	if in.Grace <= 0 {
		in.Grace = DefaultRotationGrace
	}
	if in.VerifyAttempts <= 0 {
		in.VerifyAttempts = DefaultVerifyAttempts
	}
	now := workflow.Now(ctx)
	st := RotationState{ID: in.RotationID, ProviderID: in.ProviderID, NewKeyID: in.NewKeyID, Step: StepStarted,
		Status: StatusRunning, StartedAt: now, UpdatedAt: now}
	if in.OldKeyID != 0 {
		st.OldKeyIDs = []int64{in.OldKeyID}
	}
	if err := workflow.SetQueryHandler(ctx, QueryRotationStep, func() (string, error) { return st.Step, nil }); err != nil {
		return st, err
	}
	if err := workflow.SetQueryHandler(ctx, QueryRotationState, func() (RotationState, error) { return st, nil }); err != nil {
		return st, err
	}
	r := &rotation{in: in, st: &st, cancelCh: workflow.GetSignalChannel(ctx, SignalCancel), log: workflow.GetLogger(ctx)}
	return r.run(ctx)
}

type rotation struct {
	in       RotationInput
	st       *RotationState
	plan     RotationPlan
	cancelCh workflow.ReceiveChannel
	log      interface {
		Info(string, ...any)
		Warn(string, ...any)
	}
}

func (r *rotation) run(ctx workflow.Context) (RotationState, error) {
	var act *Activities
	// 1. Verify.
	r.step(ctx, StepVerifying)
	pctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
	if err := workflow.ExecuteActivity(pctx, act.PrepareRotation, r.in).Get(ctx, &r.plan); err != nil {
		if temporal.IsCanceledError(err) {
			return r.finish(ctx, StatusCanceled, "canceled before the keys were read")
		}
		return r.fail(ctx, fmt.Errorf("cannot start the rotation: %s", errorMessage(err)))
	}
	if len(r.plan.Old) > 0 || r.in.OldKeyID == 0 {
		r.st.OldKeyIDs = nil
		for _, k := range r.plan.Old {
			r.st.OldKeyIDs = append(r.st.OldKeyIDs, k.ID)
		}
	}
	if r.plan.Problem != "" {
		return r.rollback(ctx, StatusFailed, "cannot start the rotation: "+r.plan.Problem)
	}
	r.save(ctx, r.st)

	vctx, cancelVerify := workflow.WithCancel(ctx)
	vctx = workflow.WithActivityOptions(vctx, workflow.ActivityOptions{
		StartToCloseTimeout: probeActivityTimeout(r.in.ProbeTimeout),
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			MaximumAttempts: int32(r.in.VerifyAttempts)},
	})
	fut := workflow.ExecuteActivity(vctx, act.VerifyKey, VerifyInput{ProviderID: r.in.ProviderID, Key: r.plan.New, Timeout: r.in.ProbeTimeout})
	var verifyErr error
	verified, canceled := false, false
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(fut, func(f workflow.Future) { verifyErr = f.Get(ctx, nil); verified = verifyErr == nil })
	sel.AddReceive(r.cancelCh, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); canceled = true })
	sel.Select(ctx)
	switch {
	case canceled || ctx.Err() != nil:
		cancelVerify()
		r.st.CancelRequested = true
		return r.rollback(ctx, StatusCanceled, "canceled before the new key was activated")
	case !verified:
		cancelVerify()
		return r.rollback(ctx, StatusFailed, "verification of the new key failed: "+errorMessage(verifyErr))
	}
	cancelVerify()
	if r.cancelCh.ReceiveAsync(nil) {
		r.st.CancelRequested = true
		return r.rollback(ctx, StatusCanceled, "canceled before the new key was activated")
	}

	// 2. Activate. From here the rotation always runs to its end: cancel
	// requests are ignored.
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	r.ignoreCancels(ctx)
	r.step(ctx, StepActivating)
	newRef, err := r.transition(ctx, r.plan.New, domain.KeyActive, "")
	if err != nil {
		return r.fail(ctx, fmt.Errorf("cannot activate the new key, nothing was changed: %s", errorMessage(err)))
	}
	r.plan.New = newRef
	for i, old := range r.plan.Old {
		ref, err := r.transition(ctx, old, domain.KeyDraining, "")
		if err != nil {
			return r.fail(ctx, fmt.Errorf("the new key %d is active, but old key %d could not be set draining: %s",
				newRef.ID, old.ID, errorMessage(err)))
		}
		r.plan.Old[i] = ref
	}

	// 3. Drain.
	r.st.DrainingUntil = workflow.Now(ctx).Add(r.in.Grace)
	r.step(ctx, StepDraining)
	if err := workflow.Sleep(ctx, r.in.Grace); err != nil {
		return r.fail(ctx, fmt.Errorf("grace timer: %s", errorMessage(err)))
	}
	r.st.DrainingUntil = time.Time{}

	// 4. Retire.
	r.step(ctx, StepRetiring)
	var problems []string
	for _, old := range r.plan.Old {
		if _, err := r.transition(ctx, old, domain.KeyRetired, ""); err != nil {
			problems = append(problems, fmt.Sprintf("old key %d not retired: %s", old.ID, errorMessage(err)))
		}
	}
	if len(problems) > 0 {
		return r.fail(ctx, errors.New(joinProblems(problems)))
	}
	r.st.Step = StepDone
	return r.finish(ctx, StatusCompleted, "")
}

// ignoreCancels consumes cancel signals that come after activation.
func (r *rotation) ignoreCancels(ctx workflow.Context) {
	workflow.Go(ctx, func(ctx workflow.Context) {
		for r.cancelCh.Receive(ctx, nil) {
			r.st.CancelRequested, r.st.CancelIgnored = true, true
			r.log.Warn("cancel ignored: the new key is already active, so the rotation runs to its end", "rotation", r.in.RotationID)
		}
	})
}

func (r *rotation) transition(ctx workflow.Context, k KeyRef, to domain.KeyStatus, lastError string) (KeyRef, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: 20},
	})
	var act *Activities
	var out KeyRef
	err := workflow.ExecuteActivity(actx, act.TransitionKey, TransitionInput{Key: k, To: to, LastError: lastError}).Get(ctx, &out)
	return out, err
}

// rollback retires the new key (wiping its secret); the old keys were not
// touched.
func (r *rotation) rollback(ctx workflow.Context, status, reason string) (RotationState, error) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	r.step(ctx, StepRollingBack)
	msg := reason
	if r.plan.New.ID != 0 {
		lastError := "rotation " + status + "; key retired"
		if _, err := r.transition(ctx, r.plan.New, domain.KeyRetired, lastError); err != nil {
			msg += fmt.Sprintf("; the new key %d could not be retired: %s", r.plan.New.ID, errorMessage(err))
		} else {
			msg += fmt.Sprintf("; the new key %d was retired, the old keys are unchanged", r.plan.New.ID)
		}
	}
	r.st.Step = StepRolledBack
	if status == StatusFailed {
		return r.fail(ctx, errors.New(msg))
	}
	return r.finish(ctx, status, msg)
}

func (r *rotation) fail(ctx workflow.Context, err error) (RotationState, error) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	st, _ := r.finish(ctx, StatusFailed, err.Error())
	r.log.Warn("key rotation failed", "rotation", r.in.RotationID, "error", err.Error())
	return st, temporal.NewNonRetryableApplicationError(err.Error(), "RotationFailed", nil, st)
}

// finish saves the final status, then shows it to queries: whoever sees
// the rotation ended through a query also finds it ended in the store.
func (r *rotation) finish(ctx workflow.Context, status, msg string) (RotationState, error) {
	ctx, _ = workflow.NewDisconnectedContext(ctx) // saved even when the workflow was canceled
	next := *r.st
	next.Status, next.Error = status, msg
	r.save(ctx, &next)
	*r.st = next
	return next, nil
}

func (r *rotation) step(ctx workflow.Context, step string) {
	r.st.Step = step
	r.save(ctx, r.st)
}

// save stores st as the progress; a failure to save is logged, not fatal:
// the keys matter more than the progress report.
func (r *rotation) save(ctx workflow.Context, st *RotationState) {
	st.UpdatedAt = workflow.Now(ctx)
	sctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second, MaximumAttempts: 5},
	})
	var act *Activities
	if err := workflow.ExecuteActivity(sctx, act.SaveRotation, st.Rotation()).Get(ctx, nil); err != nil {
		r.log.Warn("cannot save the rotation's progress", "rotation", r.in.RotationID, "step", st.Step, "error", errorMessage(err))
	}
}

func joinProblems(p []string) string {
	out := p[0]
	for _, s := range p[1:] {
		out += "; " + s
	}
	return out
}

// errorMessage returns the message of an activity's failure without the
// SDK's wrapping.
func errorMessage(err error) string {
	if err == nil {
		return ""
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return "timed out (" + te.TimeoutType().String() + ")"
	}
	return err.Error()
}
