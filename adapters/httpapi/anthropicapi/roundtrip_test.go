package anthropicapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

// accumulate rebuilds a message from SSE output the way the TypeScript and
// Python SDKs do (deltas applied by index).
func accumulate(t *testing.T, s string) map[string]any {
	t.Helper()
	var msg map[string]any
	var content []map[string]any
	partial := map[int]string{}
	for raw := range strings.SplitSeq(strings.TrimSuffix(s, "\n\n"), "\n\n") {
		_, data, _ := strings.Cut(raw, "\ndata: ")
		var e map[string]any
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			t.Fatal(err)
		}
		switch e["type"] {
		case "message_start":
			msg = e["message"].(map[string]any)
		case "content_block_start":
			content = append(content, e["content_block"].(map[string]any))
		case "content_block_delta":
			i := int(e["index"].(float64))
			d := e["delta"].(map[string]any)
			switch d["type"] {
			case "text_delta":
				content[i]["text"] = content[i]["text"].(string) + d["text"].(string)
			case "thinking_delta":
				content[i]["thinking"] = content[i]["thinking"].(string) + d["thinking"].(string)
			case "input_json_delta":
				partial[i] += d["partial_json"].(string)
			}
		case "message_delta":
			d := e["delta"].(map[string]any)
			msg["stop_reason"], msg["stop_sequence"] = d["stop_reason"], d["stop_sequence"]
			msg["usage"] = e["usage"]
		}
	}
	for i, p := range partial {
		var in any
		if err := json.Unmarshal([]byte(p), &in); err != nil {
			t.Fatalf("tool input %q: %v", p, err)
		}
		content[i]["input"] = in
	}
	out := make([]any, len(content))
	for i := range content {
		out[i] = content[i]
	}
	msg["content"] = out
	return msg
}

// TestStreamMatchesResponse: a streamed answer accumulates to the message
// EncodeResponse gives for the same completion.
func TestStreamMatchesResponse(t *testing.T) {
	t.Parallel()
	req, err := DecodeRequest([]byte(`{"model":"claude-sonnet-4-5","max_tokens":4096,"stream":true,
		"system":[{"type":"text","text":"You are Claude Code."}],
		"tools":[{"name":"Read","description":"Read a file","input_schema":{"type":"object","properties":{"file_path":{"type":"string"}},"required":["file_path"]}}],
		"messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>x</system-reminder>"},{"type":"text","text":"Read main.go"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	chunks := []*domain.ChatChunk{roleChunk(), reasoningChunk("plan"), textChunk("I'll read it."),
		toolChunk(0, "call_9", "Read", ""), toolChunk(0, "", "", `{"file_`), toolChunk(0, "", "", `path":"main.go"}`),
		finishChunk("tool_calls"), usageChunk(120, 30, 100)}
	streamed := accumulate(t, encode(req, chunks...))

	body, err := EncodeResponse(req, &domain.ChatResponse{ID: "chatcmpl-1", Choices: []domain.Choice{{
		Message: domain.Message{Role: "assistant", Content: domain.TextContent("I'll read it."), ReasoningContent: "plan",
			ToolCalls: []domain.ToolCall{{ID: "call_9", Type: "function", Function: domain.FunctionCall{Name: "Read", Arguments: `{"file_path":"main.go"}`}}}},
		FinishReason: "tool_calls"}}, Usage: &domain.Usage{PromptTokens: 120, CompletionTokens: 30, CachedTokens: 100}})
	if err != nil {
		t.Fatal(err)
	}
	var whole map[string]any
	if err := json.Unmarshal(body, &whole); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(streamed, whole) {
		s, _ := json.Marshal(streamed)
		t.Errorf("streamed %s\n   whole %s", s, body)
	}
}
