package mock_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

// Lateness allowed for a paced event: the machine running -race tests is
// shared, so only lateness is loose; earliness is never allowed.
const late = 40 * time.Millisecond

func TestPacing(t *testing.T) {
	t.Parallel()
	ttft, interval := 60*time.Millisecond, 20*time.Millisecond
	for _, tc := range []struct {
		name, path, body string
		srv              *httptest.Server
		hdr              []string
		head             int // events before the first token
	}{
		{"OpenAI by config", pathOpenAI, userMsg(`,"stream":true`),
			start(t, mock.Config{TTFT: ttft, TPS: 50, Tokens: 8}), nil, 1},
		{"Anthropic by headers", pathAnthropic, anthMsg(`,"stream":true`),
			start(t, mock.Config{}), []string{"X-Mock-TTFT: 60", "X-Mock-TPS: 50", "X-Mock-Tokens: 8"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			t0 := time.Now()
			resp, err := do(t, tc.srv, tc.path, tc.body, tc.hdr...)
			if err != nil {
				t.Fatal(err)
			}
			evs, _, err := readSSE(resp.Body, t0)
			resp.Body.Close()
			if err != nil || len(evs) < tc.head+8 {
				t.Fatalf("%v, %d events", err, len(evs))
			}
			if at := evs[tc.head-1].at; at > ttft-10*time.Millisecond {
				t.Errorf("stream opened after %v, before the first token is due (%v)", at, ttft)
			}
			for i := range 8 {
				due := ttft + time.Duration(i)*interval
				if at := evs[tc.head+i].at; at < due || at > due+late {
					t.Errorf("token %d at %v, due %v", i, at, due)
				}
			}
		})
	}
}

// With 1 ms between tokens, pacing by sleeping after each write would add
// every timer's overshoot; deadline pacing keeps the last token on time.
func TestPacingDoesNotDrift(t *testing.T) {
	// Not parallel: the package's other tests would compete for the CPU
	// and make the last token late for reasons pacing has no part in.
	srv := start(t, mock.Config{})
	t0 := time.Now()
	resp, err := do(t, srv, pathOpenAI, userMsg(`,"stream":true`), "X-Mock-TPS: 1000", "X-Mock-Tokens: 300")
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := readSSE(resp.Body, t0)
	resp.Body.Close()
	if err != nil || len(evs) != 1+300+2 {
		t.Fatalf("%v, %d events", err, len(evs))
	}
	for i := 0; i < 300; i += 50 {
		if due, at := time.Duration(i)*time.Millisecond, evs[1+i].at; at < due {
			t.Errorf("token %d early: %v < %v", i, at, due)
		}
	}
	due := 299 * time.Millisecond
	if at := evs[300].at; at < due || at > due+late {
		t.Errorf("last token at %v, due %v", at, due)
	}
}

func TestLatencyAndJitter(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{Latency: 40 * time.Millisecond, Jitter: 30 * time.Millisecond})
	lo, hi := time.Hour, time.Duration(0)
	for range 8 {
		t0 := time.Now()
		resp, body := post(t, srv, pathOpenAI, userMsg(""))
		d := time.Since(t0)
		if resp.StatusCode != 200 || d < 40*time.Millisecond || d > 70*time.Millisecond+late {
			t.Errorf("status %d after %v, want 40ms + [0, 30ms): %s", resp.StatusCode, d, body)
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	if hi-lo < 2*time.Millisecond {
		t.Errorf("8 delays within %v of each other: no jitter", hi-lo)
	}
	t0 := time.Now()
	post(t, srv, pathOpenAI, userMsg(""), "X-Mock-Latency: 0", "X-Mock-Jitter: 0")
	if d := time.Since(t0); d > late {
		t.Errorf("header override to 0: %v", d)
	}
}

// A JSON response arrives when its last token would have been streamed.
func TestJSONWaitsForLastToken(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	t0 := time.Now()
	post(t, srv, pathAnthropic, anthMsg(""), "X-Mock-Latency: 20ms", "X-Mock-TTFT: 30", "X-Mock-TPS: 100", "X-Mock-Tokens: 6")
	due := 20*time.Millisecond + 30*time.Millisecond + 5*10*time.Millisecond
	if d := time.Since(t0); d < due || d > due+late {
		t.Errorf("answered after %v, due %v", d, due)
	}
}

// A client that goes away ends its stream's handler at once.
func TestClientGoneEndsStream(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	h := mock.NewHandler(mock.Config{TPS: 10, Tokens: 1000})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+pathOpenAI, strings.NewReader(userMsg(`,"stream":true`)))
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("handler still streaming 2s after the client left")
	}
}
