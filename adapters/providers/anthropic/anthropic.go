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
	"sync"
	"sync/atomic"
	"time"

	"github.com/airouter/airouter/adapters/providers/internal/upstream"
	"github.com/airouter/airouter/adapters/providers/sse"
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
	header   http.Header
	rt       *http.Transport
	t        domain.Timeouts
	// denyNonPublic: see WithDenyNonPublic.
	denyNonPublic bool
}

var _ ports.ProviderClient = (*Client)(nil)

// Option configures a Client.
type Option func(*Client)

// WithDenyNonPublic makes the client refuse to connect to loopback, private,
// link-local (cloud metadata), CGNAT and unspecified addresses, checked on
// every dial after name resolution (UPSTREAM_ALLOW_PRIVATE=false).
func WithDenyNonPublic(deny bool) Option { return func(cl *Client) { cl.denyNonPublic = deny } }

// New returns a client for an anthropic provider. The base URL defaults to
// https://api.anthropic.com (a trailing /v1 is accepted); p.Headers are sent
// on every request and may override anthropic-version or add anthropic-beta.
func New(p domain.Provider, opts ...Option) (*Client, error) {
	if p.Kind != domain.KindAnthropic {
		return nil, domain.Errorf(domain.CodeInvalid, "anthropic adapter: unsupported provider kind %q", p.Kind)
	}
	base := strings.TrimRight(strings.TrimSpace(p.BaseURL), "/")
	if base == "" {
		base = p.Kind.DefaultBaseURL()
	}
	base = strings.TrimSuffix(base, "/v1")
	messages, err := upstream.ParseEndpoint(base + "/v1/messages")
	if err != nil {
		return nil, &domain.Error{Code: domain.CodeInvalid, Field: "base_url", Msg: err.Error()}
	}
	models, _ := upstream.ParseEndpoint(base + "/v1/models?limit=1")
	header, err := upstream.ExtraHeaders(p.Headers)
	if err != nil {
		return nil, err
	}
	if header.Get("Anthropic-Version") == "" {
		header.Set("Anthropic-Version", DefaultVersion)
	}
	t := p.Timeouts.WithDefaults()
	c := &Client{messages: messages, models: models, header: header, t: t}
	for _, o := range opts {
		o(c)
	}
	if c.denyNonPublic {
		c.rt = upstream.NewTransport(t.Connect, upstream.DenyNonPublic())
	} else {
		c.rt = upstream.NewTransport(t.Connect)
	}
	return c, nil
}

var (
	hdrJSON        = []string{"application/json"}
	hdrEventStream = []string{"text/event-stream"}
)

func (c *Client) headers(key string, accept []string) http.Header {
	h := make(http.Header, len(c.header)+3)
	for k, v := range c.header {
		h[k] = v
	}
	h["Content-Type"] = hdrJSON
	h["Accept"] = accept
	if key != "" {
		h["X-Api-Key"] = []string{key}
	}
	return h
}

// Close releases idle connections.
func (c *Client) Close() { c.rt.CloseIdleConnections() }

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
	a := upstream.Begin(ctx, c.t, t.Key)
	defer a.End()
	resp, err := a.Do(c.rt, c.messages.Request(a.Context(), http.MethodPost, c.headers(t.Key, hdrJSON), body))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, a.ReadError(resp, time.Now(), classify)
	}
	a.Receiving()
	raw, err := upstream.ReadAll(a.Body(resp.Body), resp.ContentLength)
	resp.Body.Close()
	if err != nil {
		return nil, a.Fail(err)
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
	a := upstream.Begin(ctx, c.t, t.Key)
	resp, err := a.Do(c.rt, c.messages.Request(a.Context(), http.MethodPost, c.headers(t.Key, hdrEventStream), body))
	if err != nil {
		a.End()
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		e := a.ReadError(resp, time.Now(), classify)
		a.End()
		return nil, e
	}
	// Raw body: only data events other than pings count as progress for
	// the idle timeout (Progress in Next), not bytes of comments.
	b := resp.Body
	return &stream{
		a:    a,
		body: b,
		sse:  sse.NewReaderSize(b, sse.DefaultInitialSize, sse.DefaultMaxLine),
		tr:   translator{created: time.Now().Unix(), key: t.Key},
	}, nil
}

type stream struct {
	a      *upstream.Attempt
	body   io.ReadCloser
	sse    *sse.Reader
	tr     translator
	err    error
	once   sync.Once
	closed atomic.Bool
}

// Ready reports false: the anthropic stream cannot tell yet whether Next
// would wait for the upstream.
func (s *stream) Ready() bool { return false }

// Next returns the next OpenAI chunk: a role chunk first, content,
// reasoning and tool-call deltas, a finish chunk, then a usage chunk with no
// choices; io.EOF after message_stop. A stream that ends before
// message_stop is an error.
func (s *stream) Next() (*domain.ChatChunk, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.closed.Load() {
		return nil, s.end(&domain.UpstreamError{Class: domain.ClassCanceled, Message: "the stream was closed"})
	}
	if s.tr.stopped {
		return nil, s.end(io.EOF)
	}
	for {
		ev, err := s.sse.Next()
		if err != nil {
			if err == sse.ErrTooLong {
				return nil, s.end(s.a.EventTooLarge(sse.DefaultMaxLine))
			}
			if err == io.EOF || err == sse.ErrTruncated {
				err = upstream.ErrTruncated
			}
			return nil, s.end(s.a.Fail(err))
		}
		if ev.Type != "ping" {
			s.a.Progress() // a keep-alive ping is not progress
		}
		ch, err := s.tr.event(ev.Data)
		if err != nil {
			return nil, s.end(err)
		}
		if s.tr.started {
			s.a.Receiving()
		}
		if s.tr.stopped {
			s.a.Draining()
			_, _ = io.CopyN(io.Discard, s.body, 64<<10)
			s.release()
		}
		if ch != nil {
			return ch, nil
		}
	}
}

func (s *stream) end(err error) error {
	s.err = err
	s.release()
	return err
}

func (s *stream) release() {
	s.once.Do(func() {
		s.a.End()
		s.body.Close()
	})
}

// Close ends the stream and releases its connection at once; safe to call
// twice, and from another goroutine than Next's.
func (s *stream) Close() error {
	s.closed.Store(true)
	s.release()
	return nil
}

// Probe lists one model (GET /v1/models?limit=1): authenticated, and free.
func (c *Client) Probe(ctx context.Context, t ports.Target) error {
	a := upstream.Begin(ctx, c.t, t.Key)
	defer a.End()
	resp, err := a.Do(c.rt, c.models.Request(a.Context(), http.MethodGet, c.headers(t.Key, hdrJSON), nil))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return a.ReadError(resp, time.Now(), classify)
	}
	a.Receiving()
	_, err = io.Copy(io.Discard, io.LimitReader(a.Body(resp.Body), 1<<20))
	resp.Body.Close()
	if err != nil {
		return a.Fail(err)
	}
	return nil
}
