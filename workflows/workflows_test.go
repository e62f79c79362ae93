package workflows

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/airouter/airouter/core/domain"
)

// Unit tests: every workflow path in Temporal's test environment (time
// skipping), with the real activities over in-memory fakes.

func (f *fixture) env(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(testLogger()))
	e := s.NewTestWorkflowEnvironment()
	Register(e, f.acts)
	return e
}

func runHealth(t *testing.T, f *fixture) ProbeReport {
	t.Helper()
	e := f.env(t)
	e.ExecuteWorkflow(HealthCheckWorkflow, HealthCheckInput{ProviderID: f.prov.ID, ProbeTimeout: 500 * time.Millisecond})
	if !e.IsWorkflowCompleted() {
		t.Fatal("health check did not complete")
	}
	if err := e.GetWorkflowError(); err != nil {
		t.Fatalf("health check failed: %v", err)
	}
	var rep ProbeReport
	if err := e.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestHealthCheckHealthy(t *testing.T) {
	f := newFixture(t)
	k1 := f.store.addKey(f.prov.ID, "sk-one-1111", domain.KeyActive)
	k2 := f.store.addKey(f.prov.ID, "sk-two-2222", domain.KeyDraining)
	f.store.addKey(f.prov.ID, "sk-off-3333", domain.KeyDisabled)
	f.store.addKey(f.prov.ID, "sk-new-4444", domain.KeyStandby)

	rep := runHealth(t, f)
	if rep.Status != domain.HealthHealthy || rep.Skipped != "" {
		t.Fatalf("report = %+v, want healthy", rep)
	}
	if f.fac.probeCount("sk-off-3333") != 0 || f.fac.probeCount("sk-new-4444") != 0 {
		t.Error("disabled or standby keys were probed")
	}
	if f.fac.probeCount("sk-one-1111") != 1 || f.fac.probeCount("sk-two-2222") != 1 {
		t.Error("each enabled key should be probed once")
	}
	for _, id := range []int64{k1.ID, k2.ID, 0} {
		h, ok := f.store.current(f.prov.ID, id)
		if !ok || h.Status != domain.HealthHealthy {
			t.Errorf("health of key %d = %+v, want healthy", id, h)
		}
	}
	if n := f.store.checkCount(); n != 3 {
		t.Errorf("recorded %d checks, want 3 (two keys and the provider)", n)
	}
}

func TestHealthCheckDegraded(t *testing.T) {
	f := newFixture(t)
	f.acts.DegradedThreshold = 20 * time.Millisecond
	f.store.addKey(f.prov.ID, "sk-slow-1111", domain.KeyActive)
	f.fac.setProbe(func(ctx context.Context, _ domain.Provider, _ string) error {
		time.Sleep(60 * time.Millisecond)
		return nil
	})
	rep := runHealth(t, f)
	if rep.Status != domain.HealthDegraded || !strings.Contains(rep.Error, "slow") {
		t.Fatalf("report = %+v, want degraded (slow)", rep)
	}
	h, _ := f.store.current(f.prov.ID, 0)
	if h.Status != domain.HealthDegraded || h.Latency < 60*time.Millisecond {
		t.Errorf("provider health = %+v, want degraded with its latency", h)
	}
}

func TestHealthCheckUnhealthy(t *testing.T) {
	f := newFixture(t)
	k := f.store.addKey(f.prov.ID, "sk-down-1111", domain.KeyActive)
	f.fac.setProbe(func(context.Context, domain.Provider, string) error { return upstreamErr(503) })
	rep := runHealth(t, f)
	if rep.Status != domain.HealthUnhealthy || !strings.Contains(rep.Error, "503") {
		t.Fatalf("report = %+v, want unhealthy with the upstream's error", rep)
	}
	h, _ := f.store.current(f.prov.ID, 0)
	if h.Status != domain.HealthUnhealthy || h.ConsecutiveFailures != 1 {
		t.Errorf("provider health = %+v", h)
	}
	if got := f.store.key(k.ID); got.Status != domain.KeyActive {
		t.Errorf("a 503 must not change the key: %s", got.Status)
	}
}

func TestHealthCheckProbeTimeout(t *testing.T) {
	f := newFixture(t)
	f.store.addKey(f.prov.ID, "sk-hang-1111", domain.KeyActive)
	f.fac.setProbe(func(ctx context.Context, _ domain.Provider, _ string) error {
		<-ctx.Done()
		return &domain.UpstreamError{Class: domain.ClassRetryable, Timeout: true, Err: ctx.Err()}
	})
	rep := runHealth(t, f)
	if rep.Status != domain.HealthUnhealthy || !strings.Contains(rep.Error, "timed out") {
		t.Fatalf("report = %+v, want unhealthy (timed out)", rep)
	}
}

func TestHealthCheckAuthMarksKeyInvalid(t *testing.T) {
	f := newFixture(t)
	bad := f.store.addKey(f.prov.ID, "sk-bad-1111", domain.KeyActive)
	good := f.store.addKey(f.prov.ID, "sk-good-2222", domain.KeyActive)
	f.fac.setProbe(func(_ context.Context, _ domain.Provider, key string) error {
		if key == "sk-bad-1111" {
			return upstreamErr(401)
		}
		return nil
	})
	rep := runHealth(t, f)
	if rep.Status != domain.HealthHealthy {
		t.Fatalf("provider = %s, want healthy (one key works)", rep.Status)
	}
	if len(rep.Invalidated) != 1 || rep.Invalidated[0] != bad.ID {
		t.Fatalf("invalidated = %v, want [%d]", rep.Invalidated, bad.ID)
	}
	k := f.store.key(bad.ID)
	if k.Status != domain.KeyInvalid || k.Version != bad.Version+1 || !strings.Contains(k.LastError, "re-enable") {
		t.Fatalf("bad key = %s v%d %q, want invalid at the next version with a hint", k.Status, k.Version, k.LastError)
	}
	if h, _ := f.store.current(f.prov.ID, bad.ID); h.Status != domain.HealthUnhealthy {
		t.Errorf("bad key health = %s", h.Status)
	}
	if f.store.key(good.ID).Status != domain.KeyActive {
		t.Error("the good key changed")
	}

	// The next run does not probe the invalid key again.
	runHealth(t, f)
	if n := f.fac.probeCount("sk-bad-1111"); n != 1 {
		t.Errorf("invalid key probed %d times, want 1", n)
	}
	if n := f.fac.probeCount("sk-good-2222"); n != 2 {
		t.Errorf("good key probed %d times, want 2", n)
	}
}

func TestHealthCheckAuthConflictLeavesKey(t *testing.T) {
	f := newFixture(t)
	bad := f.store.addKey(f.prov.ID, "sk-bad-1111", domain.KeyActive)
	f.fac.setProbe(func(context.Context, domain.Provider, string) error {
		f.store.forceStatus(bad.ID, domain.KeyDisabled) // an operator acts meanwhile
		return upstreamErr(403)
	})
	rep := runHealth(t, f)
	if len(rep.Invalidated) != 0 {
		t.Fatalf("invalidated %v despite the concurrent change", rep.Invalidated)
	}
	if k := f.store.key(bad.ID); k.Status != domain.KeyDisabled {
		t.Fatalf("key = %s, want the operator's disabled", k.Status)
	}
}

func TestHealthCheckKeyless(t *testing.T) {
	f := newFixture(t)
	p := f.store.addProvider(domain.Provider{Name: "local", Kind: domain.KindOpenAICompatible, BaseURL: "http://127.0.0.1:1", Enabled: true})
	f.prov = p
	rep := runHealth(t, f)
	if rep.Status != domain.HealthHealthy || f.fac.probeCount("") != 1 {
		t.Fatalf("report = %+v, keyless probes = %d", rep, f.fac.probeCount(""))
	}
	if len(rep.Checks) != 1 || rep.Checks[0].KeyID != 0 {
		t.Fatalf("checks = %+v, want only the provider row", rep.Checks)
	}
}

func TestHealthCheckNoUsableKey(t *testing.T) {
	f := newFixture(t)
	f.store.addKey(f.prov.ID, "sk-off-1111", domain.KeyInvalid)
	rep := runHealth(t, f)
	if rep.Status != domain.HealthUnhealthy || !strings.Contains(rep.Error, "no usable key") {
		t.Fatalf("report = %+v", rep)
	}
}

func TestHealthCheckSkipsDisabledAndDeleted(t *testing.T) {
	f := newFixture(t)
	f.store.addKey(f.prov.ID, "sk-one-1111", domain.KeyActive)
	f.store.UpdateProvider(context.Background(), f.prov.ID, func(p *domain.Provider) error { p.Enabled = false; return nil })
	if rep := runHealth(t, f); rep.Skipped == "" || f.store.checkCount() != 0 {
		t.Fatalf("disabled provider: %+v", rep)
	}
	f.store.DeleteProvider(context.Background(), f.prov.ID)
	if rep := runHealth(t, f); !strings.Contains(rep.Skipped, "not found") {
		t.Fatalf("deleted provider: %+v", rep)
	}
}

func TestHealthCheckExpiry(t *testing.T) {
	f := newFixture(t)
	past, soon := time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour)
	expired := f.store.addKey(f.prov.ID, "sk-old-1111", domain.KeyActive)
	expiring := f.store.addKey(f.prov.ID, "sk-soon-2222", domain.KeyActive)
	f.store.UpdateKey(context.Background(), expired.ID, func(k *domain.ProviderKey) error { k.ExpiresAt = &past; return nil })
	f.store.UpdateKey(context.Background(), expiring.ID, func(k *domain.ProviderKey) error { k.ExpiresAt = &soon; return nil })
	rep := runHealth(t, f)
	if rep.Status != domain.HealthHealthy {
		t.Fatalf("provider = %s, want healthy (the expiring key answers)", rep.Status)
	}
	if f.fac.probeCount("sk-old-1111") != 0 {
		t.Error("an expired key was probed")
	}
	if h, _ := f.store.current(f.prov.ID, expired.ID); h.Status != domain.HealthUnhealthy || !strings.Contains(h.LastError, "expired") {
		t.Errorf("expired key health = %+v", h)
	}
	if h, _ := f.store.current(f.prov.ID, expiring.ID); h.Status != domain.HealthDegraded || !strings.Contains(h.LastError, "expires at") {
		t.Errorf("expiring key health = %+v", h)
	}
}

