package workflows

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/airouter/airouter/core/domain"
)

// Replay tests: every history in testdata/ (recorded from the dev server by
// TestRecordHistories) must replay against the current workflow code. A
// change that breaks determinism — reordering activities or timers,
// renaming an activity, a new blocking call without workflow.GetVersion —
// fails here. After an intended, versioned change, record again:
//
//	TEMPORAL_ADDRESS=127.0.0.1:7233 go test ./workflows -run TestRecordHistories -record
var record = flag.Bool("record", false, "run every workflow scenario on the Temporal server and write its history to testdata/")

func TestReplayHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < len(scenarios) {
		t.Fatalf("found %d histories in testdata/, want %d: record them (see TestRecordHistories)", len(files), len(scenarios))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			RegisterWorkflows(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(sdklog.NewStructuredLogger(testLogger()), file); err != nil {
				t.Fatalf("replay of %s failed (a determinism break?): %v", file, err)
			}
		})
	}
}

// scenario runs one workflow to its end on it and returns its workflow ID.
type scenario struct {
	file string
	run  func(t *testing.T, it *itest) string
}

var scenarios = []scenario{
	{"health_check.json", func(t *testing.T, it *itest) string {
		it.f.store.addKey(it.f.prov.ID, "sk-good-1111", domain.KeyActive)
		it.f.store.addKey(it.f.prov.ID, "sk-bad-2222", domain.KeyActive)
		it.f.fac.setProbe(func(_ context.Context, _ domain.Provider, key string) error {
			if key == "sk-bad-2222" {
				return upstreamErr(401)
			}
			return nil
		})
		return it.execute(HealthCheckWorkflow, HealthCheckInput{ProviderID: it.f.prov.ID, ProbeTimeout: time.Second})
	}},
	{"key_expiry.json", func(t *testing.T, it *itest) string {
		k := it.f.store.addKey(it.f.prov.ID, "sk-soon-1111", domain.KeyActive)
		soon := time.Now().Add(time.Hour)
		it.f.store.UpdateKey(it.ctx, k.ID, func(k *domain.ProviderKey) error { k.ExpiresAt = &soon; return nil })
		return it.execute(KeyExpiryWorkflow, ExpiryInput{Warning: 24 * time.Hour})
	}},
	{"recovery.json", func(t *testing.T, it *itest) string {
		it.f.store.addKey(it.f.prov.ID, "sk-one-1111", domain.KeyActive)
		var fails atomic.Int32
		fails.Store(2)
		it.f.fac.setProbe(func(context.Context, domain.Provider, string) error {
			if fails.Add(-1) >= 0 {
				return upstreamErr(503)
			}
			return nil
		})
		return it.execute(RecoveryWorkflow, RecoveryInput{ProviderID: it.f.prov.ID, InitialBackoff: 200 * time.Millisecond})
	}},
	{"rotation_completed.json", func(t *testing.T, it *itest) string {
		old := it.f.store.addKey(it.f.prov.ID, "sk-old-1111", domain.KeyActive)
		nk := it.f.store.addKey(it.f.prov.ID, "sk-new-2222", domain.KeyStandby)
		id := it.start(RotationWorkflow, RotationInput{ProviderID: it.f.prov.ID, NewKeyID: nk.ID, OldKeyID: old.ID, Grace: 2 * time.Second})
		it.waitStep(id, StepDraining)
		// A cancel after activation is ignored.
		if err := it.c.SignalWorkflow(it.ctx, id, "", SignalCancel, nil); err != nil {
			t.Fatal(err)
		}
		return id
	}},
	{"rotation_verify_failed.json", func(t *testing.T, it *itest) string {
		old := it.f.store.addKey(it.f.prov.ID, "sk-old-1111", domain.KeyActive)
		nk := it.f.store.addKey(it.f.prov.ID, "sk-new-2222", domain.KeyStandby)
		it.f.fac.setProbe(func(context.Context, domain.Provider, string) error { return upstreamErr(503) })
		return it.execute(RotationWorkflow, RotationInput{ProviderID: it.f.prov.ID, NewKeyID: nk.ID, OldKeyID: old.ID, VerifyAttempts: 2})
	}},
	{"rotation_canceled.json", func(t *testing.T, it *itest) string {
		old := it.f.store.addKey(it.f.prov.ID, "sk-old-1111", domain.KeyActive)
		nk := it.f.store.addKey(it.f.prov.ID, "sk-new-2222", domain.KeyStandby)
		it.f.fac.setProbe(func(context.Context, domain.Provider, string) error { return upstreamErr(503) })
		id := it.start(RotationWorkflow, RotationInput{ProviderID: it.f.prov.ID, NewKeyID: nk.ID, OldKeyID: old.ID})
		it.eventually(10*time.Second, "a verification attempt", func() bool { return it.f.fac.probeCount("sk-new-2222") >= 1 })
		if err := it.c.SignalWorkflow(it.ctx, id, "", SignalCancel, nil); err != nil {
			t.Fatal(err)
		}
		return id
	}},
	{"rotation_conflict.json", func(t *testing.T, it *itest) string {
		old := it.f.store.addKey(it.f.prov.ID, "sk-old-1111", domain.KeyActive)
		nk := it.f.store.addKey(it.f.prov.ID, "sk-new-2222", domain.KeyStandby)
		id := it.start(RotationWorkflow, RotationInput{ProviderID: it.f.prov.ID, NewKeyID: nk.ID, OldKeyID: old.ID, Grace: 2 * time.Second})
		it.waitStep(id, StepDraining)
		it.f.store.forceStatus(old.ID, domain.KeyActive) // the operator keeps the old key
		return id
	}},
}

// start starts a workflow on the test's task queue and returns its ID.
func (it *itest) start(wf any, arg any) string {
	it.t.Helper()
	run, err := it.c.ExecuteWorkflow(it.ctx, client.StartWorkflowOptions{ID: it.cfg.IDPrefix + "replay", TaskQueue: it.cfg.TaskQueue}, wf, arg)
	if err != nil {
		it.t.Fatal(err)
	}
	return run.GetID()
}

// execute starts a workflow and waits for it to end.
func (it *itest) execute(wf any, arg any) string {
	it.t.Helper()
	id := it.start(wf, arg)
	_ = it.c.GetWorkflow(it.ctx, id, "").Get(it.ctx, nil)
	return id
}

func (it *itest) waitStep(id, step string) {
	it.t.Helper()
	it.eventually(15*time.Second, "step "+step, func() bool {
		v, err := it.c.QueryWorkflow(it.ctx, id, "", QueryRotationStep)
		var got string
		return err == nil && v.Get(&got) == nil && got == step
	})
}

// TestRecordHistories records testdata/*.json; it runs only with -record.
func TestRecordHistories(t *testing.T) {
	if !*record {
		t.Skip("records histories only with -record")
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios {
		t.Run(sc.file, func(t *testing.T) {
			it := newIntegration(t, nil)
			it.startWorker("")
			id := sc.run(t, it)
			_ = it.c.GetWorkflow(it.ctx, id, "").Get(it.ctx, nil) // wait for the end, whatever it is
			var h historypb.History
			iter := it.c.GetWorkflowHistory(it.ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for iter.HasNext() {
				ev, err := iter.Next()
				if err != nil {
					t.Fatal(err)
				}
				h.Events = append(h.Events, ev)
			}
			b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(&h)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("testdata", sc.file), append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("recorded %s: %d events", sc.file, len(h.Events))
		})
	}
}
