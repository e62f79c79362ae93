package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/airouter/airouter/cmd/mockllm/mock"
	"github.com/airouter/airouter/core/testkit"
)

// upstream is a fake provider: the mock LLM behind a switch that can make it
// fail, and that records the requests it saw.
type upstream struct {
	*httptest.Server
	failStatus atomic.Int32 // when not 0, every request gets this status
	requests   atomic.Int64
	active     atomic.Int64
	mu         sync.Mutex
	lastClose  time.Time
	bodies     [][]byte
	headers    []http.Header
}

func newUpstream(t *testing.T, cfg mock.Config) *upstream {
	t.Helper()
	u := &upstream{}
	h := mock.NewHandler(cfg)
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			u.requests.Add(1)
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			u.mu.Lock()
			u.bodies = append(u.bodies, b)
			u.headers = append(u.headers, r.Header.Clone())
			u.mu.Unlock()
		}
		if st := u.failStatus.Load(); st != 0 {
			w.Header().Set("Content-Type", "application/json")
			if st == 429 {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(int(st))
			_, _ = io.WriteString(w, `{"error":{"message":"injected failure","type":"server_error","param":null,"code":null}}`)
			return
		}
		u.active.Add(1)
		defer func() {
			u.active.Add(-1)
			u.mu.Lock()
			u.lastClose = time.Now()
			u.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) lastBody() []byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.bodies) == 0 {
		return nil
	}
	return u.bodies[len(u.bodies)-1]
}

func (u *upstream) lastHeader() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.headers) == 0 {
		return nil
	}
	return u.headers[len(u.headers)-1]
}

type openAIErr = testkit.OpenAIError

func decodeErr(t *testing.T, b []byte) openAIErr {
	t.Helper()
	var e openAIErr
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error envelope: %s (%v)", b, err)
	}
	return e
}

// startOneRoute starts the router with model m1 routed to a mock upstream
// (provider up1, upstream model mock-gpt); it returns the server, the
// upstream and the token of a client key "app".
func startOneRoute(t *testing.T) (*server, *upstream, string) {
	t.Helper()
	up := newUpstream(t, mock.Config{})
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "up1", "openai_compatible", up.URL+"/v1", nil)
	s.setupModel(t, "m1", "", nil)
	s.addRoute(t, "m1", "up1", "mock-gpt", nil)
	return s, up, s.clientKey(t, "app")
}

