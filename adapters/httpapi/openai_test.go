package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/core/testkit"
	"github.com/airouter/airouter/ports"
)

// These tests drive the OpenAI-compatible handlers over a real gateway with
// an in-memory configuration and a scripted upstream: no database, so they
// run under -short.

const testToken = "sk-ar-handler-test-token"

// upstream is a scripted provider client.
type upstream struct {
	mu      sync.Mutex
	native  bool     // serves every native operation (native_test.go)
	beta    string   // the Beta of the last native call
	body    string   // the body of the last native call
	err     error    // returned by Chat and ChatStream
	chunks  []string // stream contents
	cutErr  error    // returned after the chunks instead of io.EOF
	block   chan struct{}
	started chan struct{}
}

// plan is what the upstream does next.
type plan struct {
	err, cut error
	chunks   []string
	block    chan struct{}
}

func (u *upstream) script() plan {
	u.mu.Lock()
	defer u.mu.Unlock()
	return plan{err: u.err, cut: u.cutErr, chunks: u.chunks, block: u.block}
}

func (u *upstream) Chat(ctx context.Context, t ports.Target, req *domain.ChatRequest) (*domain.ChatResponse, error) {
	p := u.script()
	err, block := p.err, p.block
	if block != nil {
		u.started <- struct{}{}
		<-block
	}
	if err != nil {
		return nil, err
	}
	raw := `{"id":"chatcmpl-1","object":"chat.completion","model":"` + t.Model + `","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`
	return &domain.ChatResponse{ID: "chatcmpl-1", Model: t.Model, Usage: &domain.Usage{PromptTokens: 3, CompletionTokens: 1}, Raw: []byte(raw)}, nil
}

func (u *upstream) ChatStream(ctx context.Context, t ports.Target, req *domain.ChatRequest) (ports.ChatStream, error) {
	p := u.script()
	err, chunks, cut := p.err, p.chunks, p.cut
	if err != nil {
		return nil, err
	}
	return &upStream{chunks: chunks, cut: cut}, nil
}

func (u *upstream) Probe(ctx context.Context, t ports.Target) error { return nil }
func (u *upstream) Close()                                          {}

type upStream struct {
	chunks []string
	cut    error
	n      int
}

func chunkJSON(content string) string {
	return `{"id":"chatcmpl-s","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"` + content + `"}}]}`
}

func (s *upStream) Next() (*domain.ChatChunk, error) {
	if s.n >= len(s.chunks) {
		if s.cut != nil {
			return nil, s.cut
		}
		return nil, io.EOF
	}
	c := s.chunks[s.n]
	s.n++
	return &domain.ChatChunk{ID: "chatcmpl-s", Choices: []domain.ChunkChoice{{Delta: domain.Delta{Content: &c}}}, Raw: []byte(chunkJSON(c))}, nil
}
func (s *upStream) Ready() bool  { return false }
func (s *upStream) Close() error { return nil }

// config is a fixed configuration: one provider with one key, model "chat"
// routed to it, and one client key.
type config struct {
	ports.ConfigLoader // nil: only LoadConfig is called (the feed never runs here)
}

func (config) LoadConfig(context.Context) (ports.Config, error) {
	h := sha256.Sum256([]byte(testToken))
	return ports.Config{
		Providers: []domain.Provider{{ID: 1, Name: "up", Kind: domain.KindOpenAI, Enabled: true}},
		Keys:      []domain.ProviderKey{{ID: 1, ProviderID: 1, Secret: "sk-up-1", Status: domain.KeyActive, Weight: 1, Version: 1}},
		Models: []domain.Model{{ID: 1, Name: "chat", Enabled: true, Routes: []domain.Route{
			{ID: 1, ModelID: 1, ProviderID: 1, UpstreamModel: "up-model", Weight: 1, Enabled: true}}},
			{ID: 2, Name: "embed", Enabled: true, Capabilities: []domain.Capability{domain.CapEmbeddings}, Routes: []domain.Route{
				{ID: 2, ModelID: 2, ProviderID: 1, UpstreamModel: "up-embed", Weight: 1, InputPrice: 1, Enabled: true}}}},
		ClientKeys: []domain.ClientKey{{ID: 7, Name: "app", Hash: h[:], Enabled: true}},
	}, nil
}

