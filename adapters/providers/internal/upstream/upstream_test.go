package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		h    map[string]string
		want time.Duration
	}{
		{nil, 0},
		{map[string]string{"Retry-After": "7"}, 7 * time.Second},
		{map[string]string{"Retry-After": " 0 "}, 0},
		{map[string]string{"Retry-After": "-3"}, 0},
		{map[string]string{"Retry-After": "1.5"}, 0},
		{map[string]string{"Retry-After": "soon"}, 0},
		{map[string]string{"Retry-After": "86400"}, MaxRetryAfter},
		{map[string]string{"Retry-After": "99999999999999999999999"}, MaxRetryAfter},
		{map[string]string{"Retry-After": now.Add(20 * time.Second).Format(http.TimeFormat)}, 20 * time.Second},
		{map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, 0},
		{map[string]string{"Retry-After": now.Add(time.Hour).Format(http.TimeFormat)}, MaxRetryAfter},
		{map[string]string{"retry-after-ms": "1500", "Retry-After": "9"}, 1500 * time.Millisecond},
		{map[string]string{"retry-after-ms": "abc", "Retry-After": "9"}, 9 * time.Second},
		{map[string]string{"retry-after-ms": "NaN"}, 0},
		{map[string]string{"retry-after-ms": "1e12"}, MaxRetryAfter},
	}
	for _, c := range cases {
		h := http.Header{}
		for k, v := range c.h {
			h.Set(k, v)
		}
		if got := RetryAfter(h, now); got != c.want {
			t.Errorf("%v: got %v want %v", c.h, got, c.want)
		}
	}
}

