package mock_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
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
	b.Run("responses-json-small", func(b *testing.B) {
		benchHandler(b, pathResponses, `{"model":"mock-gpt","input":"Hello"}`, http.Header{})
	})
	b.Run("responses-sse-8", func(b *testing.B) {
		benchHandler(b, pathResponses, `{"model":"mock-gpt","input":"Hello","stream":true}`, http.Header{})
	})
	b.Run("embeddings-1536", func(b *testing.B) {
		benchHandler(b, pathEmbeddings, `{"model":"text-embedding-3-small","input":"Hello"}`, http.Header{})
	})
	b.Run("embeddings-1536-base64", func(b *testing.B) {
		benchHandler(b, pathEmbeddings, `{"model":"text-embedding-3-small","input":"Hello","encoding_format":"base64"}`, http.Header{})
	})
	b.Run("images-b64-1024", func(b *testing.B) {
		benchHandler(b, pathImages, `{"prompt":"a red fox"}`, http.Header{})
	})
}

// BenchmarkLoopback is the whole server over TCP, driven by 64 keep-alive
// connections with a minimal HTTP/1.1 client (net/http's client costs more
// than the server and would hide it). Client and server share the CPUs, so
// 1e9/(ns/op) is a lower bound of the server's requests per second.
func BenchmarkLoopback(b *testing.B) {
	srv := httptest.NewServer(mock.NewHandler(mock.Config{}))
	defer srv.Close()
	body := userMsg("")
	req := []byte("POST " + pathOpenAI + " HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		for pb.Next() {
			if _, err := conn.Write(req); err != nil {
				b.Error(err)
				return
			}
			clen := -1
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					b.Error(err)
					return
				}
				if len(line) <= 2 {
					break
				}
				if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
					clen, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
				}
			}
			if _, err := br.Discard(clen); err != nil || clen < 0 {
				b.Errorf("body: %v (Content-Length %d)", err, clen)
				return
			}
		}
	})
}
