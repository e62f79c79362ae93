package httpapi

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/airouter/airouter/adapters/httpapi/anthropicapi"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// The scripted upstream serves native operations when u.native is set: a
// call echoes the body inside a JSON object; a stream sends the chunks as
// Anthropic content_block_delta events between message_start and
// message_stop.

var _ ports.NativeClient = (*upstream)(nil)

func (u *upstream) Serves(ports.Operation) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.native
}

func (u *upstream) Call(ctx context.Context, t ports.Target, req *ports.NativeRequest) (*ports.NativeResponse, error) {
	p := u.script()
	u.mu.Lock()
	u.beta, u.body = req.Beta, string(req.Body)
	u.mu.Unlock()
	if p.err != nil {
		return nil, p.err
	}
	if req.Op == ports.OpResponses {
		return &ports.NativeResponse{Body: []byte(nativeResponse), Usage: &domain.Usage{PromptTokens: 9, CompletionTokens: 2}}, nil
	}
	body := `{"op":"` + string(req.Op) + `","model":"` + t.Model + `","echo":` + string(req.Body) + `}`
	return &ports.NativeResponse{Body: []byte(body), ContentType: "application/json", Usage: &domain.Usage{PromptTokens: 5, TotalTokens: 5}}, nil
}

func (u *upstream) CallStream(ctx context.Context, t ports.Target, req *ports.NativeRequest) (ports.NativeStream, error) {
	p := u.script()
	u.mu.Lock()
	u.body = string(req.Body)
	u.mu.Unlock()
	if p.err != nil {
		return nil, p.err
	}
	st := &nativeUpStream{cut: p.cut}
	if req.Op == ports.OpResponses {
		st.events = []ports.NativeEvent{
			{Name: "response.created", Data: []byte(`{"type":"response.created","sequence_number":0,"response":{"id":"resp_nativestream","object":"response","status":"in_progress","output":[]}}`)},
			{Name: "response.output_text.delta", Data: []byte(`{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"native hi"}`), Content: true},
			{Name: "response.completed", Data: []byte(`{"type":"response.completed","sequence_number":2,"response":` + strings.Replace(nativeResponse, "resp_native1", "resp_nativestream", 1) + `}`),
				Usage: &domain.Usage{PromptTokens: 9, CompletionTokens: 2}},
		}
		return st, nil
	}
	st.events = append(st.events, ports.NativeEvent{Name: "message_start", Data: []byte(`{"type":"message_start","model":"` + t.Model + `"}`)})
	for _, c := range p.chunks {
		st.events = append(st.events, ports.NativeEvent{Name: "content_block_delta", Data: []byte(`{"type":"content_block_delta","delta":{"type":"text_delta","text":"` + c + `"}}`), Content: true})
	}
	if p.cut == nil {
		st.events = append(st.events, ports.NativeEvent{Name: "message_stop", Data: []byte(`{"type":"message_stop"}`), Usage: &domain.Usage{PromptTokens: 2, CompletionTokens: len(p.chunks)}})
	}
	return st, nil
}

// nativeResponse is a Responses API answer of a native route.
const nativeResponse = `{"id":"resp_native1","object":"response","created_at":1,"status":"completed","model":"up-model","output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"native hi","annotations":[]}]}],"usage":{"input_tokens":9,"output_tokens":2,"total_tokens":11},"x_upstream_only":true}`

type nativeUpStream struct {
	events []ports.NativeEvent
	cut    error
}

func (s *nativeUpStream) Next() (*ports.NativeEvent, error) {
	if len(s.events) == 0 {
		if s.cut != nil {
			return nil, s.cut
		}
		return nil, io.EOF
	}
	ev := &s.events[0]
	s.events = s.events[1:]
	return ev, nil
}
func (s *nativeUpStream) Ready() bool  { return false }
func (s *nativeUpStream) Close() error { return nil }