func TestParseErrorBody(t *testing.T) {
	cases := []struct {
		body string
		want ErrorBody
	}{
		{`{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
			ErrorBody{Type: "invalid_request_error", Code: "context_length_exceeded", Message: "This model's maximum context length is 8192 tokens"}},
		{`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}`,
			ErrorBody{Type: "overloaded_error", Message: "Overloaded"}},
		{`{"error":{"code":"RateLimitExceeded.EndpointRPMExceeded","message":"The Requests Per Minute (RPM) limit...","param":"","type":"TooManyRequests"}}`,
			ErrorBody{Type: "TooManyRequests", Code: "RateLimitExceeded.EndpointRPMExceeded", Message: "The Requests Per Minute (RPM) limit..."}},
		{`{"error":"model 'llama9' not found"}`, ErrorBody{Message: "model 'llama9' not found"}},
		{`{"object":"error","message":"bad","type":"BadRequestError","code":400}`, ErrorBody{Type: "BadRequestError", Code: "400", Message: "bad"}},
		{`{"detail":"Not Found"}`, ErrorBody{Message: "Not Found"}},
		{`<html>502 Bad Gateway</html>`, ErrorBody{Message: "<html>502 Bad Gateway</html>"}},
		{``, ErrorBody{}},
	}
	for _, c := range cases {
		if got := ParseErrorBody([]byte(c.body)); got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.body, got, c.want)
		}
	}
}

func TestScrub(t *testing.T) {
	key := "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
	for _, msg := range []string{
		"Incorrect API key provided: " + key + ". You can find your API key at https://platform.openai.com/account/api-keys.",
		"Incorrect API key provided: sk-proj-********************************************6789.",
		"key " + key[:20] + "... is invalid",
		"bad key (sk-ant-api03-XYZ)",
	} {
		got := Scrub(msg, key)
		if strings.Contains(got, key) || strings.Contains(got, key[:12]) || strings.Contains(got, "sk-ant-api03") || strings.Contains(got, "****") {
			t.Errorf("not scrubbed: %q", got)
		}
		if !strings.Contains(got, "[redacted]") {
			t.Errorf("no marker: %q", got)
		}
	}
	if got := Scrub("plain message", key); got != "plain message" {
		t.Errorf("changed: %q", got)
	}
	ark := "3f2a9c4e-1b2d-4e5f-8a9b-0c1d2e3f4a5b"
	if got := Scrub("The API key "+ark+" is invalid", ark); strings.Contains(got, ark) {
		t.Errorf("not scrubbed: %q", got)
	}
}

func TestClassifyBody(t *testing.T) {
	cases := []struct {
		status int
		eb     ErrorBody
		want   domain.ErrorClass
	}{
		{400, ErrorBody{}, domain.ClassRequest},
		{500, ErrorBody{Message: "This model's maximum context length is 4096 tokens"}, domain.ClassRequest},
		{413, ErrorBody{Type: "request_too_large"}, domain.ClassRequest},
		{400, ErrorBody{Code: "InputTextRiskDetection"}, domain.ClassRequest},
		{429, ErrorBody{Message: "too many tokens per minute"}, domain.ClassRateLimited},
		{503, ErrorBody{}, domain.ClassRetryable},
		{529, ErrorBody{Type: "overloaded_error"}, domain.ClassRetryable},
		{401, ErrorBody{}, domain.ClassAuth},
	}
	for _, c := range cases {
		if got := ClassifyBody(c.status, c.eb); got != c.want {
			t.Errorf("%d %+v: got %s want %s", c.status, c.eb, got, c.want)
		}
	}
}

func timeouts() domain.Timeouts {
	return domain.Timeouts{Connect: time.Second, FirstByte: 200 * time.Millisecond, Idle: 200 * time.Millisecond, Total: 5 * time.Second}
}

func TestAttemptConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ep, _ := ParseEndpoint("http://" + addr + "/x")
	a := Begin(context.Background(), timeouts(), "")
	defer a.End()
	_, err = a.Do(NewTransport(time.Second), ep.Request(a.Context(), "POST", http.Header{}, []byte("{}")))
	var ue *domain.UpstreamError
	if !errors.As(err, &ue) || ue.Class != domain.ClassRetryable {
		t.Fatalf("got %#v", err)
	}
}

func TestAttemptAmbiguousAfterWrite(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer srv.Close()
	ep, _ := ParseEndpoint(srv.URL)
	a := Begin(context.Background(), timeouts(), "")
	defer a.End()
	_, err := a.Do(NewTransport(time.Second), ep.Request(a.Context(), "POST", http.Header{}, []byte("{}")))
	var ue *domain.UpstreamError
	if !errors.As(err, &ue) || ue.Class != domain.ClassAmbiguous {
		t.Fatalf("got %#v", err)
	}
}

func TestAttemptFirstByteAndIdle(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // the server notices a closed connection only after the body
		if r.URL.Path == "/idle" {
			w.WriteHeader(200)
			w.Write([]byte("data: x\n\n"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	rt := NewTransport(time.Second)
	ep, _ := ParseEndpoint(srv.URL + "/slow")
	a := Begin(context.Background(), timeouts(), "")
	_, err := a.Do(rt, ep.Request(a.Context(), "POST", http.Header{}, []byte("{}")))
	a.End()
	var ue *domain.UpstreamError
	if !errors.As(err, &ue) || ue.Class != domain.ClassAmbiguous || !ue.Timeout {
		t.Fatalf("first byte: got %#v", err)
	}

	ep, _ = ParseEndpoint(srv.URL + "/idle")
	a = Begin(context.Background(), timeouts(), "")
	defer a.End()
	resp, err := a.Do(rt, ep.Request(a.Context(), "POST", http.Header{}, []byte("{}")))
	if err != nil {
		t.Fatal(err)
	}
	a.Receiving()
	b := a.Body(resp.Body)
	start := time.Now()
	_, err = io.ReadAll(b)
	ue = a.Fail(err)
	if ue.Class != domain.ClassAmbiguous || !ue.Timeout || time.Since(start) > 2*time.Second {
		t.Fatalf("idle: got %#v after %v", ue, time.Since(start))
	}
}

func TestAttemptCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ep, _ := ParseEndpoint(srv.URL)
	a := Begin(ctx, timeouts(), "")
	defer a.End()
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := a.Do(NewTransport(time.Second), ep.Request(a.Context(), "POST", http.Header{}, []byte("{}")))
	var ue *domain.UpstreamError
	if !errors.As(err, &ue) || ue.Class != domain.ClassCanceled {
		t.Fatalf("got %#v", err)
	}
}

// TestFirstByteBeforeWriteStaysRetryable: a first-byte timeout while the
// request could not even be sent (here a TLS handshake that never
// completes) is still retryable: the upstream cannot have processed it.
func TestFirstByteBeforeWriteStaysRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold the connection silent
		}
	}()
	ep, _ := ParseEndpoint("https://" + l.Addr().String() + "/x")
	to := timeouts()
	to.Connect = 5 * time.Second // the first-byte timer fires first
	a := Begin(context.Background(), to, "")
	defer a.End()
	_, err = a.Do(NewTransport(to.Connect), ep.Request(a.Context(), "POST", http.Header{}, []byte("{}")))
	var ue *domain.UpstreamError
	if !errors.As(err, &ue) || ue.Class != domain.ClassRetryable || !ue.Timeout {
		t.Fatalf("got %#v", err)
	}
}

// The total timeout ends an attempt whose stream keeps making progress
// (each event re-arms the idle timer, never past the total deadline), and
// one whose upstream never answers when Total is shorter than FirstByte.
func TestAttemptTotalTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		if r.URL.Path == "/hang" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		for {
			if _, err := w.Write([]byte("data: x\n\n")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-release:
				return
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	defer srv.Close()
	to := domain.Timeouts{Connect: time.Second, FirstByte: 5 * time.Second, Idle: 200 * time.Millisecond, Total: 300 * time.Millisecond}
	rt := NewTransport(time.Second)
	defer rt.CloseIdleConnections()

	ep, _ := ParseEndpoint(srv.URL + "/stream")
	start := time.Now()
	a := Begin(context.Background(), to, "")
	defer a.End()
	resp, err := a.Do(rt, ep.Request(a.Context(), "POST", http.Header{}, []byte("{}")))
	if err != nil {
		t.Fatal(err)
	}
	a.Receiving()
	buf := make([]byte, 64)
	for err == nil {
		_, err = resp.Body.Read(buf)
		a.Progress()
	}
	ue := a.Fail(err)
	if !ue.Timeout || !strings.Contains(ue.Message, "total timeout") || time.Since(start) > 2*time.Second {
		t.Fatalf("stream: %#v after %v", ue, time.Since(start))
	}

	ep, _ = ParseEndpoint(srv.URL + "/hang")
	start = time.Now()
	b := Begin(context.Background(), to, "")
	defer b.End()
	_, err = b.Do(rt, ep.Request(b.Context(), "POST", http.Header{}, []byte("{}")))
	if !errors.As(err, &ue) || !ue.Timeout || !strings.Contains(ue.Message, "total timeout") || time.Since(start) > 2*time.Second {
		t.Fatalf("hang: %#v after %v", err, time.Since(start))
	}
}
