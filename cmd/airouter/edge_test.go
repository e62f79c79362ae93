package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

// trickle opens a connection, sends the headers of a chat request that
// claims a body of claim bytes, and then sends one byte every interval until
// the server answers or closes. The returned channel yields the status line
// (or the read error), then "closed" when the server closes the connection.
func trickle(t *testing.T, base, token string, claim int, interval time.Duration) (net.Conn, <-chan string) {
	t.Helper()
	u, _ := url.Parse(base)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", u.Host, token, claim)
	out := make(chan string, 2)
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	go func() {
		defer close(stop)
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		out <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, br) // until the server closes
		out <- "closed"
	}()
	return c, out
}

// TestRegressionSlowBodyMemory: clients that claim a large Content-Length
// and trickle made the router allocate the claimed size up front and hold
// it (and the goroutine) forever. Now the buffer grows from bytes read and
// the body must arrive within REQUEST_BODY_TIMEOUT.
//
// Not parallel: it measures the process's allocations.
func TestRegressionSlowBodyMemory(t *testing.T) {
	s := startServer(t, serverOpts{env: map[string]string{"REQUEST_BODY_TIMEOUT": "1"}})
	tok := s.clientKey(t, "app")
	const conns, claim = 4, 32 << 20
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	var outs []<-chan string
	for range conns {
		_, out := trickle(t, s.URL, tok, claim, 100*time.Millisecond)
		outs = append(outs, out)
	}
	time.Sleep(500 * time.Millisecond) // the handlers are reading the bodies
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("%d trickling clients claiming %d MiB each made the process allocate %d MiB", conns, claim>>20, got>>20)
	}
	for i, out := range outs {
		select {
		case line := <-out:
			if !strings.Contains(line, " 408 ") {
				t.Errorf("client %d: %q, want 408", i, line)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("client %d was not cut off within 5s of a 1s body deadline", i)
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("cut off after %v", took)
	}
	// A client with a bad key and a small claimed body is refused at once
	// and, as net/http would drain its body, cut off at the deadline too.
	_, out := trickle(t, s.URL, "sk-ar-wrong", 1000, 100*time.Millisecond)
	if line := <-out; !strings.Contains(line, " 401 ") {
		t.Errorf("bad key: %q", line)
	}
	select {
	case <-out:
	case <-time.After(3 * time.Second):
		t.Error("the connection of an unauthenticated trickling client stayed open")
	}
	// A normal request still works on a fresh connection.
	if st, _, out := s.chat(t, tok, userMsg("nope", "hi"), nil); st != 404 {
		t.Errorf("after the trickles: %d %s", st, out)
	}
}

// TestRegressionMaxInFlight: requests in flight were unbounded. With
// MAX_IN_FLIGHT=2, two held requests fill the slots and a third gets 503
// with Retry-After in OpenAI's envelope, counted in the metrics.
func TestRegressionMaxInFlight(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{env: map[string]string{"MAX_IN_FLIGHT": "2", "REQUEST_BODY_TIMEOUT": "2"}})
	tok := s.clientKey(t, "app")
	var outs []<-chan string
	for range 2 {
		_, out := trickle(t, s.URL, tok, 1<<20, 100*time.Millisecond)
		outs = append(outs, out)
	}
	time.Sleep(300 * time.Millisecond)
	req, _ := http.NewRequest("GET", s.URL+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: %d Retry-After=%q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if e := decodeErr(t, b); e.Error.Code == nil || *e.Error.Code != "server_overloaded" {
		t.Errorf("envelope %s", b)
	}
	// The admin API and health are not limited.
	s.mustAdmin(t, 200, "GET", "/client-keys", nil, nil)
	mresp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !strings.Contains(string(mb), "airouter_requests_shed_total 1") {
		t.Errorf("metrics do not count the shed request")
	}
	for _, out := range outs {
		<-out
	}
	// The slots are free again.
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after the held requests ended: %d", resp.StatusCode)
	}
}

// TestRegressionMetricsToken: /metrics, which names providers and models,
// was open to anyone; with METRICS_TOKEN set it requires the bearer token.
func TestRegressionMetricsToken(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{env: map[string]string{"METRICS_TOKEN": "mt-9f8e7d6c5b4a3210"}})
	get := func(tok string) int {
		req, _ := http.NewRequest("GET", s.URL+"/metrics", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get(""); st != 401 {
		t.Errorf("no token: %d", st)
	}
	if st := get("mt-wrong"); st != 401 {
		t.Errorf("wrong token: %d", st)
	}
	if st := get(s.AdminToken); st != 401 {
		t.Errorf("admin token: %d", st)
	}
	if st := get("mt-9f8e7d6c5b4a3210"); st != 200 {
		t.Errorf("right token: %d", st)
	}
}

type problemBody struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
	} `json:"errors"`
}

