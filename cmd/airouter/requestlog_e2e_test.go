package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

// rawChat posts body as it is (json.Marshal would repair invalid UTF-8).
func (s *server) rawChat(t *testing.T, token string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func queryInt(t *testing.T, dbURL, sql string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRegressionPoisonRequestsKeepTheRequestLog replays the audit: a model
// name with a NUL, one over the index row limit, one that is not UTF-8, and
// an upstream error message cut in the middle of a character, between good
// requests. Each poison row used to fail its whole batch, so that no good
// request was logged; now absurd model names get a 400 naming the model, and
// every request is logged.
func TestRegressionPoisonRequestsKeepTheRequestLog(t *testing.T) {
	t.Parallel()
	good := newUpstream(t, mock.Config{})
	cyr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error":{"message":"x%s","type":"invalid_request_error","param":null,"code":null}}`, strings.Repeat("ж", 400))
	}))
	t.Cleanup(cyr.Close)
	db := freshDatabase(t)
	s := startServer(t, serverOpts{dbURL: db})
	s.soleRoute(t, "m", "good", good.URL+"/v1")
	s.soleRoute(t, "cyr", "cyr", cyr.URL+"/v1")
	tok := s.clientKey(t, "app")

	msgs := `,"messages":[{"role":"user","content":"hi"}]}`
	absurd := map[string][]byte{
		"NUL":          []byte(`{"model":"gpt\u0000-4o"` + msgs),
		"3 KB":         []byte(`{"model":"` + strings.Repeat("m", 3000) + `"` + msgs),
		"not UTF-8":    []byte("{\"model\":\"gpt-\xff\xfe\"" + msgs),
		"control char": []byte(`{"model":"gpt\u001b[31m"` + msgs),
	}
	const rounds = 20
	for i := range rounds {
		if st, _, b := s.chat(t, tok, userMsg("m", "hello"), nil); st != 200 {
			t.Fatalf("good request: %d %s", st, b)
		}
		for what, body := range absurd {
			st, b := s.rawChat(t, tok, body)
			if st != 400 {
				t.Fatalf("%s model: status %d, want 400: %s", what, st, b)
			}
			e := decodeErr(t, b)
			if e.Error.Param == nil || *e.Error.Param != "model" || e.Error.Type != "invalid_request_error" || len(e.Error.Message) > 300 {
				t.Fatalf("%s model: %s", what, b)
			}
		}
		if st, _, b := s.chat(t, tok, userMsg("cyr", "hello"), nil); st != 400 {
			t.Fatalf("cyr: %d %s", st, b)
		} else if i == 0 && !utf8.Valid(b) {
			t.Fatalf("cyr: the client got invalid UTF-8: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	deadline := time.Now().Add(10 * time.Second)
	var ok200, cyrRows int
	for time.Now().Before(deadline) {
		ok200 = queryInt(t, db, "SELECT count(*) FROM request_log WHERE status = 200")
		cyrRows = queryInt(t, db, "SELECT count(*) FROM request_log WHERE model = 'cyr' AND error_message LIKE '%жжж%'")
		if ok200 == rounds && cyrRows == rounds {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ok200 != rounds || cyrRows != rounds {
		t.Fatalf("request log holds %d of %d good requests and %d of %d cut upstream errors\n%s", ok200, rounds, cyrRows, rounds, s.Stderr.String())
	}
	// The refused requests are logged too, each under the client's key.
	if n := queryInt(t, db, "SELECT count(*) FROM request_log WHERE status = 400 AND error_message LIKE 'model: %'"); n != rounds*len(absurd) {
		t.Fatalf("%d refused requests logged, want %d", n, rounds*len(absurd))
	}
	if strings.Contains(s.Stderr.String(), "request log entries dropped") {
		t.Fatalf("entries were dropped:\n%s", s.Stderr.String())
	}
}

// TestE2EShutdownFlushesRequestLog: what is queued, and what requests in
// flight at the signal record when they end, is in PostgreSQL when run
// returns.
func TestE2EShutdownFlushesRequestLog(t *testing.T) {
	t.Parallel()
	fast := newUpstream(t, mock.Config{})
	slow := newUpstream(t, mock.Config{Tokens: 20, TPS: 40}) // ~0.5 s
	db := freshDatabase(t)
	s := startServer(t, serverOpts{dbURL: db})
	s.soleRoute(t, "m", "fast", fast.URL+"/v1")
	s.soleRoute(t, "slow", "slow", slow.URL+"/v1")
	tok := s.clientKey(t, "app")
	resp, err := streamChat(t, s, tok, userMsg("slow", "drain me"), nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for range n {
		if st, _, b := s.chat(t, tok, userMsg("m", "hello"), nil); st != 200 {
			t.Fatalf("%d %s", st, b)
		}
	}
	stopped := make(chan struct{})
	go func() { s.Stop(t); close(stopped) }()
	if _, done := readSSE(t, resp.Body); !done {
		t.Fatal("stream cut by shutdown")
	}
	resp.Body.Close()
	<-stopped
	if got := queryInt(t, db, "SELECT count(*) FROM request_log WHERE status = 200"); got != n+1 {
		t.Fatalf("request log holds %d of %d entries after shutdown\n%s", got, n+1, s.Stderr.String())
	}
	if !strings.Contains(s.Stderr.String(), "request log closed") {
		t.Fatalf("no shutdown line for the request log:\n%s", s.Stderr.String())
	}
}