// logs collects the request log.
type logs struct {
	ports.RequestLogStore // nil: only InsertRequestLogs is called
	mu                    sync.Mutex
	rows                  []domain.RequestLog
}

func (l *logs) InsertRequestLogs(_ context.Context, e []domain.RequestLog) error {
	l.mu.Lock()
	l.rows = append(l.rows, e...)
	l.mu.Unlock()
	return nil
}

// row waits for the request log's entry of a request id.
func (l *logs) row(t *testing.T, id string) domain.RequestLog {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		l.mu.Lock()
		for _, r := range l.rows {
			if r.RequestID == id {
				l.mu.Unlock()
				return r
			}
		}
		l.mu.Unlock()
	}
	t.Fatalf("no request-log row for %q", id)
	return domain.RequestLog{}
}

type clientKeys struct{ ports.ClientKeyStore }

func (clientKeys) TouchClientKeys(context.Context, map[int64]time.Time) error { return nil }

type fixture struct {
	up   *upstream
	logs *logs
	srv  *httptest.Server
}

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	fx := &fixture{up: &upstream{started: make(chan struct{}, 1)}, logs: &logs{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw, err := gateway.New(gateway.Options{Loader: config{}, Keys: struct{ ports.KeyStore }{}, Logs: fx.logs, ClientKeys: clientKeys{},
		Providers: ports.ProviderFactoryFunc(func(domain.Provider) (ports.ProviderClient, error) { return fx.up, nil }),
		Metrics:   ports.NopMetrics{}, Logger: log, Clock: ports.SystemClock{}, StatusOf: StatusOf, LogFlushInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := gw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); gw.Close() })
	o.Gateway = gw
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 32 << 20
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 16
	}
	if o.OnShed == nil {
		o.OnShed = func() {}
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = time.Minute
	}
	if o.BodyTimeout == 0 {
		o.BodyTimeout = time.Minute
	}
	r := chi.NewRouter()
	registerOpenAI(r, NewAPI(r, "test"), o)
	fx.srv = httptest.NewServer(r)
	t.Cleanup(fx.srv.Close)
	return fx
}

func (fx *fixture) post(t *testing.T, token, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, fx.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, bodyOf(t, resp)
}

// bodyOf reads and closes resp's body.
func bodyOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const chatBody = `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`

// checkError checks a status and OpenAI's error envelope.
func checkError(t *testing.T, resp *http.Response, body string, status int, typ, code, param string) {
	t.Helper()
	checkEnvelope(t, resp, body, status, typ, code, param)
	if resp.Header.Get(headerRequestID) == "" {
		t.Fatal("no X-Request-Id")
	}
}

// checkEnvelope checks an error answer in OpenAI's envelope.
func checkEnvelope(t *testing.T, resp *http.Response, body string, status int, typ, code, param string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var env testkit.OpenAIError
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("not an error envelope: %s", body)
	}
	e := env.Error
	if e.Message == "" || e.Type != typ {
		t.Fatalf("envelope %s: want type %q", body, typ)
	}
	if (code == "") != (e.Code == nil) || (e.Code != nil && *e.Code != code) {
		t.Fatalf("envelope %s: want code %q", body, code)
	}
	if (param == "") != (e.Param == nil) || (e.Param != nil && *e.Param != param) {
		t.Fatalf("envelope %s: want param %q", body, param)
	}
}

func TestAuthFailures(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, Options{})
	resp, body := fx.post(t, "", chatBody)
	checkError(t, resp, body, 401, "invalid_request_error", "invalid_api_key", "")
	if !strings.Contains(body, "You didn't provide an API key") {
		t.Fatalf("body %s", body)
	}
	resp, body = fx.post(t, "sk-ar-wrong", chatBody)
	checkError(t, resp, body, 401, "invalid_request_error", "invalid_api_key", "")
	if !strings.Contains(body, "Incorrect API key provided.") {
		t.Fatalf("body %s", body)
	}
	// The key also goes in Api-Key; /v1/models needs it too.
	req, _ := http.NewRequest(http.MethodGet, fx.srv.URL+"/v1/models", nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	checkError(t, r, string(b), 401, "invalid_request_error", "invalid_api_key", "")
	req, _ = http.NewRequest(http.MethodGet, fx.srv.URL+"/v1/models", nil)
	req.Header.Set("Api-Key", testToken)
	r, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !strings.Contains(string(b), `"id":"chat"`) {
		t.Fatalf("models %d %s", r.StatusCode, b)
	}
}

