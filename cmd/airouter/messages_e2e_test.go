package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

// TestE2EAnthropicSDK drives POST /v1/messages with the official Anthropic Go
// SDK as a user would (base URL = the router, API key = a client key): a
// message, a stream accumulated into a message, a tool_use then tool_result
// turn (JSON and streamed), count_tokens, against an OpenAI-compatible and an
// Anthropic upstream (both translated), and the SDK's typed errors.
func TestE2EAnthropicSDK(t *testing.T) {
	t.Parallel()
	s, oa, _ := startTwoKinds(t)
	tok := s.clientKey(t, "claude-code")
	client := anthropic.NewClient(option.WithAPIKey(tok), option.WithBaseURL(s.URL), option.WithMaxRetries(0))
	ctx := context.Background()

	weather := anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
		Name:        "get_weather",
		Description: anthropic.String("Current weather of a city"),
		InputSchema: anthropic.ToolInputSchemaParam{
			Properties: map[string]any{"city": map[string]any{"type": "string"}},
			Required:   []string{"city"},
		},
	}}

	// served is the model name each answer carries: a translated answer
	// names the model the client asked for; a native one (the Anthropic
	// route) passes the upstream's answer through, its model included.
	served := map[string]string{"gpt": "gpt", "claude": "mock-claude"}
	for _, model := range []string{"gpt", "claude"} {
		t.Run(model, func(t *testing.T) {
			// A plain message with a system prompt.
			m, err := client.Messages.New(ctx, anthropic.MessageNewParams{
				Model:     model,
				MaxTokens: 256,
				System:    []anthropic.TextBlockParam{{Text: "Be brief."}},
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello"))},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Content) == 0 || m.Content[0].Type != "text" || m.Content[0].Text == "" ||
				m.StopReason != anthropic.StopReasonEndTurn || m.Usage.OutputTokens == 0 || string(m.Model) != served[model] {
				t.Fatalf("message: %+v", m)
			}

			// A stream, accumulated as the SDK's users do.
			stream := client.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
				Model:     model,
				MaxTokens: 256,
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Stream a story"))},
			})
			acc := anthropic.Message{}
			events := map[string]int{}
			for stream.Next() {
				ev := stream.Current()
				events[ev.Type]++
				if err := acc.Accumulate(ev); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if len(acc.Content) == 0 || acc.Content[0].Text == "" || acc.StopReason != anthropic.StopReasonEndTurn || acc.Usage.OutputTokens == 0 {
				t.Fatalf("streamed: %+v", acc)
			}
			for _, name := range []string{"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"} {
				if events[name] == 0 {
					t.Errorf("no %s event: %v", name, events)
				}
			}

			// A tool loop: tool_use, then our tool_result, then the answer.
			params := anthropic.MessageNewParams{
				Model:     model,
				MaxTokens: 256,
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Paris?"))},
				Tools:     []anthropic.ToolUnionParam{weather},
			}
			m, err = client.Messages.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			use := toolUse(m)
			if use == nil || m.StopReason != anthropic.StopReasonToolUse || use.Name != "get_weather" || len(use.Input) == 0 {
				t.Fatalf("no tool_use: %+v", m)
			}
			params.Messages = append(params.Messages, m.ToParam(),
				anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, `{"temp_c":21}`, false)))
			m, err = client.Messages.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			if m.StopReason != anthropic.StopReasonEndTurn || len(m.Content) == 0 || m.Content[0].Text == "" {
				t.Fatalf("after the tool result: %+v", m)
			}

			// The first turn streamed: the tool_use block accumulates.
			stream = client.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
				Model: model, MaxTokens: 256, Tools: params.Tools, Messages: params.Messages[:1],
			})
			acc = anthropic.Message{}
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if use := toolUse(&acc); use == nil || acc.StopReason != anthropic.StopReasonToolUse || use.Name != "get_weather" || len(use.Input) == 0 {
				t.Fatalf("streamed tool_use: %+v", acc)
			}

			// count_tokens: an estimate, marked so.
			var hr *http.Response
			n, err := client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{
				Model:    model,
				Messages: params.Messages,
			}, option.WithResponseInto(&hr))
			if err != nil {
				t.Fatal(err)
			}
			if n.InputTokens <= 0 || hr.Header.Get("X-Airouter-Token-Estimate") != "true" {
				t.Fatalf("count_tokens: %+v %v", n, hr.Header)
			}
		})
	}

	// Errors arrive as the SDK's typed error, with Anthropic's types.
	_, err := client.Messages.New(ctx, anthropic.MessageNewParams{
		Model: "nope", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	wantAPIError(t, err, 404, "not_found_error")
	bad := anthropic.NewClient(option.WithAPIKey("sk-ar-wrong"), option.WithBaseURL(s.URL), option.WithMaxRetries(0))
	_, err = bad.Messages.New(ctx, anthropic.MessageNewParams{
		Model: "gpt", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	wantAPIError(t, err, 401, "authentication_error")
	oa.failStatus.Store(503)
	_, err = client.Messages.New(ctx, anthropic.MessageNewParams{
		Model: "gpt", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	wantAPIError(t, err, 503, "overloaded_error")

	// The client key's limits: 429 rate_limit_error with Retry-After.
	var limited struct {
		Token string `json:"token"`
	}
	s.mustAdmin(t, 201, "POST", "/client-keys", map[string]any{"name": "limited", "rpm": 1}, &limited)
	lc := anthropic.NewClient(option.WithAPIKey(limited.Token), option.WithBaseURL(s.URL), option.WithMaxRetries(0))
	one := anthropic.MessageNewParams{
		Model: "claude", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	}
	if _, err := lc.Messages.New(ctx, one); err != nil {
		t.Fatal(err)
	}
	_, err = lc.Messages.New(ctx, one)
	wantAPIError(t, err, 429, "rate_limit_error")
	var ae *anthropic.Error
	if errors.As(err, &ae); ae.Response.Header.Get("Retry-After") == "" {
		t.Fatalf("429 without Retry-After: %v", ae.Response.Header)
	}

	// Authorization: Bearer works as well as x-api-key (ANTHROPIC_AUTH_TOKEN).
	status := s.do(t, "POST", "/v1/messages", tok, map[string]any{
		"model": "claude", "max_tokens": 16, "messages": []any{map[string]any{"role": "user", "content": "hi"}},
	}, nil)
	if status != 200 {
		t.Fatalf("bearer: %d", status)
	}

	// The raw stream, as curl sees it: Anthropic's events with a ping (the
	// SDK hides pings).
	raw, err := http.NewRequest("POST", s.URL+"/v1/messages", strings.NewReader(
		`{"model":"gpt","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	raw.Header.Set("x-api-key", tok)
	raw.Header.Set("anthropic-version", "2023-06-01")
	oa.failStatus.Store(0)
	resp, err := http.DefaultClient.Do(raw)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") ||
		!strings.HasPrefix(string(b), "event: message_start\n") || !strings.Contains(string(b), "event: ping\n") ||
		!strings.HasSuffix(string(b), "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
		t.Fatalf("raw stream: %d %v\n%s", resp.StatusCode, resp.Header, b)
	}

	// The request log has the messages with tokens and cost.
	s.waitRequestLog(t, "/requests?model=claude", func(rows []logRow) bool {
		ok := 0
		for _, l := range rows {
			if l.Status == 200 && l.PromptTokens > 0 && l.CompletionTokens > 0 && l.Cost > 0 {
				ok++
			}
		}
		return ok >= 5
	})
}

func toolUse(m *anthropic.Message) *anthropic.ContentBlockUnion {
	for i := range m.Content {
		if m.Content[i].Type == "tool_use" {
			return &m.Content[i]
		}
	}
	return nil
}

func wantAPIError(t *testing.T, err error, status int, typ string) {
	t.Helper()
	var ae *anthropic.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want *anthropic.Error, got %T %v", err, err)
	}
	if ae.StatusCode != status || string(ae.Type()) != typ || ae.Message == "" {
		t.Fatalf("got %d %q %q, want %d %s", ae.StatusCode, ae.Type(), ae.Message, status, typ)
	}
}

// TestE2EMessagesFailover: a failing first route is failed over before the
// first byte, for JSON and streams, and the answer is still Anthropic's.
func TestE2EMessagesFailover(t *testing.T) {
	t.Parallel()
	first := newUpstream(t, mock.Config{})
	second := newUpstream(t, mock.Config{})
	first.failStatus.Store(500)
	s := startServer(t, serverOpts{})
	s.setupProvider(t, "first", "openai_compatible", first.URL+"/v1", nil)
	s.setupProvider(t, "second", "anthropic", second.URL, nil)
	s.setupModel(t, "m", "fallback", nil)
	s.addRoute(t, "m", "first", "mock-gpt", map[string]any{"priority": 0})
	s.addRoute(t, "m", "second", "mock-claude", map[string]any{"priority": 1})
	tok := s.clientKey(t, "app")
	client := anthropic.NewClient(option.WithAPIKey(tok), option.WithBaseURL(s.URL), option.WithMaxRetries(0))
	params := anthropic.MessageNewParams{
		Model: "m", MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	}
	var hr *http.Response
	m, err := client.Messages.New(context.Background(), params, option.WithResponseInto(&hr))
	if err != nil {
		t.Fatal(err)
	}
	if hr.Header.Get("X-Airouter-Provider") != "second" || hr.Header.Get("X-Airouter-Attempts") != "2" || m.Content[0].Text == "" {
		t.Fatalf("%v %+v", hr.Header, m)
	}
	before := first.requests.Load()
	stream := client.Messages.NewStreaming(context.Background(), params)
	acc := anthropic.Message{}
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Content[0].Text == "" || first.requests.Load() == before {
		t.Fatalf("streamed failover: %+v (first route tried %d times)", acc, first.requests.Load()-before)
	}
}

// TestE2EMessagesMidStreamFailure: after the first byte a failure ends the
// stream with Anthropic's error event, nothing follows it, and the upstream
// is not asked again.
func TestE2EMessagesMidStreamFailure(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"openai_compatible", "anthropic"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t, mock.Config{Tokens: 20, Cut: true})
			other := newUpstream(t, mock.Config{Tokens: 20})
			s := startServer(t, serverOpts{})
			base := up.URL
			if kind == "openai_compatible" {
				base += "/v1"
			}
			s.setupProvider(t, "cut", kind, base, nil)
			s.setupProvider(t, "ok", "openai_compatible", other.URL+"/v1", nil)
			s.setupModel(t, "m", "fallback", nil)
			s.addRoute(t, "m", "cut", "mock", map[string]any{"priority": 0})
			s.addRoute(t, "m", "ok", "mock", map[string]any{"priority": 1})
			tok := s.clientKey(t, "app")
			req, err := http.NewRequest("POST", s.URL+"/v1/messages", strings.NewReader(
				`{"model":"m","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("x-api-key", tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out := string(b)
			if resp.StatusCode != 200 || !strings.HasPrefix(out, "event: message_start\n") ||
				!strings.Contains(out, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":") ||
				!strings.HasSuffix(out, "}}\n\n") || strings.Contains(out, "message_stop") {
				t.Fatalf("%d\n%s", resp.StatusCode, out)
			}
			if up.requests.Load() != 1 || other.requests.Load() != 0 {
				t.Fatalf("retried after the first byte: cut %d, other %d", up.requests.Load(), other.requests.Load())
			}
		})
	}
}
