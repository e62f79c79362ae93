package mock_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

func TestInjectedErrors(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	type want struct{ oaType, oaCode, anType string }
	for status, w := range map[int]want{
		500: {"server_error", "", "api_error"},
		503: {"server_error", "", "api_error"},
		429: {"requests", "rate_limit_exceeded", "rate_limit_error"},
		529: {"server_error", "", "overloaded_error"},
	} {
		hdr := []string{"X-Mock-Error-Rate: 1", fmt.Sprintf("X-Mock-Error-Status: %d", status), "X-Mock-Retry-After: 7"}
		wantRetry := ""
		if status == 429 {
			wantRetry = "7"
		}

		resp, body := post(t, srv, pathOpenAI, userMsg(`,"stream":true`), hdr...)
		var oe oaError
		strictDecode(t, string(body), &oe)
		code := ""
		if oe.Error.Code != nil {
			code = *oe.Error.Code
		}
		if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/json" ||
			oe.Error.Type != w.oaType || code != w.oaCode || oe.Error.Message == "" || oe.Error.Param != nil {
			t.Errorf("OpenAI %d: got %d %s", status, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Retry-After"); got != wantRetry {
			t.Errorf("OpenAI %d: Retry-After %q", status, got)
		}

		resp, body = post(t, srv, pathAnthropic, anthMsg(""), hdr...)
		var ae anError
		strictDecode(t, string(body), &ae)
		if resp.StatusCode != status || ae.Type != "error" || ae.Error.Type != w.anType || ae.Error.Message == "" || !strings.HasPrefix(ae.RequestID, "req_") {
			t.Errorf("Anthropic %d: got %d %s", status, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Retry-After"); got != wantRetry {
			t.Errorf("Anthropic %d: Retry-After %q", status, got)
		}
	}

	// The same from the configuration alone.
	cfgSrv := start(t, mock.Config{ErrorRate: 1, ErrorStatus: 529})
	resp, body := post(t, cfgSrv, pathAnthropic, anthMsg(""))
	if resp.StatusCode != 529 || !strings.Contains(string(body), `"overloaded_error"`) {
		t.Errorf("config 529: %d %s", resp.StatusCode, body)
	}
}

func TestErrorRate(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{ErrorRate: 0.5, ErrorStatus: 503})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	const n = 200
	failed := 0
	for range n {
		resp, err := c.Post(srv.URL+pathOpenAI, "application/json", strings.NewReader(userMsg("")))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case 503:
			failed++
		case 200:
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// Binomial(200, 0.5): sd ~7; allow 5 sd.
	if failed < 65 || failed > 135 {
		t.Errorf("%d of %d failed at rate 0.5", failed, n)
	}
	_, body := post(t, srv, pathOpenAI, userMsg(""), "X-Mock-Error-Rate: 0")
	decodeCompletion(t, body)
}

func TestRequireKey(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{RequireKey: "sk-test"})

	resp, body := post(t, srv, pathOpenAI, userMsg(""))
	var oe oaError
	strictDecode(t, string(body), &oe)
	if resp.StatusCode != 401 || oe.Error.Code == nil || *oe.Error.Code != "invalid_api_key" {
		t.Errorf("OpenAI without key: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, srv, pathOpenAI, userMsg(""), "Authorization: Bearer sk-wrong")
	if resp.StatusCode != 401 {
		t.Errorf("OpenAI wrong key: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, srv, pathOpenAI, userMsg(""), "Authorization: Bearer sk-test")
	if resp.StatusCode != 200 {
		t.Errorf("OpenAI with key: %d %s", resp.StatusCode, body)
	}

	resp, body = post(t, srv, pathAnthropic, anthMsg(""))
	var ae anError
	strictDecode(t, string(body), &ae)
	if resp.StatusCode != 401 || ae.Error.Type != "authentication_error" {
		t.Errorf("Anthropic without key: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, srv, pathAnthropic, anthMsg(""), "x-api-key: sk-test")
	if resp.StatusCode != 200 {
		t.Errorf("Anthropic with key: %d %s", resp.StatusCode, body)
	}

	resp, err := client(t).Get(srv.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	if body = readAll(t, resp); resp.StatusCode != 401 {
		t.Errorf("models without key: %d %s", resp.StatusCode, body)
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	for _, tc := range []struct {
		name, path, body string
		hdr              []string
		status           int
	}{
		{"truncated JSON", pathOpenAI, `{"model":"m","messages":[`, nil, 400},
		{"not an object", pathAnthropic, `[1]`, nil, 400},
		{"trailing garbage", pathOpenAI, userMsg("") + "x", nil, 400},
		{"no model", pathOpenAI, `{"messages":[{"role":"user","content":"x"}]}`, nil, 400},
		{"model not a string", pathOpenAI, `{"model":1,"messages":[{"role":"user","content":"x"}]}`, nil, 400},
		{"no messages", pathAnthropic, `{"model":"m","max_tokens":5,"messages":[]}`, nil, 400},
		{"stream not a boolean", pathOpenAI, userMsg(`,"stream":"yes"`), nil, 400},
		{"max_tokens not an integer", pathOpenAI, userMsg(`,"max_tokens":1.5`), nil, 400},
		{"unknown mock header", pathOpenAI, userMsg(""), []string{"X-Mock-Latncy: 5"}, 400},
		{"bad mock header", pathAnthropic, anthMsg(""), []string{"X-Mock-Latency: soon"}, 400},
		{"bad size", pathOpenAI, userMsg(""), []string{"X-Mock-Size: huge"}, 400},
		{"bad stall", pathOpenAI, userMsg(""), []string{"X-Mock-Stall: sometime"}, 400},
		{"unknown path", "/v1/completions", userMsg(""), nil, 404},
	} {
		resp, body := post(t, srv, tc.path, tc.body, tc.hdr...)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, resp.StatusCode, tc.status, body)
			continue
		}
		if tc.path == pathAnthropic {
			var ae anError
			strictDecode(t, string(body), &ae)
		} else {
			var oe oaError
			strictDecode(t, string(body), &oe)
		}
	}
	resp, err := client(t).Get(srv.URL + pathOpenAI)
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp); resp.StatusCode != 405 {
		t.Errorf("GET chat: %d", resp.StatusCode)
	}
}

func TestStallBeforeFirstByte(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	t0 := time.Now()
	resp, body := post(t, srv, pathOpenAI, userMsg(""), "X-Mock-Stall: before-first-byte:150ms")
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("answered after %v, stall was 150ms", d)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	decodeCompletion(t, body)
}

func TestStallMidStream(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{Stall: mock.Stall{At: mock.MidStream, For: 150 * time.Millisecond}})
	t0 := time.Now()
	resp, err := do(t, srv, pathAnthropic, anthMsg(`,"stream":true`), "X-Mock-Tokens: 4")
	if err != nil {
		t.Fatal(err)
	}
	evs, rest, err := readSSE(resp.Body, t0)
	resp.Body.Close()
	if err != nil || rest != "" || len(evs) != 6+4 {
		t.Fatalf("stream: %v, %d events, leftover %q", err, len(evs), rest)
	}
	// head (3 events), deltas 0 and 1, stall, deltas 2 and 3, tail.
	if gap := evs[5].at - evs[4].at; gap < 140*time.Millisecond {
		t.Errorf("gap across the middle %v, stall 150ms", gap)
	}
	if evs[4].at > 100*time.Millisecond {
		t.Errorf("first half arrived after %v", evs[4].at)
	}

	// A JSON body stalls halfway through.
	t0 = time.Now()
	resp, err = do(t, srv, pathOpenAI, userMsg(""))
	if err != nil {
		t.Fatal(err)
	}
	headers := time.Since(t0)
	body := readAll(t, resp)
	if headers > 100*time.Millisecond || time.Since(t0) < 150*time.Millisecond {
		t.Errorf("headers after %v, body after %v", headers, time.Since(t0))
	}
	decodeCompletion(t, body)
}

func TestCut(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	for _, tc := range []struct {
		path, body, restPrefix string
		complete               int // events before the cut
	}{
		{pathOpenAI, userMsg(`,"stream":true`), `data: {"id":"chatcmpl-`, 1 + 3},
		{pathAnthropic, anthMsg(`,"stream":true`), "event: content_block_delta\ndata: {", 3 + 3},
	} {
		resp, err := do(t, srv, tc.path, tc.body, "X-Mock-Tokens: 6", "X-Mock-Cut: true")
		if err != nil {
			t.Fatal(err)
		}
		evs, rest, err := readSSE(resp.Body, time.Now())
		resp.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: read error %v, want unexpected EOF", tc.path, err)
		}
		if len(evs) != tc.complete || !strings.HasPrefix(rest, tc.restPrefix) || strings.HasSuffix(rest, "\n\n") {
			t.Errorf("%s: %d complete events, then %q", tc.path, len(evs), rest)
		}
	}

	resp, err := do(t, srv, pathOpenAI, userMsg(""), "X-Mock-Cut: 1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(b) == 0 || int64(len(b)) >= resp.ContentLength {
		t.Errorf("JSON cut: %d of %d bytes, %v", len(b), resp.ContentLength, err)
	}
	_, body := post(t, srv, pathOpenAI, userMsg(""))
	decodeCompletion(t, body)
}

func TestReset(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	_, err := do(t, srv, pathOpenAI, userMsg(""), "X-Mock-Reset: before-first-byte")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("before first byte: %v, want connection reset", err)
	}

	resp, err := do(t, srv, pathAnthropic, anthMsg(`,"stream":true`), "X-Mock-Reset: mid-stream", "X-Mock-Tokens: 6", "X-Mock-TPS: 100")
	if err != nil {
		t.Fatalf("mid-stream: headers: %v", err)
	}
	evs, _, err := readSSE(resp.Body, time.Now())
	resp.Body.Close()
	if !errors.Is(err, syscall.ECONNRESET) || len(evs) > 3+3 {
		t.Errorf("mid-stream: %d events, %v, want a reset", len(evs), err)
	}

	_, body := post(t, srv, pathOpenAI, userMsg(""))
	decodeCompletion(t, body)
}

type unwrapping struct{ http.ResponseWriter }

func (u unwrapping) Unwrap() http.ResponseWriter { return u.ResponseWriter }

type opaque struct{ http.ResponseWriter }

// Behind middleware that wraps the ResponseWriter, resets still work
// through Unwrap; without it the connection is dropped all the same.
func TestResetBehindMiddleware(t *testing.T) {
	t.Parallel()
	h := mock.NewHandler(mock.Config{})
	for name, wrap := range map[string]func(http.ResponseWriter) http.ResponseWriter{
		"unwrap": func(w http.ResponseWriter) http.ResponseWriter { return unwrapping{w} },
		"opaque": func(w http.ResponseWriter) http.ResponseWriter { return opaque{w} },
	} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(wrap(w), r)
		}))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.Start()
		t.Cleanup(srv.Close)
		_, err := do(t, srv, pathOpenAI, userMsg(""), "X-Mock-Reset: true")
		if err == nil {
			t.Errorf("%s: request succeeded", name)
		} else if name == "unwrap" && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("%s: %v, want connection reset", name, err)
		}
		resp, err := do(t, srv, pathOpenAI, userMsg(`,"stream":true`), "X-Mock-Cut: true", "X-Mock-Tokens: 4")
		if err != nil {
			if name == "opaque" {
				continue // it cannot flush either, so the cut comes before the headers
			}
			t.Fatalf("%s: %v", name, err)
		}
		_, rest, err := readSSE(resp.Body, time.Now())
		resp.Body.Close()
		if err == nil || rest == "" {
			t.Errorf("%s: cut stream ended with %v, leftover %q", name, err, rest)
		}
	}
}

