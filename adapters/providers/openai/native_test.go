package openai_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airouter/airouter/adapters/providers/openai"
	"github.com/airouter/airouter/adapters/providers/providertest"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// nativeFake is an upstream that records each request and answers with its
// handler, written from the OpenAI API reference (embeddings, images,
// responses and its streaming events).
type nativeFake struct {
	URL     string
	mu      sync.Mutex
	reqs    []seenRequest
	handler http.HandlerFunc
}

type seenRequest struct {
	Method, Path string
	Header       http.Header
	Body         string
}

func newNativeFake(t *testing.T, prefix string, h http.HandlerFunc) *nativeFake {
	t.Helper()
	f := &nativeFake{handler: h}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, seenRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: string(b)})
		h := f.handler
		f.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL + prefix
	return f
}

func (f *nativeFake) last(t *testing.T) seenRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("the upstream received no request")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *nativeFake) respond(h http.HandlerFunc) {
	f.mu.Lock()
	f.handler = h
	f.mu.Unlock()
}

func (f *nativeFake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func jsonReply(status int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// sseReply writes events one write (and flush) each.
func sseReply(events ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		for _, e := range events {
			io.WriteString(w, e)
			w.(http.Flusher).Flush()
		}
	}
}

func event(name, data string) string { return "event: " + name + "\ndata: " + data + "\n\n" }

func newNative(t *testing.T, kind domain.ProviderKind, base string, timeouts domain.Timeouts, headers map[string]string) *openai.Client {
	t.Helper()
	c, err := openai.New(domain.Provider{Name: "p", Kind: kind, BaseURL: base, Headers: headers, Timeouts: timeouts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

var ntgt = ports.Target{Model: "text-embedding-3-small", Key: providertest.TestKey}

const embeddingsAnswer = `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292,-0.0028842222]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}`

func TestNativeServes(t *testing.T) {
	t.Parallel()
	want := map[domain.ProviderKind]map[ports.Operation]bool{
		domain.KindOpenAI:           {ports.OpEmbeddings: true, ports.OpImages: true, ports.OpResponses: true},
		domain.KindVolcengine:       {ports.OpEmbeddings: true, ports.OpImages: true},
		domain.KindOpenAICompatible: {ports.OpEmbeddings: true, ports.OpImages: true},
	}
	ops := []ports.Operation{ports.OpEmbeddings, ports.OpImages, ports.OpResponses, ports.OpMessages, ports.OpCountTokens, "chat"}
	for kind, served := range want {
		f := newNativeFake(t, "/v1", jsonReply(200, embeddingsAnswer))
		c := newNative(t, kind, f.URL, providertest.NormalTimeouts, nil)
		for _, op := range ops {
			if got := c.Serves(op); got != served[op] {
				t.Errorf("%s Serves(%s) = %v, want %v", kind, op, got, served[op])
			}
			if served[op] {
				continue
			}
			req := &ports.NativeRequest{Op: op, Body: []byte(`{"model":"m","input":"x"}`)}
			_, err := c.Call(context.Background(), ntgt, req)
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.CodeInvalid {
				t.Errorf("%s Call(%s) = %v, want an invalid error", kind, op, err)
			}
			_, err = c.CallStream(context.Background(), ntgt, req)
			if !errors.As(err, &de) || de.Code != domain.CodeInvalid {
				t.Errorf("%s CallStream(%s) = %v, want an invalid error", kind, op, err)
			}
		}
		if n := f.count(); n != 0 {
			t.Errorf("%s: unserved operations reached the upstream (%d requests)", kind, n)
		}
	}
}

// TestNativeBodyByteForByte: only model changes and provider goes; spacing,
// order, number spelling, escapes and unknown members survive. The key goes
// as a bearer token, the provider's headers and the client's OpenAI-Beta
// along.
func TestNativeBodyByteForByte(t *testing.T) {
	t.Parallel()
	f := newNativeFake(t, "/v1", jsonReply(200, embeddingsAnswer))
	c := newNative(t, domain.KindOpenAI, f.URL, providertest.NormalTimeouts, map[string]string{"OpenAI-Organization": "org-1"})
	client := "{\n  \"input\": [\"caf\\u00e9 \\\"q\\\"\", \"\\ud83d\\ude00\"],\n  \"model\": \"my-alias\",\n  \"provider\" : \"openai\",\n" +
		"  \"dimensions\": 2.560E2, \"encoding_format\": \"float\",\n  \"future_param\": {\"nested\": [1, 2.50, null, true], \"s\": \"\\/\"}\n}"
	resp, err := c.Call(context.Background(), ntgt, &ports.NativeRequest{Op: ports.OpEmbeddings, Body: []byte(client), Beta: "assistants=v2"})
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"input\": [\"caf\\u00e9 \\\"q\\\"\", \"\\ud83d\\ude00\"],\n  \"model\":\"text-embedding-3-small\",\n" +
		"  \"dimensions\": 2.560E2, \"encoding_format\": \"float\",\n  \"future_param\": {\"nested\": [1, 2.50, null, true], \"s\": \"\\/\"}\n}"
	r := f.last(t)
	if r.Body != want {
		t.Errorf("upstream body\n%s\nwant\n%s", r.Body, want)
	}
	if r.Method != "POST" || r.Path != "/v1/embeddings" {
		t.Errorf("request %s %s", r.Method, r.Path)
	}
	for k, v := range map[string]string{"Authorization": "Bearer " + providertest.TestKey, "Openai-Beta": "assistants=v2", "Openai-Organization": "org-1", "Content-Type": "application/json", "Accept": "application/json"} {
		if got := r.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if string(resp.Body) != embeddingsAnswer || resp.ContentType != "application/json" {
		t.Errorf("answer %q (%s)", resp.Body, resp.ContentType)
	}
	if u := resp.Usage; u == nil || u.PromptTokens != 8 || u.CompletionTokens != 0 || u.TotalTokens != 8 {
		t.Errorf("usage %+v", resp.Usage)
	}

	// Without a beta header none is sent; a key-less compatible server gets
	// no Authorization.
	f2 := newNativeFake(t, "/v1", jsonReply(200, embeddingsAnswer))
	c2 := newNative(t, domain.KindOpenAICompatible, f2.URL, providertest.NormalTimeouts, nil)
	if _, err := c2.Call(context.Background(), ports.Target{Model: "bge-m3"}, &ports.NativeRequest{Op: ports.OpEmbeddings, Body: []byte(`{"model":"x","input":"hi"}`)}); err != nil {
		t.Fatal(err)
	}
	r = f2.last(t)
	if _, ok := r.Header["Openai-Beta"]; ok {
		t.Error("OpenAI-Beta sent without a client value")
	}
	if _, ok := r.Header["Authorization"]; ok {
		t.Error("Authorization sent without a key")
	}
	if r.Body != `{"model":"bge-m3","input":"hi"}` {
		t.Errorf("body %s", r.Body)
	}

	// A beta value with a line break is the client's error, never sent.
	_, err = c.Call(context.Background(), ntgt, &ports.NativeRequest{Op: ports.OpEmbeddings, Body: []byte(client), Beta: "a\r\nX-Injected: 1"})
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeInvalid {
		t.Errorf("beta with CRLF: %v", err)
	}
	// So is a body that is not an object.
	_, err = c.Call(context.Background(), ntgt, &ports.NativeRequest{Op: ports.OpEmbeddings, Body: []byte(`["model"]`)})
	if !errors.As(err, &de) || de.Code != domain.CodeInvalid {
		t.Errorf("array body: %v", err)
	}
}

func TestNativeBodyPatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		op     ports.Operation
		body   string
		stream bool
		cap    int
		want   string
	}{
		{"cap added", ports.OpResponses, `{"model":"a","input":"hi"}`, false, 300, `{"model":"gpt-5","input":"hi","max_output_tokens":300}`},
		{"cap kept", ports.OpResponses, `{"model":"a","max_output_tokens": 50,"input":"hi"}`, false, 300, `{"model":"gpt-5","max_output_tokens": 50,"input":"hi"}`},
		{"cap over null", ports.OpResponses, `{"max_output_tokens":null,"model":"a"}`, false, 300, `{"max_output_tokens":300,"model":"gpt-5"}`},
		{"no cap for embeddings", ports.OpEmbeddings, `{"model":"a","input":"hi"}`, false, 300, `{"model":"gpt-5","input":"hi"}`},
		{"model added", ports.OpImages, `{"prompt":"a cat","provider":"x"}`, false, 0, `{"prompt":"a cat","model":"gpt-5"}`},
		{"stream set", ports.OpResponses, `{"model":"a","stream_options":{"include_obfuscation":false},"input":"hi"}`, true, 0, `{"model":"gpt-5","stream_options":{"include_obfuscation":false},"input":"hi","stream":true}`},
		{"stream turned off", ports.OpResponses, `{"stream_options":{"include_obfuscation":false},"model":"a","stream":true}`, false, 0, `{"model":"gpt-5","stream":false}`},
		{"stream false kept", ports.OpResponses, `{"model":"a","stream": false}`, false, 0, `{"model":"gpt-5","stream": false}`},
	}
	for _, tc := range cases {
		got, err := openai.NativeBody(nil, tc.op, []byte(tc.body), "gpt-5", tc.stream, tc.cap)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
}

// TestNativePaths: each operation goes to its path below the base URL, for
// Ark below /api/v3.
func TestNativePaths(t *testing.T) {
	t.Parallel()
	cases := []struct {
		kind   domain.ProviderKind
		prefix string
		op     ports.Operation
		path   string
	}{
		{domain.KindOpenAI, "/v1", ports.OpEmbeddings, "/v1/embeddings"},
		{domain.KindOpenAI, "/v1", ports.OpImages, "/v1/images/generations"},
		{domain.KindOpenAI, "/v1", ports.OpResponses, "/v1/responses"},
		{domain.KindVolcengine, "/api/v3", ports.OpEmbeddings, "/api/v3/embeddings"},
		{domain.KindVolcengine, "/api/v3", ports.OpImages, "/api/v3/images/generations"},
		{domain.KindOpenAICompatible, "/v1", ports.OpEmbeddings, "/v1/embeddings"},
		{domain.KindOpenAICompatible, "/v1/chat/completions", ports.OpImages, "/v1/images/generations"},
	}
	for _, tc := range cases {
		f := newNativeFake(t, tc.prefix, jsonReply(200, `{"object":"response","created":1,"data":[]}`))
		c := newNative(t, tc.kind, f.URL, providertest.NormalTimeouts, nil)
		if _, err := c.Call(context.Background(), ntgt, &ports.NativeRequest{Op: tc.op, Body: []byte(`{"model":"m"}`)}); err != nil {
			t.Fatalf("%s %s: %v", tc.kind, tc.op, err)
		}
		if got := f.last(t).Path; got != tc.path {
			t.Errorf("%s %s: path %s, want %s", tc.kind, tc.op, got, tc.path)
		}
	}
}

func TestNativeUsage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		kind   domain.ProviderKind
		op     ports.Operation
		answer string
		want   *domain.Usage // nil: none
		cached int
	}{
		{"gpt-image-1", domain.KindOpenAI, ports.OpImages,
			`{"created":1713833628,"data":[{"b64_json":"iVBORw0KGgo="}],"usage":{"total_tokens":100,"input_tokens":50,"output_tokens":50,"input_tokens_details":{"text_tokens":10,"image_tokens":40}}}`,
			&domain.Usage{PromptTokens: 50, CompletionTokens: 50, TotalTokens: 100}, 0},
		{"dall-e-3", domain.KindOpenAI, ports.OpImages,
			`{"created":1713833628,"data":[{"url":"https://example.com/a.png","revised_prompt":"a cat"}]}`, nil, 0},
		{"ark seedream", domain.KindVolcengine, ports.OpImages,
			`{"model":"doubao-seedream-3-0-t2i-250415","created":1748262727,"data":[{"url":"https://ark.example/a.jpeg"}],"usage":{"generated_images":1,"output_tokens":16384,"total_tokens":16384}}`,
			&domain.Usage{CompletionTokens: 16384, TotalTokens: 16384}, 0},
		{"ark embeddings", domain.KindVolcengine, ports.OpEmbeddings,
			`{"created":1743575029,"data":[{"embedding":[-1.7,0.5],"index":0,"object":"embedding"}],"id":"021743575029","model":"doubao-embedding-text-240715","object":"list","usage":{"prompt_tokens":7,"total_tokens":7}}`,
			&domain.Usage{PromptTokens: 7, TotalTokens: 7}, 0},
		{"responses", domain.KindOpenAI, ports.OpResponses,
			`{"id":"resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41","object":"response","created_at":1741476777,"status":"completed","error":null,"model":"gpt-4o-2024-08-06",` +
				`"output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi","annotations":[]}]}],` +
				`"usage":{"input_tokens":328,"input_tokens_details":{"cached_tokens":128},"output_tokens":52,"output_tokens_details":{"reasoning_tokens":16},"total_tokens":380}}`,
			&domain.Usage{PromptTokens: 328, CompletionTokens: 52, TotalTokens: 380}, 128},
		{"failed response is an answer", domain.KindOpenAI, ports.OpResponses,
			`{"id":"resp_1","object":"response","status":"failed","error":{"code":"server_error","message":"The model failed to generate a response."},"usage":null}`, nil, 0},
	}
	for _, tc := range cases {
		f := newNativeFake(t, "/v1", jsonReply(200, tc.answer))
		c := newNative(t, tc.kind, f.URL, providertest.NormalTimeouts, nil)
		resp, err := c.Call(context.Background(), ntgt, &ports.NativeRequest{Op: tc.op, Body: []byte(`{"model":"m","prompt":"a cat"}`)})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if string(resp.Body) != tc.answer {
			t.Errorf("%s: body changed: %s", tc.name, resp.Body)
		}
		u := resp.Usage
		switch {
		case tc.want == nil:
			if u != nil {
				t.Errorf("%s: usage %+v, want none", tc.name, u)
			}
		case u == nil:
			t.Errorf("%s: no usage", tc.name)
		case u.PromptTokens != tc.want.PromptTokens || u.CompletionTokens != tc.want.CompletionTokens || u.TotalTokens != tc.want.TotalTokens || u.CachedTokens != tc.cached:
			t.Errorf("%s: usage %+v, want %+v cached %d", tc.name, u, tc.want, tc.cached)
		}
		if tc.name == "responses" && (string(u.PromptTokensDetails) != `{"cached_tokens":128}` || string(u.CompletionTokensDetails) != `{"reasoning_tokens":16}`) {
			t.Errorf("details %s %s", u.PromptTokensDetails, u.CompletionTokensDetails)
		}
	}
}

// TestNativeErrors: error answers are classed as for chat completions, from
// OpenAI's and Ark's error formats, and never carry the key.
func TestNativeErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		kind    domain.ProviderKind
		h       http.HandlerFunc
		class   domain.ErrorClass
		status  int
		typ     string
		retryIn time.Duration
	}{
		{"bad key", domain.KindOpenAI, jsonReply(401, `{"error":{"message":"Incorrect API key provided: `+providertest.TestKey+`.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`),
			domain.ClassAuth, 401, "invalid_api_key", 0},
		{"rate limited", domain.KindOpenAI, jsonReply(429, `{"error":{"message":"Rate limit reached for text-embedding-3-small","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, "Retry-After", "7"),
			domain.ClassRateLimited, 429, "rate_limit_exceeded", 7 * time.Second},
		{"bad request", domain.KindOpenAI, jsonReply(400, `{"error":{"message":"'input' is a required property","type":"invalid_request_error","param":null,"code":null}}`),
			domain.ClassRequest, 400, "invalid_request_error", 0},
		{"too long", domain.KindOpenAI, jsonReply(400, `{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","param":null,"code":"context_length_exceeded"}}`),
			domain.ClassRequest, 400, "context_length_exceeded", 0},
		{"moderation", domain.KindOpenAI, jsonReply(400, `{"error":{"message":"Your request was rejected as a result of our safety system.","type":"image_generation_user_error","param":null,"code":"moderation_blocked"}}`),
			domain.ClassRequest, 400, "moderation_blocked", 0},
		{"server error", domain.KindOpenAI, jsonReply(500, `{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`),
			domain.ClassRetryable, 500, "server_error", 0},
		{"overloaded", domain.KindOpenAI, jsonReply(503, `{"error":{"message":"overloaded","type":"server_error"}}`),
			domain.ClassRetryable, 503, "server_error", 0},
		{"ark overloaded", domain.KindVolcengine, jsonReply(429, `{"error":{"code":"ServerOverloaded","message":"The service is currently unable to handle additional requests.","param":"","type":"TooManyRequests"}}`),
			domain.ClassRetryable, 429, "ServerOverloaded", 0},
		{"ark closed endpoint", domain.KindVolcengine, jsonReply(400, `{"error":{"code":"InvalidEndpoint.ClosedEndpoint","message":"The endpoint is closed.","param":"","type":"BadRequest"}}`),
			domain.ClassRetryable, 400, "InvalidEndpoint.ClosedEndpoint", 0},
		{"ark risk", domain.KindVolcengine, jsonReply(400, `{"error":{"code":"InputTextSensitiveContentDetected","message":"The request failed because the input text may contain sensitive information.","param":"","type":"BadRequest"}}`),
			domain.ClassRequest, 400, "InputTextSensitiveContentDetected", 0},
		{"error object in a 200", domain.KindOpenAICompatible, jsonReply(200, `{"error":{"message":"model not loaded","type":"invalid_request_error","code":404}}`),
			domain.ClassRequest, 404, "invalid_request_error", 0},
		{"not JSON", domain.KindOpenAI, jsonReply(200, `{"object":"list","data":[`),
			domain.ClassAmbiguous, 200, "", 0},
	}
	for _, tc := range cases {
		f := newNativeFake(t, "/v1", tc.h)
		c := newNative(t, tc.kind, f.URL, providertest.NormalTimeouts, nil)
		_, err := c.Call(context.Background(), ntgt, &ports.NativeRequest{Op: ports.OpEmbeddings, Body: []byte(`{"model":"m","input":"x"}`)})
		var ue *domain.UpstreamError
		if !errors.As(err, &ue) {
			t.Errorf("%s: %v, want an upstream error", tc.name, err)
			continue
		}
		if ue.Class != tc.class || ue.Status != tc.status || ue.Type != tc.typ || ue.RetryAfter != tc.retryIn {
			t.Errorf("%s: %+v; want class %s status %d type %q retry %v", tc.name, ue, tc.class, tc.status, tc.typ, tc.retryIn)
		}
		if strings.Contains(ue.Error(), providertest.TestKey) {
			t.Errorf("%s: the key leaked: %s", tc.name, ue.Error())
		}
	}
}

// The Responses API's stream for a reasoning model calling a tool, as
// OpenAI sends it.
var toolStream = []string{
	event("response.created", `{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1741290958,"status":"in_progress","error":null,"model":"o4-mini","output":[],"usage":null}}`),
	event("response.in_progress", `{"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_1","object":"response","status":"in_progress","usage":null}}`),
	event("response.output_item.added", `{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}}`),
	event("response.reasoning_summary_text.delta", `{"type":"response.reasoning_summary_text.delta","sequence_number":3,"item_id":"rs_1","output_index":0,"summary_index":0,"delta":"**Checking the weather**"}`),
	event("response.output_item.done", `{"type":"response.output_item.done","sequence_number":4,"output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"**Checking the weather**"}]}}`),
	event("response.output_item.added", `{"type":"response.output_item.added","sequence_number":5,"output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"","status":"in_progress"}}`),
	event("response.function_call_arguments.delta", `{"type":"response.function_call_arguments.delta","sequence_number":6,"item_id":"fc_1","output_index":1,"delta":"{\"city\":"}`),
	event("response.function_call_arguments.delta", `{"type":"response.function_call_arguments.delta","sequence_number":7,"item_id":"fc_1","output_index":1,"delta":"\"Paris\"}"}`),
	event("response.function_call_arguments.done", `{"type":"response.function_call_arguments.done","sequence_number":8,"item_id":"fc_1","output_index":1,"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}`),
	event("response.output_item.added", `{"type":"response.output_item.added","sequence_number":9,"output_index":2,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}}`),
	event("response.content_part.added", `{"type":"response.content_part.added","sequence_number":10,"item_id":"msg_1","output_index":2,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}`),
	event("response.output_text.delta", `{"type":"response.output_text.delta","sequence_number":11,"item_id":"msg_1","output_index":2,"content_index":0,"delta":"Checking","logprobs":[]}`),
	event("response.output_text.done", `{"type":"response.output_text.done","sequence_number":12,"item_id":"msg_1","output_index":2,"content_index":0,"text":"Checking","logprobs":[]}`),
	event("response.completed", `{"type":"response.completed","sequence_number":13,"response":{"id":"resp_1","object":"response","status":"completed","error":null,"model":"o4-mini","output":[],"usage":{"input_tokens":75,"input_tokens_details":{"cached_tokens":64},"output_tokens":18,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":93}}}`),
}

type seenEvent struct {
	name    string
	data    string
	content bool
	usage   *domain.Usage
}

func collect(t *testing.T, st ports.NativeStream) ([]seenEvent, error) {
	t.Helper()
	defer st.Close()
	var out []seenEvent
	for {
		ev, err := st.Next()
		if err != nil {
			return out, err
		}
		out = append(out, seenEvent{ev.Name, string(ev.Data), ev.Content, ev.Usage})
	}
}

func TestNativeStream(t *testing.T) {
	t.Parallel()
	f := newNativeFake(t, "/v1", sseReply(toolStream...))
	c := newNative(t, domain.KindOpenAI, f.URL, providertest.NormalTimeouts, nil)
	st, err := c.CallStream(context.Background(), ports.Target{Model: "o4-mini", Key: providertest.TestKey, CapMaxTokens: 200},
		&ports.NativeRequest{Op: ports.OpResponses, Body: []byte(`{"model":"alias","input":"Weather in Paris?","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}],"stream":true}`), Beta: "responses=experimental"})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := collect(t, st)
	if err != io.EOF {
		t.Fatalf("end: %v after %d events", err, len(evs))
	}
	r := f.last(t)
	if want := `{"model":"o4-mini","input":"Weather in Paris?","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}],"stream":true,"max_output_tokens":200}`; r.Body != want {
		t.Errorf("body %s\nwant %s", r.Body, want)
	}
	if r.Path != "/v1/responses" || r.Header.Get("Accept") != "text/event-stream" || r.Header.Get("OpenAI-Beta") != "responses=experimental" {
		t.Errorf("request %s %v", r.Path, r.Header)
	}
	if len(evs) != len(toolStream) {
		t.Fatalf("%d events, want %d", len(evs), len(toolStream))
	}
	contents := map[int]bool{3: true, 6: true, 7: true, 11: true}
	for i, ev := range evs {
		if got := event(ev.name, ev.data); got != toolStream[i] {
			t.Errorf("event %d: %q, want %q", i, got, toolStream[i])
		}
		if ev.content != contents[i] {
			t.Errorf("event %d (%s): content %v", i, ev.name, ev.content)
		}
		if (ev.usage != nil) != (i == len(evs)-1) {
			t.Errorf("event %d (%s): usage %+v", i, ev.name, ev.usage)
		}
	}
	if u := evs[len(evs)-1].usage; u.PromptTokens != 75 || u.CompletionTokens != 18 || u.TotalTokens != 93 || u.CachedTokens != 64 {
		t.Errorf("usage %+v", u)
	}
}

// TestNativeStreamEnds: the other terminal events end the stream too; a
// stream without one, or ending in [DONE], was cut short.
func TestNativeStreamEnds(t *testing.T) {
	t.Parallel()
	created := toolStream[0]
	delta := event("response.output_text.delta", `{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}`)
	failed := event("response.failed", `{"type":"response.failed","sequence_number":2,"response":{"id":"resp_1","object":"response","status":"failed","error":{"code":"server_error","message":"The model failed to generate a response."},"usage":null}}`)
	incomplete := event("response.incomplete", `{"type":"response.incomplete","sequence_number":2,"response":{"id":"resp_1","object":"response","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":10,"output_tokens":20,"total_tokens":30}}}`)
	cases := []struct {
		name   string
		events []string
		n      int // events yielded
		clean  bool
		usage  int // total tokens on the last event, 0 for none
	}{
		{"failed", []string{created, delta, failed}, 3, true, 0},
		{"incomplete", []string{created, delta, incomplete}, 3, true, 30},
		{"cut short", []string{created, delta}, 2, false, 0},
		{"cut inside an event", []string{created, delta, "event: response.output_text.delta\ndata: {\"type\":"}, 2, false, 0},
		{"done is not an end", []string{created, delta, "data: [DONE]\n\n"}, 2, false, 0},
		{"no event names", []string{"data: " + `{"type":"response.created","sequence_number":0}` + "\n\n", "data: " + `{"type":"response.output_text.delta","delta":"x"}` + "\n\n",
			"data: " + `{"type":"response.completed","response":{"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3}}}` + "\n\n"}, 3, true, 3},
	}
	for _, tc := range cases {
		f := newNativeFake(t, "/v1", sseReply(tc.events...))
		c := newNative(t, domain.KindOpenAI, f.URL, providertest.NormalTimeouts, nil)
		st, err := c.CallStream(context.Background(), ntgt, &ports.NativeRequest{Op: ports.OpResponses, Body: []byte(`{"model":"m","input":"x"}`)})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		evs, err := collect(t, st)
		if len(evs) != tc.n {
			t.Errorf("%s: %d events, want %d", tc.name, len(evs), tc.n)
		}
		if tc.clean {
			if err != io.EOF {
				t.Errorf("%s: %v, want io.EOF", tc.name, err)
			}
		} else {
			var ue *domain.UpstreamError
			if !errors.As(err, &ue) || ue.Class != domain.ClassAmbiguous {
				t.Errorf("%s: %v, want an ambiguous upstream error", tc.name, err)
			}
		}
		if len(evs) > 1 && !evs[1].content {
			t.Errorf("%s: the text delta is not content", tc.name)
		}
		if tc.usage != 0 {
			if u := evs[len(evs)-1].usage; u == nil || u.TotalTokens != tc.usage {
				t.Errorf("%s: usage %+v", tc.name, u)
			}
		}
	}
}

// TestNativeStreamErrorEvent: an error event ends the stream with the error
// the same failure has outside a stream.
func TestNativeStreamErrorEvent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		data   string
		class  domain.ErrorClass
		status int
		typ    string
	}{
		{"rate limit", `{"type":"error","code":"rate_limit_exceeded","message":"Rate limit reached for o4-mini.","param":null,"sequence_number":2}`, domain.ClassRateLimited, 429, "rate_limit_exceeded"},
		{"server error", `{"type":"error","code":"server_error","message":"The server had an error.","param":null,"sequence_number":2}`, domain.ClassRetryable, 500, "server_error"},
		{"nested", `{"type":"error","error":{"type":"invalid_request_error","code":"context_length_exceeded","message":"Your input exceeds the context window of this model.","param":"input"},"sequence_number":2}`, domain.ClassRequest, 400, "context_length_exceeded"},
		{"unknown", `{"type":"error","code":"ERR_SOMETHING","message":"Something went wrong","param":null,"sequence_number":2}`, domain.ClassRetryable, 0, "ERR_SOMETHING"},
	}
	for _, tc := range cases {
		f := newNativeFake(t, "/v1", sseReply(toolStream[0], event("error", tc.data), toolStream[len(toolStream)-1]))
		c := newNative(t, domain.KindOpenAI, f.URL, providertest.NormalTimeouts, nil)
		st, err := c.CallStream(context.Background(), ntgt, &ports.NativeRequest{Op: ports.OpResponses, Body: []byte(`{"model":"m","input":"x"}`)})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := collect(t, st)
		var ue *domain.UpstreamError
		if len(evs) != 1 || !errors.As(err, &ue) {
			t.Errorf("%s: %d events, %v", tc.name, len(evs), err)
			continue
		}
		if ue.Class != tc.class || ue.Status != tc.status || ue.Type != tc.typ || ue.Message == "" {
			t.Errorf("%s: %+v, want class %s status %d type %s", tc.name, ue, tc.class, tc.status, tc.typ)
		}
	}
}

