package mock_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

// Anthropic Messages wire types, after the API reference.
type anUsage struct {
	InputTokens              int             `json:"input_tokens"`
	OutputTokens             int             `json:"output_tokens"`
	CacheCreationInputTokens *int            `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int            `json:"cache_read_input_tokens"`
	ServerToolUse            json.RawMessage `json:"server_tool_use"`
	ServiceTier              *string         `json:"service_tier"`
}

type anBlock struct {
	Type  string          `json:"type"`
	Text  *string         `json:"text"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type anMessage struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	Role         string    `json:"role"`
	Model        string    `json:"model"`
	Content      []anBlock `json:"content"`
	StopReason   *string   `json:"stop_reason"`
	StopSequence *string   `json:"stop_sequence"`
	Usage        anUsage   `json:"usage"`
}

type anEvent struct {
	Type         string     `json:"type"`
	Message      *anMessage `json:"message"`
	Index        *int       `json:"index"`
	ContentBlock *anBlock   `json:"content_block"`
	Delta        *struct {
		Type         string  `json:"type"`
		Text         string  `json:"text"`
		PartialJSON  string  `json:"partial_json"`
		StopReason   *string `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	} `json:"delta"`
	Usage *anUsage `json:"usage"`
	Error *anErr   `json:"error"`
}

type anErr struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type anError struct {
	Type      string `json:"type"`
	Error     anErr  `json:"error"`
	RequestID string `json:"request_id"`
}

func decodeMessage(t *testing.T, body []byte) anMessage {
	t.Helper()
	var m anMessage
	strictDecode(t, string(body), &m)
	requireKeys(t, string(body), "id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage")
	if m.Type != "message" || m.Role != "assistant" || !strings.HasPrefix(m.ID, "msg_") || m.StopReason == nil {
		t.Errorf("envelope: %+v", m)
	}
	if len(m.Content) != 1 || m.Usage.InputTokens <= 0 || m.Usage.OutputTokens <= 0 {
		t.Errorf("content/usage: %+v", m)
	}
	return m
}

// anthropicStream reads a whole stream and checks the event grammar:
// message_start, content_block_start, ping, content_block_delta*,
// content_block_stop, message_delta, message_stop, each with an event:
// line naming the data's type.
func anthropicStream(t *testing.T, resp *http.Response) []anEvent {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	evs, rest, err := readSSE(resp.Body, time.Now())
	if err != nil || rest != "" {
		t.Fatalf("stream: %v, leftover %q", err, rest)
	}
	var out []anEvent
	var names []string
	for _, ev := range evs {
		var e anEvent
		strictDecode(t, ev.data, &e)
		if e.Type != ev.event {
			t.Errorf("event: %q carries data of type %q", ev.event, e.Type)
		}
		names = append(names, e.Type)
		out = append(out, e)
	}
	seq := strings.Join(names, ",")
	if !strings.HasPrefix(seq, "message_start,content_block_start,ping,content_block_delta,") ||
		!strings.HasSuffix(seq, ",content_block_delta,content_block_stop,message_delta,message_stop") ||
		strings.Count(seq, "content_block_delta") != len(names)-6 {
		t.Fatalf("event sequence: %s", seq)
	}
	ms := out[0].Message
	if ms == nil || ms.Type != "message" || ms.Role != "assistant" || ms.Content == nil || len(ms.Content) != 0 || ms.StopReason != nil {
		t.Errorf("message_start: %+v", ms)
	}
	md := out[len(out)-2]
	if md.Delta == nil || md.Delta.StopReason == nil || md.Usage == nil || md.Usage.OutputTokens <= 0 {
		t.Errorf("message_delta: %+v", md)
	}
	return out
}

func TestAnthropicJSON(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	resp, body := post(t, srv, pathAnthropic, `{"model":"claude-\u00e9","max_tokens":100,"system":"be brief","messages":[{"role":"user","content":[{"type":"text","text":"Hello"}]}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	m := decodeMessage(t, body)
	if m.Model != "claude-é" || *m.StopReason != "end_turn" || m.Content[0].Type != "text" || len(*m.Content[0].Text) != mock.SizeSmall {
		t.Errorf("message: %+v", m)
	}
	if n := len(body); n < 250 || n > 400 {
		t.Errorf("small response is %d bytes, want ~300", n)
	}
	large := `{"model":"m","max_tokens":4096,"messages":[{"role":"user","content":"Hello"}]}`
	_, body = post(t, srv, pathAnthropic, large, "X-Mock-Size: large")
	decodeMessage(t, body)
	if n := len(body); n < 9500 || n > 10500 {
		t.Errorf("large response is %d bytes, want ~10 KB", n)
	}
	_, body = post(t, srv, pathAnthropic, anthMsg(""), "X-Mock-Size: large", "X-Mock-Tokens: 4000")
	if m := decodeMessage(t, body); *m.StopReason != "max_tokens" || m.Usage.OutputTokens != 1024 {
		t.Errorf("max_tokens 1024 of 4000: stop %q, output %d", *m.StopReason, m.Usage.OutputTokens)
	}
}

func TestAnthropicStream(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	_, body := post(t, srv, pathAnthropic, anthMsg(""), "X-Mock-Tokens: 5")
	want := *decodeMessage(t, body).Content[0].Text

	resp, err := do(t, srv, pathAnthropic, anthMsg(`,"stream":true`), "X-Mock-Tokens: 5")
	if err != nil {
		t.Fatal(err)
	}
	evs := anthropicStream(t, resp)
	if len(evs) != 6+5 {
		t.Errorf("%d events, want 6 + 5 deltas", len(evs))
	}
	var text strings.Builder
	for _, e := range evs {
		if e.Type == "content_block_delta" {
			if e.Delta.Type != "text_delta" || *e.Index != 0 {
				t.Errorf("delta: %+v", e.Delta)
			}
			text.WriteString(e.Delta.Text)
		}
	}
	if text.String() != want {
		t.Errorf("streamed %q, JSON %q", text.String(), want)
	}
	if cb := evs[1].ContentBlock; cb == nil || cb.Type != "text" || cb.Text == nil || *cb.Text != "" {
		t.Errorf("content_block_start: %+v", cb)
	}
	if md := evs[len(evs)-2]; *md.Delta.StopReason != "end_turn" || md.Usage.OutputTokens != 5 {
		t.Errorf("message_delta: %+v %+v", md.Delta, md.Usage)
	}
}

const anTools = `,"tools":[{"name":"get_weather","description":"w","input_schema":{"type":"object","properties":{}}}]`

func TestAnthropicToolCall(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})

	_, body := post(t, srv, pathAnthropic, anthMsg(anTools), "X-Mock-Tool-Call: auto")
	m := decodeMessage(t, body)
	b := m.Content[0]
	if *m.StopReason != "tool_use" || b.Type != "tool_use" || b.Name != "get_weather" || !strings.HasPrefix(b.ID, "toolu_") || string(b.Input) != "{}" {
		t.Fatalf("want a tool_use block: %s", body)
	}

	resp, err := do(t, srv, pathAnthropic, anthMsg(anTools+`,"stream":true`), "X-Mock-Tool-Call: auto")
	if err != nil {
		t.Fatal(err)
	}
	evs := anthropicStream(t, resp)
	if cb := evs[1].ContentBlock; cb.Type != "tool_use" || cb.Name != "get_weather" || cb.ID == "" {
		t.Errorf("content_block_start: %+v", cb)
	}
	var args strings.Builder
	for _, e := range evs {
		if e.Type == "content_block_delta" {
			if e.Delta.Type != "input_json_delta" {
				t.Errorf("delta type %q", e.Delta.Type)
			}
			args.WriteString(e.Delta.PartialJSON)
		}
	}
	if !json.Valid([]byte(args.String())) || *evs[len(evs)-2].Delta.StopReason != "tool_use" {
		t.Errorf("partial_json %q", args.String())
	}

	// A tool result comes back as a user message: answer with text.
	toolResult := `{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"x"},` +
		`{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"get_weather","input":{}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"sunny"}]}]` + anTools + `}`
	_, body = post(t, srv, pathAnthropic, toolResult, "X-Mock-Tool-Call: auto")
	if m := decodeMessage(t, body); *m.StopReason != "end_turn" {
		t.Errorf("after tool_result: stop %q", *m.StopReason)
	}
	_, body = post(t, srv, pathAnthropic, anthMsg(anTools+`,"tool_choice":{"type":"none"}`), "X-Mock-Tool-Call: auto")
	if m := decodeMessage(t, body); *m.StopReason != "end_turn" {
		t.Errorf("tool_choice none: stop %q", *m.StopReason)
	}
	_, body = post(t, srv, pathAnthropic, anthMsg(anTools))
	if m := decodeMessage(t, body); *m.StopReason != "end_turn" {
		t.Errorf("tool calls off by default: stop %q", *m.StopReason)
	}
}

func TestAnthropicValidation(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	check := func(name string, resp *http.Response, body []byte, wantMsg string) {
		t.Helper()
		var e anError
		strictDecode(t, string(body), &e)
		if resp.StatusCode != 400 || e.Type != "error" || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, wantMsg) {
			t.Errorf("%s: %d %+v", name, resp.StatusCode, e)
		}
	}
	resp, body := post(t, srv, pathAnthropic, `{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	check("no max_tokens", resp, body, "max_tokens")

	req, _ := http.NewRequest(http.MethodPost, srv.URL+pathAnthropic, strings.NewReader(anthMsg("")))
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body = readAll(t, resp)
	check("no anthropic-version", resp, body, "anthropic-version")

	lenient := start(t, mock.Config{Lenient: true})
	req, _ = http.NewRequest(http.MethodPost, lenient.URL+pathAnthropic, strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"x"}]}`))
	resp, err = client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body = readAll(t, resp); resp.StatusCode != 200 {
		t.Errorf("lenient: %d %s", resp.StatusCode, body)
	}
}