func TestKeyExpiryWorkflow(t *testing.T) {
	f := newFixture(t)
	past, soon, later := time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour), time.Now().Add(30*24*time.Hour)
	a := f.store.addKey(f.prov.ID, "sk-aaa-1111", domain.KeyActive)
	b := f.store.addKey(f.prov.ID, "sk-bbb-2222", domain.KeyDraining)
	c := f.store.addKey(f.prov.ID, "sk-ccc-3333", domain.KeyActive)
	for id, at := range map[int64]*time.Time{a.ID: &past, b.ID: &soon, c.ID: &later} {
		f.store.UpdateKey(context.Background(), id, func(k *domain.ProviderKey) error { k.ExpiresAt = at; return nil })
	}
	e := f.env(t)
	e.ExecuteWorkflow(KeyExpiryWorkflow, ExpiryInput{Warning: 7 * 24 * time.Hour})
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var rep ExpiryReport
	if err := e.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Expired) != 1 || rep.Expired[0] != a.ID || len(rep.Expiring) != 1 || rep.Expiring[0] != b.ID {
		t.Fatalf("report = %+v", rep)
	}
	if h, _ := f.store.current(f.prov.ID, a.ID); h.Status != domain.HealthUnhealthy {
		t.Errorf("expired key: %+v", h)
	}
	if h, _ := f.store.current(f.prov.ID, b.ID); h.Status != domain.HealthDegraded || !strings.Contains(h.LastError, "expires at") {
		t.Errorf("expiring key: %+v", h)
	}
	if _, ok := f.store.current(f.prov.ID, c.ID); ok {
		t.Error("a key expiring later was flagged")
	}
}

