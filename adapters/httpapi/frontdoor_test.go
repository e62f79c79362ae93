package httpapi

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/adapters/httpapi/anthropicapi"
)

// TestDoorsRefuseInTheirEnvelopes: every front door answers a missing key
// (401), a body over the limit (413) and a body that does not arrive in
// time (408, closing the connection) in its own error envelope with a
// request id, and records the refusals of a known client key in the
// request log.
func TestDoorsRefuseInTheirEnvelopes(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, Options{MaxBodyBytes: 256, BodyTimeout: 100 * time.Millisecond})
	big := strings.Repeat("x", 300)
	doors := []struct {
		path      string
		anthropic bool
		body      string // over the limit
	}{
		{"/v1/chat/completions", false, `{"model":"chat","messages":[{"role":"user","content":"` + big + `"}]}`},
		{"/v1/responses", false, `{"model":"chat","input":"` + big + `"}`},
		{"/v1/messages", true, `{"model":"chat","max_tokens":10,"messages":[{"role":"user","content":"` + big + `"}]}`},
		{"/v1/messages/count_tokens", true, `{"model":"chat","messages":[{"role":"user","content":"` + big + `"}]}`},
	}
	for _, d := range doors {
		t.Run(d.path, func(t *testing.T) {
			t.Parallel()
			keyHeader := "Authorization: Bearer " + testToken
			if d.anthropic {
				keyHeader = "X-Api-Key: " + testToken
			}
			check := func(what string, resp *http.Response, body string, status int, openAICode string, client int64) {
				t.Helper()
				if d.anthropic {
					env, err := decodeAnthropicError([]byte(body))
					if err != nil || resp.StatusCode != status || env.Type != "error" ||
						env.Error.Type != anthropicapi.ErrorType(status) || env.Error.Message == "" || resp.Header.Get("Content-Type") != "application/json" {
						t.Fatalf("%s: %d %s, want %d in Anthropic's envelope", what, resp.StatusCode, body, status)
					}
				} else {
					checkEnvelope(t, resp, body, status, "invalid_request_error", openAICode, "")
				}
				id := resp.Header.Get(headerRequestID)
				if id == "" {
					t.Fatalf("%s: no X-Request-Id", what)
				}
				if client == 0 {
					return // anonymous refusals stay out of the request log
				}
				if row := fx.logs.row(t, id); row.Status != status || row.ClientKeyID != client {
					t.Fatalf("%s: request log %+v, want status %d and client key %d", what, row, status, client)
				}
			}
			// send writes a request with the headers and the first part of
			// a body of declared length n, and reads the answer.
			send := func(headers, part string, n int) (*http.Response, string) {
				t.Helper()
				conn, err := net.Dial("tcp", fx.srv.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s", d.path, n, headers, part)
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatal(err)
				}
				return resp, bodyOf(t, resp)
			}
			resp, body := send("", d.body, len(d.body))
			check("no key", resp, body, 401, "invalid_api_key", 0)
			resp, body = send(keyHeader+"\r\n", d.body, len(d.body))
			check("too large", resp, body, 413, "request_too_large", 7)
			resp, body = send(keyHeader+"\r\n", `{"model":`, 100)
			check("slow body", resp, body, 408, "request_timeout", 7)
			if !resp.Close {
				t.Fatal("slow body: the connection is kept open")
			}
		})
	}
}
