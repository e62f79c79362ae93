package mock_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

// discard is a minimal ResponseWriter, so handler benchmarks measure the
// handler alone.
type discard struct {
	h http.Header
	n int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Flush()                      {}

type replay struct {
	b []byte
	i int
}

func (r *replay) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}
func (r *replay) Close() error { return nil }

func benchHandler(b *testing.B, path, body string, hdr http.Header) {
	h := mock.NewHandler(mock.Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rb := &replay{b: []byte(body)}
		req := httptest.NewRequest(http.MethodPost, path, rb)
		req.Header = hdr
		w := &discard{h: http.Header{}}
		for pb.Next() {
			rb.i = 0
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	})
}

func BenchmarkHandler(b *testing.B) {
	anth := http.Header{"Anthropic-Version": {"2023-06-01"}}
	b.Run("openai-json-small", func(b *testing.B) { benchHandler(b, pathOpenAI, userMsg(""), http.Header{}) })
	b.Run("anthropic-json-small", func(b *testing.B) { benchHandler(b, pathAnthropic, anthMsg(""), anth) })
	b.Run("openai-sse-8", func(b *testing.B) {
		benchHandler(b, pathOpenAI, userMsg(`,"stream":true,"stream_options":{"include_usage":true}`), http.Header{})
	})
	b.Run("anthropic-sse-8", func(b *testing.B) { benchHandler(b, pathAnthropic, anthMsg(`,"stream":true`), anth) })
	b.Run("openai-json-large", func(b *testing.B) {
		benchHandler(b, pathOpenAI, userMsg(""), http.Header{"X-Mock-Size": {"large"}})
	})
}

// BenchmarkLoopback is the whole server path over TCP with net/http's
// client, which costs more than the server; see mockllm -selftest-bench
// for a cheaper client.
func BenchmarkLoopback(b *testing.B) {
	srv := httptest.NewServer(mock.NewHandler(mock.Config{}))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	body := userMsg("")
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Post(srv.URL+pathOpenAI, "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
