package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// Schedule and workflow IDs.
const (
	healthSchedulePrefix = "health-"   // + provider name
	recoveryPrefix       = "recovery-" // + provider id
	rotationPrefix       = "rotate-"   // + provider id + "-" + new key id
	// ExpiryScheduleID is the daily key-expiry sweep's schedule.
	ExpiryScheduleID = "key-expiry"

	memoProviderID = "airouter_provider_id"
	memoTaskQueue  = "airouter_task_queue"
)

// HealthScheduleID is the ID of a provider's health schedule.
func HealthScheduleID(providerName string) string { return healthSchedulePrefix + providerName }

// RecoveryWorkflowID is the ID of a provider's recovery workflow.
func RecoveryWorkflowID(providerID int64) string {
	return recoveryPrefix + strconv.FormatInt(providerID, 10)
}

// RotationWorkflowID is the ID of a rotation workflow (and of the rotation).
func RotationWorkflowID(providerID, newKeyID int64) string {
	return fmt.Sprintf("%s%d-%d", rotationPrefix, providerID, newKeyID)
}

// Orchestrator is the client side of the durable work: it keeps health
// schedules in step with providers and starts, inspects and cancels
// recoveries and rotations. It never blocks the request path: its client is
// lazy, so construction succeeds while Temporal is down, and every call
// fails within seconds with a CodeUnavailable error until Temporal is back.
type Orchestrator struct {
	cfg Config
	c   client.Client
	log *slog.Logger
	own bool // Close closes c
}

var _ ports.Orchestrator = (*Orchestrator)(nil)

// NewOrchestrator returns an orchestrator with a lazy Temporal client:
// nothing is dialed until the first call.
func NewOrchestrator(cfg Config) (*Orchestrator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := client.NewLazyClient(clientOptions(cfg))
	if err != nil {
		return nil, fmt.Errorf("workflows: temporal client: %w", err)
	}
	return &Orchestrator{cfg: cfg, c: c, log: cfg.Logger, own: true}, nil
}

func clientOptions(cfg Config) client.Options {
	return client.Options{
		HostPort:  cfg.HostPort,
		Namespace: cfg.Namespace,
		Logger:    sdklog.NewStructuredLogger(cfg.Logger.With("component", "temporal")),
	}
}

// Close releases the client's connection.
func (o *Orchestrator) Close() {
	if o.own {
		o.c.Close()
	}
}

// Time limits of the orchestrator's calls (the caller's deadline applies
// when it is sooner): while Temporal is down they fail within seconds.
const (
	readyTimeout = 3 * time.Second
	callTimeout  = 10 * time.Second
	syncTimeout  = 30 * time.Second
)

// Ready checks that the Temporal frontend answers.
func (o *Orchestrator) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if _, err := o.c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("temporal at %s: %w", o.cfg.HostPort, err)
	}
	return nil
}

// unavailable wraps err so that callers see CodeUnavailable when Temporal
// cannot be reached; the wrapped detail is for logs only.
func unavailable(err error) error {
	var unav *serviceerror.Unavailable
	var dl *serviceerror.DeadlineExceeded
	if errors.As(err, &unav) || errors.As(err, &dl) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%v)", domain.Errorf(domain.CodeUnavailable, "Temporal is not reachable; retry later"), err)
	}
	return err
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// ---- recovery ----

// StartRecovery starts the provider's recovery probe unless one is running
// (conflict policy use-existing; a finished one may be started again).
func (o *Orchestrator) StartRecovery(ctx context.Context, providerID int64) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	in := RecoveryInput{ProviderID: providerID, ProbeTimeout: o.cfg.ProbeTimeout}
	_, err := o.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       o.cfg.IDPrefix + RecoveryWorkflowID(providerID),
		TaskQueue:                o.cfg.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// The workflow gives up after MaxDuration itself; this is a backstop
		// over the whole continue-as-new chain.
		WorkflowExecutionTimeout: DefaultRecoveryMaxDuration + 15*time.Minute,
	}, RecoveryWorkflow, in)
	if err != nil {
		return unavailable(fmt.Errorf("start recovery of provider %d: %w", providerID, err))
	}
	return nil
}

// RecoveryState returns a running or finished recovery's state.
func (o *Orchestrator) RecoveryState(ctx context.Context, providerID int64) (RecoveryState, error) {
	var st RecoveryState
	ctx, cancel := context.WithTimeout(ctx, callTimeout/2)
	defer cancel()
	v, err := o.c.QueryWorkflow(ctx, o.cfg.IDPrefix+RecoveryWorkflowID(providerID), "", QueryRecoveryState)
	if err != nil {
		if isNotFound(err) {
			return st, domain.Errorf(domain.CodeNotFound, "no recovery for provider %d", providerID)
		}
		return st, unavailable(err)
	}
	err = v.Get(&st)
	return st, err
}

