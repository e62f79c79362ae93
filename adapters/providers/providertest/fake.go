// Package providertest holds fake upstreams that speak the providers' wire
// formats (OpenAI Chat Completions, Volcengine Ark, Anthropic Messages) and
// the contract suite every provider adapter must pass (Run).
//
// The fakes render a provider-neutral Reply in their wire format, JSON or
// SSE, following the shapes of the providers' API references; they can also
// fail with a status in the provider's error format, stall before the
// headers, before the first event or mid-stream, cut a stream inside an
// event, or abort the connection. They record every request and report when
// a client went away.
package providertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Wire is the protocol a fake upstream speaks.
type Wire string

const (
	WireOpenAI    Wire = "openai"    // OpenAI Chat Completions (also OpenAI-compatible servers)
	WireArk       Wire = "ark"       // Volcengine Ark's OpenAI-compatible API
	WireAnthropic Wire = "anthropic" // Anthropic Messages
)

// ToolCall is a tool call in a Reply.
type ToolCall struct {
	ID, Name, Arguments string
}

// Reply is a provider-neutral answer.
type Reply struct {
	Text      string
	Reasoning string
	ToolCalls []ToolCall
	// Finish is the OpenAI finish reason: stop, length or tool_calls.
	Finish                         string
	PromptTokens, CompletionTokens int
	CachedTokens                   int
}

// Behavior is what a fake does with a request.
type Behavior struct {
	Reply Reply
	// Status, when not 200, makes the fake fail with an error body in its
	// wire format; ErrType, ErrCode and ErrMessage override the defaults.
	Status                       int
	ErrType, ErrCode, ErrMessage string
	// RawErrorBody replaces the error body (e.g. a proxy's HTML page).
	RawErrorBody string
	Header       map[string]string
	// StallBeforeHeaders holds the response until the client goes away.
	StallBeforeHeaders bool
	// HangUp closes the connection after reading the request, without
	// answering: the upstream may have processed it.
	HangUp bool
	// StallAfter > 0: a stream sends this many events, then holds.
	// StallAfter < 0: a stream sends its headers and then holds.
	StallAfter int
	// CutAfter > 0: a stream sends this many events, then half an event,
	// then ends the body cleanly (the SSE stream is cut mid-event).
	CutAfter int
	// AbortAfter > 0: a stream sends this many events, then half an
	// event, then breaks the connection.
	AbortAfter int
	// EndAfter > 0: a stream sends this many events, then ends the body
	// cleanly without its final event.
	EndAfter int
	// NoDone leaves out OpenAI's final "data: [DONE]".
	NoDone bool
}

// Request is a request the fake received.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// Upstream is a fake provider.
type Upstream struct {
	URL  string // base URL to configure the adapter with
	Wire Wire
	Key  string // the key the fake accepts; empty accepts any (and none)

	srv      *httptest.Server
	stop     chan struct{}
	mu       sync.Mutex
	behavior Behavior
	requests []Request
	gone     chan time.Time
}

// NewUpstream starts a fake speaking wire, closed when the test ends. Its
// base URL is what the adapter's configuration should use: {URL}/v1 for
// OpenAI, {URL}/api/v3 for Ark, {URL} for Anthropic.
func NewUpstream(t testing.TB, wire Wire, key string) *Upstream {
	u := &Upstream{Wire: wire, Key: key, stop: make(chan struct{}), gone: make(chan time.Time, 16)}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	t.Cleanup(func() { close(u.stop) }) // runs first: releases stalled handlers
	switch wire {
	case WireOpenAI:
		u.URL = u.srv.URL + "/v1"
	case WireArk:
		u.URL = u.srv.URL + "/api/v3"
	default:
		u.URL = u.srv.URL
	}
	u.behavior = Behavior{Reply: Reply{Text: "Hello!", Finish: "stop", PromptTokens: 9, CompletionTokens: 3}}
	return u
}

// Respond sets the behavior for the following requests.
func (u *Upstream) Respond(b Behavior) {
	u.mu.Lock()
	u.behavior = b
	u.mu.Unlock()
}

// Requests returns the requests received so far.
func (u *Upstream) Requests() []Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Request(nil), u.requests...)
}

// LastRequest returns the last request received.
func (u *Upstream) LastRequest(t testing.TB) Request {
	t.Helper()
	rs := u.Requests()
	if len(rs) == 0 {
		t.Fatal("the fake upstream received no request")
	}
	return rs[len(rs)-1]
}

