package openai_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airouter/airouter/adapters/providers/openai"
	"github.com/airouter/airouter/core/domain"
)

func clientWith(t testing.TB, base string, to domain.Timeouts) *openai.Client {
	t.Helper()
	c, err := openai.New(domain.Provider{Name: "p", Kind: domain.KindOpenAICompatible, BaseURL: base, Timeouts: to})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// call makes a one-message request to c, streaming or not, and returns its
// error.
func call(t *testing.T, c *openai.Client, stream bool) error {
	t.Helper()
	if stream {
		_, err := c.ChatStream(context.Background(), tgt, parse(t, `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`))
		return err
	}
	_, err := c.Chat(context.Background(), tgt, parse(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`))
	return err
}

const chunkA = "data: {\"id\":\"a\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"

// TestRegressionModerationRefusalIsNotAuth: OpenRouter answers flagged
// input with a 403 whose body says so (error.code 403, metadata.reasons
// and flagged_input); it used to be classed as an auth failure before the
// body was read. OpenAI's 400 content_policy_violation stays the
// request's too.
func TestRegressionModerationRefusalIsNotAuth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, status, body string
	}{
		{"openrouter 403", "403", `{"error":{"code":403,"message":"Your chosen model requires moderation and your input was flagged for \"harassment\"","metadata":{"reasons":["harassment"],"flagged_input":"you are...","provider_name":"OpenAI","model_slug":"openai/gpt-4o"}}}`},
		{"openai 400", "400", `{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","param":null,"code":"content_policy_violation"}}`},
		{"azure 400", "400", `{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400}}`},
	}
	for _, cs := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			var st int
			fmt.Sscan(cs.status, &st)
			w.WriteHeader(st)
			io.WriteString(w, cs.body)
		}))
		c := clientWith(t, srv.URL, domain.Timeouts{}.WithDefaults())
		for _, stream := range []bool{false, true} {
			err := call(t, c, stream)
			var ue *domain.UpstreamError
			if !errors.As(err, &ue) || ue.Class != domain.ClassRequest || ue.Message == "" || ue.Type == "" || ue.Type == "403" {
				t.Errorf("%s (stream %v): %#v", cs.name, stream, err)
			}
		}
		srv.Close()
	}
}

// TestRegressionRedirectIsUpstreamError: a 3xx (not followed) used to be a
// request error blamed on the client; it is the upstream's (its URL's).
func TestRegressionRedirectIsUpstreamError(t *testing.T) {
	t.Parallel()
	var followed atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		if r.URL.Path == "/elsewhere/chat/completions" {
			followed.Add(1)
		}
		http.Redirect(w, r, "/elsewhere/chat/completions", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c := clientWith(t, srv.URL, domain.Timeouts{}.WithDefaults())
	_, err := c.Chat(context.Background(), tgt, parse(t, `{"model":"m","messages":[{"role":"user","content":"x"}]}`))
	var ue *domain.UpstreamError
	if !errors.As(err, &ue) || ue.Class == domain.ClassRequest || ue.Class != domain.ClassRetryable || ue.Status != 307 || ue.Code() != domain.CodeUpstream || !strings.Contains(ue.Message, "redirect") {
		t.Fatalf("got %#v", err)
	}
	if followed.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
}

// TestRegressionFirstByteAfterWriteIsAmbiguous: with first_byte_ms 300 and
// an upstream that takes 3 s, the timeout used to be retryable, so every
// retry started another billed generation. Now it is ambiguous (not
// resent) with a message saying the upstream may still be processing.
func TestRegressionFirstByteAfterWriteIsAmbiguous(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		got.Add(1)
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	c := clientWith(t, srv.URL, domain.Timeouts{Connect: time.Second, FirstByte: 300 * time.Millisecond, Idle: time.Second, Total: 10 * time.Second})
	for _, stream := range []bool{false, true} {
		start := time.Now()
		err := call(t, c, stream)
		var ue *domain.UpstreamError
		if !errors.As(err, &ue) || ue.Class != domain.ClassAmbiguous || ue.Class.Retryable() || !ue.Timeout || ue.Code() != domain.CodeTimeout ||
			!strings.Contains(ue.Message, "after the request was sent") || !strings.Contains(ue.Message, "may still be processing") {
			t.Fatalf("stream %v: %#v", stream, err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("took %v", el)
		}
	}
}

// TestRegressionPingCommentsDoNotResetIdle: ": ping" comments every 100 ms
// used to re-arm the idle timer forever; only data events count, so with an
// idle timeout of 500 ms the stream fails with an idle timeout.
func TestRegressionPingCommentsDoNotResetIdle(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, chunkA)
		w.(http.Flusher).Flush()
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tk.C:
				if _, err := io.WriteString(w, ": ping\n\n"); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	}))
	defer srv.Close()
	c := clientWith(t, srv.URL, domain.Timeouts{Connect: time.Second, FirstByte: 2 * time.Second, Idle: 500 * time.Millisecond, Total: 20 * time.Second})
	st, err := c.ChatStream(context.Background(), tgt, parse(t, `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Next(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { _, err := st.Next(); done <- err }()
	select {
	case err := <-done:
		var ue *domain.UpstreamError
		if !errors.As(err, &ue) || !ue.Timeout || !strings.Contains(ue.Message, "idle timeout") {
			t.Fatalf("got %#v", err)
		}
		if el := time.Since(start); el < 400*time.Millisecond || el > 2*time.Second {
			t.Fatalf("idle timeout after %v", el)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream of pings never timed out")
	}
}

// TestRegressionHugeEventBounded: one 20 MiB event used to be buffered
// whole (the reader grew to 32 MiB, plus the event's copy and its parse:
// about 5× its size). Events are bounded at 4 MiB: before the first event
// the failure is retryable, after it the stream ends with an error; the
// allocation stays near the limit.
func TestRegressionHugeEventBounded(t *testing.T) {
	big := "data: {\"id\":\"a\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + strings.Repeat("x", 20<<20) + "\"}}]}\n\n"
	req := parse(t, `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	for _, first := range []bool{true, false} {
		body := big
		if !first {
			body = chunkA + big
		}
		c := clientWith(t, streamServer(t, "text/event-stream", body), domain.Timeouts{}.WithDefaults())
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		st, err := c.ChatStream(context.Background(), tgt, req)
		if err != nil {
			t.Fatal(err)
		}
		if !first {
			if _, err := st.Next(); err != nil {
				t.Fatal(err)
			}
		}
		_, err = st.Next()
		runtime.ReadMemStats(&after)
		st.Close()
		var ue *domain.UpstreamError
		// Never retried, first event or not: the upstream is generating.
		want := domain.ClassAmbiguous
		if !errors.As(err, &ue) || ue.Class != want || !strings.Contains(ue.Message, "larger than the limit of 4 MiB") {
			t.Fatalf("first %v: %#v", first, err)
		}
		// The test server writes from a string it already holds; what is
		// allocated here is the reader's growing buffer (about 2 × 4 MiB).
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 20<<20 {
			t.Fatalf("first %v: a 20 MiB event allocated %d MiB", first, alloc>>20)
		} else {
			t.Logf("first %v: a 20 MiB event allocated %.1f MiB", first, float64(alloc)/(1<<20))
		}
	}
}