// ---- recovery ----

func TestRecoveryBackoffThenSuccess(t *testing.T) {
	f := newFixture(t)
	f.store.addKey(f.prov.ID, "sk-one-1111", domain.KeyActive)
	calls := 0
	f.fac.setProbe(func(context.Context, domain.Provider, string) error {
		calls++
		if calls <= 4 {
			return upstreamErr(503)
		}
		return nil
	})
	e := f.env(t)
	var timers []time.Duration
	e.SetOnTimerScheduledListener(func(_ string, d time.Duration) { timers = append(timers, d) })
	var mid RecoveryState
	e.RegisterDelayedCallback(func() {
		v, err := e.QueryWorkflow(QueryRecoveryState)
		if err != nil {
			t.Errorf("query: %v", err)
			return
		}
		_ = v.Get(&mid)
	}, 2500*time.Millisecond)
	e.ExecuteWorkflow(RecoveryWorkflow, RecoveryInput{ProviderID: f.prov.ID})
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var st RecoveryState
	if err := e.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	if st.Status != RecoveryRecovered || st.Attempts != 5 {
		t.Fatalf("state = %+v, want recovered after 5 probes", st)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	if len(timers) != len(want) {
		t.Fatalf("timers = %v, want %v", timers, want)
	}
	for i := range want {
		if timers[i] != want[i] {
			t.Fatalf("timers = %v, want %v", timers, want)
		}
	}
	if mid.Status != RecoveryWaiting || mid.Attempts != 2 || !strings.Contains(mid.LastError, "503") {
		t.Errorf("query mid-way = %+v, want waiting after 2 attempts with the last error", mid)
	}
	h, _ := f.store.current(f.prov.ID, 0)
	if h.Status != domain.HealthHealthy {
		t.Fatalf("provider health = %+v, want healthy", h)
	}
	if n := f.store.checkCount(); n != 2 {
		t.Errorf("recorded %d checks, want 2 (only the successful probe: key and provider)", n)
	}
}

func TestRecoveryBackoffCapsAndGivesUp(t *testing.T) {
	f := newFixture(t)
	f.store.addKey(f.prov.ID, "sk-one-1111", domain.KeyActive)
	f.fac.setProbe(func(context.Context, domain.Provider, string) error { return upstreamErr(502) })
	e := f.env(t)
	var timers []time.Duration
	e.SetOnTimerScheduledListener(func(_ string, d time.Duration) { timers = append(timers, d) })
	e.ExecuteWorkflow(RecoveryWorkflow, RecoveryInput{ProviderID: f.prov.ID, MaxBackoff: 4 * time.Second, MaxDuration: 20 * time.Second})
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var st RecoveryState
	_ = e.GetWorkflowResult(&st)
	if st.Status != RecoveryGaveUp {
		t.Fatalf("state = %+v, want gave_up", st)
	}
	for _, d := range timers {
		if d > 4*time.Second {
			t.Fatalf("timers %v exceed the 4 s cap", timers)
		}
	}
	if f.store.checkCount() != 0 {
		t.Error("a failed recovery recorded health")
	}
}

func TestRecoveryProviderGone(t *testing.T) {
	f := newFixture(t)
	f.store.DeleteProvider(context.Background(), f.prov.ID)
	e := f.env(t)
	e.ExecuteWorkflow(RecoveryWorkflow, RecoveryInput{ProviderID: f.prov.ID})
	var st RecoveryState
	if err := e.GetWorkflowResult(&st); err != nil || st.Status != RecoveryGone {
		t.Fatalf("state = %+v, err = %v", st, err)
	}
}

func TestRecoveryContinuesAsNew(t *testing.T) {
	f := newFixture(t)
	f.store.addKey(f.prov.ID, "sk-one-1111", domain.KeyActive)
	f.fac.setProbe(func(context.Context, domain.Provider, string) error { return upstreamErr(500) })
	e := f.env(t)
	e.SetContinueAsNewSuggested(true)
	e.ExecuteWorkflow(RecoveryWorkflow, RecoveryInput{ProviderID: f.prov.ID})
	err := e.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		t.Fatalf("err = %v, want continue-as-new", err)
	}
	var next RecoveryInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.Attempts != 1 || next.Backoff != 2*time.Second || next.StartedAt.IsZero() || !strings.Contains(next.LastError, "500") {
		t.Fatalf("carried state = %+v", next)
	}
}

