package workflows

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// Integration tests against a real Temporal server (the dev server `make
// test` starts). Every test has its own task queue and ID prefix, so tests
// and a running `make run` stack share the namespace without colliding.

func temporalAddress(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("TEMPORAL_ADDRESS")
	if addr == "" {
		if testing.Short() {
			t.Skip("TEMPORAL_ADDRESS is not set: skipping a Temporal integration test under -short")
		}
		t.Fatal("Temporal is required: run `make test` (or start a dev server and set TEMPORAL_ADDRESS, e.g. 127.0.0.1:7233)")
	}
	return addr
}

type itest struct {
	t    *testing.T
	ctx  context.Context
	cfg  Config
	f    *fixture
	c    client.Client
	orch *Orchestrator
}

func newIntegration(t *testing.T, mutate func(*Config)) *itest {
	t.Helper()
	addr := temporalAddress(t)
	ns := os.Getenv("TEMPORAL_NAMESPACE")
	if ns == "" {
		ns = "default"
	}
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	uniq := fmt.Sprintf("it%d-%s", time.Now().UnixNano()%1e9, name)
	cfg := Config{HostPort: addr, Namespace: ns, TaskQueue: "airouter-test-" + uniq, HealthInterval: 2 * time.Second,
		DegradedThreshold: time.Second, ProbeTimeout: time.Second, RotationGrace: 2 * time.Second, Logger: testLogger(),
		IDPrefix: uniq + "-"}
	if mutate != nil {
		mutate(&cfg)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	t.Cleanup(cancel)
	c, err := client.DialContext(ctx, clientOptions(cfg))
	if err != nil {
		t.Fatalf("dial Temporal at %s: %v", addr, err)
	}
	t.Cleanup(c.Close)
	f := newFixture(t)
	acts, err := NewActivities(cfg, Deps{Providers: f.store, Keys: f.store, Health: f.store, Rotations: f.store, Factory: f.fac, Clock: ports.SystemClock{}})
	if err != nil {
		t.Fatal(err)
	}
	f.acts = acts
	return &itest{t: t, ctx: ctx, cfg: cfg, f: f, c: c, orch: &Orchestrator{cfg: cfg, c: c, log: cfg.Logger}}
}

// startWorker starts a worker on the test's task queue; stop stops it (at
// most once).
func (it *itest) startWorker(identity string) (stop func()) {
	it.t.Helper()
	w := worker.New(it.c, it.cfg.TaskQueue, worker.Options{Identity: identity})
	Register(w, it.f.acts)
	if err := w.Start(); err != nil {
		it.t.Fatal(err)
	}
	var once atomic.Bool
	stop = func() {
		if once.CompareAndSwap(false, true) {
			w.Stop()
		}
	}
	it.t.Cleanup(stop)
	return stop
}

// eventually polls cond every 100 ms until it holds or d passes.
func (it *itest) eventually(d time.Duration, what string, cond func() bool) {
	it.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			it.t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (it *itest) waitRotation(id string, d time.Duration) domain.Rotation {
	it.t.Helper()
	var r domain.Rotation
	it.eventually(d, "rotation "+id+" to end", func() bool {
		var err error
		r, err = it.orch.RotationStatus(it.ctx, id)
		return err == nil && r.Status != StatusRunning
	})
	return r
}

func TestIntegrationRotationEndToEnd(t *testing.T) {
	t.Parallel()
	it := newIntegration(t, nil)
	it.startWorker("")
	rc := &rotationCase{f: it.f}
	rc.old = it.f.store.addKey(it.f.prov.ID, "sk-old-1111", domain.KeyActive)
	rc.new = it.f.store.addKey(it.f.prov.ID, "sk-new-2222", domain.KeyStandby)

	rot, err := it.orch.StartRotation(it.ctx, it.f.prov.ID, rc.new.ID, rc.old.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rot.ID != it.cfg.IDPrefix+RotationWorkflowID(it.f.prov.ID, rc.new.ID) || rot.Status != StatusRunning {
		t.Fatalf("started %+v", rot)
	}
	if _, err := it.orch.StartRotation(it.ctx, it.f.prov.ID, rc.new.ID, rc.old.ID); domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("second start: %v, want a conflict", err)
	}
	it.eventually(10*time.Second, "the draining step", func() bool {
		r, err := it.orch.RotationStatus(it.ctx, rot.ID)
		return err == nil && r.Step == StepDraining
	})
	if err := it.orch.CancelRotation(it.ctx, rot.ID); domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("cancel after activation: %v, want a conflict", err)
	}
	r := it.waitRotation(rot.ID, 20*time.Second)
	if r.Status != StatusCompleted || r.Step != StepDone || r.OldKeyID != rc.old.ID {
		t.Fatalf("rotation = %+v", r)
	}
	if k := it.f.store.key(rc.new.ID); k.Status != domain.KeyActive {
		t.Errorf("new key = %s", k.Status)
	}
	if k := it.f.store.key(rc.old.ID); k.Status != domain.KeyRetired || k.Secret != "" {
		t.Errorf("old key = %s", k.Status)
	}
	if stored, _ := it.f.store.GetRotation(it.ctx, rot.ID); stored.Status != StatusCompleted {
		t.Errorf("stored rotation = %+v", stored)
	}
	if _, err := it.orch.RotationStatus(it.ctx, it.cfg.IDPrefix+"rotate-999-999"); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Errorf("unknown rotation: %v", err)
	}
}

