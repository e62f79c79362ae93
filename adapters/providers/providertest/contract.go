package providertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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

// streamed is what a stream assembles to.
type streamed struct {
	chunks    []*domain.ChatChunk
	text      string
	reasoning string
	calls     map[int]*domain.ToolCall
	finish    []string
	usage     *domain.Usage
	err       error
}

// cloneChunk deep-copies what a chunk may share with the stream's buffers.
func cloneChunk(ch *domain.ChatChunk) *domain.ChatChunk {
	c := *ch
	c.Raw = bytes.Clone(ch.Raw)
	c.Choices = append([]domain.ChunkChoice(nil), ch.Choices...)
	str := func(p *string) *string {
		if p == nil {
			return nil
		}
		s := *p
		return &s
	}
	for i := range c.Choices {
		cc := &c.Choices[i]
		cc.FinishReason = str(cc.FinishReason)
		cc.Logprobs = bytes.Clone(cc.Logprobs)
		d := &cc.Delta
		d.Content, d.ReasoningContent, d.Refusal = str(d.Content), str(d.ReasoningContent), str(d.Refusal)
		d.ToolCalls = append([]domain.ToolCall(nil), d.ToolCalls...)
	}
	if ch.Usage != nil {
		u := *ch.Usage
		c.Usage = &u
	}
	return &c
}

func collect(t *testing.T, st ports.ChatStream) streamed {
	t.Helper()
	out := streamed{calls: map[int]*domain.ToolCall{}}
	for {
		ch, err := st.Next()
		if err != nil {
			out.err = err
			return out
		}
		checkChunkRaw(t, ch)
		// A chunk is valid until the next call to Next: keep a copy.
		ch = cloneChunk(ch)
		out.chunks = append(out.chunks, ch)
		if ch.Usage != nil {
			out.usage = ch.Usage
		}
		for _, c := range ch.Choices {
			d := c.Delta
			if d.Content != nil {
				out.text += *d.Content
			}
			if d.ReasoningContent != nil {
				out.reasoning += *d.ReasoningContent
			}
			for _, tc := range d.ToolCalls {
				if tc.Index == nil {
					t.Fatalf("tool call delta without index: %s", ch.Raw)
				}
				acc := out.calls[*tc.Index]
				if acc == nil {
					acc = &domain.ToolCall{}
					out.calls[*tc.Index] = acc
				}
				if tc.ID != "" {
					acc.ID = tc.ID
				}
				if tc.Function.Name != "" {
					acc.Function.Name = tc.Function.Name
				}
				acc.Function.Arguments += tc.Function.Arguments
			}
			if c.FinishReason != nil {
				out.finish = append(out.finish, *c.FinishReason)
			}
		}
	}
}

