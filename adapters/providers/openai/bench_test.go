package openai_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// BenchmarkStream measures a whole streamed completion of 100 content chunks
// over loopback: request patching, transport, SSE reading and chunk parsing.
func BenchmarkStream(b *testing.B) {
	var sb strings.Builder
	chunk := `data: {"id":"chatcmpl-AbC","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" token"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n"
	for range 100 {
		sb.WriteString(chunk)
	}
	sb.WriteString(`data: {"id":"chatcmpl-AbC","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":100,"total_tokens":110}}` + "\n\ndata: [DONE]\n\n")
	body := sb.String()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	c := newClient(b, domain.KindOpenAI, srv.URL, nil)
	req, _ := domain.ParseChatRequest([]byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"Tell me a story."}]}`))
	tg := ports.Target{Model: "gpt-4o-mini", Key: "sk-x"}
	b.ReportAllocs()
	for b.Loop() {
		st, err := c.ChatStream(context.Background(), tg, req)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := st.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		st.Close()
		if n != 101 {
			b.Fatalf("%d chunks", n)
		}
	}
}