// TestRegressionProviderMoveNeedsKeys: PATCH of base_url or kind kept the
// stored keys, so the admin token alone could send them to any host. Now the
// change is refused naming the field unless the keys are re-supplied, which
// replaces them; the upstream at the new place only ever sees the new key.
func TestRegressionProviderMoveNeedsKeys(t *testing.T) {
	t.Parallel()
	oldUp := newUpstream(t, mock.Config{})
	newUp := newUpstream(t, mock.Config{})
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "p", "openai_compatible", oldUp.URL+"/v1", nil) // key sk-test-p-secret
	s.setupModel(t, "m", "", nil)
	s.addRoute(t, "m", "p", "mock-gpt", nil)
	tok := s.clientKey(t, "app")

	var pb problemBody
	if st := s.admin(t, "PATCH", "/providers/p", map[string]any{"base_url": newUp.URL + "/v1"}, &pb); st != 422 ||
		len(pb.Errors) != 1 || pb.Errors[0].Location != "body.base_url" || !strings.Contains(pb.Detail, "re-supply") {
		t.Fatalf("moving base_url without keys: %d %+v", st, pb)
	}
	pb = problemBody{}
	if st := s.admin(t, "PATCH", "/providers/p", map[string]any{"kind": "openai"}, &pb); st != 422 || len(pb.Errors) != 1 || pb.Errors[0].Location != "body.kind" {
		t.Fatalf("changing kind without keys: %d %+v", st, pb)
	}
	var got struct {
		BaseURL string `json:"base_url"`
	}
	s.mustAdmin(t, 200, "GET", "/providers/p", nil, &got)
	if got.BaseURL != oldUp.URL+"/v1" {
		t.Fatalf("refused change was stored: %s", got.BaseURL)
	}
	// Other changes need no keys.
	s.mustAdmin(t, 200, "PATCH", "/providers/p", map[string]any{"headers": map[string]string{"X-Team": "a"}}, nil)
	// A bad replacement key names its field and changes nothing.
	pb = problemBody{}
	if st := s.admin(t, "PATCH", "/providers/p", map[string]any{"base_url": newUp.URL + "/v1", "keys": []any{map[string]any{"secret": "x"}}}, &pb); st != 422 ||
		len(pb.Errors) != 1 || pb.Errors[0].Location != "body.keys[0].secret" {
		t.Fatalf("bad replacement key: %d %+v", st, pb)
	}
	// Moving with the keys re-supplied replaces them.
	s.mustAdmin(t, 200, "PATCH", "/providers/p", map[string]any{"base_url": newUp.URL + "/v1", "keys": []any{map[string]any{"secret": "sk-new-place-secret", "name": "new"}}}, nil)
	var keys struct {
		Data []struct {
			Name string `json:"name"`
		} `json:"data"`
	}
	s.mustAdmin(t, 200, "GET", "/providers/p/keys", nil, &keys)
	if len(keys.Data) != 1 || keys.Data[0].Name != "new" {
		t.Fatalf("keys after the move: %+v", keys)
	}
	if st, _, out := s.chat(t, tok, userMsg("m", "hi"), nil); st != 200 {
		t.Fatalf("chat after the move: %d %s", st, out)
	}
	if h := newUp.lastHeader(); h == nil || h.Get("Authorization") != "Bearer sk-new-place-secret" {
		t.Fatalf("the new upstream saw %q", h.Get("Authorization"))
	}
	newUp.mu.Lock()
	defer newUp.mu.Unlock()
	for _, h := range newUp.headers {
		if strings.Contains(h.Get("Authorization"), "sk-test-p-secret") {
			t.Fatal("the old key reached the new upstream")
		}
	}
}

