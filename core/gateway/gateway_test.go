package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airouter/airouter/adapters/httpapi"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/ports"
)

// fakeClient is a scripted provider: each call takes the next behaviour of
// its provider's script (the last one repeats).
type fakeClient struct {
	name    string
	fx      *fixture
	calls   atomic.Int64
	lastCap atomic.Int64 // Target.CapMaxTokens of the last call
}

type behaviour struct {
	err    error
	chunks []string // stream contents; empty: one "ok" chunk
	cutErr error    // error after the chunks instead of io.EOF
}

func (c *fakeClient) next() behaviour {
	n := int(c.calls.Add(1)) - 1
	c.fx.mu.Lock()
	defer c.fx.mu.Unlock()
	c.fx.order = append(c.fx.order, c.name)
	s := c.fx.scripts[c.name]
	if len(s) == 0 {
		return behaviour{}
	}
	if n >= len(s) {
		n = len(s) - 1
	}
	return s[n]
}

func (c *fakeClient) Chat(ctx context.Context, t ports.Target, req *domain.ChatRequest) (*domain.ChatResponse, error) {
	c.lastCap.Store(int64(t.CapMaxTokens))
	b := c.next()
	if b.err != nil {
		return nil, b.err
	}
	if t.Key == "" {
		return nil, errors.New("no key")
	}
	return &domain.ChatResponse{ID: "x", Object: "chat.completion", Model: t.Model, Usage: &domain.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15},
		Raw: []byte(`{"id":"x","object":"chat.completion","model":"` + t.Model + `","served_by":"` + c.name + `"}`)}, nil
}

type fakeStream struct {
	chunks []*domain.ChatChunk
	end    error
	closed atomic.Bool
}

func (s *fakeStream) Next() (*domain.ChatChunk, error) {
	if len(s.chunks) == 0 {
		return nil, s.end
	}
	c := s.chunks[0]
	s.chunks = s.chunks[1:]
	return c, nil
}

func (s *fakeStream) Close() error { s.closed.Store(true); return nil }
func (s *fakeStream) Ready() bool  { return false }

func text(s string) *domain.ChatChunk {
	return &domain.ChatChunk{Object: "chat.completion.chunk", Choices: []domain.ChunkChoice{{Delta: domain.Delta{Content: &s}}}}
}

func (c *fakeClient) ChatStream(ctx context.Context, t ports.Target, req *domain.ChatRequest) (ports.ChatStream, error) {
	b := c.next()
	if b.err != nil {
		return nil, b.err
	}
	st := &fakeStream{end: io.EOF}
	if b.cutErr != nil {
		st.end = b.cutErr
	}
	chunks := b.chunks
	if len(chunks) == 0 {
		chunks = []string{"ok"}
	}
	for _, s := range chunks {
		st.chunks = append(st.chunks, text(s))
	}
	st.chunks = append(st.chunks, &domain.ChatChunk{Object: "chat.completion.chunk", Choices: []domain.ChunkChoice{}, Usage: &domain.Usage{PromptTokens: 3, CompletionTokens: len(chunks)}})
	c.fx.mu.Lock()
	c.fx.streams = append(c.fx.streams, st)
	c.fx.mu.Unlock()
	return st, nil
}

// Probe answers with the fixture's probe result for the key (nil: the key
// works) and counts the probes.
func (c *fakeClient) Probe(ctx context.Context, t ports.Target) error {
	c.fx.probed.Add(1)
	c.fx.mu.Lock()
	defer c.fx.mu.Unlock()
	return c.fx.probes[t.Key]
}
func (c *fakeClient) Close() {}

type recordingMetrics struct {
	ports.NopMetrics
	mu       sync.Mutex
	requests []ports.RequestMetric
	dropped  atomic.Int64
}

func (m *recordingMetrics) RequestDone(r ports.RequestMetric) {
	m.mu.Lock()
	m.requests = append(m.requests, r)
	m.mu.Unlock()
}
func (m *recordingMetrics) RequestLogDropped(n int) { m.dropped.Add(int64(n)) }

type fixture struct {
	store   *fakeStore
	logs    *logSink
	svc     *gateway.Service
	metrics *recordingMetrics
	mu      sync.Mutex
	scripts map[string][]behaviour
	probes  map[string]error // Probe's result by key secret
	probed  atomic.Int64
	order   []string
	clients map[string]*fakeClient
	streams []*fakeStream
	// nativeStreams are the streams of nativeFake providers.
	nativeStreams []*nativeFakeStream
	built         atomic.Int64
	cancel        context.CancelFunc
}

