// Package openai is the provider adapter for upstreams that speak OpenAI's
// Chat Completions API: OpenAI itself, Volcengine Ark, and any
// OpenAI-compatible server (vLLM, Ollama, LM Studio, ...). The kinds differ
// only in defaults, authentication, probing and a few error codes, so one
// Client covers them, configured by the provider's kind (its flavor).
//
// Requests are not decoded and re-encoded: the client's body is patched at
// its top level (see PatchBody), so every field, known to the router or not,
// reaches the upstream byte for byte. Responses are read only for what the
// router needs (id, model, usage; for chunks, the deltas that mark the first
// token and the usage) and forwarded as Raw.
//
// Differences by kind:
//
//   - openai: bearer key; OpenAI-Organization and OpenAI-Project come from
//     the provider's headers. Streams must end with data: [DONE].
//   - volcengine (Ark, https://ark.cn-beijing.volces.com/api/v3): the
//     model is an endpoint ID (ep-...) or a model name. Reasoning models
//     stream reasoning_content, which counts as the first token. Errors are
//     {"error":{"code","message","param","type"}}: code
//     InvalidEndpoint.ClosedEndpoint (400) and ServerOverloaded (429) are
//     retryable without cooling the key down; RateLimitExceeded.* (429) is
//     rate limiting; *RiskDetection and SensitiveContent* codes are content
//     policy refusals (the client's). Streams must end with [DONE].
//   - openai_compatible: the key is optional (servers without
//     authentication are called without one; a server behind a static token
//     gets that token as the provider's key). A stream that ends
//     without [DONE] after a finish reason ends cleanly (some servers omit
//     it). Like the others it is sent stream_options.include_usage, which
//     vLLM, Ollama, LM Studio and llama.cpp accept; a server that rejects
//     unknown stream options would need an option to turn that off.
//
// In-band errors (an error chunk in a stream, an error object in a 200
// answer) become *domain.UpstreamError with the status the same error has
// outside a stream.
package openai

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/airouter/airouter/adapters/providers/internal/upstream"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// Client talks to one OpenAI-compatible provider.
type Client struct {
	kind   domain.ProviderKind
	chat   upstream.Endpoint
	models upstream.Endpoint
	up     *upstream.Client
}

var (
	_ ports.ProviderClient = (*Client)(nil)
	_ ports.ChatStream     = (*stream)(nil)
)

// New returns a client for a provider of kind openai, volcengine or
// openai_compatible. The base URL defaults to the kind's public endpoint;
// openai_compatible needs one. p.Headers are sent on every request (e.g.
// OpenAI-Organization, OpenAI-Project). Authentication headers are not
// accepted there (the admin API refuses them): keys are provider keys, sent
// as bearer tokens. opts are the options every adapter takes (set by
// providers.Options).
func New(p domain.Provider, opts ...upstream.Option) (*Client, error) {
	switch p.Kind {
	case domain.KindOpenAI, domain.KindVolcengine, domain.KindOpenAICompatible:
	default:
		return nil, domain.Errorf(domain.CodeInvalid, "openai adapter: unsupported provider kind %q", p.Kind)
	}
	base := upstream.BaseURL(p)
	if base == "" {
		return nil, &domain.Error{Code: domain.CodeInvalid, Field: "base_url", Msg: "is required for an OpenAI-compatible provider"}
	}
	c := &Client{kind: p.Kind}
	var err error
	c.chat, c.models, c.up, err = upstream.Build(p, strings.TrimSuffix(base, "/chat/completions"), upstream.Setup{
		Path: "/chat/completions", ModelsPath: "/models", Auth: upstream.Bearer, Classify: c.classify}, opts...)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.up.Close() }

// classify refines error classes with provider codes.
func (c *Client) classify(status int, eb upstream.ErrorBody, class domain.ErrorClass) domain.ErrorClass {
	if c.kind == domain.KindVolcengine {
		switch {
		case eb.Code == "InvalidEndpoint.ClosedEndpoint":
			// The endpoint is closed or temporarily unavailable: the
			// request is fine, another route may serve it.
			return domain.ClassRetryable
		case status == 429 && eb.Code == "ServerOverloaded":
			// Ark reports overload as 429; it is not the key's limit, so
			// the key should not cool down.
			return domain.ClassRetryable
		}
	}
	return class
}