func TestE2EChatModelsAndErrors(t *testing.T) {
	t.Parallel()
	s, up, tok := startOneRoute(t)

	body := userMsg("m1", "hello")
	body["x_unknown_param"] = map[string]any{"kept": true}
	body["temperature"] = 0.2
	status, hdr, out := s.chat(t, tok, body, nil)
	if status != 200 {
		t.Fatalf("status %d: %s", status, out)
	}
	var resp struct {
		Object  string `json:"object"`
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			TotalTokens int `json:"total_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Object != "chat.completion" || len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" || resp.Usage.TotalTokens == 0 {
		t.Fatalf("unexpected completion: %s", out)
	}
	if !strings.HasPrefix(hdr.Get("X-Request-Id"), "req_") || hdr.Get("X-Airouter-Provider") != "up1" || hdr.Get("X-Airouter-Attempts") != "1" {
		t.Fatalf("headers: %v", hdr)
	}
	// Unknown fields pass through; the model is replaced by the upstream's.
	var sent map[string]any
	_ = json.Unmarshal(up.lastBody(), &sent)
	if sent["model"] != "mock-gpt" || sent["x_unknown_param"] == nil || sent["temperature"] != 0.2 {
		t.Fatalf("upstream received %s", up.lastBody())
	}
	if got := up.lastHeader().Get("Authorization"); got != "Bearer sk-test-up1-secret" {
		t.Fatalf("upstream auth header %q", got)
	}

	// Models.
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID     string `json:"id"`
			Object string `json:"object"`
		} `json:"data"`
	}
	if st := s.do(t, "GET", "/v1/models", tok, nil, &list); st != 200 || list.Object != "list" || len(list.Data) != 1 || list.Data[0].ID != "m1" || list.Data[0].Object != "model" {
		t.Fatalf("models: %d %+v", st, list)
	}
	var one map[string]any
	if st := s.do(t, "GET", "/v1/models/m1", tok, nil, &one); st != 200 || one["id"] != "m1" {
		t.Fatalf("model: %d %v", st, one)
	}

	// Errors use OpenAI's envelope with fitting statuses.
	status, _, out = s.chat(t, tok, userMsg("nope", "hi"), nil)
	if e := decodeErr(t, out); status != 404 || e.Error.Code == nil || *e.Error.Code != "model_not_found" {
		t.Fatalf("unknown model: %d %s", status, out)
	}
	status, _, out = s.chat(t, tok, map[string]any{"model": "m1"}, nil)
	if e := decodeErr(t, out); status != 400 || e.Error.Param == nil || *e.Error.Param != "messages" {
		t.Fatalf("missing messages: %d %s", status, out)
	}
	req, _ := http.NewRequest("POST", s.URL+"/v1/chat/completions", strings.NewReader("{not json"))
	req.Header.Set("Authorization", "Bearer "+tok)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if decodeErr(t, b2); r2.StatusCode != 400 {
		t.Fatalf("bad json: %d %s", r2.StatusCode, b2)
	}
	var nf openAIErr
	if st := s.do(t, "GET", "/v1/models/nope", tok, nil, &nf); st != 404 {
		t.Fatalf("unknown model object: %d", st)
	}

	// The request log is written asynchronously, in batches.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var logs struct {
			Data []struct {
				RequestID string `json:"request_id"`
				Status    int    `json:"status"`
				Provider  string `json:"provider"`
			} `json:"data"`
		}
		s.mustAdmin(t, 200, "GET", "/requests", nil, &logs)
		if len(logs.Data) >= 2 {
			statuses := map[int]bool{}
			for _, l := range logs.Data {
				statuses[l.Status] = true
			}
			if !statuses[200] || !statuses[404] {
				t.Fatalf("request log: %+v", logs.Data)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("request log has %d entries", len(logs.Data))
		}
		time.Sleep(100 * time.Millisecond)
	}
	var stats struct {
		Rows []struct {
			Model    string `json:"model"`
			Requests int64  `json:"requests"`
		} `json:"rows"`
	}
	s.mustAdmin(t, 200, "GET", "/stats?group_by=route", nil, &stats)
	if len(stats.Rows) == 0 {
		t.Fatal("no statistics")
	}
}

func TestE2EAuth(t *testing.T) {
	t.Parallel()
	s, _, tok := startOneRoute(t)

	for name, token := range map[string]string{"none": "", "wrong": "sk-ar-wrong", "admin token": s.AdminToken} {
		status, _, out := s.chat(t, token, userMsg("m1", "hi"), nil)
		if e := decodeErr(t, out); status != 401 || e.Error.Code == nil || *e.Error.Code != "invalid_api_key" {
			t.Errorf("%s: %d %s", name, status, out)
		}
	}
	// A client key never opens an admin route.
	var problem map[string]any
	if st := s.do(t, "GET", "/api/v1/providers", tok, nil, &problem); st != 401 || problem["status"] == nil {
		t.Fatalf("client key on admin API: %d %v", st, problem)
	}
	if st := s.do(t, "GET", "/api/v1/providers", "", nil, nil); st != 401 {
		t.Fatalf("no token on admin API: %d", st)
	}
	// Revoked keys stop working at once.
	var keys struct {
		Data []struct {
			ID     int64  `json:"id"`
			Prefix string `json:"prefix"`
		} `json:"data"`
	}
	s.mustAdmin(t, 200, "GET", "/client-keys", nil, &keys)
	if len(keys.Data) != 1 || !strings.HasPrefix(tok, keys.Data[0].Prefix) {
		t.Fatalf("client keys: %+v", keys)
	}
	if st, _, out := s.chat(t, tok, userMsg("m1", "hi"), nil); st != 200 {
		t.Fatalf("before revoke: %d %s", st, out)
	}
	s.mustAdmin(t, 200, "POST", "/client-keys/"+strconv.FormatInt(keys.Data[0].ID, 10)+"/revoke", nil, nil)
	if st, _, _ := s.chat(t, tok, userMsg("m1", "hi"), nil); st != 401 {
		t.Fatalf("after revoke: %d", st)
	}
}

// readSSE reads a stream's data payloads until [DONE] or EOF.
func readSSE(t *testing.T, r io.Reader) (frames []string, done bool) {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		data := strings.TrimPrefix(line, "data: ")
		if data == "[DONE]" {
			return frames, true
		}
		frames = append(frames, data)
	}
	return frames, false
}

func streamChat(t *testing.T, s *server, tok string, body map[string]any, hdr map[string]string) (*http.Response, error) {
	t.Helper()
	body["stream"] = true
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.URL+"/v1/chat/completions", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return http.DefaultClient.Do(req)
}

func TestE2EStreaming(t *testing.T) {
	t.Parallel()
	good := newUpstream(t, mock.Config{Tokens: 8, TPS: 400})
	bad := newUpstream(t, mock.Config{Tokens: 8, TPS: 400})
	bad.failStatus.Store(503)
	cut := newUpstream(t, mock.Config{Tokens: 8, TPS: 400, Cut: true})
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "good", "openai_compatible", good.URL+"/v1", nil)
	s.setupProvider(t, "bad", "openai_compatible", bad.URL+"/v1", nil)
	s.setupProvider(t, "cut", "openai_compatible", cut.URL+"/v1", nil)
	s.setupModel(t, "m", "fallback", nil)
	s.addRoute(t, "m", "bad", "mock-gpt", map[string]any{"priority": 0})
	s.addRoute(t, "m", "good", "mock-gpt", map[string]any{"priority": 1})
	s.setupModel(t, "mcut", "", nil)
	s.addRoute(t, "mcut", "cut", "mock-gpt", nil)
	tok := s.clientKey(t, "app")

	// Failover before the first byte: the 503 of "bad" is invisible.
	body := userMsg("m", "stream please")
	body["stream_options"] = map[string]any{"include_usage": true}
	resp, err := streamChat(t, s, tok, body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") ||
		resp.Header.Get("X-Airouter-Provider") != "good" || resp.Header.Get("X-Airouter-Attempts") != "2" {
		t.Fatalf("stream: %d %v", resp.StatusCode, resp.Header)
	}
	frames, done := readSSE(t, resp.Body)
	resp.Body.Close()
	if !done || len(frames) < 3 {
		t.Fatalf("frames %d done %v", len(frames), done)
	}
	var text strings.Builder
	var sawUsage bool
	for _, f := range frames {
		var ch struct {
			Object  string `json:"object"`
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(f), &ch); err != nil || ch.Object != "chat.completion.chunk" {
			t.Fatalf("bad frame %q: %v", f, err)
		}
		for _, c := range ch.Choices {
			text.WriteString(c.Delta.Content)
		}
		if ch.Usage != nil && len(ch.Choices) == 0 {
			sawUsage = true
		}
	}
	if text.Len() == 0 || !sawUsage {
		t.Fatalf("text %q usage %v", text.String(), sawUsage)
	}
	if bad.requests.Load() == 0 {
		t.Fatal("the first route was not tried")
	}

	// Without include_usage the router still asks upstream for usage but
	// does not forward the usage chunk.
	resp, err = streamChat(t, s, tok, userMsg("m", "no usage"), nil)
	if err != nil {
		t.Fatal(err)
	}
	frames, done = readSSE(t, resp.Body)
	resp.Body.Close()
	for _, f := range frames {
		if strings.Contains(f, `"choices":[]`) {
			t.Fatalf("usage chunk forwarded without include_usage: %s", f)
		}
	}
	if !done {
		t.Fatal("no [DONE]")
	}

	// A failure after the first byte ends the stream with an error event and
	// no [DONE].
	resp, err = streamChat(t, s, tok, userMsg("mcut", "cut me"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("cut stream status %d", resp.StatusCode)
	}
	frames, done = readSSE(t, resp.Body)
	resp.Body.Close()
	if done || len(frames) == 0 {
		t.Fatalf("cut stream: done=%v frames=%d", done, len(frames))
	}
	decodeErr(t, []byte(frames[len(frames)-1]))

	// Every attempt fails: the client gets the last upstream reason.
	bad2 := newUpstream(t, mock.Config{})
	bad2.failStatus.Store(503)
	s.setupProvider(t, "bad2", "openai_compatible", bad2.URL+"/v1", nil)
	s.setupModel(t, "mdown", "", nil)
	s.addRoute(t, "mdown", "bad2", "mock-gpt", nil)
	resp, err = streamChat(t, s, tok, userMsg("mdown", "x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if e := decodeErr(t, b); resp.StatusCode != 503 || !strings.Contains(e.Error.Message, "503") {
		t.Fatalf("all attempts failed: %d %s", resp.StatusCode, b)
	}
}

func TestE2ECancellationClosesUpstream(t *testing.T) {
	t.Parallel()
	slow := newUpstream(t, mock.Config{Tokens: 1000, TPS: 20})
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "slow", "openai_compatible", slow.URL+"/v1", nil)
	s.setupModel(t, "m", "", nil)
	s.addRoute(t, "m", "slow", "mock-gpt", nil)
	tok := s.clientKey(t, "app")

	ctx, cancel := context.WithCancel(context.Background())
	b, _ := json.Marshal(map[string]any{"model": "m", "stream": true, "messages": []any{map[string]any{"role": "user", "content": "long"}}})
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/chat/completions", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if slow.active.Load() != 1 {
		t.Fatalf("upstream active %d", slow.active.Load())
	}
	canceledAt := time.Now()
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(time.Second)
	for slow.active.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the upstream call was not canceled within a second of the client leaving")
		}
		time.Sleep(10 * time.Millisecond)
	}
	slow.mu.Lock()
	took := slow.lastClose.Sub(canceledAt)
	slow.mu.Unlock()
	t.Logf("upstream closed %v after the client left", took)
}

func TestE2EFailover(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		prepare func(u *upstream)
		headers map[string]string
		timeout map[string]any
	}{
		{name: "500", prepare: func(u *upstream) { u.failStatus.Store(500) }},
		{name: "429", prepare: func(u *upstream) { u.failStatus.Store(429) }},
		// A stall before the first byte is not failed over (it may be
		// processing): TestRegressionE2EFirstByteTimeoutNotResent.
		{name: "refused", prepare: func(u *upstream) { u.Close() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			first := newUpstream(t, mock.Config{})
			second := newUpstream(t, mock.Config{})
			if c.prepare != nil {
				c.prepare(first)
			}
			s := startServer(t, serverOpts{})
			body := map[string]any{"name": "first", "kind": "openai_compatible", "base_url": first.URL + "/v1"}
			if c.headers != nil {
				body["headers"] = c.headers
			}
			if c.timeout != nil {
				body["timeouts"] = c.timeout
			}
			s.mustAdmin(t, 201, "POST", "/providers", body, nil)
			s.setupProvider(t, "second", "openai_compatible", second.URL+"/v1", nil)
			s.setupModel(t, "m", "fallback", nil)
			s.addRoute(t, "m", "first", "mock-gpt", map[string]any{"priority": 0})
			s.addRoute(t, "m", "second", "mock-gpt", map[string]any{"priority": 1})
			tok := s.clientKey(t, "app")
			start := time.Now()
			status, hdr, out := s.chat(t, tok, userMsg("m", "hi"), nil)
			if status != 200 || hdr.Get("X-Airouter-Provider") != "second" || hdr.Get("X-Airouter-Attempts") != "2" {
				t.Fatalf("%d %v %s", status, hdr, out)
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("failover took %v", time.Since(start))
			}
			if first.requests.Load() == 0 && c.name != "refused" {
				t.Fatal("first route not tried")
			}
		})
	}
}

// TestRegressionE2EFirstByteTimeoutNotResent: an upstream that does not
// answer within first_byte_ms after the request was written used to be
// failed over to the next route (and retried), so one client request
// started several billed generations. It is answered 504 after one
// upstream request, saying the upstream may still be processing it.
func TestRegressionE2EFirstByteTimeoutNotResent(t *testing.T) {
	t.Parallel()
	first := newUpstream(t, mock.Config{})
	second := newUpstream(t, mock.Config{})
	s := startServer(t, serverOpts{})
	s.mustAdmin(t, 201, "POST", "/providers", map[string]any{"name": "first", "kind": "openai_compatible", "base_url": first.URL + "/v1",
		"headers": map[string]string{"X-Mock-Stall": "before-first-byte:3s"}, "timeouts": map[string]any{"first_byte_ms": 500}}, nil)
	s.setupProvider(t, "second", "openai_compatible", second.URL+"/v1", nil)
	s.setupModel(t, "m", "fallback", nil)
	s.addRoute(t, "m", "first", "mock-gpt", map[string]any{"priority": 0})
	s.addRoute(t, "m", "second", "mock-gpt", map[string]any{"priority": 1})
	tok := s.clientKey(t, "app")
	status, _, out := s.chat(t, tok, userMsg("m", "hi"), nil)
	if status != 504 || !strings.Contains(string(out), "may still be processing") || !strings.Contains(string(out), "after the request was sent") {
		t.Fatalf("%d %s", status, out)
	}
	if n, m := first.requests.Load(), second.requests.Load(); n != 1 || m != 0 {
		t.Fatalf("upstream requests: first %d, second %d", n, m)
	}
}

// countProviders sends n requests and counts the serving provider.
func countProviders(t *testing.T, s *server, tok, model string, n int, hdr map[string]string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		status, h, out := s.chat(t, tok, userMsg(model, "hi"), hdr)
		if status != 200 {
			t.Fatalf("request %d: %d %s", i, status, out)
		}
		counts[h.Get("X-Airouter-Provider")]++
	}
	return counts
}

func TestE2EStrategies(t *testing.T) {
	t.Parallel()
	fast := newUpstream(t, mock.Config{})
	// A wide gap, so that a scheduling hiccup on a loaded machine does not make
	// the fast route look slower (peak-EWMA keeps a bad sample for a while).
	slow := newUpstream(t, mock.Config{Latency: 100 * time.Millisecond})
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "fast", "openai_compatible", fast.URL+"/v1", nil)
	s.setupProvider(t, "slow", "openai_compatible", slow.URL+"/v1", nil)
	tok := s.clientKey(t, "app")
	model := func(name, strategy string, cfg map[string]any, fastExtra, slowExtra map[string]any) {
		s.setupModel(t, name, strategy, cfg)
		s.addRoute(t, name, "fast", "mock-gpt", fastExtra)
		s.addRoute(t, name, "slow", "mock-gpt", slowExtra)
	}

	model("wrr", "weighted_round_robin", nil, map[string]any{"weight": 3}, map[string]any{"weight": 1})
	if c := countProviders(t, s, tok, "wrr", 40, nil); c["fast"] != 30 || c["slow"] != 10 {
		t.Errorf("weighted_round_robin 3:1 over 40: %v", c)
	}
	model("fb", "fallback", nil, map[string]any{"priority": 5}, map[string]any{"priority": 1})
	if c := countProviders(t, s, tok, "fb", 10, nil); c["slow"] != 10 {
		t.Errorf("fallback: %v", c)
	}
	model("sp", "specified_provider", nil, nil, nil)
	if c := countProviders(t, s, tok, "sp", 10, map[string]string{"X-Provider": "slow"}); c["slow"] != 10 {
		t.Errorf("specified_provider: %v", c)
	}
	if st, _, out := s.chat(t, tok, userMsg("sp", "hi"), nil); st != 400 {
		t.Errorf("specified_provider without a provider: %d %s", st, out)
	}
	bodyProv := userMsg("sp", "hi")
	bodyProv["provider"] = "fast"
	if st, h, out := s.chat(t, tok, bodyProv, nil); st != 200 || h.Get("X-Airouter-Provider") != "fast" {
		t.Errorf("specified_provider via body: %d %s", st, out)
	}
	model("cost", "cost_optimized", nil, map[string]any{"input_price": 5, "output_price": 15}, map[string]any{"input_price": 0.1, "output_price": 0.3})
	if c := countProviders(t, s, tok, "cost", 10, nil); c["slow"] != 10 {
		t.Errorf("cost_optimized: %v", c)
	}
	model("rt", "response_time", map[string]any{"explore": 0.05}, nil, nil)
	countProviders(t, s, tok, "rt", 10, nil) // measure both
	if c := countProviders(t, s, tok, "rt", 40, nil); c["fast"] < 28 {
		t.Errorf("response_time: %v", c)
	}
	model("auto", "auto", nil, nil, nil)
	countProviders(t, s, tok, "auto", 10, nil)
	if c := countProviders(t, s, tok, "auto", 40, nil); c["fast"] < 26 {
		t.Errorf("auto: %v", c)
	}
	model("hy", "hybrid", map[string]any{"weights": map[string]any{"latency": 1, "success": 0, "cost": 0, "load": 0}}, nil, nil)
	countProviders(t, s, tok, "hy", 10, nil)
	if c := countProviders(t, s, tok, "hy", 40, nil); c["fast"] < 26 {
		var live json.RawMessage
		s.mustAdmin(t, 200, "GET", "/stats/live", nil, &live)
		var m json.RawMessage
		s.mustAdmin(t, 200, "GET", "/models/hy", nil, &m)
		t.Errorf("hybrid: %v\n%s\n%s", c, live, m)
	}
	model("lc", "least_connections", nil, map[string]any{"weight": 1}, map[string]any{"weight": 2})
	// Sequential requests leave nothing in flight: ties go to the heavier route.
	if c := countProviders(t, s, tok, "lc", 10, nil); c["slow"] != 10 {
		t.Errorf("least_connections: %v", c)
	}
	// A bad strategy config is refused with the field named.
	var problem struct {
		Detail string `json:"detail"`
		Errors []struct {
			Location string `json:"location"`
		} `json:"errors"`
	}
	if st := s.admin(t, "POST", "/models", map[string]any{"name": "bad", "strategy": "hybrid", "strategy_config": map[string]any{"weights": map[string]any{"latency": -1}}}, &problem); st != 422 || !strings.Contains(problem.Detail, "weights.latency") {
		t.Errorf("bad strategy config: %d %+v", st, problem)
	}
}

func TestE2EConfigChangesAcrossReplicas(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, mock.Config{})
	db := freshDatabase(t)
	s1, s2 := startReplicas(t, serverOpts{dbURL: db})
	tok := s1.clientKey(t, "app")
	s1.setupProvider(t, "up", "openai_compatible", up.URL+"/v1", nil)
	s1.setupModel(t, "m", "", nil)
	start := time.Now()
	s1.addRoute(t, "m", "up", "mock-gpt", nil)
	// This replica at once, the other within a second.
	if st, _, out := s1.chat(t, tok, userMsg("m", "hi"), nil); st != 200 {
		t.Fatalf("s1: %d %s", st, out)
	}
	waitFor(t, time.Second+time.Since(start), func() bool {
		st, _, _ := s2.chat(t, tok, userMsg("m", "hi"), nil)
		return st == 200
	}, "the second replica did not see the new model within a second")
	s1.mustAdmin(t, 200, "PATCH", "/models/m", map[string]any{"enabled": false}, nil)
	start = time.Now()
	waitFor(t, time.Second, func() bool {
		st, _, _ := s2.chat(t, tok, userMsg("m", "hi"), nil)
		return st == 404
	}, "the second replica still serves a disabled model")
	t.Logf("disable visible on the other replica after %v", time.Since(start))
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestE2EGracefulShutdown: SIGTERM (the context given to run) drains an open
// stream before run returns.
func TestE2EGracefulShutdown(t *testing.T) {
	t.Parallel()
	slow := newUpstream(t, mock.Config{Tokens: 20, TPS: 40}) // ~0.5 s
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "slow", "openai_compatible", slow.URL+"/v1", nil)
	s.setupModel(t, "m", "", nil)
	s.addRoute(t, "m", "slow", "mock-gpt", nil)
	tok := s.clientKey(t, "app")
	resp, err := streamChat(t, s, tok, userMsg("m", "drain me"), nil)
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { s.Stop(t); close(stopped) }()
	frames, done := readSSE(t, resp.Body)
	resp.Body.Close()
	if !done || len(frames) < 20 {
		t.Fatalf("stream cut by shutdown: %d frames, done %v", len(frames), done)
	}
	<-stopped
	if _, err := http.Get(s.URL + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

// TestRegressionE2ECoolingKeyNotCalledAgain: with one key, a 429 with
// Retry-After: 30 used to be followed by a second call to the same cooling
// key. Now the 429 is passed on after one upstream call, and while the key
// cools down the router answers 429 with Retry-After itself.
func TestRegressionE2ECoolingKeyNotCalledAgain(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(429)
		_, _ = io.WriteString(w, `{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
	}))
	t.Cleanup(up.Close)
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "p", "openai", up.URL+"/v1", nil)
	s.setupModel(t, "m", "auto", nil)
	s.addRoute(t, "m", "p", "gpt-4o", nil)
	tok := s.clientKey(t, "app")
	for i := range 2 {
		status, hdr, out := s.chat(t, tok, userMsg("m", "hi"), nil)
		ra, _ := strconv.Atoi(hdr.Get("Retry-After"))
		if status != 429 || ra < 28 || ra > 30 || !strings.Contains(string(out), `"rate_limit_error"`) {
			t.Fatalf("request %d: %d Retry-After %q %s", i, status, hdr.Get("Retry-After"), out)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d upstream calls, want 1", n)
	}
}