func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, Options{MaxBodyBytes: 256})
	resp, body := fx.post(t, testToken, `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`)
	checkError(t, resp, body, 404, "invalid_request_error", "model_not_found", "model")
	if fx.logs.row(t, resp.Header.Get(headerRequestID)).Status != 404 {
		t.Fatal("request log status is not 404")
	}
	resp, body = fx.post(t, testToken, `{"model":`)
	checkError(t, resp, body, 400, "invalid_request_error", "", "")
	resp, body = fx.post(t, testToken, `{"model":"chat"}`)
	checkError(t, resp, body, 400, "invalid_request_error", "", "messages")
	if row := fx.logs.row(t, resp.Header.Get(headerRequestID)); row.Status != 400 || row.ClientKeyID != 7 {
		t.Fatalf("request log %+v", row)
	}
	resp, body = fx.post(t, testToken, `{"model":"chat","messages":[{"role":"user","content":"`+strings.Repeat("x", 300)+`"}]}`)
	checkError(t, resp, body, 413, "invalid_request_error", "request_too_large", "")
	if row := fx.logs.row(t, resp.Header.Get(headerRequestID)); row.Status != 413 {
		t.Fatalf("request log %+v", row)
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, Options{})
	resp, body := fx.post(t, testToken, chatBody)
	if resp.StatusCode != 200 || !strings.Contains(body, `"model":"up-model"`) || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp.Header.Get(headerProvider) != "up" || resp.Header.Get(headerAttempts) != "1" {
		t.Fatalf("headers %v", resp.Header)
	}
	row := fx.logs.row(t, resp.Header.Get(headerRequestID))
	if row.Status != 200 || row.Provider != "up" || row.PromptTokens != 3 || row.CompletionTokens != 1 || row.ClientKeyID != 7 {
		t.Fatalf("request log %+v", row)
	}
}

func TestUpstreamErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err       error
		status    int
		typ, code string
		retry     string
	}{
		{&domain.UpstreamError{Class: domain.ClassRetryable, Status: 503, Message: "overloaded"}, 503, "api_error", "upstream_unavailable", ""},
		{&domain.UpstreamError{Class: domain.ClassRetryable, Status: 500, Message: "boom"}, 502, "api_error", "upstream_error", ""},
		{&domain.UpstreamError{Class: domain.ClassRetryable, Timeout: true, Message: "slow"}, 504, "api_error", "upstream_timeout", ""},
		{&domain.UpstreamError{Class: domain.ClassRateLimited, Status: 429, RetryAfter: 1500 * time.Millisecond, Message: "slow down"}, 429, "rate_limit_error", "rate_limit_exceeded", "2"},
		{&domain.UpstreamError{Class: domain.ClassRequest, Status: 403, Type: "content_policy_violation", Message: "flagged"}, 400, "invalid_request_error", "content_policy_violation", ""},
	} {
		fx := newFixture(t, Options{})
		fx.up.err = c.err
		resp, body := fx.post(t, testToken, chatBody)
		checkError(t, resp, body, c.status, c.typ, c.code, "")
		if got := resp.Header.Get("Retry-After"); got != c.retry {
			t.Fatalf("%v: Retry-After %q, want %q", c.err, got, c.retry)
		}
		if row := fx.logs.row(t, resp.Header.Get(headerRequestID)); row.Status != c.status || row.ErrorClass == "" {
			t.Fatalf("%v: request log %+v", c.err, row)
		}
		// A stream that fails before its first chunk keeps the status too.
		resp, body = fx.post(t, testToken, `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		checkError(t, resp, body, c.status, c.typ, c.code, "")
	}
}

func TestStreamFraming(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, Options{})
	fx.up.chunks = []string{"Hel", "lo"}
	resp, body := fx.post(t, testToken, `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	want := "data: " + chunkJSON("Hel") + "\n\ndata: " + chunkJSON("lo") + "\n\ndata: [DONE]\n\n"
	if resp.StatusCode != 200 || body != want {
		t.Fatalf("%d %q\nwant %q", resp.StatusCode, body, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("headers %v", resp.Header)
	}
	if row := fx.logs.row(t, resp.Header.Get(headerRequestID)); row.Status != 200 || !row.Stream {
		t.Fatalf("request log %+v", row)
	}
}

func TestStreamCutEndsWithErrorEvent(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, Options{})
	fx.up.chunks = []string{"Hel"}
	fx.up.cutErr = &domain.UpstreamError{Class: domain.ClassRetryable, Message: "the upstream cut the stream"}
	resp, body := fx.post(t, testToken, `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || strings.Contains(body, "[DONE]") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	frames := strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n")
	if len(frames) != 2 || frames[0] != "data: "+chunkJSON("Hel") {
		t.Fatalf("frames %q", frames)
	}
	var env openAIError
	if err := json.Unmarshal([]byte(strings.TrimPrefix(frames[1], "data: ")), &env); err != nil || env.Error.Type != "api_error" ||
		env.Error.Code == nil || *env.Error.Code != "upstream_error" || !strings.Contains(env.Error.Message, "cut") {
		t.Fatalf("error frame %q", frames[1])
	}
	// The status line said 200; the log records how the stream ended.
	if row := fx.logs.row(t, resp.Header.Get(headerRequestID)); row.Status != 502 || !row.Stream {
		t.Fatalf("request log %+v", row)
	}
}

func TestShedding(t *testing.T) {
	t.Parallel()
	shed := make(chan struct{}, 1)
	fx := newFixture(t, Options{MaxInFlight: 1, OnShed: func() { shed <- struct{}{} }})
	fx.up.block = make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(fx.up.block) }) }
	t.Cleanup(release)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, body := fx.post(t, testToken, chatBody)
		if resp.StatusCode != 200 {
			t.Errorf("blocked request: %d %s", resp.StatusCode, body)
		}
	}()
	<-fx.up.started
	resp, body := fx.post(t, testToken, chatBody)
	// Shed before the pipeline: no request id is assigned.
	checkEnvelope(t, resp, body, 503, "api_error", "server_overloaded", "")
	if resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	<-shed
	release()
	<-done
}

func TestStatusOf(t *testing.T) {
	t.Parallel()
	up := func(c domain.ErrorClass, status int) error {
		return &domain.UpstreamError{Class: c, Status: status, Message: "x"}
	}
	for _, c := range []struct {
		err  error
		want int
	}{
		{up(domain.ClassCanceled, 0), 499},
		{up(domain.ClassRequest, 401), 400},
		{up(domain.ClassRequest, 403), 400},
		{up(domain.ClassRequest, 407), 400},
		{up(domain.ClassRequest, 413), 413},
		{up(domain.ClassRequest, 422), 422},
		{up(domain.ClassRequest, 0), 400},
		{up(domain.ClassRateLimited, 429), 429},
		{&domain.UpstreamError{Class: domain.ClassRetryable, Timeout: true}, 504},
		{up(domain.ClassRetryable, 503), 503},
		{up(domain.ClassRetryable, 529), 503},
		{up(domain.ClassRetryable, 500), 502},
		{up(domain.ClassAuth, 401), 502},
		{&domain.Error{Code: domain.CodeInvalid}, 400},
		{&domain.Error{Code: domain.CodeUnauthorized}, 401},
		{&domain.Error{Code: domain.CodeForbidden}, 403},
		{&domain.Error{Code: domain.CodeNotFound}, 404},
		{&domain.Error{Code: domain.CodeConflict}, 409},
		{&domain.Error{Code: domain.CodeRateLimited}, 429},
		{&domain.Error{Code: domain.CodeUnavailable}, 503},
		{&domain.Error{Code: domain.CodeTimeout}, 504},
		{&domain.Error{Code: domain.CodeUpstream}, 502},
		{io.ErrUnexpectedEOF, 500},
	} {
		if got := StatusOf(c.err); got != c.want {
			t.Errorf("StatusOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
