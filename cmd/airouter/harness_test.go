package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/adapters/postgres/pgtest"
	"github.com/airouter/airouter/core/testkit"
	"github.com/airouter/airouter/ports"
)

// End-to-end tests run the real program (run) on port 0 against a fresh
// PostgreSQL database per test, with fake upstreams from cmd/mockllm/mock.

// freshDatabase creates an empty database and returns its URL; run
// migrates it, as in production.
func freshDatabase(t *testing.T) string {
	t.Helper()
	return pgtest.Empty(t, os.Getenv)
}

type server struct {
	URL        string
	AdminToken string
	Stdout     *testkit.Buffer
	Stderr     *testkit.Buffer
	cancel     context.CancelFunc
	done       chan error
}

type serverOpts struct {
	dbURL    string
	env      map[string]string
	args     []string
	temporal bool        // use the real TEMPORAL_ADDRESS; otherwise an unreachable one
	clock    ports.Clock // the gateway's clock; nil: the system clock
}

var servingRe = regexp.MustCompile(`serving on (http://\S+)`)

func newMasterKey() string {
	var k [32]byte
	_, _ = rand.Read(k[:])
	return base64.StdEncoding.EncodeToString(k[:])
}

// startServer runs `airouter serve` in-process and waits until /healthz
// answers.
func startServer(t *testing.T, o serverOpts) *server {
	t.Helper()
	if o.dbURL == "" {
		o.dbURL = freshDatabase(t)
	}
	env := map[string]string{
		"DATABASE_URL":        o.dbURL,
		"HOST":                "127.0.0.1",
		"PORT":                "0",
		"ADMIN_TOKEN":         "adm-test-token-0123456789",
		"AIROUTER_MASTER_KEY": "",
		"TEMPORAL_ADDRESS":    "127.0.0.1:1",
		"SHUTDOWN_TIMEOUT":    "5",
		"DEBUG":               "true",
	}
	if o.temporal {
		addr := os.Getenv("TEMPORAL_ADDRESS")
		if addr == "" {
			if testing.Short() {
				t.Skip("Temporal not configured (-short)")
			}
			t.Fatal("Temporal is required: run `make test`, or set TEMPORAL_ADDRESS")
		}
		env["TEMPORAL_ADDRESS"] = addr
	}
	for k, v := range o.env {
		env[k] = v
	}
	if env["AIROUTER_MASTER_KEY"] == "" {
		env["AIROUTER_MASTER_KEY"] = newMasterKey()
	}
	args := o.args
	if args == nil {
		args = []string{"serve"}
	}
	ctx, cancel := context.WithCancel(context.Background())
	if o.clock != nil {
		ctx = withClock(ctx, o.clock)
	}
	s := &server{AdminToken: env["ADMIN_TOKEN"], Stdout: &testkit.Buffer{}, Stderr: &testkit.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, args, func(k string) string { return env[k] }, s.Stdout, s.Stderr) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRe.FindStringSubmatch(s.Stdout.String()); m != nil {
			s.URL = m[1]
			break
		}
		select {
		case err := <-s.done:
			t.Fatalf("server exited: %v\nstderr:\n%s", err, s.Stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if s.URL == "" {
		cancel()
		t.Fatalf("server did not start\nstdout:\n%s\nstderr:\n%s", s.Stdout.String(), s.Stderr.String())
	}
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// startReplicas starts two replicas of the server on one database (o's,
// or a fresh one) and one master key, as a deployment runs them; o's other
// options apply to both.
func startReplicas(t *testing.T, o serverOpts) (*server, *server) {
	t.Helper()
	if o.dbURL == "" {
		o.dbURL = freshDatabase(t)
	}
	env := map[string]string{"AIROUTER_MASTER_KEY": newMasterKey()}
	maps.Copy(env, o.env)
	o.env = env
	return startServer(t, o), startServer(t, o)
}

// Stop sends the shutdown signal and waits for run to return.
func (s *server) Stop(t *testing.T) {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("server did not stop")
	}
}

// admin calls the admin API and decodes the JSON answer into out (if not
// nil). It returns the status.
func (s *server) admin(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	return s.do(t, method, "/api/v1"+path, s.AdminToken, body, out)
}

func (s *server) do(t *testing.T, method, path, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: status %d, cannot decode %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// mustAdmin is admin that fails the test unless the status is want.
func (s *server) mustAdmin(t *testing.T, want int, method, path string, body any, out any) {
	t.Helper()
	var raw json.RawMessage
	got := s.admin(t, method, path, body, &raw)
	if got != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, got, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
	}
}

type idName struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// setupProvider creates a provider with one key.
func (s *server) setupProvider(t *testing.T, name, kind, baseURL string, headers map[string]string) idName {
	t.Helper()
	var p idName
	body := map[string]any{"name": name, "kind": kind, "base_url": baseURL}
	if headers != nil {
		body["headers"] = headers
	}
	s.mustAdmin(t, 201, "POST", "/providers", body, &p)
	s.mustAdmin(t, 201, "POST", "/providers/"+name+"/keys", map[string]any{"secret": "sk-test-" + name + "-secret", "name": "k1"}, nil)
	return p
}

func (s *server) setupModel(t *testing.T, name, strategy string, cfg map[string]any) {
	t.Helper()
	body := map[string]any{"name": name, "strategy": strategy}
	if cfg != nil {
		body["strategy_config"] = cfg
	}
	s.mustAdmin(t, 201, "POST", "/models", body, nil)
}

func (s *server) addRoute(t *testing.T, model, provider, upstream string, extra map[string]any) int64 {
	t.Helper()
	body := map[string]any{"provider": provider, "upstream_model": upstream}
	for k, v := range extra {
		body[k] = v
	}
	var r idName
	s.mustAdmin(t, 201, "POST", "/models/"+model+"/routes", body, &r)
	return r.ID
}

// soleRoute creates an openai_compatible provider on baseURL and a model
// routed to it alone (upstream model mock-gpt).
func (s *server) soleRoute(t *testing.T, model, provider, baseURL string) {
	t.Helper()
	s.setupProvider(t, provider, "openai_compatible", baseURL, nil)
	s.setupModel(t, model, "", nil)
	s.addRoute(t, model, provider, "mock-gpt", nil)
}

func (s *server) clientKey(t *testing.T, name string) string {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	s.mustAdmin(t, 201, "POST", "/client-keys", map[string]any{"name": name}, &out)
	if !strings.HasPrefix(out.Token, "sk-ar-") {
		t.Fatalf("token %q", out.Token)
	}
	return out.Token
}

// chat posts a chat completion and returns the status, headers and body.
func (s *server) chat(t *testing.T, token string, body map[string]any, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.URL+"/v1/chat/completions", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

func userMsg(model, text string) map[string]any {
	return map[string]any{"model": model, "messages": []any{map[string]any{"role": "user", "content": text}}}
}

// logRow is a request-log row as GET /admin/requests lists it.
type logRow struct {
	Model            string  `json:"model"`
	Status           int     `json:"status"`
	Attempts         int     `json:"attempts"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	Cost             float64 `json:"cost"`
}

// waitRequestLog polls the admin API's request log at path (e.g.
// "/requests?limit=100") until done accepts its rows; done may fail the
// test itself. The log is written asynchronously, so it waits up to 5 s.
func (s *server) waitRequestLog(t *testing.T, path string, done func(rows []logRow) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var logs struct {
			Data []logRow `json:"data"`
		}
		s.mustAdmin(t, 200, "GET", path, nil, &logs)
		if done(logs.Data) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("request log at %s: %+v", path, logs.Data)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
