package openai_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/airouter/airouter/adapters/providers/openai"
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

// BenchmarkParseAndPatch is the request body's path through the router:
// parsed once for routing (domain.ParseChatRequest), then patched for the
// upstream (PatchBody), for a short chat and a 16 KB conversation.
func BenchmarkParseAndPatch(b *testing.B) {
	short := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write a haiku about routers and the sea, please."}],"temperature":0.7,"stream":true,"stream_options":{"include_usage":false}}`)
	var sb strings.Builder
	sb.WriteString(`{"model":"gpt-4o-mini","temperature":0.2,"messages":[`)
	for i := range 64 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"role":"user","content":"` + strings.Repeat("lorem ipsum dolor sit amet, ", 9) + `"}`)
	}
	sb.WriteString(`],"max_tokens":256}`)
	long := []byte(sb.String())
	for _, c := range []struct {
		name string
		body []byte
	}{{"short", short}, {"16KB", long}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			dst := make([]byte, 0, len(c.body)+128)
			for b.Loop() {
				req, err := domain.ParseChatRequest(c.body)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := openai.PatchBody(dst[:0], req, "gpt-4o-mini-2024-07-18", req.Stream, "max_tokens", 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
