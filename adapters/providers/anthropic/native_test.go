package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airouter/airouter/adapters/providers/providertest"
	"github.com/airouter/airouter/adapters/providers/sse"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

const nativeKey = providertest.TestKey

var nativeTarget = ports.Target{Model: "claude-sonnet-4-5", Key: nativeKey}

// seen is a request the fake Messages API received.
type seen struct {
	path   string
	header http.Header
	body   []byte
}

// fakeMessages is an httptest server standing in for the Messages API: it
// records every request and answers with reply.
type fakeMessages struct {
	t    *testing.T
	url  string
	mu   sync.Mutex
	reqs []seen
}

func newFakeMessages(t *testing.T, reply func(w http.ResponseWriter, r *http.Request)) *fakeMessages {
	t.Helper()
	f := &fakeMessages{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, seen{path: r.URL.Path, header: r.Header.Clone(), body: b})
		f.mu.Unlock()
		reply(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fakeMessages) last() seen {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		f.t.Fatal("the upstream received no request")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeMessages) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func (f *fakeMessages) client(t *testing.T, headers map[string]string, to domain.Timeouts) *Client {
	t.Helper()
	c, err := New(domain.Provider{Name: "a", Kind: domain.KindAnthropic, BaseURL: f.url, Headers: headers, Timeouts: to})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func answerJSON(status int, body string, header ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req_011CV")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// answerStream sends the events in one write (flushed), then ends the body.
func answerStream(events ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		io.WriteString(w, strings.Join(events, ""))
		w.(http.Flusher).Flush()
	}
}

// A message as the Messages API answers it (docs.claude.com, "Messages"),
// with every usage member.
const messageBody = `{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",` +
	`"content":[{"type":"thinking","thinking":"Simple.","signature":"EqQBCgIYAhIM"},{"type":"text","text":"Hello!"}],` +
	`"stop_reason":"end_turn","stop_sequence":null,` +
	`"usage":{"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"output_tokens":7,"service_tier":"standard"}}`

// clientBody has members the router does not know, odd spacing, thinking,
// tools and cache_control: all must pass byte for byte.
const clientBody = `{ "model" : "my-alias", "provider":"anthropic",  "max_tokens": 1024,
  "thinking": {"type": "enabled", "budget_tokens": 2000},
  "system": [{"type":"text","text":"Be terse.","cache_control":{"type":"ephemeral","ttl":"1h"}}],
  "tools": [{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}}},"cache_control":{"type":"ephemeral"}}],
  "x_future_field": [1, 2.50, {"a": null, "b": "\u00e9"}],
  "messages": [{"role":"user","content":[{"type":"text","text":"Weather in SF?"}]}] }`

func TestNativeCallPatchesOnlyTopLevelModel(t *testing.T) {
	t.Parallel()
	f := newFakeMessages(t, answerJSON(200, messageBody))
	c := f.client(t, nil, providertest.NormalTimeouts)
	resp, err := c.Call(context.Background(), nativeTarget, &ports.NativeRequest{Op: ports.OpMessages, Body: []byte(clientBody)})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(clientBody, `"model" : "my-alias", "provider":"anthropic",  `, `"model":"claude-sonnet-4-5", `, 1)
	got := f.last()
	if string(got.body) != want {
		t.Fatalf("upstream body\n%s\nwant\n%s", got.body, want)
	}
	if got.path != "/v1/messages" {
		t.Errorf("path %s", got.path)
	}
	if string(resp.Body) != messageBody || resp.ContentType != "application/json" {
		t.Errorf("response %q %s", resp.Body, resp.ContentType)
	}
	wantUsage := &domain.Usage{PromptTokens: 60, CompletionTokens: 7, TotalTokens: 67, CachedTokens: 30,
		PromptTokensDetails: json.RawMessage(`{"cached_tokens":30}`)}
	if !reflect.DeepEqual(resp.Usage, wantUsage) {
		t.Errorf("usage %+v, want %+v", resp.Usage, wantUsage)
	}
	// The chat translation reads the same usage the same way.
	var r response
	if err := json.Unmarshal([]byte(messageBody), &r); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Usage.openai(), resp.Usage) {
		t.Errorf("native usage %+v differs from the chat path's %+v", resp.Usage, r.Usage.openai())
	}
}

func TestNativeMaxTokens(t *testing.T) {
	t.Parallel()
	f := newFakeMessages(t, answerJSON(200, messageBody))
	c := f.client(t, nil, providertest.NormalTimeouts)
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	cases := []struct {
		body string
		tgt  ports.Target
		want string
	}{
		{`{"model":"m",` + msgs + `}`, ports.Target{Model: "c", CapMaxTokens: 100, DefaultMaxTokens: 50},
			`{"model":"c",` + msgs + `,"max_tokens":100}`},
		{`{"model":"m",` + msgs + `}`, ports.Target{Model: "c", DefaultMaxTokens: 50},
			`{"model":"c",` + msgs + `,"max_tokens":50}`},
		{`{"model":"m",` + msgs + `}`, ports.Target{Model: "c"},
			`{"model":"c",` + msgs + `,"max_tokens":4096}`},
		{`{"model":"m","max_tokens":null,` + msgs + `}`, ports.Target{Model: "c", DefaultMaxTokens: 50},
			`{"model":"c","max_tokens":50,` + msgs + `}`},
		// Larger than the cap: left for the front door, which decides before the call.
		{`{"model":"m","max_tokens":5000,` + msgs + `}`, ports.Target{Model: "c", CapMaxTokens: 100},
			`{"model":"c","max_tokens":5000,` + msgs + `}`},
		// A non-streaming call of a body that asked to stream does not stream.
		{`{"model":"m","max_tokens":10,"stream":true,` + msgs + `}`, ports.Target{Model: "c"},
			`{"model":"c","max_tokens":10,"stream":false,` + msgs + `}`},
		// No model at all: added.
		{`{` + msgs + `,"max_tokens":1}`, ports.Target{Model: "c"},
			`{` + msgs + `,"max_tokens":1,"model":"c"}`},
	}
	for _, cs := range cases {
		if _, err := c.Call(context.Background(), cs.tgt, &ports.NativeRequest{Op: ports.OpMessages, Body: []byte(cs.body)}); err != nil {
			t.Fatalf("%s: %v", cs.body, err)
		}
		if got := f.last().body; string(got) != cs.want {
			t.Errorf("%s:\n got %s\nwant %s", cs.body, got, cs.want)
		}
	}
}

func TestNativeCountTokens(t *testing.T) {
	t.Parallel()
	f := newFakeMessages(t, answerJSON(200, `{"input_tokens":2095}`))
	c := f.client(t, nil, providertest.NormalTimeouts)
	body := `{"model":"my-alias","provider":"x","system":"Be terse.","messages":[{"role":"user","content":"Hello"}],"thinking":{"type":"enabled","budget_tokens":1024}}`
	resp, err := c.Call(context.Background(), ports.Target{Model: "claude-opus-4-1", Key: nativeKey, CapMaxTokens: 100}, &ports.NativeRequest{Op: ports.OpCountTokens, Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	got := f.last()
	if got.path != "/v1/messages/count_tokens" {
		t.Errorf("path %s", got.path)
	}
	want := `{"model":"claude-opus-4-1","system":"Be terse.","messages":[{"role":"user","content":"Hello"}],"thinking":{"type":"enabled","budget_tokens":1024}}`
	if string(got.body) != want {
		t.Errorf("body %s\nwant %s", got.body, want)
	}
	if string(resp.Body) != `{"input_tokens":2095}` || resp.Usage != nil {
		t.Errorf("response %s usage %+v", resp.Body, resp.Usage)
	}
	if _, err := c.CallStream(context.Background(), nativeTarget, &ports.NativeRequest{Op: ports.OpCountTokens, Body: []byte(body)}); !isInvalid(err) {
		t.Errorf("streaming count_tokens: %v", err)
	}
}

func isInvalid(err error) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Code == domain.CodeInvalid
}

func TestNativeServes(t *testing.T) {
	t.Parallel()
	f := newFakeMessages(t, answerJSON(200, messageBody))
	c := f.client(t, nil, providertest.NormalTimeouts)
	for _, op := range []ports.Operation{ports.OpMessages, ports.OpCountTokens} {
		if !c.Serves(op) {
			t.Errorf("does not serve %s", op)
		}
	}
	for _, op := range []ports.Operation{ports.OpEmbeddings, ports.OpImages, ports.OpResponses, "chat"} {
		if c.Serves(op) {
			t.Errorf("serves %s", op)
		}
		if _, err := c.Call(context.Background(), nativeTarget, &ports.NativeRequest{Op: op, Body: []byte(`{}`)}); !isInvalid(err) {
			t.Errorf("Call %s: %v", op, err)
		}
		if _, err := c.CallStream(context.Background(), nativeTarget, &ports.NativeRequest{Op: op, Body: []byte(`{}`)}); !isInvalid(err) {
			t.Errorf("CallStream %s: %v", op, err)
		}
	}
	for _, body := range []string{``, `[1]`, `{"model":`, `{} x`} {
		if _, err := c.Call(context.Background(), nativeTarget, &ports.NativeRequest{Op: ports.OpMessages, Body: []byte(body)}); !isInvalid(err) {
			t.Errorf("body %q: %v", body, err)
		}
	}
	if n := f.count(); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}

func TestNativeHeaders(t *testing.T) {
	t.Parallel()
	f := newFakeMessages(t, answerJSON(200, messageBody))
	plain := f.client(t, nil, providertest.NormalTimeouts)
	configured := f.client(t, map[string]string{"anthropic-beta": "context-1m-2025-08-07", "anthropic-version": "2024-01-01"}, providertest.NormalTimeouts)
	body := []byte(`{"model":"m","max_tokens":5,"messages":[]}`)
	beta := "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"
	cases := []struct {
		c                  *Client
		beta               string
		wantBeta, wantVers string
	}{
		{plain, beta, beta, DefaultVersion},
		{plain, "", "", DefaultVersion},
		{configured, beta, "context-1m-2025-08-07," + beta, "2024-01-01"},
		{configured, "", "context-1m-2025-08-07", "2024-01-01"},
	}
	for i, cs := range cases {
		if _, err := cs.c.Call(context.Background(), nativeTarget, &ports.NativeRequest{Op: ports.OpMessages, Body: body, Beta: cs.beta}); err != nil {
			t.Fatal(err)
		}
		h := f.last().header
		if got := h.Values("Anthropic-Beta"); strings.Join(got, "|") != cs.wantBeta {
			t.Errorf("%d: anthropic-beta %q, want %q", i, got, cs.wantBeta)
		}
		if h.Get("Anthropic-Version") != cs.wantVers || h.Get("X-Api-Key") != nativeKey || h.Get("Authorization") != "" {
			t.Errorf("%d: auth headers %v", i, h)
		}
		if h.Get("Content-Type") != "application/json" || h.Get("Accept") != "application/json" {
			t.Errorf("%d: content headers %v", i, h)
		}
	}
	n := f.count()
	if _, err := plain.Call(context.Background(), nativeTarget, &ports.NativeRequest{Op: ports.OpMessages, Body: body, Beta: "a\r\nX-Evil: 1"}); !isInvalid(err) {
		t.Errorf("header injection: %v", err)
	}
	if f.count() != n {
		t.Error("a request with an invalid beta header was sent")
	}
}

// anthropicError is an error answer in the Messages API's envelope
// (docs.claude.com, "Errors").
func anthropicError(typ, msg string) string {
	return `{"type":"error","error":{"type":"` + typ + `","message":"` + msg + `"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}`
}

func TestNativeErrorClasses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status     int
		typ, msg   string
		header     []string
		want       domain.ErrorClass
		retryAfter time.Duration
	}{
		{429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", []string{"Retry-After", "7"}, domain.ClassRateLimited, 7 * time.Second},
		{529, "overloaded_error", "Overloaded", nil, domain.ClassRetryable, 0},
		{401, "authentication_error", "invalid x-api-key", nil, domain.ClassAuth, 0},
		{400, "invalid_request_error", "max_tokens: Field required", nil, domain.ClassRequest, 0},
		{500, "api_error", "Internal server error", nil, domain.ClassRetryable, 0},
	}
	for _, cs := range cases {
		f := newFakeMessages(t, answerJSON(cs.status, anthropicError(cs.typ, cs.msg), cs.header...))
		c := f.client(t, nil, providertest.NormalTimeouts)
		req := &ports.NativeRequest{Op: ports.OpMessages, Body: []byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`)}
		_, err1 := c.Call(context.Background(), nativeTarget, req)
		_, err2 := c.CallStream(context.Background(), nativeTarget, req)
		for i, err := range []error{err1, err2} {
			var ue *domain.UpstreamError
			if !errors.As(err, &ue) || ue.Class != cs.want || ue.Status != cs.status || ue.Type != cs.typ || ue.Message != cs.msg || ue.RetryAfter != cs.retryAfter {
				t.Errorf("%d %s (call %d): got %#v, want class %s", cs.status, cs.typ, i, err, cs.want)
			}
		}
	}
}

func TestNativeInvalidAnswer(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`<html>ok</html>`, anthropicError("api_error", "odd"), `{"id":`} {
		f := newFakeMessages(t, answerJSON(200, body))
		c := f.client(t, nil, providertest.NormalTimeouts)
		_, err := c.Call(context.Background(), nativeTarget, &ports.NativeRequest{Op: ports.OpMessages, Body: []byte(`{"max_tokens":1}`)})
		var ue *domain.UpstreamError
		if !errors.As(err, &ue) || ue.Class != domain.ClassAmbiguous {
			t.Errorf("%s: got %#v", body, err)
		}
	}
}

func sseEvent(name, data string) string { return "event: " + name + "\ndata: " + data + "\n\n" }

// A streamed message with thinking, text and a tool call, as the Messages
// API sends it (docs.claude.com, "Streaming Messages"), with a ping.
var toolStream = []string{
	sseEvent("message_start", `{"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":2},"content":[],"stop_reason":null}}`),
	sseEvent("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`),
	sseEvent("ping", `{"type": "ping"}`),
	sseEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The user wants the weather.\n"}}`),
	sseEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}`),
	sseEvent("content_block_stop", `{"type":"content_block_stop","index":0}`),
	sseEvent("content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}`),
	sseEvent("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Okay, let me check."}}`),
	sseEvent("content_block_stop", `{"type":"content_block_stop","index":1}`),
	sseEvent("content_block_start", `{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}`),
	sseEvent("content_block_delta", `{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}`),
	sseEvent("content_block_delta", `{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"location\": \"San Fra"}}`),
	sseEvent("content_block_delta", `{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ncisco, CA\"}"}}`),
	sseEvent("content_block_stop", `{"type":"content_block_stop","index":2}`),
	sseEvent("message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}`),
	sseEvent("message_stop", `{"type":"message_stop"}`),
}

