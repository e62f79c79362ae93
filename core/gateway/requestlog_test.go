package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/airouter/airouter/adapters/httpapi"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/core/testkit"
	"github.com/airouter/airouter/ports"
)

// flakyLogs is a request-log store that refuses rows whose request id starts
// with "poison" (as PostgreSQL refuses a whole COPY for one bad row), fails
// the first failFirst inserts as a broken connection would, and can run a
// hook before an insert.
type flakyLogs struct {
	logSink
	calls     atomic.Int64
	failFirst int64
	mu        sync.Mutex
	before    func()              // run once, before the next insert
	raw       []domain.RequestLog // every entry as the service sent it
}

func (l *flakyLogs) InsertRequestLogs(ctx context.Context, entries []domain.RequestLog) error {
	n := l.calls.Add(1)
	l.mu.Lock()
	f := l.before
	l.before = nil
	l.raw = append(l.raw, entries...)
	l.mu.Unlock()
	if f != nil {
		f()
	}
	if n <= l.failFirst {
		return errors.New("postgres: insert request logs: connection reset by peer")
	}
	for _, e := range entries {
		if strings.HasPrefix(e.RequestID, "poison") {
			return &domain.Error{Code: domain.CodeInvalid, Msg: "a request-log row was refused"}
		}
	}
	return l.logSink.InsertRequestLogs(ctx, entries)
}

// slowKeys makes GetKey slow, as a database under load is.
type slowKeys struct {
	ports.KeyStore
	delay time.Duration
}

func (k slowKeys) GetKey(ctx context.Context, id int64) (domain.ProviderKey, error) {
	select {
	case <-time.After(k.delay):
	case <-ctx.Done():
		return domain.ProviderKey{}, ctx.Err()
	}
	return k.KeyStore.GetKey(ctx, id)
}

// refusingClient is an upstream that refuses every key (401).
type refusingClient struct{}

func (refusingClient) Chat(context.Context, ports.Target, *domain.ChatRequest) (*domain.ChatResponse, error) {
	return nil, &domain.UpstreamError{Class: domain.ClassAuth, Status: 401, Message: "Incorrect API key provided"}
}
func (refusingClient) ChatStream(context.Context, ports.Target, *domain.ChatRequest) (ports.ChatStream, error) {
	return nil, &domain.UpstreamError{Class: domain.ClassAuth, Status: 401, Message: "Incorrect API key provided"}
}
func (refusingClient) Probe(context.Context, ports.Target) error {
	return &domain.UpstreamError{Class: domain.ClassAuth, Status: 401, Message: "Incorrect API key provided"}
}
func (refusingClient) Close() {}

type logFixture struct {
	store   *fakeStore
	logs    *flakyLogs
	svc     *gateway.Service
	metrics *recordingMetrics
	cancel  context.CancelFunc
}

func newLogFixture(t *testing.T, o gateway.Options, keys func(ports.KeyStore) ports.KeyStore) *logFixture {
	t.Helper()
	store := newFakeStore()
	fx := &logFixture{store: store, logs: &flakyLogs{}, metrics: &recordingMetrics{}}
	var ks ports.KeyStore = store
	if keys != nil {
		ks = keys(store)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	o.Loader, o.Keys, o.Logs, o.ClientKeys = store, ks, fx.logs, store
	o.Providers = ports.ProviderFactoryFunc(func(domain.Provider) (ports.ProviderClient, error) { return refusingClient{}, nil })
	if o.Logger != nil {
		log = o.Logger
	}
	o.Metrics, o.Logger, o.Clock, o.StatusOf = fx.metrics, log, ports.SystemClock{}, httpapi.StatusOf
	if o.LogFlushInterval == 0 {
		o.LogFlushInterval = time.Hour // flushed at shutdown only, unless a batch fills
	}
	var err error
	fx.svc, err = gateway.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fx.cancel = cancel
	if err := fx.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); fx.svc.Close() })
	return fx
}

// oneRoute configures provider a with one key and model m with one route
// to it, and reloads; it returns the key.
func (fx *logFixture) oneRoute(t *testing.T) domain.ProviderKey {
	t.Helper()
	_, keys := fx.store.addProvider(t, "a", "sk-a-00000001")
	fx.store.addModel(t, "m", "", "a")
	if err := fx.svc.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	return keys[0]
}