// Chat makes a non-streaming call.
func (c *Client) Chat(ctx context.Context, t ports.Target, req *domain.ChatRequest) (*domain.ChatResponse, error) {
	body, err := PatchBody(nil, req, t.Model, false, c.maxTokensKey(), t.CapMaxTokens)
	if err != nil {
		return nil, err
	}
	raw, _, err := upstream.ReadAnswer(c.up.Send(ctx, c.chat, http.MethodPost, t.Key, upstream.JSON, body))
	if err != nil {
		return nil, err
	}
	out, err := parseResponse(raw)
	if err != nil {
		return nil, c.invalidResponse(err, t.Key)
	}
	return out, nil
}

func (c *Client) invalidResponse(err error, key string) *domain.UpstreamError {
	if ec, ok := err.(*errChunk); ok {
		return streamError(ec.body, key)
	}
	return &domain.UpstreamError{Class: domain.ClassAmbiguous, Status: http.StatusOK, Message: "the upstream returned an invalid completion", Err: err}
}

// notAStream is the error of a streaming request the upstream answered with
// a JSON body instead of a stream: an error object (the in-band error that
// parse, which reads the body as the non-streaming answer, finds), or a
// server that ignores "stream". It reads and closes the body and ends the
// attempt.
func notAStream(a *upstream.Attempt, resp *http.Response, key string, parse func(raw []byte) error) error {
	raw, rerr := upstream.ReadAll(io.LimitReader(resp.Body, 1<<20), resp.ContentLength)
	resp.Body.Close()
	a.End()
	if rerr == nil {
		if perr := parse(raw); perr != nil {
			if ec, ok := perr.(*errChunk); ok {
				return streamError(ec.body, key)
			}
		}
	}
	return &domain.UpstreamError{Class: domain.ClassAmbiguous, Status: resp.StatusCode, Message: "the upstream answered a streaming request without a stream"}
}

// streamError is an error the upstream reported inside a 200 response (an
// error chunk of a stream, or an error object in place of a completion). Its
// Status is the status the same error has outside a stream: a numeric code
// when the server sends one (vLLM), else one inferred from the type or code;
// 0 when unknown, and then the class is retryable.
func streamError(eb upstream.ErrorBody, key string) *domain.UpstreamError {
	status := 0
	if n := len(eb.Code); n == 3 && eb.Code[0] >= '4' && eb.Code[0] <= '5' {
		status = int(eb.Code[0]-'0')*100 + int(eb.Code[1]-'0')*10 + int(eb.Code[2]-'0')
	}
	if status == 0 {
		status = inBandStatus(eb.Code)
	}
	if status == 0 {
		status = inBandStatus(eb.Type)
	}
	class := domain.ClassRetryable
	switch {
	case status != 0:
		class = upstream.ClassifyBody(status, eb)
	case upstream.IsContextLength(eb) || upstream.IsContentPolicy(eb):
		class = domain.ClassRequest
	}
	typ := eb.Code
	if typ == "" || (eb.Code != "" && eb.Code[0] >= '0' && eb.Code[0] <= '9') {
		typ = eb.Type
	}
	msg := upstream.Scrub(eb.Message, key)
	if msg == "" {
		msg = "the upstream reported an error"
	}
	return &domain.UpstreamError{Class: class, Status: status, Type: upstream.Scrub(typ, key), Message: msg}
}

