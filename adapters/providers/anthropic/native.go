package anthropic

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/airouter/airouter/adapters/providers/internal/upstream"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/jsonx"
	"github.com/airouter/airouter/ports"
)

// The client also serves Anthropic's own Messages API natively: the body
// reaches the upstream as the client sent it (see patchNative).
var (
	_ ports.NativeClient = (*Client)(nil)
	_ ports.NativeStream = (*nativeStream)(nil)
)

var (
	litTrue  = []byte("true")
	litFalse = []byte("false")
)

// Serves reports the operations the Messages API has: messages and
// count_tokens.
func (c *Client) Serves(op ports.Operation) bool {
	return op == ports.OpMessages || op == ports.OpCountTokens
}

// endpoint is op's URL: POST {base}/v1/messages, or
// {base}/v1/messages/count_tokens (derived from the messages URL, so that
// the constructor stays as it is).
func (c *Client) endpoint(op ports.Operation) (upstream.Endpoint, error) {
	switch op {
	case ports.OpMessages:
		return c.messages, nil
	case ports.OpCountTokens:
		ep, err := upstream.ParseEndpoint(c.messages.String() + "/count_tokens")
		if err != nil {
			return upstream.Endpoint{}, &domain.Error{Code: domain.CodeInvalid, Field: "base_url", Msg: err.Error()}
		}
		return ep, nil
	}
	return upstream.Endpoint{}, domain.Errorf(domain.CodeInvalid, "the anthropic adapter does not serve the %q operation", string(op))
}

// betaHeader is the anthropic-beta header a native request adds to the
// provider's own (SendWith joins the two lists).
func betaHeader(beta string) (http.Header, error) {
	beta = strings.TrimSpace(beta)
	if beta == "" {
		return nil, nil
	}
	if strings.ContainsAny(beta, "\r\n\x00") {
		return nil, &domain.Error{Code: domain.CodeInvalid, Field: "anthropic-beta", Msg: "invalid anthropic-beta header"}
	}
	return http.Header{"Anthropic-Beta": {beta}}, nil
}

// patchNative rewrites a client's Messages or count_tokens body, changing
// only top-level members: "model" becomes t.Model, the router-only
// "provider" is removed, and every other member (thinking, tools,
// cache_control, fields the router does not know) passes through byte for
// byte.
//
// For messages, "stream" is true for a stream and false (when present) for
// a non-streaming call, and max_tokens, which the API requires, is added
// when the body has none (or null): t.CapMaxTokens, else
// t.DefaultMaxTokens, else DefaultMaxTokens. A body whose max_tokens is
// larger than t.CapMaxTokens is left as it is: bounding it is the front
// door's decision, made before the call. count_tokens bodies get neither
// (the endpoint takes no max_tokens and does not stream).
func patchNative(body []byte, op ports.Operation, t ports.Target, stream bool) ([]byte, error) {
	var mbuf [96]byte
	ops := [4]jsonx.Op{
		{Key: "model", Value: jsonx.AppendString(mbuf[:0], t.Model)},
		{Key: "provider", Delete: true},
	}
	n := 2
	if op == ports.OpMessages {
		maxTok := DefaultMaxTokens
		switch {
		case t.CapMaxTokens > 0:
			maxTok = t.CapMaxTokens
		case t.DefaultMaxTokens > 0:
			maxTok = t.DefaultMaxTokens
		}
		val := strconv.AppendInt(nil, int64(maxTok), 10)
		ops[n] = jsonx.Op{Key: "max_tokens", Edit: func(old []byte) []byte {
			if old == nil || jsonx.IsNull(old) {
				return val
			}
			return nil // keep the client's
		}}
		n++
		if stream {
			ops[n] = jsonx.Op{Key: "stream", Value: litTrue}
		} else {
			ops[n] = jsonx.Op{Key: "stream", Value: litFalse, OnlyIfPresent: true}
		}
		n++
	}
	out, err := jsonx.Patch(make([]byte, 0, len(body)+len(t.Model)+32), body, ops[:n])
	if err != nil {
		return nil, &domain.Error{Code: domain.CodeInvalid, Msg: "request body is not a valid JSON object"}
	}
	return out, nil
}

// send patches the body and sends a native request; the caller ends the
// returned attempt.
func (c *Client) send(ctx context.Context, t ports.Target, req *ports.NativeRequest, stream bool) (*upstream.Attempt, *http.Response, error) {
	ep, err := c.endpoint(req.Op)
	if err != nil {
		return nil, nil, err
	}
	if stream && req.Op != ports.OpMessages {
		return nil, nil, domain.Errorf(domain.CodeInvalid, "the %q operation does not stream", string(req.Op))
	}
	extra, err := betaHeader(req.Beta)
	if err != nil {
		return nil, nil, err
	}
	body, err := patchNative(req.Body, req.Op, t, stream)
	if err != nil {
		return nil, nil, err
	}
	accept := upstream.JSON
	if stream {
		accept = upstream.EventStream
	}
	return c.up.SendWith(ctx, ep, http.MethodPost, t.Key, accept, extra, body)
}

// Call makes a non-streaming messages or count_tokens call. The answer's
// body is returned as the upstream sent it, with the usage of a message
// read from it (count_tokens reports none).
func (c *Client) Call(ctx context.Context, t ports.Target, req *ports.NativeRequest) (*ports.NativeResponse, error) {
	raw, resp, err := upstream.ReadAnswer(c.send(ctx, t, req, false))
	if err != nil {
		return nil, err
	}
	u, ok := messageUsage(raw)
	if !ok {
		return nil, &domain.UpstreamError{Class: domain.ClassAmbiguous, Status: resp.StatusCode, Message: "the upstream returned an invalid answer"}
	}
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/json"
	}
	out := &ports.NativeResponse{Body: raw, ContentType: ct}
	if req.Op == ports.OpMessages && u != nil {
		out.Usage = u.openai()
	}
	return out, nil
}

// messageUsage reads a 2xx answer's top-level "usage" as encoding/json
// would (keys matched under case folding, repeated members merged, a null
// one clearing what came before), without
// decoding the rest. u is nil when the answer reports none; ok is false when
// the answer is not a JSON object or is an error envelope ("type":"error").
func messageUsage(raw []byte) (u *usage, ok bool) {
	it := jsonx.Object(raw)
	var m jsonx.Member
	for it.Next(&m) {
		switch v := m.Value(raw); {
		case m.KeyFold("usage"):
			if jsonx.IsNull(v) {
				u = nil
				continue
			}
			if u == nil {
				u = new(usage)
			}
			if err := json.Unmarshal(v, u); err != nil {
				return nil, false
			}
		case m.KeyFold("type"):
			if eventType(v) == "error" {
				return nil, false
			}
		}
	}
	if it.Err() != nil || jsonx.SkipSpace(raw, it.End+1) != len(raw) {
		return nil, false
	}
	return u, true
}

// CallStream makes a streaming messages call; it returns once the upstream
// answered 200.
func (c *Client) CallStream(ctx context.Context, t ports.Target, req *ports.NativeRequest) (ports.NativeStream, error) {
	a, resp, err := c.send(ctx, t, req, true)
	if err != nil {
		return nil, err
	}
	s := &nativeStream{p: eventParser{key: t.Key}}
	s.Start(a, resp)
	return s, nil
}
