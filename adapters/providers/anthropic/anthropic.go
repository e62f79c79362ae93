// Package anthropic is the provider adapter for Anthropic's Messages API.
// It translates OpenAI chat completion requests into Messages requests
// (BuildRequest) and the answers back into OpenAI completions and chunks,
// with Raw set to the translated JSON so that the gateway forwards them like
// any OpenAI-compatible answer.
package anthropic

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/airouter/airouter/adapters/providers/internal/upstream"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// DefaultVersion is the anthropic-version header sent unless the provider's
// headers set another.
const DefaultVersion = "2023-06-01"

// Client talks to the Anthropic Messages API.
type Client struct {
	messages upstream.Endpoint
	models   upstream.Endpoint
	up       *upstream.Client
}

var (
	_ ports.ProviderClient = (*Client)(nil)
	_ ports.ChatStream     = (*stream)(nil)
)

// New returns a client for an anthropic provider. The base URL defaults to
// https://api.anthropic.com (a trailing /v1 is accepted); p.Headers are sent
// on every request and may override anthropic-version or add anthropic-beta.
// The key is sent as X-Api-Key. opts are the options every adapter takes
// (set by providers.Options).
func New(p domain.Provider, opts ...upstream.Option) (*Client, error) {
	if p.Kind != domain.KindAnthropic {
		return nil, domain.Errorf(domain.CodeInvalid, "anthropic adapter: unsupported provider kind %q", p.Kind)
	}
	c := &Client{}
	var err error
	c.messages, c.models, c.up, err = upstream.Build(p, strings.TrimSuffix(upstream.BaseURL(p), "/v1"), upstream.Setup{
		Path: "/v1/messages", ModelsPath: "/v1/models?limit=1", Auth: upstream.APIKey, Classify: classify,
		Defaults: map[string]string{"Anthropic-Version": DefaultVersion}}, opts...)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.up.Close() }

// classify classes an error by Anthropic's error type
// (https://docs.claude.com/en/api/errors), which says more than the status:
// a content-policy refusal is the request's whatever its type; a refused or
// unauthorised key (authentication_error, permission_error) and an account
// that cannot pay (billing_error) are the key's, and another key may work
// (the gateway probes the key before it is held invalid); rate_limit_error
// cools the key; overloaded_error, api_error and timeout_error are
// transient; invalid_request_error, not_found_error and request_too_large
// are the client's. Unknown types keep the status's class.
func classify(status int, eb upstream.ErrorBody, class domain.ErrorClass) domain.ErrorClass {
	if upstream.IsContentPolicy(eb) {
		return domain.ClassRequest
	}
	switch eb.Type {
	case "authentication_error", "permission_error", "billing_error":
		return domain.ClassAuth
	case "rate_limit_error":
		return domain.ClassRateLimited
	case "overloaded_error", "api_error", "timeout_error":
		return domain.ClassRetryable
	case "invalid_request_error", "not_found_error", "request_too_large":
		return domain.ClassRequest
	}
	return class
}

// Chat makes a non-streaming call.
func (c *Client) Chat(ctx context.Context, t ports.Target, req *domain.ChatRequest) (*domain.ChatResponse, error) {
	body, err := BuildRequest(req, t, false)
	if err != nil {
		return nil, err
	}
	raw, resp, err := upstream.ReadAnswer(c.up.Send(ctx, c.messages, http.MethodPost, t.Key, upstream.JSON, body))
	if err != nil {
		return nil, err
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil || r.Type == "error" {
		return nil, &domain.UpstreamError{Class: domain.ClassAmbiguous, Status: resp.StatusCode, Message: "the upstream returned an invalid message", Err: err}
	}
	return convertResponse(&r, time.Now().Unix())
}

// ChatStream makes a streaming call; it returns once the upstream answered
// 200.
func (c *Client) ChatStream(ctx context.Context, t ports.Target, req *domain.ChatRequest) (ports.ChatStream, error) {
	body, err := BuildRequest(req, t, true)
	if err != nil {
		return nil, err
	}
	a, resp, err := c.up.Send(ctx, c.messages, http.MethodPost, t.Key, upstream.EventStream, body)
	if err != nil {
		return nil, err
	}
	s := &stream{tr: translator{created: time.Now().Unix(), key: t.Key}}
	s.Start(a, resp)
	return s, nil
}

type stream struct {
	upstream.Stream
	tr translator
}

// Ready reports whether Next can return without waiting for the upstream:
// the stream has ended or message_stop was read, or the next event is
// already buffered (which may be a ping or an event that translates to no
// chunk, after which Next waits again), so that a writer may send the chunk
// it holds together with the next one.
func (s *stream) Ready() bool { return s.Ended() || s.tr.stopped || s.SSE.HasEvent() }

// Next returns the next OpenAI chunk: a role chunk first, content,
// reasoning and tool-call deltas, a finish chunk, then a usage chunk with no
// choices; io.EOF after message_stop. A stream that ends before
// message_stop is an error.
func (s *stream) Next() (*domain.ChatChunk, error) {
	if err := s.Done(); err != nil {
		return nil, err
	}
	if s.tr.stopped {
		return nil, s.End(io.EOF)
	}
	for {
		ev, err := s.SSE.Next()
		if err != nil {
			return nil, s.Broken(err)
		}
		if ev.Type != "ping" {
			s.A.Progress() // a keep-alive ping is not progress
		}
		ch, err := s.tr.event(ev.Data)
		if err != nil {
			return nil, s.End(err)
		}
		if s.tr.started {
			s.A.Receiving()
		}
		if s.tr.stopped {
			s.Drain()
			s.Release()
		}
		if ch != nil {
			return ch, nil
		}
	}
}

// Probe lists one model (GET /v1/models?limit=1): authenticated, and free.
func (c *Client) Probe(ctx context.Context, t ports.Target) error {
	return c.up.Probe(ctx, c.models, t.Key, 1<<20)
}