// reject records one request-log entry the way the HTTP edge does for a
// refused request of an authenticated client.
func (fx *logFixture) reject(id string) {
	fx.svc.Reject(id, time.Now(), &domain.ClientKey{ID: 1, Name: "app"}, 400, domain.FieldError("model", "is required"))
}

// rejectN records n rejected requests, ids prefix0 to prefix(n-1).
func (fx *logFixture) rejectN(prefix string, n int) {
	for i := range n {
		fx.reject(prefix + strconv.Itoa(i))
	}
}

func (fx *logFixture) stored(t *testing.T) map[string]domain.RequestLog {
	t.Helper()
	out := map[string]domain.RequestLog{}
	for _, e := range fx.logs.stored("") {
		out[e.RequestID] = e
	}
	return out
}

// stop ends the service the way its callers did before Shutdown existed:
// cancel the context given to Start, then Close.
func (fx *logFixture) stop() {
	fx.cancel()
	fx.svc.Close()
}

// TestRegressionRecorderKeepsRowsBesideARefusedOne: a row the store refuses
// used to cost its whole batch (up to 512 entries) after three tries.
func TestRegressionRecorderKeepsRowsBesideARefusedOne(t *testing.T) {
	t.Parallel()
	fx := newLogFixture(t, gateway.Options{LogBatchSize: 64}, nil)
	want := 0
	for i := range 300 {
		id := "good-" + strconv.Itoa(i)
		if i == 5 || i == 150 || i == 151 || i == 299 {
			id = "poison-" + strconv.Itoa(i)
		} else {
			want++
		}
		fx.reject(id)
	}
	fx.stop()
	got := fx.stored(t)
	if len(got) != want {
		t.Fatalf("stored %d entries, want the %d good ones", len(got), want)
	}
	for id := range got {
		if !strings.HasPrefix(id, "good-") {
			t.Errorf("stored %s", id)
		}
	}
	if d := fx.metrics.dropped.Load(); d != 4 {
		t.Errorf("dropped counted %d, want 4", d)
	}
	// A refused row costs a bisection of its batch, not a row-by-row retry.
	if c := fx.logs.calls.Load(); c > 70 {
		t.Errorf("%d inserts for 300 entries", c)
	}
}

// TestRecorderOneInsertPerBatch: the common path stays one insert per batch.
func TestRecorderOneInsertPerBatch(t *testing.T) {
	t.Parallel()
	fx := newLogFixture(t, gateway.Options{LogBatchSize: 300}, nil)
	fx.rejectN("good-", 250)
	fx.stop()
	if got := fx.stored(t); len(got) != 250 {
		t.Fatalf("stored %d of 250", len(got))
	}
	if c := fx.logs.calls.Load(); c != 1 {
		t.Errorf("%d inserts for 250 entries in batches of 300, want 1", c)
	}
}

// TestRegressionErrorMessageCutOnRuneBoundary: the log's error message was
// cut at 500 bytes, in the middle of a character; PostgreSQL refuses such
// text, and with it the whole batch.
func TestRegressionErrorMessageCutOnRuneBoundary(t *testing.T) {
	t.Parallel()
	fx := newLogFixture(t, gateway.Options{}, nil)
	msg := strings.Repeat("ж", 400) // 800 bytes of two-byte runes
	err := &domain.Error{Code: domain.CodeInvalid, Msg: msg}
	if full := domain.ErrorMessage(err); utf8.RuneStart(full[500]) {
		err.Msg = "x" + msg // make byte 500 fall inside a rune
	}
	fx.svc.Reject("cut", time.Now(), &domain.ClientKey{ID: 1}, 400, err)
	fx.stop()
	fx.logs.mu.Lock()
	defer fx.logs.mu.Unlock()
	if len(fx.logs.raw) != 1 {
		t.Fatalf("%d entries sent to the store", len(fx.logs.raw))
	}
	e := fx.logs.raw[0] // as the service made it, before the store cleans it
	if !utf8.ValidString(e.ErrorMessage) || len(e.ErrorMessage) > 500 || len(e.ErrorMessage) < 498 {
		t.Fatalf("error message of %d bytes, valid UTF-8 %t", len(e.ErrorMessage), utf8.ValidString(e.ErrorMessage))
	}
}