func TestIntegrationRotationCancel(t *testing.T) {
	t.Parallel()
	it := newIntegration(t, nil)
	it.startWorker("")
	old := it.f.store.addKey(it.f.prov.ID, "sk-old-1111", domain.KeyActive)
	nk := it.f.store.addKey(it.f.prov.ID, "sk-new-2222", domain.KeyStandby)
	it.f.fac.failProbe("sk-new-2222", 503)
	rot, err := it.orch.StartRotation(it.ctx, it.f.prov.ID, nk.ID, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	it.eventually(10*time.Second, "a failed verification attempt", func() bool { return it.f.fac.probeCount("sk-new-2222") >= 1 })
	if err := it.orch.CancelRotation(it.ctx, rot.ID); err != nil {
		t.Fatal(err)
	}
	r := it.waitRotation(rot.ID, 15*time.Second)
	if r.Status != StatusCanceled || r.Step != StepRolledBack {
		t.Fatalf("rotation = %+v", r)
	}
	if k := it.f.store.key(nk.ID); k.Status != domain.KeyRetired {
		t.Errorf("new key = %s", k.Status)
	}
	if k := it.f.store.key(old.ID); k.Status != domain.KeyActive || k.Version != old.Version {
		t.Errorf("old key = %s v%d", k.Status, k.Version)
	}
	if err := it.orch.CancelRotation(it.ctx, rot.ID); domain.ErrorCode(err) != domain.CodeConflict {
		t.Errorf("cancel of an ended rotation: %v", err)
	}
}

// TestIntegrationWorkerKilledMidRotation stops the worker while the grace
// timer runs, starts a fresh one (with an empty workflow cache, as a new
// process would have) and checks that it finishes the rotation, retiring the
// old key exactly once. It is not parallel: purging the workflow cache needs
// every worker of the process stopped.
func TestIntegrationWorkerKilledMidRotation(t *testing.T) {
	it := newIntegration(t, func(c *Config) { c.RotationGrace = 3 * time.Second })
	stop1 := it.startWorker("worker-1")
	old := it.f.store.addKey(it.f.prov.ID, "sk-old-1111", domain.KeyActive)
	nk := it.f.store.addKey(it.f.prov.ID, "sk-new-2222", domain.KeyStandby)
	rot, err := it.orch.StartRotation(it.ctx, it.f.prov.ID, nk.ID, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	it.eventually(10*time.Second, "the draining step", func() bool {
		r, err := it.orch.RotationStatus(it.ctx, rot.ID)
		return err == nil && r.Step == StepDraining
	})
	stop1()
	worker.PurgeStickyWorkflowCache()
	if k := it.f.store.key(old.ID); k.Status != domain.KeyDraining {
		t.Fatalf("old key = %s before the grace period ended", k.Status)
	}
	time.Sleep(time.Second) // the timer may fire while no worker runs
	it.startWorker("worker-2")
	var st RotationState
	if err := it.c.GetWorkflow(it.ctx, rot.ID, "").Get(it.ctx, &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusCompleted {
		t.Fatalf("state = %+v", st)
	}
	if n := it.f.store.setsFor(old.ID, domain.KeyRetired); n != 1 {
		t.Errorf("old key retired %d times, want exactly 1", n)
	}
	if n := it.f.store.setsFor(nk.ID, domain.KeyActive); n != 1 {
		t.Errorf("new key activated %d times, want exactly 1", n)
	}
	if k := it.f.store.key(old.ID); k.Status != domain.KeyRetired || k.Secret != "" {
		t.Errorf("old key = %s", k.Status)
	}

	// The history shows each key step once, and the retire step ran on the
	// second worker.
	var transitions, retireWorker2 int
	iter := it.c.GetWorkflowHistory(it.ctx, rot.ID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	scheduled := map[int64]string{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[ev.GetEventId()] = a.GetActivityType().GetName()
			if a.GetActivityType().GetName() == "TransitionKey" {
				transitions++
			}
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && scheduled[a.GetScheduledEventId()] == "TransitionKey" {
			if a.GetAttempt() != 1 {
				t.Errorf("a TransitionKey ran %d times", a.GetAttempt())
			}
			if a.GetIdentity() == "worker-2" {
				retireWorker2++
			}
		}
	}
	if transitions != 3 {
		t.Errorf("%d TransitionKey activities, want 3 (activate, drain, retire)", transitions)
	}
	if retireWorker2 != 1 {
		t.Errorf("%d key steps ran on the second worker, want 1 (retire)", retireWorker2)
	}
}

func TestIntegrationRecovery(t *testing.T) {
	t.Parallel()
	it := newIntegration(t, nil)
	it.startWorker("")
	it.f.store.addKey(it.f.prov.ID, "sk-one-1111", domain.KeyActive)
	var failing atomic.Int32
	failing.Store(2)
	it.f.fac.setProbe(func(context.Context, domain.Provider, string) error {
		if failing.Add(-1) >= 0 {
			return upstreamErr(503)
		}
		return nil
	})
	id := it.cfg.IDPrefix + RecoveryWorkflowID(it.f.prov.ID)
	if err := it.orch.StartRecovery(it.ctx, it.f.prov.ID); err != nil {
		t.Fatal(err)
	}
	d1, err := it.c.DescribeWorkflow(it.ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := it.orch.StartRecovery(it.ctx, it.f.prov.ID); err != nil { // idempotent
		t.Fatal(err)
	}
	d2, err := it.c.DescribeWorkflow(it.ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if r1, r2 := d1.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId(), d2.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId(); r1 != r2 {
		t.Fatalf("a second recovery started: runs %s and %s", r1, r2)
	}
	it.eventually(5*time.Second, "the recovery state to show a failed probe", func() bool {
		st, err := it.orch.RecoveryState(it.ctx, it.f.prov.ID)
		return err == nil && st.Attempts >= 1 && st.LastError != ""
	})
	var st RecoveryState
	if err := it.c.GetWorkflow(it.ctx, id, "").Get(it.ctx, &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != RecoveryRecovered || st.Attempts != 3 {
		t.Fatalf("state = %+v", st)
	}
	if h, _ := it.f.store.current(it.f.prov.ID, 0); h.Status != domain.HealthHealthy {
		t.Fatalf("provider health = %+v", h)
	}
	// Once it ended, a new ejection may start a new one.
	if err := it.orch.StartRecovery(it.ctx, it.f.prov.ID); err != nil {
		t.Fatal(err)
	}
	if err := it.c.GetWorkflow(it.ctx, id, "").Get(it.ctx, &st); err != nil || st.Attempts != 1 {
		t.Fatalf("second recovery: %+v, %v", st, err)
	}
}

func (it *itest) scheduleExists(id string) bool {
	_, err := it.c.ScheduleClient().GetHandle(it.ctx, id).Describe(it.ctx)
	return err == nil
}

func (it *itest) listed(id string) bool {
	entries, err := it.orch.healthSchedules(it.ctx)
	if err != nil {
		it.t.Fatal(err)
	}
	for _, e := range entries {
		if e.ID == id {
			return true
		}
	}
	return false
}

func (it *itest) cleanupSchedules(ids ...string) {
	it.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, id := range ids {
			_ = it.orch.deleteSchedule(ctx, id)
		}
	})
}

func TestIntegrationSyncHealthSchedule(t *testing.T) {
	t.Parallel()
	it := newIntegration(t, nil)
	p := it.f.prov
	oldID, newID := it.orch.healthID(p.Name), it.orch.healthID("acme-renamed")
	it.cleanupSchedules(oldID, newID)

	if err := it.orch.SyncHealthSchedule(it.ctx, p, false); err != nil {
		t.Fatal(err)
	}
	d, err := it.c.ScheduleClient().GetHandle(it.ctx, oldID).Describe(it.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Schedule.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP || d.Schedule.Policy.CatchupWindow != time.Minute {
		t.Errorf("policies = %+v", d.Schedule.Policy)
	}
	if len(d.Schedule.Spec.Intervals) != 1 || d.Schedule.Spec.Intervals[0].Every != it.cfg.HealthInterval {
		t.Errorf("spec = %+v", d.Schedule.Spec)
	}
	act, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || act.WorkflowRunTimeout >= it.cfg.HealthInterval || act.TaskQueue != it.cfg.TaskQueue {
		t.Errorf("action = %+v", d.Schedule.Action)
	}
	// Again: an update, not an error.
	if err := it.orch.SyncHealthSchedule(it.ctx, p, false); err != nil {
		t.Fatal(err)
	}
	// Renamed: the schedule under the old name goes once listing shows it.
	it.eventually(15*time.Second, "the schedule to be listed", func() bool { return it.listed(oldID) })
	p.Name = "acme-renamed"
	if err := it.orch.SyncHealthSchedule(it.ctx, p, false); err != nil {
		t.Fatal(err)
	}
	if it.scheduleExists(oldID) || !it.scheduleExists(newID) {
		t.Fatalf("after rename: old exists %t, new exists %t", it.scheduleExists(oldID), it.scheduleExists(newID))
	}
	// Disabled, then deleted.
	p.Enabled = false
	if err := it.orch.SyncHealthSchedule(it.ctx, p, false); err != nil {
		t.Fatal(err)
	}
	if it.scheduleExists(newID) {
		t.Fatal("a disabled provider kept its schedule")
	}
	p.Enabled = true
	if err := it.orch.SyncHealthSchedule(it.ctx, p, false); err != nil {
		t.Fatal(err)
	}
	if err := it.orch.SyncHealthSchedule(it.ctx, p, true); err != nil {
		t.Fatal(err)
	}
	if it.scheduleExists(newID) {
		t.Fatal("a deleted provider kept its schedule")
	}
}

// TestIntegrationRunWorkerHealth runs the whole worker: schedules are synced
// (a stale one deleted) and triggered at start, and a provider's health
// flips within one interval when its upstream fails, and back when it heals.
func TestIntegrationRunWorkerHealth(t *testing.T) {
	t.Parallel()
	it := newIntegration(t, nil)
	it.f.store.addKey(it.f.prov.ID, "sk-one-1111", domain.KeyActive)
	var down atomic.Bool
	it.f.fac.setProbe(func(context.Context, domain.Provider, string) error {
		if down.Load() {
			return upstreamErr(502)
		}
		return nil
	})
	healthID, staleID := it.orch.healthID(it.f.prov.Name), it.orch.healthID("gone")
	it.cleanupSchedules(healthID, staleID, it.cfg.IDPrefix+ExpiryScheduleID)
	// A schedule left over from a deleted provider.
	if err := it.orch.upsertSchedule(it.ctx, it.orch.healthSchedule(domain.Provider{ID: 999, Name: "gone", Enabled: true}), false); err != nil {
		t.Fatal(err)
	}
	it.eventually(15*time.Second, "the stale schedule to be listed", func() bool { return it.listed(staleID) })

	ctx, cancel := context.WithCancel(it.ctx)
	done := make(chan error, 1)
	go func() {
		done <- RunWorker(ctx, it.cfg, Deps{Providers: it.f.store, Keys: it.f.store, Health: it.f.store, Rotations: it.f.store, Factory: it.f.fac, Clock: ports.SystemClock{}})
	}()
	providerStatus := func() domain.HealthStatus {
		h, _ := it.f.store.current(it.f.prov.ID, 0)
		return h.Status
	}
	it.eventually(10*time.Second, "the first (triggered) health check", func() bool { return providerStatus() == domain.HealthHealthy })
	if !it.scheduleExists(healthID) || !it.scheduleExists(it.cfg.IDPrefix+ExpiryScheduleID) {
		t.Fatal("schedules missing")
	}
	it.eventually(10*time.Second, "the stale schedule to be deleted", func() bool { return !it.scheduleExists(staleID) })

	down.Store(true)
	flipped := time.Now()
	it.eventually(10*time.Second, "the provider to turn unhealthy", func() bool { return providerStatus() == domain.HealthUnhealthy })
	// One interval plus the run itself; the slack covers a loaded CI
	// machine (-race, parallel tests on two cores) delaying the scheduler.
	if d := time.Since(flipped); d > 2*it.cfg.HealthInterval+2*time.Second {
		t.Errorf("unhealthy after %s, want within about one interval (%s)", d, it.cfg.HealthInterval)
	} else {
		t.Logf("unhealthy %s after the upstream started failing (interval %s)", d.Round(time.Millisecond), it.cfg.HealthInterval)
	}
	down.Store(false)
	it.eventually(10*time.Second, "the provider to recover", func() bool { return providerStatus() == domain.HealthHealthy })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunWorker returned %v on cancel, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("RunWorker did not return after its context ended")
	}
}

// Without a reachable Temporal, construction succeeds, Ready fails fast,
// calls fail with CodeUnavailable, and RunWorker waits until its context
// ends. No server is needed.
func TestTemporalUnreachable(t *testing.T) {
	t.Parallel()
	cfg := Config{HostPort: "127.0.0.1:1", TaskQueue: "q", HealthInterval: time.Second, Logger: testLogger()}
	o, err := NewOrchestrator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	start := time.Now()
	if err := o.Ready(context.Background()); err == nil {
		t.Fatal("Ready succeeded without a server")
	}
	if d := time.Since(start); d > readyTimeout+time.Second {
		t.Errorf("Ready took %s", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := o.StartRotation(ctx, 1, 2, 3); domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Errorf("StartRotation: %v (code %s), want unavailable", err, domain.ErrorCode(err))
	}

	f := newFixture(t)
	wctx, wcancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer wcancel()
	start = time.Now()
	err = RunWorker(wctx, cfg, Deps{Providers: f.store, Keys: f.store, Health: f.store, Rotations: f.store, Factory: f.fac, Clock: ports.SystemClock{}})
	if err != nil {
		t.Fatalf("RunWorker = %v, want nil after its context ended", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("RunWorker returned after %s", d)
	}
	if err := RunWorker(context.Background(), cfg, Deps{}); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("RunWorker with no deps = %v, want a configuration error", err)
	}
}
