package upstream

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// Media types of the Accept and Content-Type headers.
var (
	JSON        = []string{"application/json"}
	EventStream = []string{"text/event-stream"}
)

// Auth puts a provider key on a request's headers; it is called only with a
// non-empty key.
type Auth func(h http.Header, key string)

// Bearer sends the key as "Authorization: Bearer <key>" (OpenAI and
// compatible servers).
func Bearer(h http.Header, key string) { h["Authorization"] = []string{"Bearer " + key} }

// APIKey sends the key as X-Api-Key (Anthropic).
func APIKey(h http.Header, key string) { h["X-Api-Key"] = []string{key} }

// BaseURL is the provider's base URL without surrounding spaces and
// trailing slashes, or its kind's public endpoint when it has none.
func BaseURL(p domain.Provider) string {
	base := strings.TrimRight(strings.TrimSpace(p.BaseURL), "/")
	if base == "" {
		base = p.Kind.DefaultBaseURL()
	}
	return base
}

// Client is the part of a provider client that does not depend on its wire
// format: the transport, the timeouts, the headers sent on every request,
// how the key is sent and how error answers are classed.
type Client struct {
	rt       *Transport
	t        domain.Timeouts
	header   http.Header // the provider's extra headers, canonical keys
	auth     Auth
	classify Classifier
}

// NewClient returns the shared part of one provider's client. t must have
// its defaults filled in; header holds the provider's extra headers
// (ExtraHeaders); denyNonPublic refuses non-public addresses (see
// DenyNonPublic).
func NewClient(t domain.Timeouts, header http.Header, auth Auth, classify Classifier, denyNonPublic bool) *Client {
	var opts []TransportOption
	if denyNonPublic {
		opts = append(opts, DenyNonPublic())
	}
	return &Client{rt: NewTransport(t.Connect, opts...), t: t, header: header, auth: auth, classify: classify}
}

// Headers builds a request's headers: the provider's, then content type,
// accept and the key, which configuration cannot override.
func (c *Client) Headers(key string, accept []string) http.Header {
	h := make(http.Header, len(c.header)+3)
	for k, v := range c.header {
		h[k] = v
	}
	h["Content-Type"] = JSON
	h["Accept"] = accept
	if key != "" {
		c.auth(h, key)
	}
	return h
}

// Close releases idle connections.
func (c *Client) Close() { c.rt.CloseIdleConnections() }

// Send begins an attempt and sends one request to ep with the given key,
// Accept header and body (nil for none). It returns the live attempt, which
// the caller must End, and a 2xx response; on any failure (including a
// non-2xx answer, read and classed) the attempt is already ended.
func (c *Client) Send(ctx context.Context, ep Endpoint, method, key string, accept []string, body []byte) (*Attempt, *http.Response, error) {
	return c.SendWith(ctx, ep, method, key, accept, nil, body)
}

// SendWith is Send with per-request headers (canonical keys), such as a
// client's beta-feature header: a header the provider's configuration also
// sets gets both values, the configured ones first, joined with commas (the
// list form HTTP allows for repeated fields). They cannot replace the
// content type, accept or the key.
func (c *Client) SendWith(ctx context.Context, ep Endpoint, method, key string, accept []string, extra http.Header, body []byte) (*Attempt, *http.Response, error) {
	h := c.Headers(key, accept)
	for k, v := range extra {
		switch {
		case len(v) == 0 || k == "Content-Type" || k == "Accept" || k == "Authorization" || k == "X-Api-Key":
		case len(h[k]) > 0:
			h[k] = []string{strings.Join(append(append([]string(nil), h[k]...), v...), ",")}
		default:
			h[k] = v
		}
	}
	a := Begin(ctx, c.t, key)
	resp, err := a.Do(c.rt, ep.Request(a.Context(), method, h, body))
	if err != nil {
		a.End()
		return nil, nil, err
	}
	if resp.StatusCode/100 != 2 {
		e := a.ReadError(resp, time.Now(), c.classify)
		a.End()
		return nil, nil, e
	}
	return a, resp, nil
}

// ReadBody reads and closes a non-streaming response's body under the idle
// timeout, bounded by MaxBody.
func (a *Attempt) ReadBody(resp *http.Response) ([]byte, error) {
	a.Receiving()
	raw, err := ReadAll(a.Body(resp.Body), resp.ContentLength)
	resp.Body.Close()
	if err != nil {
		return nil, a.Fail(err)
	}
	return raw, nil
}

// ReadAnswer takes the results of Send or SendWith for a non-streaming
// request and, when it succeeded, reads and closes the answer's body
// (ReadBody) and ends the attempt. It returns the body and the response, or
// the error of either step.
func ReadAnswer(a *Attempt, resp *http.Response, err error) ([]byte, *http.Response, error) {
	if err != nil {
		return nil, nil, err
	}
	defer a.End()
	raw, err := a.ReadBody(resp)
	if err != nil {
		return nil, nil, err
	}
	return raw, resp, nil
}

// Probe GETs ep with the key and reads at most limit bytes of the answer,
// which it discards: a 2xx answer read to its end (or to limit) means the
// key works.
func (c *Client) Probe(ctx context.Context, ep Endpoint, key string, limit int64) error {
	a, resp, err := c.Send(ctx, ep, http.MethodGet, key, JSON, nil)
	if err != nil {
		return err
	}
	defer a.End()
	a.Receiving()
	_, err = io.Copy(io.Discard, io.LimitReader(a.Body(resp.Body), limit))
	resp.Body.Close()
	if err != nil {
		return a.Fail(err)
	}
	return nil
}
