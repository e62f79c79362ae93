package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestEndpointSibling(t *testing.T) {
	cases := []struct{ base, old, new, want string }{
		{"https://api.openai.com/v1/chat/completions", "/chat/completions", "/embeddings", "https://api.openai.com/v1/embeddings"},
		{"https://ark.cn-beijing.volces.com/api/v3/chat/completions", "/chat/completions", "/images/generations", "https://ark.cn-beijing.volces.com/api/v3/images/generations"},
		{"http://h:8000/v1/chat/completions?api-version=1", "/chat/completions", "/responses", "http://h:8000/v1/responses?api-version=1"},
		{"http://h/a%2Fb/chat/completions", "/chat/completions", "/embeddings", "http://h/a%2Fb/embeddings"},
		{"http://h/v1", "/chat/completions", "/embeddings", "http://h/v1/embeddings"},
	}
	for _, tc := range cases {
		ep, err := ParseEndpoint(tc.base)
		if err != nil {
			t.Fatal(err)
		}
		if got := ep.Sibling(tc.old, tc.new).String(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.base, got, tc.want)
		}
		if ep.String() != tc.base {
			t.Errorf("Sibling changed %s into %s", tc.base, ep)
		}
	}
}

// TestSendExtra: the extra header replaces a provider header of its name
// but not the content type, accept or authentication headers.
func TestSendExtra(t *testing.T) {
	got := make(chan http.Header, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.WriteHeader(204)
	}))
	defer srv.Close()
	ep, _ := ParseEndpoint(srv.URL + "/x")
	c := NewClient(timeouts(), http.Header{"Openai-Beta": {"provider"}, "Openai-Project": {"p"}}, Bearer, nil, false)
	defer c.Close()
	send := func(name, value string) http.Header {
		t.Helper()
		a, _, err := c.SendExtra(context.Background(), ep, http.MethodPost, "sk-key", JSON, []byte(`{}`), name, value)
		if err != nil {
			t.Fatal(err)
		}
		a.End()
		return <-got
	}
	h := send("openai-beta", "client")
	if h.Get("OpenAI-Beta") != "client" || h.Get("OpenAI-Project") != "p" || h.Get("Authorization") != "Bearer sk-key" {
		t.Errorf("headers %v", h)
	}
	if h = send("OpenAI-Beta", ""); h.Get("OpenAI-Beta") != "provider" {
		t.Errorf("empty value: %v", h)
	}
	for _, name := range []string{"authorization", "Content-Type", "accept", "X-Api-Key"} {
		h = send(name, "evil")
		if h.Get("Authorization") != "Bearer sk-key" || h.Get("Content-Type") != "application/json" || h.Get("Accept") != "application/json" || h.Get("X-Api-Key") != "" {
			t.Errorf("%s replaced: %v", name, h)
		}
	}
}