// ---- rotation ----

type rotationCase struct {
	f        *fixture
	old, new domain.ProviderKey
	id       string
}

func newRotation(t *testing.T) *rotationCase {
	f := newFixture(t)
	old := f.store.addKey(f.prov.ID, "sk-old-1111", domain.KeyActive)
	nk := f.store.addKey(f.prov.ID, "sk-new-2222", domain.KeyStandby)
	return &rotationCase{f: f, old: old, new: nk, id: RotationWorkflowID(f.prov.ID, nk.ID)}
}

func (rc *rotationCase) input() RotationInput {
	return RotationInput{RotationID: rc.id, ProviderID: rc.f.prov.ID, NewKeyID: rc.new.ID, OldKeyID: rc.old.ID, Grace: 10 * time.Minute}
}

func resultOf(t *testing.T, e *testsuite.TestWorkflowEnvironment) (RotationState, error) {
	t.Helper()
	if !e.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var st RotationState
	err := e.GetWorkflowError()
	if err == nil {
		if gerr := e.GetWorkflowResult(&st); gerr != nil {
			t.Fatal(gerr)
		}
		return st, nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.HasDetails() {
		_ = app.Details(&st)
	}
	return st, err
}

func TestRotationSuccess(t *testing.T) {
	rc := newRotation(t)
	e := rc.f.env(t)
	var midStep string
	var mid RotationState
	e.RegisterDelayedCallback(func() {
		v, err := e.QueryWorkflow(QueryRotationStep)
		if err == nil {
			_ = v.Get(&midStep)
		}
		if v, err = e.QueryWorkflow(QueryRotationState); err == nil {
			_ = v.Get(&mid)
		}
		// Mid-grace: new key active, old draining.
		if k := rc.f.store.key(rc.new.ID); k.Status != domain.KeyActive {
			t.Errorf("new key during grace = %s", k.Status)
		}
		if k := rc.f.store.key(rc.old.ID); k.Status != domain.KeyDraining || k.Secret == "" {
			t.Errorf("old key during grace = %s (secret kept: %t)", k.Status, k.Secret != "")
		}
	}, 5*time.Minute)
	e.ExecuteWorkflow(RotationWorkflow, rc.input())
	st, err := resultOf(t, e)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusCompleted || st.Step != StepDone {
		t.Fatalf("state = %+v", st)
	}
	if midStep != StepDraining || mid.DrainingUntil.IsZero() {
		t.Errorf("query mid-grace: step %q, state %+v", midStep, mid)
	}
	if k := rc.f.store.key(rc.new.ID); k.Status != domain.KeyActive {
		t.Errorf("new key = %s, want active", k.Status)
	}
	if k := rc.f.store.key(rc.old.ID); k.Status != domain.KeyRetired || k.Secret != "" {
		t.Errorf("old key = %s (secret wiped: %t), want retired and wiped", k.Status, k.Secret == "")
	}
	if n := rc.f.store.setsFor(rc.old.ID, domain.KeyRetired); n != 1 {
		t.Errorf("old key retired %d times", n)
	}
	want := []string{StepVerifying, StepActivating, StepDraining, StepRetiring, StepDone}
	if got := rc.f.store.savedSteps(rc.id); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("saved steps = %v, want %v", got, want)
	}
	r, _ := rc.f.store.GetRotation(context.Background(), rc.id)
	if r.Status != StatusCompleted || r.OldKeyID != rc.old.ID || r.NewKeyID != rc.new.ID {
		t.Errorf("stored rotation = %+v", r)
	}
}

