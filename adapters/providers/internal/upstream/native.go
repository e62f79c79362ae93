package upstream

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// Sibling returns the endpoint whose path is e's with the suffix old
// replaced by new (e's path with new appended when it does not end in old):
// the other operations of an API that lives under one base URL, e.g.
// {base}/embeddings next to {base}/chat/completions. Query and host are kept.
func (e Endpoint) Sibling(old, new string) Endpoint {
	u := *e.u
	u.Path = strings.TrimSuffix(u.Path, old) + new
	if u.RawPath != "" {
		u.RawPath = strings.TrimSuffix(u.RawPath, old) + new
	}
	return Endpoint{u: &u}
}

// SendExtra is Send with one more request header (a client's beta-feature
// header such as OpenAI-Beta or anthropic-beta), which replaces a provider
// header of the same name. It cannot replace the content type, accept or
// authentication headers; an empty name or value adds nothing.
func (c *Client) SendExtra(ctx context.Context, ep Endpoint, method, key string, accept []string, body []byte, name, value string) (*Attempt, *http.Response, error) {
	h := c.Headers(key, accept)
	if name != "" && value != "" {
		switch ck := http.CanonicalHeaderKey(name); ck {
		case "Content-Type", "Accept", "Authorization", "X-Api-Key":
		default:
			h[ck] = []string{value}
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
