package openai_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/airouter/airouter/adapters/providers/openai"
	"github.com/airouter/airouter/adapters/providers/providertest"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

func newClient(t testing.TB, kind domain.ProviderKind, base string, headers map[string]string) *openai.Client {
	t.Helper()
	c, err := openai.New(domain.Provider{Name: "p", Kind: kind, BaseURL: base, Headers: headers, Timeouts: providertest.NormalTimeouts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func parse(t *testing.T, body string) *domain.ChatRequest {
	t.Helper()
	r, err := domain.ParseChatRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var tgt = ports.Target{Model: "gpt-4o-2024-08-06", Key: providertest.TestKey}

// TestBodyByteForByte checks that the upstream receives the client's bytes
// with only model, provider, stream and stream_options changed: spacing,
// key order, number spelling, escapes and unknown fields all survive.
func TestBodyByteForByte(t *testing.T) {
	t.Parallel()
	u := providertest.NewUpstream(t, providertest.WireOpenAI, providertest.TestKey)
	c := newClient(t, domain.KindOpenAI, u.URL, nil)
	client := "{\n  \"model\": \"my-alias\",\n  \"provider\": \"openai\",\n  \"messages\": [{\"role\": \"user\", \"content\": \"caf\\u00e9 \\\"quoted\\\" \\ud83d\\ude00\"}],\n" +
		"  \"temperature\": 1.0E0, \"top_p\": 1.00,\n  \"future_param\": {\"nested\": [1, 2.50, null, true], \"s\": \"\\/\"},\n  \"metadata\": {\"k\": \"v\"}\n}"
	if _, err := c.Chat(context.Background(), tgt, parse(t, client)); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"model\":\"gpt-4o-2024-08-06\",\n  \"messages\": [{\"role\": \"user\", \"content\": \"caf\\u00e9 \\\"quoted\\\" \\ud83d\\ude00\"}],\n" +
		"  \"temperature\": 1.0E0, \"top_p\": 1.00,\n  \"future_param\": {\"nested\": [1, 2.50, null, true], \"s\": \"\\/\"},\n  \"metadata\": {\"k\": \"v\"}\n}"
	if got := string(u.LastRequest(t).Body); got != want {
		t.Fatalf("upstream body\n%s\nwant\n%s", got, want)
	}

	stream := `{"stream_options":{"include_obfuscation":false},"model":"my-alias","stream":true,"messages":[{"role":"user","content":"hi"}],"n":1}`
	st, err := c.ChatStream(context.Background(), tgt, parse(t, stream))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := st.Next(); err != nil {
			break
		}
	}
	st.Close()
	want = `{"stream_options":{"include_obfuscation":false,"include_usage":true},"model":"gpt-4o-2024-08-06","stream":true,"messages":[{"role":"user","content":"hi"}],"n":1}`
	if got := string(u.LastRequest(t).Body); got != want {
		t.Fatalf("upstream body\n%s\nwant\n%s", got, want)
	}
}

func drain(st ports.ChatStream) (n int, err error) {
	defer st.Close()
	for {
		if _, err := st.Next(); err != nil {
			return n, err
		}
		n++
	}
}

// TestMissingDone: OpenAI and Ark always end streams with [DONE], so a
// stream without it was cut; OpenAI-compatible servers that omit it end
// cleanly once a choice finished.
func TestMissingDone(t *testing.T) {
	t.Parallel()
	for _, kind := range []domain.ProviderKind{domain.KindOpenAI, domain.KindOpenAICompatible} {
		u := providertest.NewUpstream(t, providertest.WireOpenAI, "")
		u.Respond(providertest.Behavior{Reply: providertest.Reply{Text: "abcdef", Finish: "stop"}, NoDone: true})
		c := newClient(t, kind, u.URL, nil)
		st, err := c.ChatStream(context.Background(), tgt, parse(t, `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = drain(st)
		var ue *domain.UpstreamError
		switch kind {
		case domain.KindOpenAI:
			if !errors.As(err, &ue) || ue.Class != domain.ClassAmbiguous {
				t.Errorf("openai without [DONE]: %v", err)
			}
		default:
			if err != io.EOF {
				t.Errorf("compatible without [DONE]: %v", err)
			}
		}
	}
}

func TestArkErrorCodes(t *testing.T) {
	t.Parallel()
	u := providertest.NewUpstream(t, providertest.WireArk, providertest.TestKey)
	c := newClient(t, domain.KindVolcengine, u.URL, nil)
	req := parse(t, `{"model":"doubao","messages":[{"role":"user","content":"x"}]}`)
	cases := []struct {
		b    providertest.Behavior
		want domain.ErrorClass
	}{
		{providertest.Behavior{Status: 400, ErrType: "BadRequest", ErrCode: "InvalidEndpoint.ClosedEndpoint"}, domain.ClassRetryable},
		{providertest.Behavior{Status: 429, ErrType: "TooManyRequests", ErrCode: "ServerOverloaded"}, domain.ClassRetryable},
		{providertest.Behavior{Status: 429, ErrType: "TooManyRequests", ErrCode: "RateLimitExceeded.EndpointTPMExceeded"}, domain.ClassRateLimited},
		{providertest.Behavior{Status: 400, ErrType: "BadRequest", ErrCode: "InputTextRiskDetection"}, domain.ClassRequest},
		{providertest.Behavior{Status: 403, ErrType: "Forbidden", ErrCode: "AccountOverdueError"}, domain.ClassAuth},
		{providertest.Behavior{Status: 404, ErrType: "NotFound", ErrCode: "ModelNotOpen"}, domain.ClassRequest},
		{providertest.Behavior{Status: 500, ErrType: "InternalServiceError", ErrCode: "InternalServiceError", ErrMessage: "The input length exceeds the model's maximum context length"}, domain.ClassRequest},
	}
	for _, cs := range cases {
		u.Respond(cs.b)
		_, err := c.Chat(context.Background(), tgt, req)
		var ue *domain.UpstreamError
		if !errors.As(err, &ue) || ue.Class != cs.want || ue.Type != cs.b.ErrCode {
			t.Errorf("%s: got %+v, want class %s", cs.b.ErrCode, err, cs.want)
		}
	}
}

func TestOpenAIErrorCodes(t *testing.T) {
	t.Parallel()
	u := providertest.NewUpstream(t, providertest.WireOpenAI, providertest.TestKey)
	c := newClient(t, domain.KindOpenAI, u.URL, nil)
	req := parse(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	u.Respond(providertest.Behavior{Status: 400, ErrCode: "context_length_exceeded", ErrMessage: "This model's maximum context length is 128000 tokens."})
	_, err := c.Chat(context.Background(), tgt, req)
	var ue *domain.UpstreamError
	if !errors.As(err, &ue) || ue.Class != domain.ClassRequest || ue.Type != "context_length_exceeded" {
		t.Errorf("context length: %+v", err)
	}
	u.Respond(providertest.Behavior{Status: 429, ErrType: "insufficient_quota", ErrCode: "insufficient_quota", Header: map[string]string{"retry-after-ms": "250"}})
	_, err = c.Chat(context.Background(), tgt, req)
	if !errors.As(err, &ue) || ue.Class != domain.ClassRateLimited || ue.RetryAfter.Milliseconds() != 250 {
		t.Errorf("quota: %+v", err)
	}
}

// streamServer serves a fixed SSE body.
func streamServer(t *testing.T, contentType, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.Header().Set("Content-Type", contentType)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestStreamErrors(t *testing.T) {
	t.Parallel()
	req := parse(t, `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	cases := []struct {
		name, ct, body string
		want           domain.ErrorClass
	}{
		{"error chunk", "text/event-stream", "data: {\"id\":\"a\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\ndata: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}\n\n", domain.ClassRetryable},
		{"vLLM error chunk", "text/event-stream", "data: {\"object\":\"error\",\"message\":\"max context length exceeded\",\"type\":\"BadRequestError\",\"code\":400}\n\n", domain.ClassRequest},
		{"error event", "text/event-stream", "event: error\ndata: upstream exploded\n\n", domain.ClassRetryable},
		{"rate limit chunk", "text/event-stream", "data: {\"error\":{\"message\":\"slow\",\"type\":\"rate_limit_exceeded\"}}\n\n", domain.ClassRateLimited},
		{"invalid chunk", "text/event-stream", "data: {not json}\n\n", domain.ClassAmbiguous},
		{"json instead of stream", "application/json", `{"error":{"message":"bad model","type":"invalid_request_error","code":"model_not_found"}}`, domain.ClassRequest},
		{"completion instead of stream", "application/json", `{"id":"x","choices":[]}`, domain.ClassAmbiguous},
	}
	for _, cs := range cases {
		c := newClient(t, domain.KindOpenAICompatible, streamServer(t, cs.ct, cs.body), nil)
		var err error
		st, serr := c.ChatStream(context.Background(), tgt, req)
		if serr != nil {
			err = serr
		} else {
			_, err = drain(st)
		}
		var ue *domain.UpstreamError
		if !errors.As(err, &ue) || ue.Class != cs.want || ue.Message == "" {
			t.Errorf("%s: got %#v, want class %s", cs.name, err, cs.want)
		}
	}
}

// TestHugeEvent streams a 3 MiB chunk, far past bufio.Scanner's limit and
// within the 4 MiB event limit.
func TestHugeEvent(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 3<<20)
	body := fmt.Sprintf("data: {\"id\":\"a\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"}}]}\n\ndata: {\"id\":\"a\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n", big)
	c := newClient(t, domain.KindOpenAI, streamServer(t, "text/event-stream", body), nil)
	st, err := c.ChatStream(context.Background(), tgt, parse(t, `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ch, err := st.Next()
	if err != nil || len(*ch.Choices[0].Delta.Content) != len(big) {
		t.Fatalf("huge chunk: %v", err)
	}
	if n, err := drain(st); n != 1 || err != io.EOF {
		t.Fatalf("rest: %d %v", n, err)
	}
}

func TestProbeFallbacks(t *testing.T) {
	t.Parallel()
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		paths = append(paths, r.Method+" "+r.URL.Path)
		if r.URL.Path == "/v1/models" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"p"},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	defer srv.Close()
	c := newClient(t, domain.KindOpenAICompatible, srv.URL+"/v1", nil)
	if err := c.Probe(context.Background(), ports.Target{Model: "llama"}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(paths, ",") != "GET /v1/models,POST /v1/chat/completions" {
		t.Fatalf("paths %v", paths)
	}
	var ue *domain.UpstreamError
	if err := c.Probe(context.Background(), ports.Target{}); !errors.As(err, &ue) || ue.Status != 404 {
		t.Fatalf("no model to fall back to: %v", err)
	}
	// Ark without a model lists models.
	ark := newClient(t, domain.KindVolcengine, srv.URL+"/v1", nil)
	paths = nil
	ark.Probe(context.Background(), ports.Target{})
	if strings.Join(paths, ",") != "GET /v1/models" {
		t.Fatalf("ark paths %v", paths)
	}
}

func TestAuthorizationHeader(t *testing.T) {
	t.Parallel()
	// Keys are provider keys: a configuration cannot smuggle one in as a
	// header (the admin API refuses it too, with the same rule).
	for _, name := range []string{"authorization", "X-Api-Key", "Cookie"} {
		_, err := openai.New(domain.Provider{Name: "p", Kind: domain.KindOpenAICompatible, BaseURL: "http://127.0.0.1:1/v1", Headers: map[string]string{name: "x"}})
		if domain.ErrorCode(err) != domain.CodeInvalid {
			t.Errorf("header %s accepted: %v", name, err)
		}
	}
	u := providertest.NewUpstream(t, providertest.WireOpenAI, "")
	req := parse(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	c := newClient(t, domain.KindOpenAICompatible, u.URL, map[string]string{"OpenAI-Organization": "org-1"})
	c.Chat(context.Background(), ports.Target{Model: "m"}, req)
	if h := u.LastRequest(t).Header; h.Get("Authorization") != "" || h.Get("Openai-Organization") != "org-1" {
		t.Fatalf("keyless: %v", h)
	}
	c.Chat(context.Background(), ports.Target{Model: "m", Key: "sk-real"}, req)
	if h := u.LastRequest(t).Header; h.Get("Authorization") != "Bearer sk-real" || len(h.Values("Authorization")) != 1 {
		t.Fatalf("key: %v", h)
	}
}
