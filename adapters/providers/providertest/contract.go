package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// Subject is an adapter under test.
type Subject struct {
	Kind domain.ProviderKind
	Wire Wire
	// Keyless runs the suite without a key (OpenAI-compatible servers).
	Keyless bool
	New     func(p domain.Provider) (ports.ProviderClient, error)
}

// TestKey is the key the suite's fakes accept.
const TestKey = "sk-test-a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"

// UpstreamModel is the model the suite targets.
const UpstreamModel = "upstream-model-1"

// Normal timeouts are generous so that a loaded machine does not flake;
// Fast ones make the stall tests quick.
var (
	NormalTimeouts = domain.Timeouts{Connect: 5 * time.Second, FirstByte: 20 * time.Second, Idle: 20 * time.Second, Total: time.Minute}
	FastTimeouts   = domain.Timeouts{Connect: 5 * time.Second, FirstByte: 300 * time.Millisecond, Idle: 300 * time.Millisecond, Total: time.Minute}
)

type env struct {
	t   *testing.T
	s   Subject
	u   *Upstream
	c   ports.ProviderClient
	tgt ports.Target
}

func (s Subject) setup(t *testing.T, to domain.Timeouts) *env {
	t.Helper()
	key := TestKey
	if s.Keyless {
		key = ""
	}
	u := NewUpstream(t, s.Wire, key)
	p := domain.Provider{ID: 1, Name: "fake-" + string(s.Kind), Kind: s.Kind, BaseURL: u.URL, Enabled: true, Timeouts: to,
		Headers: map[string]string{"X-Custom-Header": "custom-value"}}
	c, err := s.New(p)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return &env{t: t, s: s, u: u, c: c, tgt: ports.Target{Model: UpstreamModel, Key: key, DefaultMaxTokens: 1000}}
}

// Request bodies the suite sends, as clients send them.
const (
	textRequest = `{"model":"public-model","provider":"fake","messages":[{"role":"user","content":"Say hello."}],"temperature":0.5,"max_tokens":50}`
	toolsSpec   = `[{"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]`
	toolRequest = `{"model":"public-model","messages":[{"role":"user","content":"Weather in Paris?"}],"tools":` + toolsSpec + `,"tool_choice":"auto"}`
	loopRequest = `{"model":"public-model","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather in Paris?"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
		`{"role":"tool","tool_call_id":"call_1","content":"18C and sunny"}],"tools":` + toolsSpec + `}`
	imageRequest = `{"model":"public-model","messages":[{"role":"user","content":[{"type":"text","text":"What is in these images?"},` +
		`{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},{"type":"image_url","image_url":{"url":"https://example.com/cat.jpg","detail":"low"}}]}]}`
)

func parse(t *testing.T, body string, stream bool) *domain.ChatRequest {
	t.Helper()
	if stream {
		body = strings.Replace(body, `{"model":"public-model"`, `{"model":"public-model","stream":true`, 1)
	}
	r, err := domain.ParseChatRequest([]byte(body))
	if err != nil {
		t.Fatalf("ParseChatRequest: %v", err)
	}
	return r
}

var (
	textReply = Reply{Text: "Hello! How can I help?", Finish: "stop", PromptTokens: 11, CompletionTokens: 7}
	toolReply = Reply{ToolCalls: []ToolCall{{ID: "call_abc123", Name: "get_weather", Arguments: `{"city":"Paris"}`}}, Finish: "tool_calls", PromptTokens: 60, CompletionTokens: 17}
	loopReply = Reply{Text: "It is 18C and sunny in Paris.", Finish: "stop", PromptTokens: 90, CompletionTokens: 12, CachedTokens: 64}
)

// Run runs the contract suite against an adapter.
func Run(t *testing.T, s Subject) {
	t.Run("ChatText", s.testChatText)
	t.Run("ChatToolCall", s.testChatToolCall)
	t.Run("ToolLoop", s.testToolLoop)
	t.Run("Images", s.testImages)
	t.Run("StreamText", s.testStreamText)
	t.Run("StreamToolCall", s.testStreamToolCall)
	t.Run("StreamReady", s.testStreamReady)
	t.Run("Headers", s.testHeaders)
	t.Run("ErrorStatuses", s.testErrorStatuses)
	t.Run("RetryAfterDate", s.testRetryAfterDate)
	t.Run("KeyNeverInErrors", s.testKeyScrubbed)
	t.Run("StallBeforeHeaders", s.testStallBeforeHeaders)
	t.Run("StallBeforeFirstEvent", s.testStallBeforeFirstEvent)
	t.Run("StallMidStream", s.testStallMidStream)
	t.Run("CutStreams", s.testCutStreams)
	t.Run("CancelStream", s.testCancelStream)
	t.Run("CancelChat", s.testCancelChat)
	t.Run("CloseStream", s.testCloseStream)
	t.Run("CloseWhileReading", s.testCloseWhileReading)
	t.Run("ConnectionRefused", s.testConnectionRefused)
	t.Run("HangUpAfterRequest", s.testHangUp)
	t.Run("Probe", s.testProbe)
}

// completion is the OpenAI completion a Raw body must decode to.
type completion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role             string            `json:"role"`
			Content          *string           `json:"content"`
			ReasoningContent string            `json:"reasoning_content"`
			ToolCalls        []domain.ToolCall `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *domain.Usage `json:"usage"`
}

func (e *env) chat(req *domain.ChatRequest) (*domain.ChatResponse, completion) {
	e.t.Helper()
	resp, err := e.c.Chat(context.Background(), e.tgt, req)
	if err != nil {
		e.t.Fatalf("Chat: %v", err)
	}
	var c completion
	if err := json.Unmarshal(resp.Raw, &c); err != nil {
		e.t.Fatalf("Raw is not a completion: %v\n%s", err, resp.Raw)
	}
	if resp.ID == "" || resp.ID != c.ID || resp.Model == "" || resp.Model != c.Model || c.Object != "chat.completion" {
		e.t.Fatalf("typed fields %q %q do not match Raw %s", resp.ID, resp.Model, resp.Raw)
	}
	if resp.Usage == nil || c.Usage == nil || resp.Usage.PromptTokens != c.Usage.PromptTokens || resp.Usage.CompletionTokens != c.Usage.CompletionTokens {
		e.t.Fatalf("usage %+v does not match Raw %s", resp.Usage, resp.Raw)
	}
	if len(c.Choices) != 1 {
		e.t.Fatalf("choices: %s", resp.Raw)
	}
	return resp, c
}

func (s Subject) testChatText(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{Reply: textReply})
	resp, c := e.chat(parse(t, textRequest, false))
	ch := c.Choices[0]
	if ch.Message.Role != "assistant" || ch.Message.Content == nil || *ch.Message.Content != textReply.Text || ch.FinishReason != "stop" {
		t.Fatalf("message: %s", resp.Raw)
	}
	if resp.Usage.PromptTokens != 11 || resp.Usage.CompletionTokens != 7 || resp.Usage.TotalTokens != 18 {
		t.Fatalf("usage: %+v", resp.Usage)
	}
	e.checkRequest(e.u.LastRequest(t), textRequest, false)
}