// checkChunkRaw checks that a chunk's Raw is an OpenAI chunk that says what
// its typed fields say.
func checkChunkRaw(t *testing.T, ch *domain.ChatChunk) {
	t.Helper()
	var c domain.ChatChunk
	if err := json.Unmarshal(ch.Raw, &c); err != nil {
		t.Fatalf("chunk Raw is not JSON: %v: %s", err, ch.Raw)
	}
	if c.ID != ch.ID || c.Model != ch.Model || c.Object != "chat.completion.chunk" || len(c.Choices) != len(ch.Choices) || (c.Usage == nil) != (ch.Usage == nil) {
		t.Fatalf("chunk Raw %s does not match %+v", ch.Raw, ch)
	}
	for i := range c.Choices {
		a, b := c.Choices[i].Delta, ch.Choices[i].Delta
		if deref(a.Content) != deref(b.Content) || deref(a.ReasoningContent) != deref(b.ReasoningContent) || len(a.ToolCalls) != len(b.ToolCalls) || deref(c.Choices[i].FinishReason) != deref(ch.Choices[i].FinishReason) {
			t.Fatalf("chunk Raw %s does not match delta %+v", ch.Raw, b)
		}
	}
	if c.Usage != nil && (c.Usage.PromptTokens != ch.Usage.PromptTokens || c.Usage.CompletionTokens != ch.Usage.CompletionTokens) {
		t.Fatalf("chunk Raw usage %s does not match %+v", ch.Raw, ch.Usage)
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func (e *env) stream(req *domain.ChatRequest) streamed {
	e.t.Helper()
	st, err := e.c.ChatStream(context.Background(), e.tgt, req)
	if err != nil {
		e.t.Fatalf("ChatStream: %v", err)
	}
	defer st.Close()
	out := collect(e.t, st)
	if out.err != io.EOF {
		e.t.Fatalf("stream ended with %v, want io.EOF", out.err)
	}
	if _, err := st.Next(); err != io.EOF {
		e.t.Fatalf("Next after the end: %v", err)
	}
	if len(out.chunks) == 0 || out.chunks[0].Choices[0].Delta.Role != "assistant" {
		e.t.Fatalf("first chunk is not the assistant role: %s", out.chunks[0].Raw)
	}
	last := out.chunks[len(out.chunks)-1]
	if last.Usage == nil || len(last.Choices) != 0 {
		e.t.Fatalf("last chunk is not a usage chunk: %s", last.Raw)
	}
	return out
}

func (s Subject) testStreamText(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{Reply: textReply})
	out := e.stream(parse(t, textRequest, true))
	if out.text != textReply.Text || !reflect.DeepEqual(out.finish, []string{"stop"}) {
		t.Fatalf("text %q finish %v", out.text, out.finish)
	}
	if out.usage.PromptTokens != 11 || out.usage.CompletionTokens != 7 || out.usage.TotalTokens != 18 {
		t.Fatalf("usage %+v", out.usage)
	}
	// The router asks for usage even when the client did not.
	e.checkRequest(e.u.LastRequest(t), textRequest, true)
}

func (s Subject) testStreamToolCall(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	two := toolReply
	two.Reasoning = "The user wants weather."
	two.ToolCalls = append(two.ToolCalls, ToolCall{ID: "call_def456", Name: "get_weather", Arguments: `{"city":"Lyon"}`})
	if s.Wire == WireOpenAI {
		two.Reasoning = "" // OpenAI does not stream reasoning
	}
	e.u.Respond(Behavior{Reply: two})
	out := e.stream(parse(t, toolRequest, true))
	if len(out.calls) != 2 || !reflect.DeepEqual(out.finish, []string{"tool_calls"}) {
		t.Fatalf("calls %v finish %v", out.calls, out.finish)
	}
	for i, want := range two.ToolCalls {
		got := out.calls[i]
		if got == nil || got.ID != want.ID || got.Function.Name != want.Name || !sameJSON(got.Function.Arguments, want.Arguments) {
			t.Fatalf("call %d: %+v, want %+v", i, got, want)
		}
	}
	if out.reasoning != two.Reasoning {
		t.Fatalf("reasoning %q, want %q", out.reasoning, two.Reasoning)
	}
	// Time to first token: the first chunk with content is a tool call or
	// reasoning, not the role chunk (Ark has no separate role chunk).
	if s.Wire != WireArk && out.chunks[0].HasContent() {
		t.Fatalf("role chunk counts as content: %s", out.chunks[0].Raw)
	}
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

func within(t *testing.T, what string, d time.Duration, start time.Time) {
	t.Helper()
	if el := time.Since(start); el > d {
		t.Fatalf("%s took %v, want under %v", what, el, d)
	}
}

func waitGone(t *testing.T, u *Upstream, what string) {
	t.Helper()
	select {
	case <-u.Gone():
	case <-time.After(time.Second):
		t.Fatalf("%s: the upstream connection was not closed within a second", what)
	}
}

func (s Subject) testStallBeforeHeaders(t *testing.T) {
	t.Parallel()
	e := s.setup(t, FastTimeouts)
	e.u.Respond(Behavior{StallBeforeHeaders: true})
	start := time.Now()
	_, err := e.c.Chat(context.Background(), e.tgt, parse(t, textRequest, false))
	// The request was written: the upstream may be processing (and
	// billing) it, so the timeout is ambiguous, never resent.
	ue := asUpstream(t, err)
	if !ue.Timeout || ue.Class != domain.ClassAmbiguous {
		t.Fatalf("chat: %+v", ue)
	}
	within(t, "first-byte timeout", 3*time.Second, start)
	waitGone(t, e.u, "chat first-byte timeout")
	start = time.Now()
	_, err = e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if ue := asUpstream(t, err); !ue.Timeout || ue.Class != domain.ClassAmbiguous {
		t.Fatalf("stream: %+v", ue)
	}
	within(t, "first-byte timeout", 3*time.Second, start)
	waitGone(t, e.u, "stream first-byte timeout")
}

func (s Subject) testStallBeforeFirstEvent(t *testing.T) {
	t.Parallel()
	e := s.setup(t, FastTimeouts)
	e.u.Respond(Behavior{StallAfter: -1})
	st, err := e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer st.Close()
	start := time.Now()
	_, err = st.Next()
	if ue := asUpstream(t, err); !ue.Timeout || ue.Class != domain.ClassAmbiguous {
		t.Fatalf("first event: %+v", ue)
	}
	within(t, "first-event timeout", 3*time.Second, start)
	waitGone(t, e.u, "first-event timeout")
}

// readier is what a stream offers the HTTP layer to flush in batches.
type readier interface{ Ready() bool }

// testStreamReady checks Ready: false while the upstream sends nothing
// (Next would wait), true once the stream has ended (Next returns at once).
func (s Subject) testStreamReady(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{StallAfter: -1})
	st, err := e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	r, ok := st.(readier)
	if !ok {
		t.Fatalf("%T has no Ready method", st)
	}
	if r.Ready() {
		t.Fatal("Ready before the upstream sent any event")
	}
	st.Close()
	e.u.Respond(Behavior{Reply: textReply})
	st, err = e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer st.Close()
	if out := collect(t, st); out.err != io.EOF {
		t.Fatalf("stream ended with %v, want io.EOF", out.err)
	}
	if !st.(readier).Ready() {
		t.Fatal("not Ready after the end of the stream")
	}
}

func (s Subject) testStallMidStream(t *testing.T) {
	t.Parallel()
	e := s.setup(t, FastTimeouts)
	e.u.Respond(Behavior{Reply: textReply, StallAfter: 3})
	st, err := e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer st.Close()
	start := time.Now()
	out := collect(t, st)
	if out.err == io.EOF || len(out.chunks) == 0 {
		t.Fatalf("stalled stream: %d chunks, err %v", len(out.chunks), out.err)
	}
	if ue := asUpstream(t, out.err); !ue.Timeout {
		t.Fatalf("stall: %+v", ue)
	}
	within(t, "idle timeout", 3*time.Second, start)
	waitGone(t, e.u, "idle timeout")
}

func (s Subject) testCutStreams(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	for _, b := range []Behavior{{Reply: textReply, CutAfter: 3}, {Reply: textReply, AbortAfter: 3}, {Reply: textReply, EndAfter: 3}} {
		e.u.Respond(b)
		st, err := e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
		if err != nil {
			t.Fatalf("ChatStream: %v", err)
		}
		out := collect(t, st)
		st.Close()
		if out.err == io.EOF {
			t.Fatalf("%+v: a cut stream ended cleanly", b)
		}
		if ue := asUpstream(t, out.err); ue.Class != domain.ClassAmbiguous {
			t.Fatalf("%+v: %+v", b, ue)
		}
	}
}

func (s Subject) testCancelStream(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{Reply: textReply, StallAfter: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := e.c.ChatStream(ctx, e.tgt, parse(t, textRequest, true))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer st.Close()
	if _, err := st.Next(); err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	time.AfterFunc(100*time.Millisecond, cancel)
	out := collect(t, st)
	if ue := asUpstream(t, out.err); ue.Class != domain.ClassCanceled {
		t.Fatalf("canceled stream: %+v", ue)
	}
	waitGone(t, e.u, "client cancellation")
}

func (s Subject) testCancelChat(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{StallBeforeHeaders: true})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := e.c.Chat(ctx, e.tgt, parse(t, textRequest, false))
	if ue := asUpstream(t, err); ue.Class != domain.ClassCanceled {
		t.Fatalf("canceled chat: %+v", ue)
	}
	waitGone(t, e.u, "client cancellation")
}

func (s Subject) testCloseStream(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{Reply: textReply, StallAfter: 2})
	st, err := e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	if _, err := st.Next(); err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	st.Close()
	st.Close()
	waitGone(t, e.u, "Close")
	if _, err := st.Next(); err == nil || err == io.EOF {
		t.Fatalf("Next after Close: %v", err)
	}
}