// TestRegressionUpstreamAllowPrivate: with UPSTREAM_ALLOW_PRIVATE=false,
// base URLs that are or resolve to non-public addresses are refused at the
// admin API naming base_url; by default (true) loopback upstreams work.
func TestRegressionUpstreamAllowPrivate(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, mock.Config{})
	s := startServer(t, serverOpts{env: map[string]string{"UPSTREAM_ALLOW_PRIVATE": "false"}})
	for _, base := range []string{up.URL + "/v1", "http://localhost:1/v1", "http://169.254.169.254/v1", "http://10.1.2.3/v1", "http://[::1]:8080/v1", "http://100.64.0.1/v1"} {
		var pb problemBody
		if st := s.admin(t, "POST", "/providers", map[string]any{"name": "p", "kind": "openai_compatible", "base_url": base}, &pb); st != 422 ||
			len(pb.Errors) != 1 || pb.Errors[0].Location != "body.base_url" || !strings.Contains(pb.Detail, "UPSTREAM_ALLOW_PRIVATE") {
			t.Errorf("create with %s: %d %+v", base, st, pb)
		}
	}
	// A public address passes the check (it is not contacted).
	s.mustAdmin(t, 201, "POST", "/providers", map[string]any{"name": "pub", "kind": "openai_compatible", "base_url": "http://8.8.8.8/v1"}, nil)
	var pb problemBody
	if st := s.admin(t, "PATCH", "/providers/pub", map[string]any{"base_url": "http://127.0.0.1:9/v1"}, &pb); st != 422 || len(pb.Errors) != 1 || pb.Errors[0].Location != "body.base_url" {
		t.Errorf("patch to loopback: %d %+v", st, pb)
	}

	// The default allows loopback upstreams (local use).
	d := startServer(t, serverOpts{})
	d.setupProvider(t, "local", "openai_compatible", up.URL+"/v1", nil)
	d.setupModel(t, "m", "", nil)
	d.addRoute(t, "m", "local", "mock-gpt", nil)
	if st, _, out := d.chat(t, d.clientKey(t, "app"), userMsg("m", "hi"), nil); st != 200 {
		t.Errorf("default: %d %s", st, out)
	}
}

// TestRegressionRevokedKeyEndsStreams: revoking a client key left its open
// streams running. A slow stream on replica B ends within a second of the
// key being deleted through replica A, with an error event and no [DONE];
// another key's stream on B goes on.
func TestRegressionRevokedKeyEndsStreams(t *testing.T) {
	t.Parallel()
	slow := newUpstream(t, mock.Config{Tokens: 1000, TPS: 20})
	db := freshDatabase(t)
	a, b := startReplicas(t, serverOpts{dbURL: db})
	a.setupProvider(t, "slow", "openai_compatible", slow.URL+"/v1", nil)
	a.setupModel(t, "m", "", nil)
	a.addRoute(t, "m", "slow", "mock-gpt", nil)
	var created struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	a.mustAdmin(t, 201, "POST", "/client-keys", map[string]any{"name": "doomed"}, &created)
	other := a.clientKey(t, "other")
	waitFor(t, 2*time.Second, func() bool {
		// Not a chat: the slow upstream takes 50s to answer one.
		return b.do(t, "GET", "/v1/models/m", created.Token, nil, nil) == 200 && b.do(t, "GET", "/v1/models/m", other, nil, nil) == 200
	}, "replica B did not see the configuration")

	open := func(tok string) (*bufio.Reader, io.Closer) {
		body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"long"}]}`
		req, _ := http.NewRequest("POST", b.URL+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("stream: %d", resp.StatusCode)
		}
		br := bufio.NewReader(resp.Body)
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		return br, resp.Body
	}
	doomed, c1 := open(created.Token)
	defer c1.Close()
	kept, c2 := open(other)
	defer c2.Close()

	revokedAt := time.Now()
	a.mustAdmin(t, 204, "DELETE", "/client-keys/"+strconv.FormatInt(created.ID, 10), nil, nil)
	type result struct {
		last string
		done bool
		err  error
	}
	ended := make(chan result, 1)
	go func() {
		var r result
		for {
			line, err := doomed.ReadString('\n')
			if strings.HasPrefix(line, "data: ") {
				r.last = line
				if strings.TrimSpace(line) == "data: [DONE]" {
					r.done = true
				}
			}
			if err != nil {
				if err != io.EOF {
					r.err = err
				}
				ended <- r
				return
			}
		}
	}()
	select {
	case r := <-ended:
		took := time.Since(revokedAt)
		t.Logf("stream on the other replica ended %v after the revocation", took)
		if took > 1500*time.Millisecond {
			t.Errorf("ended after %v, want about a second", took)
		}
		if r.done || r.err != nil || !strings.Contains(r.last, `"error"`) {
			t.Fatalf("the stream did not end with an error event: last %q done %v err %v", r.last, r.done, r.err)
		}
		decodeErr(t, []byte(strings.TrimPrefix(strings.TrimSpace(r.last), "data: ")))
	case <-time.After(3 * time.Second):
		t.Fatal("the revoked key's stream on the other replica was still open 3s after the revocation")
	}
	// The other key's stream is untouched.
	for range 3 {
		line, err := kept.ReadString('\n')
		if err != nil || strings.Contains(line, `"error"`) {
			t.Fatalf("the other key's stream: %q %v", line, err)
		}
	}
	// And the revoked key is refused on B.
	if st := b.do(t, "GET", "/v1/models/m", created.Token, nil, nil); st != 401 {
		t.Errorf("revoked key on B: %d", st)
	}
}