// TestNativeStreamFailures: errors before the stream starts are returned by
// CallStream.
func TestNativeStreamFailures(t *testing.T) {
	t.Parallel()
	req := &ports.NativeRequest{Op: ports.OpResponses, Body: []byte(`{"model":"m","input":"x"}`)}
	f := newNativeFake(t, "/v1", jsonReply(429, `{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`))
	c := newNative(t, domain.KindOpenAI, f.URL, providertest.NormalTimeouts, nil)
	_, err := c.CallStream(context.Background(), ntgt, req)
	var ue *domain.UpstreamError
	if !errors.As(err, &ue) || ue.Class != domain.ClassRateLimited || ue.Status != 429 {
		t.Errorf("429: %v", err)
	}
	f.respond(jsonReply(200, `{"error":{"message":"Invalid API key","type":"authentication_error","code":null}}`))
	if _, err = c.CallStream(context.Background(), ntgt, req); !errors.As(err, &ue) || ue.Class != domain.ClassAuth || ue.Status != 401 {
		t.Errorf("JSON error answer: %v", err)
	}
	f.respond(jsonReply(200, `{"id":"resp_1","object":"response","status":"completed"}`))
	if _, err = c.CallStream(context.Background(), ntgt, req); !errors.As(err, &ue) || ue.Class != domain.ClassAmbiguous {
		t.Errorf("JSON answer to a stream: %v", err)
	}
	var de *domain.Error
	if _, err = c.CallStream(context.Background(), ntgt, &ports.NativeRequest{Op: ports.OpEmbeddings, Body: []byte(`{"input":"x"}`)}); !errors.As(err, &de) || de.Code != domain.CodeInvalid {
		t.Errorf("streaming embeddings: %v", err)
	}
}

