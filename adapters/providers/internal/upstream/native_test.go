package upstream

import (
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
