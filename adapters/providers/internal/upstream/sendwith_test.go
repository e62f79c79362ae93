package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

// TestSendWithHeaders: per-request headers join the provider's own (the
// configured values first) and cannot replace the content type, accept or
// the key.
func TestSendWithHeaders(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.WriteHeader(204)
	}))
	defer srv.Close()
	ep, err := ParseEndpoint(srv.URL + "/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(domain.Timeouts{}.WithDefaults(), http.Header{"Anthropic-Beta": {"configured"}, "X-Team": {"t1"}}, APIKey, nil, false)
	defer c.Close()
	extra := http.Header{
		"Anthropic-Beta": {"client-1,client-2"},
		"X-New":          {"n"},
		"X-Api-Key":      {"stolen"},
		"Content-Type":   {"text/plain"},
		"Accept":         {"*/*"},
		"Authorization":  {"Bearer other"},
	}
	a, resp, err := c.SendWith(context.Background(), ep, http.MethodPost, "sk-real", JSON, extra, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	a.End()
	h := <-got
	want := map[string]string{
		"Anthropic-Beta": "configured,client-1,client-2",
		"X-Team":         "t1",
		"X-New":          "n",
		"X-Api-Key":      "sk-real",
		"Content-Type":   "application/json",
		"Accept":         "application/json",
		"Authorization":  "",
	}
	for k, v := range want {
		if g := strings.Join(h.Values(k), "|"); g != v {
			t.Errorf("%s: %q, want %q", k, g, v)
		}
	}
	// The provider's headers are not changed by a request's.
	if g := c.Headers("k", JSON).Values("Anthropic-Beta"); len(g) != 1 || g[0] != "configured" {
		t.Errorf("provider headers changed: %q", g)
	}
}
