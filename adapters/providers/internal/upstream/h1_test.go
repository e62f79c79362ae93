package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer answers every connection with handle, reading requests with
// net/http's parser, so that tests can send bytes net/http would not.
func rawServer(t *testing.T, handle func(n int, req *http.Request, w *bufio.Writer) (keep bool)) (url string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br, bw := bufio.NewReader(c), bufio.NewWriter(c)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					keep := handle(n, req, bw)
					bw.Flush()
					if !keep {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), conns
}

func get(t *testing.T, rt *Transport, url, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	return resp, string(b)
}

// The h1 client reads Content-Length, chunked (with a trailer) and
// close-delimited bodies, skips interim answers, and reuses a connection
// only when its answer was read to the end and did not say close.
func TestH1Framing(t *testing.T) {
	t.Parallel()
	url, conns := rawServer(t, func(n int, req *http.Request, w *bufio.Writer) bool {
		switch req.URL.Path {
		case "/length":
			w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello")
		case "/chunked":
			w.WriteString("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
		case "/long":
			w.WriteString("HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("x", 3000) + "\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"a\r\n" + strings.Repeat("b", 10) + "\r\n1000\r\n" + strings.Repeat("c", 4096) + "\r\n0\r\nX-T: " + strings.Repeat("y", 5000) + "\r\n\r\n")
		case "/empty":
			w.WriteString("HTTP/1.1 204 No Content\r\n\r\n")
		case "/close":
			w.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
			return false
		case "/eof":
			w.WriteString("HTTP/1.1 200 OK\r\n\r\nuntil close")
			return false
		}
		return true
	})
	rt := NewTransport(time.Second)
	defer rt.CloseIdleConnections()
	for i := 0; i < 3; i++ {
		resp, b := get(t, rt, url+"/length", "{}")
		if resp.StatusCode != 200 || b != "hello" || resp.Header.Get("X-A") != "1" || resp.ContentLength != 5 {
			t.Fatalf("length: %d %q %v", resp.StatusCode, b, resp.Header)
		}
		resp, b = get(t, rt, url+"/chunked", "{}")
		if resp.StatusCode != 201 || b != "abcde" || resp.ContentLength != -1 {
			t.Fatalf("chunked: %d %q", resp.StatusCode, b)
		}
		resp, b = get(t, rt, url+"/long", "")
		if len(resp.Header.Get("X-Long")) != 3000 || b != strings.Repeat("b", 10)+strings.Repeat("c", 4096) {
			t.Fatalf("long lines: %d %d", len(resp.Header.Get("X-Long")), len(b))
		}
		resp, b = get(t, rt, url+"/empty", "")
		if resp.StatusCode != 204 || b != "" {
			t.Fatalf("empty: %d %q", resp.StatusCode, b)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 12 keep-alive requests, want 1", n)
	}
	if resp, b := get(t, rt, url+"/close", ""); b != "ok" || !resp.Close {
		t.Fatalf("close: %q %v", b, resp.Close)
	}
	if _, b := get(t, rt, url+"/eof", ""); b != "until close" {
		t.Fatalf("eof: %q", b)
	}
	get(t, rt, url+"/length", "")
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections, want 3 (the close and until-close answers end theirs)", n)
	}
}

// A pooled connection that the upstream closed while it idled (its
// keep-alive timeout) is found before a request is written to it: the
// request goes out on a fresh connection and succeeds.
func TestH1IdleClosedByUpstream(t *testing.T) {
	t.Parallel()
	url, conns := rawServer(t, func(n int, req *http.Request, w *bufio.Writer) bool {
		w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		w.Flush()
		// Keep-alive as far as the headers say, then close once idle.
		return false
	})
	rt := NewTransport(time.Second)
	defer rt.CloseIdleConnections()
	get(t, rt, url, "{}")
	time.Sleep(50 * time.Millisecond) // the FIN arrives
	if _, b := get(t, rt, url, "{}"); b != "ok" {
		t.Fatalf("second request: %q", b)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// Canceling the context ends a body read in progress at once, and the
// connection is not reused; closing the body early from another goroutine
// ends the read too.
func TestH1CancelAndCloseMidBody(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("data: 1\n\n"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	rt := NewTransport(time.Second)
	defer rt.CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, strings.NewReader("{}"))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := resp.Body.Read(buf); err != nil || string(buf[:n]) != "data: 1\n\n" {
		t.Fatalf("first read: %q %v", buf[:n], err)
	}
	time.AfterFunc(30*time.Millisecond, cancel)
	start := time.Now()
	_, err = resp.Body.Read(buf)
	if !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("read after cancel: %v after %v", err, time.Since(start))
	}
	resp.Body.Close()

	req, _ = http.NewRequest("POST", srv.URL, strings.NewReader("{}"))
	resp, err = rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(buf)
	time.AfterFunc(30*time.Millisecond, func() { resp.Body.Close() })
	if _, err := resp.Body.Read(buf); err == nil {
		t.Fatal("read went on after Close")
	}
	if _, err := resp.Body.Read(buf); err == nil {
		t.Fatal("read after Close succeeded")
	}
}

// Header values cannot smuggle a second header or request, and a bad
// status line or framing is an error, not a guess.
func TestH1Refuses(t *testing.T) {
	t.Parallel()
	url, _ := rawServer(t, func(n int, req *http.Request, w *bufio.Writer) bool {
		switch req.URL.Path {
		case "/bad-status":
			w.WriteString("HTTP/1.1 2x0 OK\r\n\r\n")
		case "/bad-length":
			w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc")
		case "/gzip":
			w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")
		case "/short":
			w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
			return false
		}
		return true
	})
	rt := NewTransport(time.Second)
	defer rt.CloseIdleConnections()
	for _, h := range []http.Header{{"X-A": {"1\r\nX-B: 2"}}, {"X-A\r\nX-B": {"1"}}, {"": {"1"}}} {
		req, _ := http.NewRequest("POST", url+"/ok", nil)
		req.Header = h
		if resp, err := rt.RoundTrip(req); err == nil {
			resp.Body.Close()
			t.Errorf("header %q was sent", h)
		}
	}
	for _, p := range []string{"/bad-status", "/bad-length", "/gzip"} {
		req, _ := http.NewRequest("GET", url+p, nil)
		if resp, err := rt.RoundTrip(req); err == nil {
			resp.Body.Close()
			t.Errorf("%s: no error", p)
		}
	}
	req, _ := http.NewRequest("GET", url+"/short", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short body: %v", err)
	}
}

// The request goes out as HTTP/1.1 with its headers, Host and exact
// Content-Length, and no header the caller did not set beyond those.
func TestH1Request(t *testing.T) {
	t.Parallel()
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		r.Header.Set("X-Body", string(b))
		got <- r
	}))
	defer srv.Close()
	rt := NewTransport(time.Second)
	defer rt.CloseIdleConnections()
	ep, _ := ParseEndpoint(srv.URL + "/v1/chat/completions?x=1")
	resp, err := rt.RoundTrip(ep.Request(context.Background(), "POST", http.Header{"Authorization": {"Bearer k"}, "X-Multi": {"a", "b"}}, []byte(`{"a":1}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := <-got
	if r.Proto != "HTTP/1.1" || r.RequestURI != "/v1/chat/completions?x=1" || r.Host != srv.Listener.Addr().String() || r.ContentLength != 7 ||
		r.Header.Get("X-Body") != `{"a":1}` || r.Header.Get("Authorization") != "Bearer k" || strings.Join(r.Header["X-Multi"], ",") != "a,b" {
		t.Fatalf("request: %s %s %s %d %v", r.Proto, r.RequestURI, r.Host, r.ContentLength, r.Header)
	}
	for k := range r.Header {
		switch k {
		case "Authorization", "X-Multi", "X-Body", "Content-Length":
		default:
			t.Errorf("unexpected header %s", k)
		}
	}
}

// Idle connections the upstream closed are closed by the sweep, not left
// holding a socket; once the client is closed, a connection whose request
// was in flight is closed when its body ends instead of pooled.
func TestH1SweepAndClose(t *testing.T) {
	t.Parallel()
	url, _ := rawServer(t, func(n int, req *http.Request, w *bufio.Writer) bool {
		w.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return req.URL.Path != "/bye" // then the upstream closes the idle connection
	})
	rt := NewTransport(time.Second)
	rt.h1.sweepEvery = 20 * time.Millisecond
	// Two connections at once: both answers are open before either body is
	// read, then both go to the pool.
	var bodies []io.ReadCloser
	for _, p := range []string{"/bye", "/stay"} {
		req, _ := http.NewRequest("POST", url+p, strings.NewReader("{}"))
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, resp.Body)
	}
	for _, b := range bodies {
		io.ReadAll(b)
		b.Close()
	}
	idle := func() int {
		rt.h1.mu.Lock()
		defer rt.h1.mu.Unlock()
		n := 0
		for _, l := range rt.h1.idle {
			n += len(l)
		}
		return n
	}
	deadline := time.Now().Add(2 * time.Second)
	for idle() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle connections, want 1 (the closed one swept)", idle())
		}
		time.Sleep(10 * time.Millisecond)
	}

	req, _ := http.NewRequest("POST", url+"/stay", strings.NewReader("{}"))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	rt.CloseIdleConnections()
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := idle(); n != 0 {
		t.Fatalf("%d idle connections after CloseIdleConnections", n)
	}
	if _, b := get(t, rt, url+"/stay", ""); b != "ok" {
		t.Fatalf("a closed client still serves: %q", b)
	}
	if n := idle(); n != 0 {
		t.Fatalf("a closed client pooled a connection")
	}
}