func TestErrorCode(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	policy := []string{"X-Mock-Error-Rate: 1", "X-Mock-Error-Status: 403", "X-Mock-Error-Code: content_policy_violation"}

	resp, body := post(t, srv, pathOpenAI, userMsg(""), policy...)
	var oe oaError
	strictDecode(t, string(body), &oe)
	if resp.StatusCode != 403 || oe.Error.Code == nil || *oe.Error.Code != mock.ErrorCodeContentPolicy ||
		oe.Error.Type != "invalid_request_error" || !strings.Contains(oe.Error.Message, "flagged") || oe.Error.Param != nil {
		t.Errorf("OpenAI content policy: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, srv, pathAnthropic, anthMsg(""), policy...)
	var ae anError
	strictDecode(t, string(body), &ae)
	if resp.StatusCode != 403 || ae.Error.Type != "invalid_request_error" || !strings.Contains(ae.Error.Message, "flagged") {
		t.Errorf("Anthropic content policy: %d %s", resp.StatusCode, body)
	}

	// Any other code replaces the status's own; type and message stay.
	resp, body = post(t, srv, pathOpenAI, userMsg(""), "X-Mock-Error-Rate: 1", "X-Mock-Error-Status: 429", "X-Mock-Error-Code: insufficient_quota")
	oe = oaError{}
	strictDecode(t, string(body), &oe)
	if resp.StatusCode != 429 || oe.Error.Code == nil || *oe.Error.Code != "insufficient_quota" || oe.Error.Type != "requests" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("custom code: %d %s", resp.StatusCode, body)
	}

	// From the configuration; a header without an error rate changes nothing.
	cfgSrv := start(t, mock.Config{ErrorRate: 1, ErrorStatus: 403, ErrorCode: mock.ErrorCodeContentPolicy})
	if resp, body = post(t, cfgSrv, pathOpenAI, userMsg("")); resp.StatusCode != 403 || !strings.Contains(string(body), `"code":"content_policy_violation"`) {
		t.Errorf("config: %d %s", resp.StatusCode, body)
	}
	_, body = post(t, srv, pathOpenAI, userMsg(""), "X-Mock-Error-Code: content_policy_violation")
	decodeCompletion(t, body)

	for _, bad := range []string{`a"b`, "a b", strings.Repeat("x", mock.MaxErrorCode+1)} {
		if resp, body = post(t, srv, pathOpenAI, userMsg(""), "X-Mock-Error-Code: "+bad); resp.StatusCode != 400 {
			t.Errorf("code %q: %d %s", bad, resp.StatusCode, body)
		}
		if err := (mock.Config{ErrorCode: bad}).Validate(); err == nil {
			t.Errorf("Validate accepted code %q", bad)
		}
	}
}

// TestCounters: a generation starts when a valid request passes the injected
// errors and finishes when its whole response is written.
func TestCounters(t *testing.T) {
	t.Parallel()
	var c mock.Counters
	srv := start(t, mock.Config{Counters: &c, Tokens: 4})
	check := func(what string, started, finished int64) {
		t.Helper()
		// The handler counts after its last write, which may be after the
		// client read the response.
		deadline := time.Now().Add(2 * time.Second)
		for (c.Started() != started || c.Finished() != finished) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if c.Started() != started || c.Finished() != finished {
			t.Fatalf("after %s: started %d finished %d, want %d and %d", what, c.Started(), c.Finished(), started, finished)
		}
	}

	_, body := post(t, srv, pathOpenAI, userMsg(""))
	decodeCompletion(t, body)
	check("a JSON response", 1, 1)
	resp, err := do(t, srv, pathAnthropic, anthMsg(`,"stream":true`))
	if err != nil {
		t.Fatal(err)
	}
	if _, rest, err := readSSE(resp.Body, time.Now()); err != nil || rest != "" {
		t.Fatalf("stream: %v %q", err, rest)
	}
	resp.Body.Close()
	check("a stream", 2, 2)

	// Rejected requests start nothing.
	post(t, srv, pathOpenAI, `{"model":"m"`)
	post(t, srv, pathOpenAI, userMsg(""), "X-Mock-Error-Rate: 1", "X-Mock-Error-Status: 429")
	post(t, srv, pathOpenAI, userMsg(""), "X-Mock-Error-Rate: 1", "X-Mock-Error-Status: 403", "X-Mock-Error-Code: content_policy_violation")
	check("rejected requests", 2, 2)

	// Cuts and resets start a generation that never finishes.
	resp, err = do(t, srv, pathOpenAI, userMsg(`,"stream":true`), "X-Mock-Cut: true")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := readSSE(resp.Body, time.Now()); err == nil {
		t.Fatal("cut stream ended cleanly")
	}
	resp.Body.Close()
	check("a cut stream", 3, 2)
	if _, err := do(t, srv, pathOpenAI, userMsg(""), "X-Mock-Reset: true"); err == nil {
		t.Fatal("reset request succeeded")
	}
	check("a reset", 4, 2)

	// A client that gives up during a stall leaves the generation unfinished.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+pathOpenAI, strings.NewReader(userMsg("")))
	req.Header.Set("X-Mock-Stall", "before-first-byte:10s")
	cl := client(t)
	cl.Timeout = 100 * time.Millisecond
	if _, err := cl.Do(req); err == nil {
		t.Fatal("stalled request answered")
	}
	check("an abandoned stall", 5, 2)

	// A slow stream finishes only once its tail is written.
	resp, err = do(t, srv, pathOpenAI, userMsg(`,"stream":true`), "X-Mock-Tokens: 3", "X-Mock-TPS: 20")
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := readSSE(resp.Body, time.Now())
	resp.Body.Close()
	if err != nil || len(evs) == 0 || evs[len(evs)-1].data != "[DONE]" {
		t.Fatalf("slow stream: %v %d events", err, len(evs))
	}
	check("a slow stream", 6, 3)
}
