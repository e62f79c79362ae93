package anthropic_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/adapters/providers/anthropic"
	"github.com/airouter/airouter/adapters/providers/providertest"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

var tgt = ports.Target{Model: "claude-sonnet-4-5", Key: providertest.TestKey}

func newClient(t *testing.T, base string, to domain.Timeouts) *anthropic.Client {
	t.Helper()
	c, err := anthropic.New(domain.Provider{Name: "a", Kind: domain.KindAnthropic, BaseURL: base, Timeouts: to})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func request(t *testing.T, stream bool) *domain.ChatRequest {
	t.Helper()
	body := `{"model":"m","messages":[{"role":"user","content":"x"}]}`
	if stream {
		body = `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`
	}
	r, err := domain.ParseChatRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRegressionErrorTypeClassification: errors are classed by Anthropic's
// error type, not by a "credit balance" substring (which made a 400 look
// like a refused key).
func TestRegressionErrorTypeClassification(t *testing.T) {
	t.Parallel()
	u := providertest.NewUpstream(t, providertest.WireAnthropic, providertest.TestKey)
	c := newClient(t, u.URL, providertest.NormalTimeouts)
	cases := []struct {
		status   int
		typ, msg string
		want     domain.ErrorClass
	}{
		{400, "invalid_request_error", "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.", domain.ClassRequest},
		{400, "invalid_request_error", "messages: roles must alternate", domain.ClassRequest},
		{401, "authentication_error", "invalid x-api-key", domain.ClassAuth},
		{403, "permission_error", "Your API key does not have permission to use the specified resource.", domain.ClassAuth},
		{402, "billing_error", "Your account has a billing issue.", domain.ClassAuth},
		{404, "not_found_error", "model: claude-x", domain.ClassRequest},
		{413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", domain.ClassRequest},
		{429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", domain.ClassRateLimited},
		{500, "api_error", "Internal server error", domain.ClassRetryable},
		{504, "timeout_error", "Request timed out", domain.ClassRetryable},
		{529, "overloaded_error", "Overloaded", domain.ClassRetryable},
		{403, "permission_error", "Your request was blocked by our content filtering policy.", domain.ClassRequest},
	}
	for _, cs := range cases {
		u.Respond(providertest.Behavior{Status: cs.status, ErrType: cs.typ, ErrMessage: cs.msg})
		_, err := c.Chat(context.Background(), tgt, request(t, false))
		var ue *domain.UpstreamError
		if !errors.As(err, &ue) || ue.Class != cs.want || ue.Type != cs.typ {
			t.Errorf("%d %s %q: got %#v, want %s", cs.status, cs.typ, cs.msg, err, cs.want)
		}
	}
}

// TestRegressionPingEventsDoNotResetIdle: Anthropic's keep-alive "ping"
// events (and SSE comments) used to re-arm the idle timer; they are not
// progress, so a stream of pings fails with an idle timeout.
func TestRegressionPingEventsDoNotResetIdle(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n")
		w.(http.Flusher).Flush()
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-tk.C:
				ping := "event: ping\ndata: {\"type\": \"ping\"}\n\n"
				if i%2 == 1 {
					ping = ": keep-alive\n\n"
				}
				if _, err := io.WriteString(w, ping); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, domain.Timeouts{Connect: time.Second, FirstByte: 2 * time.Second, Idle: 500 * time.Millisecond, Total: 20 * time.Second})
	st, err := c.ChatStream(context.Background(), tgt, request(t, true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Next(); err != nil { // the role chunk of message_start
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := st.Next(); done <- err }()
	select {
	case err := <-done:
		var ue *domain.UpstreamError
		if !errors.As(err, &ue) || !ue.Timeout || !strings.Contains(ue.Message, "idle timeout") {
			t.Fatalf("got %#v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream of pings never timed out")
	}
}