func (fx *fixture) postTo(t *testing.T, path, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, fx.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestEmbeddingsPassThrough(t *testing.T) {
	fx := newFixture(t, Options{})
	fx.up.native = true
	body := `{"model":"embed","input":["a","b"],"dimensions":8,"x_unknown":{"kept":true}}`
	resp, got := fx.postTo(t, "/v1/embeddings", body, "OpenAI-Beta", "assistants=v2")
	if resp.StatusCode != 200 || got != `{"op":"embeddings","model":"up-embed","echo":`+body+`}` {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
	if resp.Header.Get(headerProvider) != "up" || fx.up.beta != "assistants=v2" {
		t.Fatalf("provider %q, beta %q", resp.Header.Get(headerProvider), fx.up.beta)
	}
	row := fx.logs.row(t, resp.Header.Get(headerRequestID))
	if row.Status != 200 || row.PromptTokens != 5 || row.Cost <= 0 || row.Model != "embed" {
		t.Fatalf("log %+v", row)
	}
	// Images go the same way and are refused by a model that does not
	// declare them.
	resp, got = fx.postTo(t, "/v1/images/generations", `{"model":"embed","prompt":"a cat"}`)
	if resp.StatusCode != 400 || !strings.Contains(got, "does not serve images") || !strings.Contains(got, `"param":"model"`) {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
}

func TestEmbeddingsRefusals(t *testing.T) {
	fx := newFixture(t, Options{})
	for _, c := range []struct{ body, want string }{
		{`{"model":"chat","input":"x"}`, "does not serve embeddings"},                  // the model's capabilities
		{`{"model":"embed","input":"x"}`, "no route whose provider serves embeddings"}, // no native route
		{`{"model":"embed","input":[]}`, `"param":"input"`},                            // validation
		{`{"model":"embed","input":"x","encoding_format":"hex"}`, `"param":"encoding_format"`},
		{`{"model":"nope","input":"x"}`, "does not exist"},
	} {
		resp, got := fx.postTo(t, "/v1/embeddings", c.body)
		if resp.StatusCode/100 != 4 || !strings.Contains(got, c.want) || !strings.Contains(got, `"error"`) {
			t.Errorf("%s: %d %s", c.body, resp.StatusCode, got)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, fx.srv.URL+"/v1/embeddings", strings.NewReader(`{"model":"embed","input":"x"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no key: %d", resp.StatusCode)
	}
}

func TestMessagesServedNatively(t *testing.T) {
	fx := newFixture(t, Options{})
	fx.up.native = true
	body := `{"model":"chat","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"x_new_field":[1]}`
	resp, got := fx.postTo(t, "/v1/messages", body, "anthropic-beta", "tools-2024-04-04")
	if resp.StatusCode != 200 || got != `{"op":"messages","model":"up-model","echo":`+body+`}` || fx.up.beta != "tools-2024-04-04" {
		t.Fatalf("%d %s (beta %q)", resp.StatusCode, got, fx.up.beta)
	}
	fx.up.chunks = []string{"he", "llo"}
	stream := `{"model":"chat","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	resp, got = fx.postTo(t, "/v1/messages", stream)
	want := "event: message_start\ndata: {\"type\":\"message_start\",\"model\":\"up-model\"}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"he\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"llo\"}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	if resp.StatusCode != 200 || got != want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %q", resp.StatusCode, got)
	}
	row := fx.logs.row(t, resp.Header.Get(headerRequestID))
	if !row.Stream || row.CompletionTokens != 2 || row.TTFT <= 0 {
		t.Fatalf("log %+v", row)
	}
	// Broken after the first event: Anthropic's error event ends it.
	fx.up.cutErr = &domain.UpstreamError{Class: domain.ClassRetryable, Status: 502, Message: "cut"}
	_, got = fx.postTo(t, "/v1/messages", stream)
	if !strings.HasSuffix(got, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"upstream returned 502: cut\"}}\n\n") {
		t.Fatalf("%q", got)
	}
}

func TestCountTokensNativeOrEstimated(t *testing.T) {
	fx := newFixture(t, Options{})
	body := `{"model":"chat","messages":[{"role":"user","content":"hello there"}]}`
	resp, got := fx.postTo(t, "/v1/messages/count_tokens", body)
	if resp.StatusCode != 200 || resp.Header.Get(anthropicapi.EstimateHeader) != "true" || !strings.Contains(got, `"input_tokens"`) {
		t.Fatalf("estimate: %d %s", resp.StatusCode, got)
	}
	fx.up.native = true
	resp, got = fx.postTo(t, "/v1/messages/count_tokens", body)
	if resp.StatusCode != 200 || resp.Header.Get(anthropicapi.EstimateHeader) != "" || !strings.HasPrefix(got, `{"op":"count_tokens"`) {
		t.Fatalf("native: %d %s", resp.StatusCode, got)
	}
	// The counting upstream fails: the estimate answers.
	fx.up.err = &domain.UpstreamError{Class: domain.ClassRetryable, Status: 503, Message: "down"}
	resp, got = fx.postTo(t, "/v1/messages/count_tokens", body)
	if resp.StatusCode != 200 || resp.Header.Get(anthropicapi.EstimateHeader) != "true" {
		t.Fatalf("fallback: %d %s", resp.StatusCode, got)
	}
}