func TestRotationEveryActiveKey(t *testing.T) {
	rc := newRotation(t)
	other := rc.f.store.addKey(rc.f.prov.ID, "sk-oth-3333", domain.KeyActive)
	off := rc.f.store.addKey(rc.f.prov.ID, "sk-off-4444", domain.KeyDisabled)
	in := rc.input()
	in.OldKeyID = 0
	e := rc.f.env(t)
	e.ExecuteWorkflow(RotationWorkflow, in)
	st, err := resultOf(t, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.OldKeyIDs) != 2 {
		t.Fatalf("old keys = %v, want both active keys", st.OldKeyIDs)
	}
	for _, id := range []int64{rc.old.ID, other.ID} {
		if k := rc.f.store.key(id); k.Status != domain.KeyRetired {
			t.Errorf("key %d = %s, want retired", id, k.Status)
		}
	}
	if k := rc.f.store.key(off.ID); k.Status != domain.KeyDisabled {
		t.Errorf("disabled key = %s, want untouched", k.Status)
	}
}

func TestRotationVerificationFailureRollsBack(t *testing.T) {
	rc := newRotation(t)
	rc.f.fac.failProbe("sk-new-2222", 503)
	e := rc.f.env(t)
	e.ExecuteWorkflow(RotationWorkflow, rc.input())
	st, err := resultOf(t, e)
	if err == nil || !strings.Contains(err.Error(), "verification of the new key failed") {
		t.Fatalf("err = %v, want a verification failure", err)
	}
	if n := rc.f.fac.probeCount("sk-new-2222"); n != DefaultVerifyAttempts {
		t.Errorf("new key probed %d times, want %d (bounded retries)", n, DefaultVerifyAttempts)
	}
	assertRolledBack(t, rc)
	if st.Status != StatusFailed || st.Step != StepRolledBack {
		t.Errorf("state = %+v", st)
	}
	r, _ := rc.f.store.GetRotation(context.Background(), rc.id)
	if r.Status != StatusFailed || !strings.Contains(r.Error, "503") {
		t.Errorf("stored rotation = %+v, want failed with the probe's error", r)
	}
}