// parseSSE splits sseEvent strings back into names and data.
func parseSSE(ev string) (name, data string) {
	lines := strings.Split(strings.TrimSuffix(ev, "\n\n"), "\n")
	return strings.TrimPrefix(lines[0], "event: "), strings.TrimPrefix(lines[1], "data: ")
}

func TestNativeStreamToolUseAndThinking(t *testing.T) {
	t.Parallel()
	f := newFakeMessages(t, answerStream(toolStream...))
	c := f.client(t, nil, providertest.NormalTimeouts)
	st, err := c.CallStream(context.Background(), nativeTarget, &ports.NativeRequest{Op: ports.OpMessages, Body: []byte(clientBody), Beta: "interleaved-thinking-2025-05-14"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := f.last()
	want := strings.Replace(clientBody, `"model" : "my-alias", "provider":"anthropic",  `, `"model":"claude-sonnet-4-5", `, 1)
	want = strings.TrimSuffix(want, "] }") + `],"stream":true }`
	if string(got.body) != want {
		t.Errorf("upstream body\n%s\nwant\n%s", got.body, want)
	}
	if got.header.Get("Accept") != "text/event-stream" || got.header.Get("Anthropic-Beta") != "interleaved-thinking-2025-05-14" {
		t.Errorf("headers %v", got.header)
	}
	wantUsage := &domain.Usage{PromptTokens: 572, CompletionTokens: 89, TotalTokens: 661, CachedTokens: 100,
		PromptTokensDetails: json.RawMessage(`{"cached_tokens":100}`)}
	for i, sent := range toolStream {
		name, data := parseSSE(sent)
		ev, err := st.Next()
		if err != nil {
			t.Fatalf("event %d (%s): %v", i, name, err)
		}
		if ev.Name != name || string(ev.Data) != data {
			t.Errorf("event %d: got %s %s, want %s %s", i, ev.Name, ev.Data, name, data)
		}
		if ev.Content != (name == "content_block_delta") {
			t.Errorf("event %d (%s): Content %v", i, name, ev.Content)
		}
		switch {
		case name == "message_delta":
			if !reflect.DeepEqual(ev.Usage, wantUsage) {
				t.Errorf("usage %+v, want %+v", ev.Usage, wantUsage)
			}
		case ev.Usage != nil:
			t.Errorf("event %d (%s) has usage %+v", i, name, ev.Usage)
		}
		if i == 0 && !st.Ready() {
			t.Error("not Ready with the rest of the stream buffered")
		}
	}
	if !st.Ready() {
		t.Error("not Ready after message_stop")
	}
	for range 2 {
		if ev, err := st.Next(); err != io.EOF {
			t.Fatalf("after message_stop: %v %v", ev, err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestNativeStreamUsageMerge: message_delta's counts are cumulative, and a
// later one may update the input counts (server tools); the last usage set
// is the total.
func TestNativeStreamUsageMerge(t *testing.T) {
	t.Parallel()
	f := newFakeMessages(t, answerStream(
		sseEvent("message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":7,"output_tokens":1}}}`),
		sseEvent("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
		sseEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`),
		sseEvent("content_block_stop", `{"type":"content_block_stop","index":0}`),
		sseEvent("message_delta", `{"type":"message_delta","delta":{"stop_reason":"pause_turn","stop_sequence":null},"usage":{"output_tokens":15}}`),
		sseEvent("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":410,"cache_read_input_tokens":50,"output_tokens":31,"server_tool_use":{"web_search_requests":1}}}`),
		sseEvent("message_stop", `{"type":"message_stop"}`),
	))
	c := f.client(t, nil, providertest.NormalTimeouts)
	st, err := c.CallStream(context.Background(), nativeTarget, &ports.NativeRequest{Op: ports.OpMessages, Body: []byte(`{"max_tokens":50,"messages":[]}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var usages []domain.Usage
	for {
		ev, err := st.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Usage != nil {
			usages = append(usages, *ev.Usage)
		}
	}
	want := []domain.Usage{
		{PromptTokens: 32, CompletionTokens: 15, TotalTokens: 47},
		{PromptTokens: 467, CompletionTokens: 31, TotalTokens: 498, CachedTokens: 50, PromptTokensDetails: json.RawMessage(`{"cached_tokens":50}`)},
	}
	if !reflect.DeepEqual(usages, want) {
		t.Errorf("usages %+v\nwant %+v", usages, want)
	}
}

// drain reads a stream to its end and returns the events' names and the
// error that ended it.
func drain(st ports.NativeStream) ([]string, error) {
	var names []string
	for {
		ev, err := st.Next()
		if err != nil {
			return names, err
		}
		names = append(names, ev.Name)
	}
}

func TestNativeStreamCutShort(t *testing.T) {
	t.Parallel()
	cuts := map[string][]string{
		"clean end before message_stop": toolStream[:8],
		"end inside an event":           append(append([]string(nil), toolStream[:8]...), "event: content_block_delta\ndata: {\"type\":\"content_"),
		"after message_delta":           toolStream[:len(toolStream)-1],
	}
	for what, events := range cuts {
		f := newFakeMessages(t, answerStream(events...))
		c := f.client(t, nil, providertest.NormalTimeouts)
		st, err := c.CallStream(context.Background(), nativeTarget, &ports.NativeRequest{Op: ports.OpMessages, Body: []byte(`{"max_tokens":5}`)})
		if err != nil {
			t.Fatal(err)
		}
		names, err := drain(st)
		var ue *domain.UpstreamError
		if !errors.As(err, &ue) || ue.Class != domain.ClassAmbiguous || !strings.Contains(ue.Message, "ended before its final event") {
			t.Errorf("%s: got %#v after %v", what, err, names)
		}
		if len(names) != 8 && len(names) != len(toolStream)-1 {
			t.Errorf("%s: %d events", what, len(names))
		}
		if _, again := st.Next(); again != err {
			t.Errorf("%s: Next after the error: %v", what, again)
		}
		st.Close()
	}
}

func TestNativeStreamErrorEvent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		data       string
		class      domain.ErrorClass
		status     int
		typ, msg   string
		wantEvents int
	}{
		{`{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}`, domain.ClassRetryable, 529, "overloaded_error", "Overloaded", 2},
		{`{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`, domain.ClassRateLimited, 429, "rate_limit_error", "slow down", 2},
		{`{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}`, domain.ClassRequest, 400, "invalid_request_error", "bad", 2},
		{`{"type":"error","error":{"type":"api_error","message":"key ` + nativeKey + ` broke"}}`, domain.ClassRetryable, 500, "api_error", "key [redacted] broke", 2},
		{`{"type":"error"}`, domain.ClassRetryable, 500, "api_error", "the upstream reported an error in the stream", 2},
	}
	for _, cs := range cases {
		f := newFakeMessages(t, answerStream(toolStream[0], toolStream[2], sseEvent("error", cs.data), toolStream[len(toolStream)-1]))
		c := f.client(t, nil, providertest.NormalTimeouts)
		st, err := c.CallStream(context.Background(), nativeTarget, &ports.NativeRequest{Op: ports.OpMessages, Body: []byte(`{"max_tokens":5}`)})
		if err != nil {
			t.Fatal(err)
		}
		names, err := drain(st)
		var ue *domain.UpstreamError
		if !errors.As(err, &ue) || ue.Class != cs.class || ue.Status != cs.status || ue.Type != cs.typ {
			t.Errorf("%s: got %#v", cs.data, err)
		} else if ue.Message != cs.msg {
			t.Errorf("%s: message %q", cs.data, ue.Message)
		}
		if len(names) != cs.wantEvents {
			t.Errorf("%s: events before the error %v", cs.data, names)
		}
		st.Close()
	}
}

// TestNativeStreamPingsAreNotProgress: pings are passed on, but a stream of
// pings (and comments) fails with the idle timeout as the chat stream does.
func TestNativeStreamPingsAreNotProgress(t *testing.T) {
	t.Parallel()
	f := newFakeMessages(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, toolStream[0])
		w.(http.Flusher).Flush()
		tk := time.NewTicker(80 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-tk.C:
				ping := sseEvent("ping", `{"type": "ping"}`)
				if i%2 == 1 {
					ping = ": keep-alive\n\n"
				}
				if _, err := io.WriteString(w, ping); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	})
	c := f.client(t, nil, domain.Timeouts{Connect: time.Second, FirstByte: 2 * time.Second, Idle: 400 * time.Millisecond, Total: 20 * time.Second})
	st, err := c.CallStream(context.Background(), nativeTarget, &ports.NativeRequest{Op: ports.OpMessages, Body: []byte(`{"max_tokens":5}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	done := make(chan error, 1)
	var pings int
	go func() {
		for {
			ev, err := st.Next()
			if err != nil {
				done <- err
				return
			}
			if ev.Name == "ping" {
				if ev.Content || ev.Usage != nil {
					done <- errors.New("a ping marked as content or usage")
					return
				}
				pings++
			}
		}
	}()
	select {
	case err := <-done:
		var ue *domain.UpstreamError
		if !errors.As(err, &ue) || !ue.Timeout || !strings.Contains(ue.Message, "idle timeout") {
			t.Fatalf("got %#v", err)
		}
		if pings == 0 {
			t.Error("no ping was passed on")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream of pings never timed out")
	}
}

func TestNativeStreamClose(t *testing.T) {
	t.Parallel()
	f := newFakeMessages(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, toolStream[0])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	c := f.client(t, nil, providertest.NormalTimeouts)
	st, err := c.CallStream(context.Background(), nativeTarget, &ports.NativeRequest{Op: ports.OpMessages, Body: []byte(`{"max_tokens":5}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Next(); err != nil {
		t.Fatal(err)
	}
	if st.Ready() {
		t.Error("Ready with nothing buffered")
	}
	st.Close()
	st.Close()
	_, err = st.Next()
	var ue *domain.UpstreamError
	if !errors.As(err, &ue) || ue.Class != domain.ClassCanceled {
		t.Errorf("Next after Close: %#v", err)
	}
}

// FuzzNativeEvents feeds arbitrary SSE bytes through the reader and the
// event parser: failures are *domain.UpstreamError, only content_block_delta
// is content, only message_delta carries usage and its total adds up, and
// message_stop ends the message.
func FuzzNativeEvents(f *testing.F) {
	f.Add([]byte(strings.Join(toolStream, "")))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := sse.NewReaderSize(bytes.NewReader(in), 64, 1<<20)
		var p eventParser
		for {
			ev, err := r.Next()
			if err != nil {
				return
			}
			info, err := p.event(ev.Type, ev.Data)
			if err != nil {
				var ue *domain.UpstreamError
				if !errors.As(err, &ue) || ue.Status == 0 {
					t.Fatalf("error %#v", err)
				}
				return
			}
			if info.content != (info.typ == "content_block_delta") {
				t.Fatalf("%s: content %v", ev.Data, info.content)
			}
			if (info.usage != nil) != (info.typ == "message_delta") {
				t.Fatalf("%s: usage %+v", ev.Data, info.usage)
			}
			if u := info.usage; u != nil && u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Fatalf("%s: usage %+v", ev.Data, u)
			}
			if info.typ == "message_stop" && !p.stopped {
				t.Fatalf("%s: not stopped", ev.Data)
			}
			if info.typ == "message_start" && !p.started {
				t.Fatalf("%s: not started", ev.Data)
			}
		}
	})
}

// FuzzMessageUsage: the usage read from a message without decoding it is
// the usage encoding/json decodes from the whole message.
func FuzzMessageUsage(f *testing.F) {
	f.Add([]byte(messageBody))
	f.Add([]byte(`{"input_tokens":2095}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		u, ok := messageUsage(raw)
		if !ok || !json.Valid(raw) {
			return
		}
		var full struct {
			Usage *usage `json:"usage"`
		}
		if err := json.Unmarshal(raw, &full); err != nil {
			t.Fatalf("%s: read as a message, but encoding/json says %v", raw, err)
		}
		if !reflect.DeepEqual(u, full.Usage) {
			t.Fatalf("%s: usage %+v, encoding/json %+v", raw, u, full.Usage)
		}
	})
}