func (s Subject) testChatToolCall(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{Reply: toolReply})
	resp, c := e.chat(parse(t, toolRequest, false))
	ch := c.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 {
		t.Fatalf("tool call: %s", resp.Raw)
	}
	tc := ch.Message.ToolCalls[0]
	if tc.ID != "call_abc123" || tc.Type != "function" || tc.Function.Name != "get_weather" || !sameJSON(tc.Function.Arguments, `{"city":"Paris"}`) {
		t.Fatalf("tool call: %+v", tc)
	}
	e.checkRequest(e.u.LastRequest(t), toolRequest, false)
}

func (s Subject) testToolLoop(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{Reply: loopReply})
	resp, c := e.chat(parse(t, loopRequest, false))
	if c.Choices[0].Message.Content == nil || *c.Choices[0].Message.Content != loopReply.Text {
		t.Fatalf("answer: %s", resp.Raw)
	}
	// Cached prompt tokens count as prompt tokens.
	if resp.Usage.PromptTokens != 90 || resp.Usage.CompletionTokens != 12 {
		t.Fatalf("usage: %+v", resp.Usage)
	}
	e.checkRequest(e.u.LastRequest(t), loopRequest, false)
}

func (s Subject) testImages(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.chat(parse(t, imageRequest, false))
	e.checkRequest(e.u.LastRequest(t), imageRequest, false)
}

func (s Subject) testHeaders(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.chat(parse(t, textRequest, false))
	r := e.u.LastRequest(t)
	if r.Header.Get("X-Custom-Header") != "custom-value" {
		t.Errorf("extra header missing: %v", r.Header)
	}
	if r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", r.Header.Get("Content-Type"))
	}
	switch {
	case s.Wire == WireAnthropic:
		if r.Header.Get("X-Api-Key") != TestKey || r.Header.Get("Anthropic-Version") != "2023-06-01" || r.Header.Get("Authorization") != "" {
			t.Errorf("auth headers %v", r.Header)
		}
	case s.Keyless:
		if r.Header.Get("Authorization") != "" {
			t.Errorf("keyless call sent Authorization")
		}
	default:
		if r.Header.Get("Authorization") != "Bearer "+TestKey {
			t.Errorf("auth header %q", r.Header.Get("Authorization"))
		}
	}
	if strings.Contains(r.Path+"?"+r.RawQuery, TestKey) {
		t.Errorf("key in URL")
	}
}

// expectedClass is how every adapter classifies a status.
var expectedClass = map[int]domain.ErrorClass{
	400: domain.ClassRequest, 401: domain.ClassAuth, 403: domain.ClassAuth, 404: domain.ClassRequest,
	429: domain.ClassRateLimited, 500: domain.ClassRetryable, 502: domain.ClassRetryable,
	503: domain.ClassRetryable, 504: domain.ClassRetryable, 529: domain.ClassRetryable,
}

func asUpstream(t *testing.T, err error) *domain.UpstreamError {
	t.Helper()
	var ue *domain.UpstreamError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v (%T) is not an *domain.UpstreamError", err, err)
	}
	return ue
}