func TestRotationRejectedKeyIsNotRetried(t *testing.T) {
	rc := newRotation(t)
	rc.f.fac.failProbe("sk-new-2222", 401)
	e := rc.f.env(t)
	e.ExecuteWorkflow(RotationWorkflow, rc.input())
	if _, err := resultOf(t, e); err == nil || !strings.Contains(err.Error(), "refused the new key") {
		t.Fatalf("err = %v", err)
	}
	if n := rc.f.fac.probeCount("sk-new-2222"); n != 1 {
		t.Errorf("a refused key was probed %d times, want 1", n)
	}
	assertRolledBack(t, rc)
}

func assertRolledBack(t *testing.T, rc *rotationCase) {
	t.Helper()
	if k := rc.f.store.key(rc.new.ID); k.Status != domain.KeyRetired || k.Secret != "" {
		t.Errorf("new key = %s (secret wiped: %t), want retired and wiped", k.Status, k.Secret == "")
	}
	if k := rc.f.store.key(rc.old.ID); k.Status != domain.KeyActive || k.Version != rc.old.Version {
		t.Errorf("old key = %s v%d, want untouched active v%d", k.Status, k.Version, rc.old.Version)
	}
}

func TestRotationCancelBeforeActivation(t *testing.T) {
	rc := newRotation(t)
	rc.f.fac.failProbe("sk-new-2222", 503) // keeps verification retrying
	e := rc.f.env(t)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(SignalCancel, nil) }, 1500*time.Millisecond)
	e.ExecuteWorkflow(RotationWorkflow, rc.input())
	st, err := resultOf(t, e)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusCanceled || st.Step != StepRolledBack || !st.CancelRequested {
		t.Fatalf("state = %+v", st)
	}
	assertRolledBack(t, rc)
	if n := rc.f.fac.probeCount("sk-new-2222"); n >= DefaultVerifyAttempts {
		t.Errorf("verification went on after the cancel (%d probes)", n)
	}
	r, _ := rc.f.store.GetRotation(context.Background(), rc.id)
	if r.Status != StatusCanceled {
		t.Errorf("stored rotation = %+v", r)
	}
}