// metricValue reads one sample of /metrics (0 when absent).
func metricValue(t *testing.T, s *server, sample string) float64 {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// TestE2EIncrementalConfig: after start-up, admin writes and health checks
// are applied by kind and id on every replica — never by a full reload —
// and the admin's own replica installs its change once (the feed's echo
// finds nothing new).
func TestE2EIncrementalConfig(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, mock.Config{})
	db := freshDatabase(t)
	s1, s2 := startReplicas(t, serverOpts{dbURL: db})
	const full = `airouter_config_applies_total{scope="full"}`
	// Start-up: the first load and the listener's first resync.
	waitFor(t, 5*time.Second, func() bool { return metricValue(t, s2, full) >= 2 && metricValue(t, s1, full) >= 2 }, "no start-up reloads")
	full1, full2 := metricValue(t, s1, full), metricValue(t, s2, full)

	tok := s1.clientKey(t, "app")
	p := s1.setupProvider(t, "up", "openai_compatible", up.URL+"/v1", nil)
	s1.setupModel(t, "m", "", nil)
	s1.addRoute(t, "m", "up", "mock-gpt", nil)
	waitFor(t, 2*time.Second, func() bool {
		st, _, _ := s2.chat(t, tok, userMsg("m", "hi"), nil)
		return st == 200
	}, "the second replica did not see the new model")

	// A health write reaches the router of every replica without a load.
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	const health = `airouter_config_applies_total{scope="health"}`
	h2 := metricValue(t, s2, health)
	if _, err := conn.Exec(t.Context(), `INSERT INTO provider_health (provider_id, status, checked_at) VALUES ($1, 'unhealthy', now())`, p.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, func() bool { return metricValue(t, s2, health) > h2 }, "the health change did not reach the second replica")
	waitFor(t, 2*time.Second, func() bool {
		var list struct{ Data []any }
		s2.do(t, "GET", "/v1/models", tok, nil, &list)
		return len(list.Data) == 0
	}, "an unhealthy provider's model is still listed")

	if f := metricValue(t, s1, full); f != full1 {
		t.Errorf("replica 1 reloaded everything %v times after start-up", f-full1)
	}
	if f := metricValue(t, s2, full); f != full2 {
		t.Errorf("replica 2 reloaded everything %v times after start-up", f-full2)
	}
	if metricValue(t, s1, `airouter_config_applies_total{scope="unchanged"}`) == 0 {
		t.Errorf("the admin's replica installed the feed's echo of its own writes")
	}
	if metricValue(t, s2, `airouter_config_applies_total{scope="provider"}`) == 0 || metricValue(t, s2, `airouter_config_applies_total{scope="model"}`) == 0 {
		t.Errorf("replica 2 did not apply the provider and model changes by kind")
	}
}

// startTwoKinds starts a server with model "gpt" on an OpenAI-compatible
// mock and model "claude" on an Anthropic mock (12 tokens, tool calls when
// asked, priced 1 and 2 per million), for the front doors' SDK tests.
func startTwoKinds(t *testing.T) (s *server, oa, an *upstream) {
	t.Helper()
	oa = newUpstream(t, mock.Config{Tokens: 12, ToolCall: mock.ToolCallAuto})
	an = newUpstream(t, mock.Config{Tokens: 12, ToolCall: mock.ToolCallAuto})
	s = startServer(t, serverOpts{})
	s.setupProvider(t, "oa", "openai_compatible", oa.URL+"/v1", nil)
	s.setupProvider(t, "an", "anthropic", an.URL, nil)
	s.setupModel(t, "gpt", "", nil)
	s.addRoute(t, "gpt", "oa", "mock-gpt", map[string]any{"input_price": 1, "output_price": 2})
	s.setupModel(t, "claude", "", nil)
	s.addRoute(t, "claude", "an", "mock-claude", map[string]any{"input_price": 1, "output_price": 2})
	return s, oa, an
}