// inBandStatus maps error types and codes of OpenAI, Ark and compatible
// servers to their HTTP status.
func inBandStatus(s string) int {
	l := strings.ToLower(s)
	switch {
	case l == "":
		return 0
	case strings.Contains(l, "rate_limit") || strings.Contains(l, "ratelimit") || l == "insufficient_quota" || l == "toomanyrequests":
		return 429
	case l == "invalid_api_key" || l == "authentication_error" || l == "authenticationerror" || l == "unauthorized":
		return 401
	case l == "permission_error" || l == "accessdenied" || l == "forbidden":
		return 403
	case l == "model_not_found" || l == "notfound" || strings.HasPrefix(l, "invalidendpointormodel"):
		return 404
	case l == "invalid_request_error" || l == "badrequest" || l == "badrequesterror" || l == "invalidparameter" || l == "context_length_exceeded":
		return 400
	case l == "overloaded_error" || l == "serveroverloaded" || l == "service_unavailable" || l == "serviceunavailable":
		return 503
	case l == "server_error" || l == "api_error" || l == "internal_error" || l == "internalserviceerror":
		return 500
	}
	return 0
}

// ChatStream makes a streaming call; it returns once the upstream answered
// 200.
func (c *Client) ChatStream(ctx context.Context, t ports.Target, req *domain.ChatRequest) (ports.ChatStream, error) {
	body, err := PatchBody(nil, req, t.Model, true, c.maxTokensKey(), t.CapMaxTokens)
	if err != nil {
		return nil, err
	}
	a, resp, err := c.up.Send(ctx, c.chat, http.MethodPost, t.Key, upstream.EventStream, body)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		return nil, notAStream(a, resp, t.Key, func(raw []byte) error { _, err := parseResponse(raw); return err })
	}
	s := &stream{
		strict: c.kind != domain.KindOpenAICompatible,
		key:    t.Key,
		p:      chunkParser{reuse: true},
	}
	s.Start(a, resp)
	return s, nil
}

// stream reads an OpenAI chunk stream.
type stream struct {
	upstream.Stream
	p        chunkParser
	strict   bool // require data: [DONE] (OpenAI, Ark)
	finished bool // a choice finished
	started  bool
	key      string
}

var done = []byte("[DONE]")

// Ready reports whether Next can return without waiting for the upstream
// (the next event is already buffered, or the stream has ended), so that a
// writer may send the chunk it holds together with the next one.
func (s *stream) Ready() bool { return s.Ended() || s.SSE.HasEvent() }

// Next returns the next chunk; io.EOF after data: [DONE]. OpenAI-compatible
// servers that end the body without [DONE] after a finish reason also end
// cleanly; any other early end is an error.
func (s *stream) Next() (*domain.ChatChunk, error) {
	if err := s.Done(); err != nil {
		return nil, err
	}
	for {
		ev, err := s.SSE.Next()
		if err != nil {
			if err == io.EOF && !s.strict && s.finished {
				return nil, s.End(io.EOF)
			}
			return nil, s.Broken(err)
		}
		if bytes.Equal(ev.Data, done) {
			s.Drain()
			return nil, s.End(io.EOF)
		}
		if ev.Type == "error" {
			// An SSE error event, whatever its data (JSON or text).
			return nil, s.End(streamError(upstream.ParseErrorBody(ev.Data), s.key))
		}
		if len(bytes.TrimSpace(ev.Data)) == 0 {
			continue // a keep-alive: not progress
		}
		s.A.Progress()
		ch, err := s.p.parse(ev.Data)
		if err != nil {
			if ec, ok := err.(*errChunk); ok {
				return nil, s.End(streamError(ec.body, s.key))
			}
			return nil, s.End(&domain.UpstreamError{Class: domain.ClassAmbiguous, Status: http.StatusOK, Message: "the upstream sent an invalid stream chunk", Err: err})
		}
		if !s.started {
			s.started = true
			s.A.Receiving()
		}
		for i := range ch.Choices {
			if ch.Choices[i].FinishReason != nil {
				s.finished = true
			}
		}
		return ch, nil
	}
}

// maxTokensKey is the member that bounds a completion at this kind of
// upstream: OpenAI's current max_completion_tokens (its reasoning models
// refuse max_tokens), and the widely supported max_tokens elsewhere (Ark,
// vLLM, Ollama, LM Studio).
func (c *Client) maxTokensKey() string {
	if c.kind == domain.KindOpenAI {
		return "max_completion_tokens"
	}
	return "max_tokens"
}