func TestRotationTemporalCancelBeforeActivation(t *testing.T) {
	rc := newRotation(t)
	rc.f.fac.failProbe("sk-new-2222", 503)
	e := rc.f.env(t)
	e.RegisterDelayedCallback(func() { e.CancelWorkflow() }, 1500*time.Millisecond)
	e.ExecuteWorkflow(RotationWorkflow, rc.input())
	st, _ := resultOf(t, e)
	if st.Status != StatusCanceled {
		t.Fatalf("state = %+v", st)
	}
	assertRolledBack(t, rc)
}

func TestRotationCancelAfterActivationIsIgnored(t *testing.T) {
	rc := newRotation(t)
	e := rc.f.env(t)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(SignalCancel, nil) }, 5*time.Minute)
	e.ExecuteWorkflow(RotationWorkflow, rc.input())
	st, err := resultOf(t, e)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusCompleted || !st.CancelIgnored {
		t.Fatalf("state = %+v, want completed with the cancel ignored", st)
	}
	if k := rc.f.store.key(rc.old.ID); k.Status != domain.KeyRetired {
		t.Errorf("old key = %s", k.Status)
	}
}

func TestRotationConcurrentChangeDuringGrace(t *testing.T) {
	rc := newRotation(t)
	e := rc.f.env(t)
	// The operator re-enables the old key while it drains.
	e.RegisterDelayedCallback(func() { rc.f.store.forceStatus(rc.old.ID, domain.KeyActive) }, 5*time.Minute)
	e.ExecuteWorkflow(RotationWorkflow, rc.input())
	st, err := resultOf(t, e)
	if err == nil || !strings.Contains(err.Error(), "changed concurrently") {
		t.Fatalf("err = %v, want a conflict", err)
	}
	if st.Status != StatusFailed || st.Step != StepRetiring {
		t.Errorf("state = %+v", st)
	}
	if k := rc.f.store.key(rc.old.ID); k.Status != domain.KeyActive || k.Secret == "" {
		t.Errorf("old key = %s, want the operator's active with its secret", k.Status)
	}
	if k := rc.f.store.key(rc.new.ID); k.Status != domain.KeyActive {
		t.Errorf("new key = %s, want active", k.Status)
	}
	if n := rc.f.store.setsFor(rc.old.ID, domain.KeyRetired); n != 0 {
		t.Error("the old key was retired over the operator's change")
	}
	r, _ := rc.f.store.GetRotation(context.Background(), rc.id)
	if r.Status != StatusFailed || !strings.Contains(r.Error, "changed concurrently") {
		t.Errorf("stored rotation = %+v", r)
	}
}

func TestRotationConcurrentChangeBeforeActivation(t *testing.T) {
	rc := newRotation(t)
	// The operator disables the standby key while it is being verified.
	rc.f.fac.setProbe(func(_ context.Context, _ domain.Provider, key string) error {
		if key == "sk-new-2222" {
			rc.f.store.forceStatus(rc.new.ID, domain.KeyDisabled)
		}
		return nil
	})
	e := rc.f.env(t)
	e.ExecuteWorkflow(RotationWorkflow, rc.input())
	_, err := resultOf(t, e)
	if err == nil || !strings.Contains(err.Error(), "nothing was changed") || !strings.Contains(err.Error(), "changed concurrently") {
		t.Fatalf("err = %v", err)
	}
	if k := rc.f.store.key(rc.new.ID); k.Status != domain.KeyDisabled {
		t.Errorf("new key = %s, want the operator's disabled", k.Status)
	}
	if k := rc.f.store.key(rc.old.ID); k.Status != domain.KeyActive || k.Version != rc.old.Version {
		t.Errorf("old key = %s v%d, want untouched", k.Status, k.Version)
	}
}