// ---- rotation ----

// StartRotation starts the rotation workflow "rotate-<provider>-<new key>".
// Only key IDs enter the workflow.
func (o *Orchestrator) StartRotation(ctx context.Context, providerID, newKeyID, oldKeyID int64) (domain.Rotation, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	id := o.cfg.IDPrefix + RotationWorkflowID(providerID, newKeyID)
	in := RotationInput{RotationID: id, ProviderID: providerID, NewKeyID: newKeyID, OldKeyID: oldKeyID,
		Grace: o.cfg.RotationGrace, ProbeTimeout: o.cfg.ProbeTimeout}
	run, err := o.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                o.cfg.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// A closed rotation with the same ID (a restored database reuses key
		// IDs) does not block a new one; a running one does.
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, RotationWorkflow, in)
	if err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return domain.Rotation{}, domain.Errorf(domain.CodeConflict, "rotation %s already exists", id)
		}
		return domain.Rotation{}, unavailable(fmt.Errorf("start rotation %s: %w", id, err))
	}
	now := time.Now()
	o.log.Info("key rotation started", "rotation", run.GetID(), "provider_id", providerID, "new_key_id", newKeyID, "old_key_id", oldKeyID)
	return domain.Rotation{ID: run.GetID(), ProviderID: providerID, OldKeyID: oldKeyID, NewKeyID: newKeyID,
		Step: StepStarted, Status: StatusRunning, StartedAt: now, UpdatedAt: now}, nil
}

// RotationState returns a rotation's live state: the "state" query while it
// runs (or a worker is there to answer), else the result of a completed
// rotation or the state attached to a failed one. Otherwise it returns an
// error, and the admin API falls back to the RotationStore.
func (o *Orchestrator) RotationState(ctx context.Context, id string) (RotationState, error) {
	var st RotationState
	if !strings.HasPrefix(id, o.cfg.IDPrefix+rotationPrefix) {
		return st, domain.Errorf(domain.CodeNotFound, "rotation %q not found", id)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout/2)
	defer cancel()
	desc, err := o.c.DescribeWorkflow(ctx, id, "")
	if err != nil {
		if isNotFound(err) {
			return st, domain.Errorf(domain.CodeNotFound, "rotation %q not found", id)
		}
		return st, unavailable(err)
	}
	switch desc.RawResponse.GetWorkflowExecutionInfo().GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		v, err := o.c.QueryWorkflow(ctx, id, "", QueryRotationState)
		if err != nil {
			return st, unavailable(err)
		}
		err = v.Get(&st)
		return st, err
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		err := o.c.GetWorkflow(ctx, id, "").Get(ctx, &st)
		return st, err
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		err := o.c.GetWorkflow(ctx, id, "").Get(ctx, nil)
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.HasDetails() && app.Details(&st) == nil {
			return st, nil
		}
		return st, fmt.Errorf("rotation %s failed: %w", id, err)
	default:
		return st, fmt.Errorf("rotation %s is %s", id, desc.RawResponse.GetWorkflowExecutionInfo().GetStatus())
	}
}

// RotationStatus returns a rotation's state for the admin API.
func (o *Orchestrator) RotationStatus(ctx context.Context, id string) (domain.Rotation, error) {
	st, err := o.RotationState(ctx, id)
	if err != nil {
		return domain.Rotation{}, err
	}
	return st.Rotation(), nil
}

// CancelRotation asks a rotation to stop and roll back. It is refused
// (CodeConflict) once the new key is active or the rotation has ended: from
// activation on, a rotation always runs to its end.
func (o *Orchestrator) CancelRotation(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	st, err := o.RotationState(ctx, id)
	if domain.ErrorCode(err) == domain.CodeNotFound {
		return err
	}
	if err == nil {
		if st.Status != StatusRunning {
			return domain.Errorf(domain.CodeConflict, "rotation %s has already ended (%s)", id, st.Status)
		}
		switch st.Step {
		case StepActivating, StepDraining, StepRetiring, StepDone:
			return domain.Errorf(domain.CodeConflict,
				"rotation %s is %s: the new key is already active, so it can no longer be canceled; it retires the old key after the grace period (re-enable the old key to keep it)", id, st.Step)
		}
	}
	if err := o.c.SignalWorkflow(ctx, id, "", SignalCancel, nil); err != nil {
		if isNotFound(err) {
			return domain.Errorf(domain.CodeConflict, "rotation %s is not running", id)
		}
		return unavailable(fmt.Errorf("cancel rotation %s: %w", id, err))
	}
	o.log.Info("key rotation cancel requested", "rotation", id)
	return nil
}