// testCloseWhileReading closes a stream from another goroutine while Next
// waits for a stalled upstream, as a handler does when its client leaves.
func (s Subject) testCloseWhileReading(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{Reply: textReply, StallAfter: 2})
	st, err := e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	if _, err := st.Next(); err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	time.AfterFunc(100*time.Millisecond, func() { st.Close() })
	start := time.Now()
	out := collect(t, st)
	if out.err == nil || out.err == io.EOF {
		t.Fatalf("Next after a concurrent Close: %v", out.err)
	}
	within(t, "Next after Close", 2*time.Second, start)
	waitGone(t, e.u, "concurrent Close")
}

func (s Subject) testConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := s.New(domain.Provider{Name: "down", Kind: s.Kind, BaseURL: "http://" + addr + "/v1", Timeouts: FastTimeouts})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Chat(context.Background(), ports.Target{Model: UpstreamModel, Key: TestKey}, parse(t, textRequest, false))
	if ue := asUpstream(t, err); ue.Class != domain.ClassRetryable || ue.Status != 0 {
		t.Fatalf("refused: %+v", ue)
	}
	if strings.Contains(err.Error(), TestKey) {
		t.Fatal("key in error")
	}
}

// testHangUp: the connection breaks after the request was sent and before
// any response: the upstream may have processed it, so it is ambiguous.
func (s Subject) testHangUp(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{HangUp: true})
	_, err := e.c.Chat(context.Background(), e.tgt, parse(t, textRequest, false))
	if ue := asUpstream(t, err); ue.Class != domain.ClassAmbiguous || ue.Status != 0 {
		t.Fatalf("chat: %+v", ue)
	}
	_, err = e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if ue := asUpstream(t, err); ue.Class != domain.ClassAmbiguous {
		t.Fatalf("stream: %+v", ue)
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