func (s Subject) testErrorStatuses(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	for _, status := range []int{400, 401, 403, 404, 429, 500, 502, 503, 504, 529} {
		for _, stream := range []bool{false, true} {
			b := Behavior{Status: status, Header: map[string]string{}}
			if status == 429 {
				b.Header["Retry-After"] = "7"
			}
			if status == 502 {
				b.RawErrorBody = "<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>"
			}
			e.u.Respond(b)
			var err error
			if stream {
				var st ports.ChatStream
				st, err = e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
				if st != nil {
					t.Fatalf("%d: a stream was returned with a failing status", status)
				}
			} else {
				_, err = e.c.Chat(context.Background(), e.tgt, parse(t, textRequest, false))
			}
			ue := asUpstream(t, err)
			if ue.Status != status || ue.Class != expectedClass[status] {
				t.Errorf("%d stream=%v: status %d class %s, want %s", status, stream, ue.Status, ue.Class, expectedClass[status])
			}
			wantMsg := fmt.Sprintf("fake upstream error %d", status)
			if status == 502 {
				wantMsg = "502 Bad Gateway"
			}
			if !strings.Contains(ue.Message, wantMsg) {
				t.Errorf("%d: message %q lacks %q", status, ue.Message, wantMsg)
			}
			if want := map[bool]time.Duration{true: 7 * time.Second}[status == 429]; ue.RetryAfter != want {
				t.Errorf("%d: RetryAfter %v, want %v", status, ue.RetryAfter, want)
			}
			if ue.Timeout {
				t.Errorf("%d: marked as a timeout", status)
			}
		}
	}
}

func (s Subject) testRetryAfterDate(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{Status: 503, Header: map[string]string{"Retry-After": time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)}})
	_, err := e.c.Chat(context.Background(), e.tgt, parse(t, textRequest, false))
	ue := asUpstream(t, err)
	if ue.RetryAfter < 5*time.Second || ue.RetryAfter > 10*time.Second {
		t.Fatalf("RetryAfter %v from an HTTP date 10s ahead", ue.RetryAfter)
	}
	e.u.Respond(Behavior{Status: 429, Header: map[string]string{"Retry-After": "3600"}})
	_, err = e.c.Chat(context.Background(), e.tgt, parse(t, textRequest, false))
	if ue := asUpstream(t, err); ue.RetryAfter != 60*time.Second {
		t.Fatalf("RetryAfter %v not capped", ue.RetryAfter)
	}
	e.u.Respond(Behavior{Status: 429, Header: map[string]string{"Retry-After": "tomorrow"}})
	_, err = e.c.Chat(context.Background(), e.tgt, parse(t, textRequest, false))
	if ue := asUpstream(t, err); ue.RetryAfter != 0 {
		t.Fatalf("invalid Retry-After gave %v", ue.RetryAfter)
	}
}

func (s Subject) testKeyScrubbed(t *testing.T) {
	if s.Keyless {
		t.Skip("keyless")
	}
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	wrong := "sk-wrong-zyxwvutsrqponmlkjihgfedcba9876543210"
	e.tgt.Key = wrong
	_, err := e.c.Chat(context.Background(), e.tgt, parse(t, textRequest, false))
	ue := asUpstream(t, err)
	if ue.Class != domain.ClassAuth || ue.Status != 401 {
		t.Fatalf("wrong key: %+v", ue)
	}
	for _, s := range []string{err.Error(), ue.Message, ue.Type, fmt.Sprintf("%+v", ue)} {
		if strings.Contains(s, wrong) || strings.Contains(s, wrong[:12]) {
			t.Fatalf("key leaked: %q", s)
		}
	}
	st, err := e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if st != nil || err == nil || strings.Contains(err.Error(), wrong[:12]) {
		t.Fatalf("stream: key leaked or no error: %v", err)
	}
	err = e.c.Probe(context.Background(), e.tgt)
	if ue := asUpstream(t, err); ue.Class != domain.ClassAuth || strings.Contains(err.Error(), wrong[:12]) {
		t.Fatalf("probe with a wrong key: %v", err)
	}
}

func (s Subject) testProbe(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	if err := e.c.Probe(context.Background(), e.tgt); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	r := e.u.LastRequest(t)
	switch {
	case s.Wire == WireArk:
		var body map[string]any
		json.Unmarshal(r.Body, &body)
		if r.Method != "POST" || body["max_tokens"] != float64(1) || body["model"] != UpstreamModel {
			t.Fatalf("Ark probe: %s %s %s", r.Method, r.Path, r.Body)
		}
	default:
		if r.Method != "GET" || !strings.HasSuffix(r.Path, "/models") {
			t.Fatalf("probe: %s %s", r.Method, r.Path)
		}
	}
	e.u.Respond(Behavior{Status: 503})
	if ue := asUpstream(t, e.c.Probe(context.Background(), e.tgt)); ue.Status != 503 || ue.Class != domain.ClassRetryable {
		t.Fatalf("probe 503: %+v", ue)
	}
}

func sameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}
