package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/cmd/mockllm/mock"
	"github.com/airouter/airouter/core/testkit"
)

// startRun runs the command on a free port and returns its base URL and a
// channel with run's result.
func startRun(t *testing.T, ctx context.Context, env map[string]string, args ...string) (string, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"mockllm", "-addr", "127.0.0.1:0"}, args...),
			func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err != nil {
		t.Fatalf("no listen line: %v (run: %v)", err, <-done)
	}
	_, url, ok := strings.Cut(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("listen line %q", line)
	}
	return url, done
}

func TestRunServesAndShutsDown(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, done := startRun(t, ctx, map[string]string{"MOCKLLM_REQUIRE_KEY": "env-key", "MOCKLLM_LATENCY": "1h"}, "-latency", "0s", "-tokens", "3")

	resp, err := http.Get(url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, resp)
	}
	resp.Body.Close()

	// The environment sets the key; the command line overrides the latency.
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer env-key")
	c := http.Client{Timeout: 5 * time.Second}
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || out.Usage.CompletionTokens != 3 {
		t.Fatalf("chat: %v %d %+v", err, resp.StatusCode, out)
	}

	resp, err = http.Get(url + statsPath)
	if err != nil {
		t.Fatal(err)
	}
	var st stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Requests != 2 || st.GOMAXPROCS < 1 {
		t.Errorf("stats: %v %+v", err, st)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// A stream still open at shutdown is closed after the grace period.
func TestRunShutdownClosesStreams(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, done := startRun(t, ctx, nil, "-tps", "5", "-tokens", "100", "-shutdown-timeout", "200ms")
	resp, err := http.Post(url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return")
	}
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("returned after %v, before the grace period", d)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("the open stream ended cleanly; want it cut at shutdown")
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{"MOCKLLM_SIZE": "large", "MOCKLLM_ERROR_STATUS": "503"}
	o, err := parseFlags([]string{"mockllm", "-error-status", "529", "-stall", "mid-stream:2s", "-reset", "before-first-byte",
		"-tool-call", "auto", "-models", "a, b", "-ttft", "150ms", "-tps", "40", "-error-code", "content_policy_violation"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if c.Size != mock.SizeLarge || c.ErrorStatus != 529 || c.Stall != (mock.Stall{At: mock.MidStream, For: 2 * time.Second}) ||
		c.Reset != mock.BeforeFirstByte || c.ToolCall != mock.ToolCallAuto || strings.Join(c.Models, "|") != "a|b" ||
		c.TTFT != 150*time.Millisecond || c.TPS != 40 || c.ErrorCode != mock.ErrorCodeContentPolicy {
		t.Errorf("config: %+v", c)
	}
	for _, args := range [][]string{
		{"-size", "huge"}, {"-error-rate", "2"}, {"-error-status", "200"}, {"-stall", "later"},
		{"-reset", "maybe"}, {"-tool-call", "sometimes"}, {"-tps", "-1"}, {"-error-code", "a b"}, {"extra"}, {"-selftest-conns", "0"},
	} {
		if _, err := parseFlags(append([]string{"mockllm"}, args...), func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if _, err := parseFlags([]string{"mockllm"}, func(k string) string {
		if k == "MOCKLLM_LATENCY" {
			return "soon"
		}
		return ""
	}, io.Discard); err == nil || !strings.Contains(err.Error(), "MOCKLLM_LATENCY") {
		t.Errorf("bad environment value: %v", err)
	}
	if _, err := parseFlags([]string{"mockllm", "-h"}, func(string) string { return "" }, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestSelftest(t *testing.T) {
	t.Parallel()
	var out testkit.Buffer
	err := run(context.Background(), []string{"mockllm", "-selftest-bench", "100ms", "-selftest-conns", "2", "-selftest-target", "inprocess"},
		func(string) string { return "" }, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios {
		if !strings.Contains(out.String(), sc.name) {
			t.Errorf("no line for %q:\n%s", sc.name, out.String())
		}
	}
	if strings.Contains(out.String(), "unknown") {
		t.Errorf("server CPU not measured:\n%s", out.String())
	}
}