func TestRotationBadOldKeyRollsBack(t *testing.T) {
	rc := newRotation(t)
	rc.f.store.forceStatus(rc.old.ID, domain.KeyDisabled)
	rc.old = rc.f.store.key(rc.old.ID)
	e := rc.f.env(t)
	e.ExecuteWorkflow(RotationWorkflow, rc.input())
	_, err := resultOf(t, e)
	if err == nil || !strings.Contains(err.Error(), "not active") {
		t.Fatalf("err = %v", err)
	}
	if k := rc.f.store.key(rc.new.ID); k.Status != domain.KeyRetired {
		t.Errorf("new key = %s, want retired (no orphan standby key)", k.Status)
	}
	if k := rc.f.store.key(rc.old.ID); k.Status != domain.KeyDisabled || k.Version != rc.old.Version {
		t.Errorf("old key changed: %s", k.Status)
	}
}

func TestTransitionKeyIsIdempotent(t *testing.T) {
	f := newFixture(t)
	k := f.store.addKey(f.prov.ID, "sk-one-1111", domain.KeyActive)
	ctx := context.Background()
	in := TransitionInput{Key: KeyRef{ID: k.ID, Version: k.Version, Status: k.Status}, To: domain.KeyDraining}
	first, err := f.acts.TransitionKey(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.acts.TransitionKey(ctx, in) // a retry after a lost answer
	if err != nil || again != first {
		t.Fatalf("retry = %+v, %v; want %+v", again, err, first)
	}
	if n := f.store.setsFor(k.ID, domain.KeyDraining); n != 1 {
		t.Fatalf("written %d times", n)
	}
	f.store.forceStatus(k.ID, domain.KeyDisabled)
	_, err = f.acts.TransitionKey(ctx, TransitionInput{Key: first, To: domain.KeyRetired})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrTypeKeyConflict || !app.NonRetryable() {
		t.Fatalf("err = %v, want a non-retryable conflict", err)
	}
	if f.store.key(k.ID).Status != domain.KeyDisabled {
		t.Fatal("overwrote a concurrent change")
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{HostPort: "h:1", TaskQueue: "q", HealthInterval: 30 * time.Second, Logger: testLogger()}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.ProbeTimeout != 10*time.Second || c.RotationGrace != 10*time.Minute || c.ExpiryWarning != 7*24*time.Hour || c.Namespace != "default" {
		t.Fatalf("defaults = %+v", c)
	}
	c, _ = Config{HostPort: "h:1", TaskQueue: "q", HealthInterval: 4 * time.Second, Logger: testLogger()}.withDefaults()
	if c.ProbeTimeout != 2*time.Second {
		t.Fatalf("probe timeout = %s, want interval/2", c.ProbeTimeout)
	}
	if rt := runTimeout(30 * time.Second); rt >= 30*time.Second || rt <= 0 {
		t.Fatalf("run timeout %s", rt)
	}
	for _, bad := range []Config{{TaskQueue: "q", HealthInterval: time.Second, Logger: testLogger()}, {HostPort: "h:1", HealthInterval: time.Second, Logger: testLogger()},
		{HostPort: "h:1", TaskQueue: "q", Logger: testLogger()}, {HostPort: "h:1", TaskQueue: "q", HealthInterval: time.Second}} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := NewActivities(c, Deps{}); err == nil {
		t.Error("nil deps accepted")
	}
}