// Gone returns a channel that receives the time at which a stalled or
// streaming handler saw its client go away (the connection closed).
func (u *Upstream) Gone() <-chan time.Time { return u.gone }

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	// Reading the whole body first also lets net/http notice when the
	// client closes the connection.
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.requests = append(u.requests, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	b := u.behavior
	u.mu.Unlock()

	if !u.authorized(r) {
		key := r.Header.Get("X-Api-Key")
		if key == "" {
			key = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		// Like OpenAI, echo the key in the message: adapters must scrub it.
		b = Behavior{Status: 401, ErrMessage: "Incorrect API key provided: " + key + ". You can find your API key in your account settings."}
	}
	for k, v := range b.Header {
		w.Header().Set(k, v)
	}
	if b.StallBeforeHeaders {
		u.hold(r)
		return
	}
	if b.HangUp {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	if b.Status != 0 && b.Status != 200 {
		u.writeError(w, b)
		return
	}
	if !u.knownPath(r) {
		w.WriteHeader(404)
		fmt.Fprint(w, `{"error":{"message":"unknown path","type":"invalid_request_error"}}`)
		return
	}
	if r.Method == http.MethodGet { // model listing
		u.writeModels(w)
		return
	}
	var req struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	_ = json.Unmarshal(body, &req)
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		w.Write(u.render(b.Reply, req.Model))
		return
	}
	events := u.events(b.Reply, req.Model, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
	if b.NoDone && len(events) > 0 && strings.Contains(events[len(events)-1], "[DONE]") {
		events = events[:len(events)-1]
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	fl := w.(http.Flusher)
	fl.Flush()
	if b.StallAfter < 0 {
		u.hold(r)
		return
	}
	for i, ev := range events {
		switch i {
		case b.StallAfter:
			if b.StallAfter > 0 {
				u.hold(r)
				return
			}
		case b.CutAfter, b.AbortAfter:
			if i > 0 {
				io.WriteString(w, ev[:len(ev)/2])
				fl.Flush()
				if i == b.AbortAfter {
					panic(http.ErrAbortHandler) // breaks the connection
				}
				return // ends the chunked body cleanly, mid-event
			}
		case b.EndAfter:
			if i > 0 {
				return
			}
		}
		io.WriteString(w, ev)
		fl.Flush()
	}
	if b.StallAfter >= len(events) {
		u.hold(r)
	}
}

// hold waits until the client goes away (and reports it) or the test ends.
func (u *Upstream) hold(r *http.Request) {
	select {
	case <-r.Context().Done():
		u.gone <- time.Now()
	case <-u.stop:
	}
}

func (u *Upstream) authorized(r *http.Request) bool {
	if u.Key == "" {
		return true
	}
	if u.Wire == WireAnthropic {
		return r.Header.Get("X-Api-Key") == u.Key
	}
	return r.Header.Get("Authorization") == "Bearer "+u.Key
}

func (u *Upstream) knownPath(r *http.Request) bool {
	switch u.Wire {
	case WireOpenAI:
		return (r.Method == http.MethodPost && r.URL.Path == "/v1/chat/completions") || (r.Method == http.MethodGet && r.URL.Path == "/v1/models")
	case WireArk:
		return r.Method == http.MethodPost && r.URL.Path == "/api/v3/chat/completions"
	default:
		return (r.Method == http.MethodPost && r.URL.Path == "/v1/messages") || (r.Method == http.MethodGet && r.URL.Path == "/v1/models")
	}
}

func (u *Upstream) writeModels(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	if u.Wire == WireAnthropic {
		io.WriteString(w, `{"data":[{"type":"model","id":"claude-sonnet-4-5-20250929","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"}],"has_more":true,"first_id":"claude-sonnet-4-5-20250929","last_id":"claude-sonnet-4-5-20250929"}`)
		return
	}
	io.WriteString(w, `{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"}]}`)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func jsonString(s string) string { return string(mustJSON(s)) }

// pieces splits s into short deltas, as models stream them.
func pieces(s string, n int) []string {
	var out []string
	r := []rune(s)
	for len(r) > n {
		out = append(out, string(r[:n]))
		r = r[n:]
	}
	if len(r) > 0 {
		out = append(out, string(r))
	}
	return out
}

func finishOrDefault(r Reply) string {
	if r.Finish != "" {
		return r.Finish
	}
	if len(r.ToolCalls) > 0 {
		return "tool_calls"
	}
	return "stop"
}

func sseData(v string) string { return "data: " + v + "\n\n" }

func compact(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		panic(err.Error() + ": " + s)
	}
	return b.String()
}
