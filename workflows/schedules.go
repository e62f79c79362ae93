package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/airouter/airouter/core/domain"
)

// The Orchestrator's Temporal Schedules: one health schedule per provider
// and the key-expiry sweep, upserted (Create; on "already running", Update)
// and kept in step with the providers.

func (o *Orchestrator) healthID(name string) string { return o.cfg.IDPrefix + HealthScheduleID(name) }

func (o *Orchestrator) healthSchedule(p domain.Provider) client.ScheduleOptions {
	id := o.healthID(p.Name)
	return client.ScheduleOptions{
		ID:            id,
		Spec:          client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: o.cfg.HealthInterval}}},
		Action:        o.healthAction(p),
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: catchupWindow(o.cfg.HealthInterval),
		Note:          "AI Router: health check of provider " + p.Name,
		Memo:          map[string]any{memoProviderID: p.ID, memoTaskQueue: o.cfg.TaskQueue},
	}
}

func (o *Orchestrator) healthAction(p domain.Provider) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:                 o.healthID(p.Name),
		Workflow:           HealthCheckWorkflow,
		Args:               []any{HealthCheckInput{ProviderID: p.ID, ProbeTimeout: o.cfg.ProbeTimeout}},
		TaskQueue:          o.cfg.TaskQueue,
		WorkflowRunTimeout: runTimeout(o.cfg.HealthInterval),
	}
}

func (o *Orchestrator) expirySchedule() client.ScheduleOptions {
	return client.ScheduleOptions{
		ID:   o.cfg.IDPrefix + ExpiryScheduleID,
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 24 * time.Hour}}},
		Action: &client.ScheduleWorkflowAction{
			ID:                 o.cfg.IDPrefix + ExpiryScheduleID,
			Workflow:           KeyExpiryWorkflow,
			Args:               []any{ExpiryInput{Warning: o.cfg.ExpiryWarning}},
			TaskQueue:          o.cfg.TaskQueue,
			WorkflowRunTimeout: 10 * time.Minute,
		},
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: time.Hour,
		Note:          "AI Router: daily check of provider keys nearing their expiry",
		Memo:          map[string]any{memoTaskQueue: o.cfg.TaskQueue},
	}
}

var errRecreate = errors.New("schedule belongs to another provider or task queue")

// upsertSchedule creates a schedule or, when it exists, updates its spec,
// action and policies (its paused state is the operator's and is kept). A
// schedule whose memo names another provider or task queue is replaced.
func (o *Orchestrator) upsertSchedule(ctx context.Context, opts client.ScheduleOptions, trigger bool) error {
	sc := o.c.ScheduleClient()
	h, err := sc.Create(ctx, opts)
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		h = sc.GetHandle(ctx, opts.ID)
		err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			if !memoMatches(in.Description.Memo.GetFields(), opts.Memo) {
				return nil, errRecreate
			}
			s := in.Description.Schedule
			s.Spec = &opts.Spec
			s.Action = opts.Action
			s.Policy = &client.SchedulePolicies{Overlap: opts.Overlap, CatchupWindow: opts.CatchupWindow}
			return &client.ScheduleUpdate{Schedule: &s}, nil
		}})
		if errors.Is(err, errRecreate) {
			if err = h.Delete(ctx); err == nil || isNotFound(err) {
				h, err = sc.Create(ctx, opts)
			}
		}
	}
	if err != nil {
		return unavailable(fmt.Errorf("upsert schedule %s: %w", opts.ID, err))
	}
	if trigger {
		if err := h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP}); err != nil {
			return unavailable(fmt.Errorf("trigger schedule %s: %w", opts.ID, err))
		}
	}
	return nil
}

func memoMatches(got map[string]*commonpb.Payload, want map[string]any) bool {
	dc := converter.GetDefaultDataConverter()
	for k, v := range want {
		p, ok := got[k]
		if !ok {
			return false
		}
		switch v := v.(type) {
		case int64:
			var n int64
			if err := dc.FromPayload(p, &n); err != nil || n != v {
				return false
			}
		case string:
			var s string
			if err := dc.FromPayload(p, &s); err != nil || s != v {
				return false
			}
		}
	}
	return true
}

func (o *Orchestrator) deleteSchedule(ctx context.Context, id string) error {
	err := o.c.ScheduleClient().GetHandle(ctx, id).Delete(ctx)
	if err != nil && !isNotFound(err) {
		return unavailable(fmt.Errorf("delete schedule %s: %w", id, err))
	}
	return nil
}

// scheduleEntry is one health schedule this deployment owns.
type scheduleEntry struct {
	ID         string
	ProviderID int64
}

// healthSchedules lists the health schedules whose memo names this task
// queue. Schedule listing is eventually consistent: a schedule created a
// moment ago may be missing.
func (o *Orchestrator) healthSchedules(ctx context.Context) ([]scheduleEntry, error) {
	it, err := o.c.ScheduleClient().List(ctx, client.ScheduleListOptions{PageSize: 1000})
	if err != nil {
		return nil, unavailable(fmt.Errorf("list schedules: %w", err))
	}
	dc := converter.GetDefaultDataConverter()
	var out []scheduleEntry
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, unavailable(fmt.Errorf("list schedules: %w", err))
		}
		if !strings.HasPrefix(e.ID, o.healthID("")) {
			continue
		}
		f := e.Memo.GetFields()
		var tq string
		var pid int64
		if p, ok := f[memoTaskQueue]; !ok || dc.FromPayload(p, &tq) != nil || tq != o.cfg.TaskQueue {
			continue
		}
		if p, ok := f[memoProviderID]; !ok || dc.FromPayload(p, &pid) != nil {
			continue
		}
		out = append(out, scheduleEntry{ID: e.ID, ProviderID: pid})
	}
	return out, nil
}

// SyncHealthSchedule creates or updates the provider's health schedule and
// runs it once, or deletes it when the provider is disabled or deleted. A
// renamed provider's schedule under its old name is deleted too.
func (o *Orchestrator) SyncHealthSchedule(ctx context.Context, p domain.Provider, deleted bool) error {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	id := o.healthID(p.Name)
	var errs []error
	if deleted || !p.Enabled {
		if err := o.deleteSchedule(ctx, id); err != nil {
			return err
		}
	} else if err := o.upsertSchedule(ctx, o.healthSchedule(p), true); err != nil {
		return err
	}
	entries, err := o.healthSchedules(ctx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.ProviderID == p.ID && e.ID != id {
			if err := o.deleteSchedule(ctx, e.ID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// syncAll makes the schedules match the providers: one per enabled
// provider (created or updated), none for others; the key-expiry schedule
// is upserted too. With trigger, every schedule runs once now.
func (o *Orchestrator) syncAll(ctx context.Context, providers []domain.Provider, trigger bool) error {
	want := map[string]bool{}
	var errs []error
	for _, p := range providers {
		if !p.Enabled {
			continue
		}
		want[o.healthID(p.Name)] = true
		if err := o.upsertSchedule(ctx, o.healthSchedule(p), trigger); err != nil {
			errs = append(errs, err)
		}
	}
	if err := o.upsertSchedule(ctx, o.expirySchedule(), trigger); err != nil {
		errs = append(errs, err)
	}
	entries, err := o.healthSchedules(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, e := range entries {
		if !want[e.ID] {
			o.log.Info("deleting the health schedule of a provider that is gone, disabled or renamed", "schedule", e.ID, "provider_id", e.ProviderID)
			if err := o.deleteSchedule(ctx, e.ID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