func newFixture(t *testing.T, maxRetries int) *fixture {
	t.Helper()
	store := newFakeStore()
	fx := &fixture{store: store, logs: &logSink{}, scripts: map[string][]behaviour{}, probes: map[string]error{}, clients: map[string]*fakeClient{}, metrics: &recordingMetrics{}}
	factory := ports.ProviderFactoryFunc(func(p domain.Provider) (ports.ProviderClient, error) {
		fx.built.Add(1)
		fx.mu.Lock()
		defer fx.mu.Unlock()
		c := &fakeClient{name: p.Name, fx: fx}
		fx.clients[p.Name] = c
		if strings.HasPrefix(p.Name, "nat") {
			return &nativeFake{fakeClient: c}, nil // see native_test.go
		}
		return c, nil
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := gateway.New(gateway.Options{Loader: store, Providers: factory, Keys: store, Logs: fx.logs, ClientKeys: store,
		Metrics: fx.metrics, Logger: log, Clock: ports.SystemClock{}, StatusOf: httpapi.StatusOf, MaxRetries: maxRetries, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond,
		LogFlushInterval: 10 * time.Millisecond, Leases: newFakeLeases()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fx.cancel = cancel
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); svc.Close() })
	fx.svc = svc
	return fx
}

// reload applies the fake store's configuration, as an admin write does.
func (fx *fixture) reload(t *testing.T) {
	t.Helper()
	if err := fx.svc.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// fallbackFixture has one provider a name with one key (sk-<name>-00000001)
// and model "m" over them with the fallback strategy, in that order.
func fallbackFixture(t *testing.T, maxRetries int, providers ...string) *fixture {
	fx := newFixture(t, maxRetries)
	for _, p := range providers {
		fx.provider(t, p, "sk-"+p+"-00000001")
	}
	fx.model(t, "m", domain.StrategyFallback, providers...)
	return fx
}

func (fx *fixture) provider(t *testing.T, name string, keys ...string) {
	t.Helper()
	fx.store.addProvider(t, name, keys...)
	fx.reload(t)
}

func (fx *fixture) model(t *testing.T, name string, strategy domain.Strategy, providers ...string) {
	t.Helper()
	fx.store.addModel(t, name, strategy, providers...)
	fx.reload(t)
}

// clientKey adds an enabled client key and returns it with its token.
func (fx *fixture) clientKey(t *testing.T, name string) (domain.ClientKey, string) {
	t.Helper()
	k, tok := fx.store.addClientKey(t, name)
	fx.reload(t)
	return k, tok
}

func (fx *fixture) setClientKeyEnabled(t *testing.T, id int64, enabled bool) {
	t.Helper()
	fx.store.setClientKeyEnabled(t, id, enabled)
	fx.reload(t)
}

func (fx *fixture) script(name string, b ...behaviour) {
	fx.mu.Lock()
	fx.scripts[name] = b
	fx.mu.Unlock()
}

func (fx *fixture) call(model string, body string) *gateway.Call {
	if body == "" {
		body = `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
	}
	req, err := domain.ParseChatRequest([]byte(body))
	if err != nil {
		panic(err)
	}
	return &gateway.Call{Req: req, RequestID: fx.svc.NewRequestID(), Start: time.Now()}
}

func upstreamErr(class domain.ErrorClass, status int) error {
	return &domain.UpstreamError{Class: class, Status: status, Message: "boom"}
}

func TestFailoverOrderAndStatuses(t *testing.T) {
	t.Parallel()
	fx := fallbackFixture(t, 3, "a", "b", "c")

	// Retryable failures move on; the first success is returned.
	fx.script("a", behaviour{err: upstreamErr(domain.ClassRetryable, 500)})
	fx.script("b", behaviour{err: upstreamErr(domain.ClassRateLimited, 429)})
	resp, res, err := fx.svc.Complete(context.Background(), fx.call("m", ""))
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 3 || res.Provider != "c" || !strings.Contains(string(resp.Raw), `"served_by":"c"`) {
		t.Fatalf("attempts %d provider %s body %s", res.Attempts, res.Provider, resp.Raw)
	}
	if got := strings.Join(fx.order, ","); got != "a,b,c" {
		t.Fatalf("order %s", got)
	}
}

func TestNonRetryableStops(t *testing.T) {
	t.Parallel()
	fx := fallbackFixture(t, 3, "a", "b")
	fx.script("a", behaviour{err: upstreamErr(domain.ClassRequest, 400)})
	_, res, err := fx.svc.Complete(context.Background(), fx.call("m", ""))
	if err == nil || res.Attempts != 1 || httpapi.StatusOf(err) != 400 {
		t.Fatalf("err %v attempts %d", err, res.Attempts)
	}
	// An ambiguous failure (the upstream may have processed it) is not resent.
	fx.script("a", behaviour{err: upstreamErr(domain.ClassAmbiguous, 0)})
	_, res, err = fx.svc.Complete(context.Background(), fx.call("m", ""))
	if err == nil || res.Attempts != 1 {
		t.Fatalf("ambiguous: err %v attempts %d", err, res.Attempts)
	}
}

func TestAllAttemptsFailReturnsLastReason(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 2)
	fx.provider(t, "a", "sk-a-00000001")
	fx.model(t, "m", "", "a")
	fx.script("a", behaviour{err: upstreamErr(domain.ClassRetryable, 500)}, behaviour{err: upstreamErr(domain.ClassRetryable, 502)},
		behaviour{err: &domain.UpstreamError{Class: domain.ClassRetryable, Status: 503, Message: "overloaded"}})
	_, res, err := fx.svc.Complete(context.Background(), fx.call("m", ""))
	if res.Attempts != 3 || httpapi.StatusOf(err) != 503 || !strings.Contains(err.Error(), "overloaded") {
		t.Fatalf("attempts %d err %v status %d", res.Attempts, err, httpapi.StatusOf(err))
	}
}

func TestUnknownModelAndAuth(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 1)
	_, _, err := fx.svc.Complete(context.Background(), fx.call("nope", ""))
	if httpapi.StatusOf(err) != 404 {
		t.Fatalf("unknown model: %v", err)
	}
	_, tok := fx.clientKey(t, "app")
	if k, err := fx.svc.Authenticate(tok); err != nil || k.Name != "app" {
		t.Fatalf("auth: %v", err)
	}
	for _, bad := range []string{"", "sk-ar-x", tok + "x", strings.ToUpper(tok)} {
		if _, err := fx.svc.Authenticate(bad); domain.ErrorCode(err) != domain.CodeUnauthorized {
			t.Errorf("Authenticate(%q) = %v", bad, err)
		}
	}
}

func TestStreamFailoverBeforeFirstChunkAndUsage(t *testing.T) {
	t.Parallel()
	fx := fallbackFixture(t, 2, "a", "b")
	fx.script("a", behaviour{err: upstreamErr(domain.ClassRetryable, 503)})
	fx.script("b", behaviour{chunks: []string{"he", "llo"}})
	body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	st, res, err := fx.svc.Stream(context.Background(), fx.call("m", body))
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || res.Provider != "b" {
		t.Fatalf("attempts %d provider %s", res.Attempts, res.Provider)
	}
	var got strings.Builder
	for {
		ch, err := st.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Usage != nil {
			t.Fatal("usage chunk forwarded although the client did not ask for it")
		}
		got.WriteString(*ch.Choices[0].Delta.Content)
	}
	st.Close()
	if got.String() != "hello" {
		t.Fatalf("text %q", got.String())
	}
	// With include_usage the usage chunk comes through.
	body = `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	fx.script("a", behaviour{})
	st, _, err = fx.svc.Stream(context.Background(), fx.call("m", body))
	if err != nil {
		t.Fatal(err)
	}
	var usage bool
	for {
		ch, err := st.Next()
		if err != nil {
			break
		}
		usage = usage || ch.Usage != nil
	}
	st.Close()
	if !usage {
		t.Fatal("no usage chunk")
	}
}

func TestStreamMidFailureAndCloseRecords(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 2)
	fx.provider(t, "a", "sk-a-00000001")
	fx.model(t, "m", "", "a")
	fx.script("a", behaviour{chunks: []string{"par"}, cutErr: &domain.UpstreamError{Class: domain.ClassRetryable, Message: "stream cut"}})
	body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	st, _, err := fx.svc.Stream(context.Background(), fx.call("m", body))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Next(); err == nil || err == io.EOF {
		t.Fatalf("mid-stream failure: %v", err)
	}
	st.Close()
	if fx.clients["a"].calls.Load() != 1 {
		t.Fatal("a mid-stream failure must not be retried")
	}
	// A stream closed early by the client closes the upstream stream.
	fx.script("a", behaviour{chunks: []string{"a", "b", "c"}})
	st, _, err = fx.svc.Stream(context.Background(), fx.call("m", body))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	fx.mu.Lock()
	last := fx.streams[len(fx.streams)-1]
	fx.mu.Unlock()
	if !last.closed.Load() {
		t.Fatal("upstream stream not closed")
	}
	// Both requests reach the request log with their outcome.
	deadline := time.Now().Add(2 * time.Second)
	for {
		logs := fx.logs.stored("m")
		if len(logs) == 2 {
			for _, l := range logs {
				if l.Status < 400 || !l.Stream {
					t.Errorf("log entry %+v", l)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("request log has %d entries", len(logs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReloadKeepsUnchangedClients(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 1)
	fx.provider(t, "a", "sk-a-00000001")
	fx.provider(t, "b", "sk-b-00000001")
	built := fx.built.Load()
	fx.model(t, "m", "", "a")
	if err := fx.svc.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fx.built.Load() != built {
		t.Fatalf("clients rebuilt without a provider change: %d → %d", built, fx.built.Load())
	}
	fx.store.updateProvider(t, "a", func(p *domain.Provider) { p.BaseURL = "https://example.com/v1" }, "sk-test-replacement")
	fx.reload(t)
	if fx.built.Load() != built+1 {
		t.Fatalf("changed provider: built %d → %d", built, fx.built.Load())
	}
}

func TestKeyInvalidationIsPersisted(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 2)
	fx.provider(t, "a", "sk-a-00000001", "sk-a-00000002")
	fx.model(t, "m", "", "a")
	fx.script("a", behaviour{err: upstreamErr(domain.ClassAuth, 401)}, behaviour{})
	// The probe of the refused key is refused too: the refusal is
	// confirmed and the key stored invalid.
	fx.probes["sk-a-00000001"] = upstreamErr(domain.ClassAuth, 401)
	fx.probes["sk-a-00000002"] = upstreamErr(domain.ClassAuth, 401)
	_, res, err := fx.svc.Complete(context.Background(), fx.call("m", ""))
	if err != nil || res.Attempts != 2 {
		t.Fatalf("err %v attempts %d", err, res.Attempts)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		keys := fx.store.keys(t, "a")
		invalid := 0
		for _, k := range keys {
			if k.Status == domain.KeyInvalid {
				invalid++
			}
		}
		if invalid == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys: %+v", keys)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCompleteRecordsOnFinish(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 1)
	fx.provider(t, "a", "sk-a-00000001")
	fx.model(t, "m", "", "a")
	_, res, err := fx.svc.Complete(context.Background(), fx.call("m", ""))
	if err != nil {
		t.Fatal(err)
	}
	fx.metrics.mu.Lock()
	before := len(fx.metrics.requests)
	fx.metrics.mu.Unlock()
	if before != 0 {
		t.Fatal("recorded before Finish")
	}
	res.Finish()
	res.Finish() // once only
	deadline := time.Now().Add(2 * time.Second)
	for {
		logs := fx.logs.stored("m")
		if len(logs) == 1 && logs[0].Status == 200 && logs[0].PromptTokens == 10 && logs[0].Provider == "a" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs: %+v", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fx.metrics.mu.Lock()
	if len(fx.metrics.requests) != 1 || fx.metrics.requests[0].Model != "m" {
		t.Fatalf("metrics: %+v", fx.metrics.requests)
	}
	fx.metrics.mu.Unlock()
	// Unknown models are labelled "unknown" in metrics.
	_, _, _ = fx.svc.Complete(context.Background(), fx.call("random-name", ""))
	fx.metrics.mu.Lock()
	defer fx.metrics.mu.Unlock()
	if got := fx.metrics.requests[len(fx.metrics.requests)-1].Model; got != "unknown" {
		t.Fatalf("metric label %q", got)
	}
}