// TestNativeStreamIdle: a stream that stalls after its first event ends with
// a timeout; SSE comments do not count as progress.
func TestNativeStreamIdle(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f := newNativeFake(t, "/v1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, toolStream[0])
		w.(http.Flusher).Flush()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-release:
				return
			case <-r.Context().Done():
				return
			case <-tick.C:
				io.WriteString(w, ": keep-alive\n\n")
				w.(http.Flusher).Flush()
			}
		}
	})
	c := newNative(t, domain.KindOpenAI, f.URL, providertest.FastTimeouts, nil)
	st, err := c.CallStream(context.Background(), ntgt, &ports.NativeRequest{Op: ports.OpResponses, Body: []byte(`{"model":"m","input":"x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	evs, err := collect(t, st)
	var ue *domain.UpstreamError
	if len(evs) != 1 || !errors.As(err, &ue) || !ue.Timeout || ue.Class != domain.ClassAmbiguous {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the idle timeout took %v", d)
	}
}

// TestNativeStreamReady: Ready says true once the next event is buffered,
// and after the terminal event.
func TestNativeStreamReady(t *testing.T) {
	t.Parallel()
	f := newNativeFake(t, "/v1", sseReply(strings.Join(toolStream, "")))
	c := newNative(t, domain.KindOpenAI, f.URL, providertest.NormalTimeouts, nil)
	st, err := c.CallStream(context.Background(), ntgt, &ports.NativeRequest{Op: ports.OpResponses, Body: []byte(`{"model":"m","input":"x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Next(); err != nil {
		t.Fatal(err)
	}
	if !st.Ready() {
		t.Error("Ready false with the rest of the stream buffered")
	}
	for i := 1; i < len(toolStream); i++ {
		if _, err := st.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if !st.Ready() {
		t.Error("Ready false after the terminal event")
	}
	if _, err := st.Next(); err != io.EOF {
		t.Errorf("after the terminal event: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Error(err)
	}
}

// TestNativeImageStream: gpt-image-1's streamed partial images count as
// content; image_generation.completed ends the stream with its usage.
func TestNativeImageStream(t *testing.T) {
	t.Parallel()
	f := newNativeFake(t, "/v1", sseReply(
		event("image_generation.partial_image", `{"type":"image_generation.partial_image","b64_json":"iVBORw0KGgo=","created_at":1620000000,"size":"1024x1024","quality":"high","background":"opaque","output_format":"png","partial_image_index":0}`),
		event("image_generation.completed", `{"type":"image_generation.completed","b64_json":"iVBORw0KGgo=","created_at":1620000000,"size":"1024x1024","quality":"high","background":"opaque","output_format":"png","usage":{"total_tokens":100,"input_tokens":50,"output_tokens":50,"input_tokens_details":{"text_tokens":10,"image_tokens":40}}}`),
	))
	c := newNative(t, domain.KindOpenAI, f.URL, providertest.NormalTimeouts, nil)
	st, err := c.CallStream(context.Background(), ports.Target{Model: "gpt-image-1", Key: providertest.TestKey, CapMaxTokens: 100},
		&ports.NativeRequest{Op: ports.OpImages, Body: []byte(`{"model":"img","prompt":"a cat","stream":true,"partial_images":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := collect(t, st)
	if err != io.EOF || len(evs) != 2 || !evs[0].content || evs[1].usage == nil || evs[1].usage.TotalTokens != 100 {
		t.Fatalf("%v: %+v", err, evs)
	}
	if got := f.last(t).Body; got != `{"model":"gpt-image-1","prompt":"a cat","stream":true,"partial_images":1}` {
		t.Errorf("body %s", got)
	}
}