// TestRegressionShutdownRetriesUntilItsDeadline: at shutdown the log was
// given three tries over 600 ms; a database that needed a second longer lost
// every queued entry.
func TestRegressionShutdownRetriesUntilItsDeadline(t *testing.T) {
	t.Parallel()
	fx := newLogFixture(t, gateway.Options{}, nil)
	fx.logs.failFirst = 4
	fx.rejectN("e-", 100)
	fx.stop()
	if got := fx.stored(t); len(got) != 100 {
		t.Fatalf("stored %d of 100 entries", len(got))
	}
	if d := fx.metrics.dropped.Load(); d != 0 {
		t.Fatalf("dropped %d", d)
	}
}

// TestRegressionShutdownFlushesWhatArrivesDuringTheFlush: entries recorded
// while the final flush was writing (requests finishing late) were left in
// memory, neither written nor counted.
func TestRegressionShutdownFlushesWhatArrivesDuringTheFlush(t *testing.T) {
	t.Parallel()
	fx := newLogFixture(t, gateway.Options{}, nil)
	fx.rejectN("early-", 10)
	fx.logs.before = func() {
		fx.rejectN("late-", 10)
	}
	fx.stop()
	if got := fx.stored(t); len(got) != 20 {
		t.Fatalf("stored %d of 20 entries", len(got))
	}
	// After the shutdown nothing is written any more, but it is counted.
	fx.reject("after")
	if d := fx.metrics.dropped.Load(); d != 1 {
		t.Fatalf("dropped %d, want 1 (the entry recorded after shutdown)", d)
	}
}

// TestRegressionShutdownWaitsForKeyInvalidation: the goroutine marking a
// refused key invalid was not waited for, so a shutdown right after a 401
// lost the invalidation (and it ran on against closed stores).
func TestRegressionShutdownWaitsForKeyInvalidation(t *testing.T) {
	t.Parallel()
	fx := newLogFixture(t, gateway.Options{}, func(k ports.KeyStore) ports.KeyStore { return slowKeys{KeyStore: k, delay: 300 * time.Millisecond} })
	ctx := context.Background()
	key := fx.oneRoute(t)
	req, err := domain.ParseChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := fx.svc.Complete(ctx, &gateway.Call{Req: req, RequestID: "r1", Start: time.Now()}); httpapi.StatusOf(err) != 502 {
		t.Fatalf("Complete: %v", err)
	}
	fx.stop()
	k, err := fx.store.GetKey(ctx, key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if k.Status != domain.KeyInvalid {
		t.Fatalf("key status after shutdown: %s, want invalid", k.Status)
	}
}

// TestShutdownIsBoundedByItsDeadline: with the database down and a key
// invalidation stuck, Shutdown returns at its deadline, having counted what
// it could not write and said so in one line.
func TestShutdownIsBoundedByItsDeadline(t *testing.T) {
	t.Parallel()
	out := &testkit.Buffer{}
	fx := newLogFixture(t, gateway.Options{Logger: slog.New(slog.NewTextHandler(out, nil))},
		func(k ports.KeyStore) ports.KeyStore { return slowKeys{KeyStore: k, delay: time.Hour} })
	fx.logs.failFirst = 1 << 40
	ctx := context.Background()
	fx.oneRoute(t)
	req, _ := domain.ParseChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	_, _, _ = fx.svc.Complete(ctx, &gateway.Call{Req: req, RequestID: "r1", Start: time.Now()}) // starts the invalidation
	fx.rejectN("e-", 49)
	sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_ = fx.svc.Shutdown(sctx)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("Shutdown took %v with a deadline of 300ms", took)
	}
	if d := fx.metrics.dropped.Load(); d != 50 {
		t.Fatalf("dropped %d, want 50", d)
	}
	if s := out.String(); !strings.Contains(s, "dropped_at_shutdown=50") || strings.Count(s, "request log closed") != 1 {
		t.Fatalf("shutdown log:\n%s", s)
	}
}
