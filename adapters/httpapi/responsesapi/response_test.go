package responsesapi

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// seqIDs returns an Options.NewID giving prefix_1, prefix_2, ...
func seqIDs() func(string) string {
	n := 0
	return func(prefix string) string {
		n++
		return prefix + "_" + strconv.Itoa(n)
	}
}

func testOptions() Options {
	return Options{ID: "resp_test", CreatedAt: time.Unix(1700000000, 0), NewID: seqIDs()}
}

func mustDecode(t *testing.T, body string) *Request {
	t.Helper()
	req, err := DecodeRequest([]byte(body))
	if err != nil {
		t.Fatalf("DecodeRequest: %v", err)
	}
	return req
}

const echoDefaults = `"instructions":null,"max_output_tokens":null,"model":"m",`

func TestNewResponse(t *testing.T) {
	t.Parallel()
	usage := &domain.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15, CachedTokens: 4,
		CompletionTokensDetails: json.RawMessage(`{"reasoning_tokens":2}`)}
	const usageJSON = `"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":2},"total_tokens":15}`
	tests := []struct {
		name string
		req  string
		chat *domain.ChatResponse
		want string
	}{
		{
			name: "text",
			req:  `{"model":"m","input":"hi"}`,
			chat: &domain.ChatResponse{ID: "c", Model: "upstream-m", Usage: usage, Choices: []domain.Choice{{
				Message: domain.Message{Role: "assistant", Content: domain.TextContent("Hello!")}, FinishReason: "stop"}}},
			want: `{"id":"resp_test","object":"response","created_at":1700000000,"status":"completed","error":null,"incomplete_details":null,` + echoDefaults +
				`"output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello!","annotations":[]}]}],` +
				`"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":true,"temperature":1,` +
				`"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1,"truncation":"disabled",` + usageJSON + `,"metadata":{}}`,
		},
		{
			name: "tool calls, reasoning and echoed request fields",
			req: `{"model":"m","input":"hi","instructions":"sys","max_output_tokens":50,"parallel_tool_calls":false,"previous_response_id":"resp_0",
				"reasoning":{"effort":"high"},"store":false,"temperature":0.2,"top_p":0.5,"text":{"format":{"type":"json_object"}},
				"tool_choice":"required","tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],"user":"u","metadata":{"k":"v"}}`,
			chat: &domain.ChatResponse{Usage: &domain.Usage{PromptTokens: 3, CompletionTokens: 4,
				PromptTokensDetails: json.RawMessage(`{"cached_tokens":1}`)}, Choices: []domain.Choice{{
				Message: domain.Message{Role: "assistant", ReasoningContent: "thinking", ToolCalls: []domain.ToolCall{
					{ID: "call_1", Type: "function", Function: domain.FunctionCall{Name: "f", Arguments: `{"a":1}`}},
					{Type: "function", Function: domain.FunctionCall{Name: "f", Arguments: `{}`}}}},
				FinishReason: "tool_calls"}}},
			want: `{"id":"resp_test","object":"response","created_at":1700000000,"status":"completed","error":null,"incomplete_details":null,` +
				`"instructions":"sys","max_output_tokens":50,"model":"m","output":[` +
				`{"type":"reasoning","id":"rs_1","status":"completed","content":[{"type":"reasoning_text","text":"thinking"}],"summary":[]},` +
				`{"type":"function_call","id":"fc_2","status":"completed","call_id":"call_1","name":"f","arguments":"{\"a\":1}"},` +
				`{"type":"function_call","id":"fc_4","status":"completed","call_id":"call_3","name":"f","arguments":"{}"}],` +
				`"parallel_tool_calls":false,"previous_response_id":"resp_0","reasoning":{"effort":"high","summary":null},"store":false,"temperature":0.2,` +
				`"text":{"format":{"type":"json_object"}},"tool_choice":"required",` +
				`"tools":[{"type":"function","name":"f","description":null,"parameters":{"type":"object"},"strict":null}],"top_p":0.5,"truncation":"disabled",` +
				`"usage":{"input_tokens":3,"input_tokens_details":{"cached_tokens":1},"output_tokens":4,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":7},` +
				`"user":"u","metadata":{"k":"v"}}`,
		},
		{
			name: "length is incomplete",
			req:  `{"model":"m","input":"hi","max_output_tokens":2}`,
			chat: &domain.ChatResponse{Choices: []domain.Choice{{Message: domain.Message{Content: domain.TextContent("Hel")}, FinishReason: "length"}}},
			want: `{"id":"resp_test","object":"response","created_at":1700000000,"status":"incomplete","error":null,"incomplete_details":{"reason":"max_output_tokens"},` +
				`"instructions":null,"max_output_tokens":2,"model":"m",` +
				`"output":[{"type":"message","id":"msg_1","status":"incomplete","role":"assistant","content":[{"type":"output_text","text":"Hel","annotations":[]}]}],` +
				`"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":true,"temperature":1,` +
				`"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1,"truncation":"disabled",` +
				`"usage":{"input_tokens":0,"input_tokens_details":{"cached_tokens":0},"output_tokens":0,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":0},"metadata":{}}`,
		},
		{
			name: "raw-only completion (OpenAI-compatible adapter) with refusal",
			req:  `{"model":"m","input":"hi"}`,
			chat: &domain.ChatResponse{ID: "c", Usage: usage, Raw: []byte(`{"id":"c","object":"chat.completion","created":1,"model":"x",` +
				`"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't."},"finish_reason":"content_filter"}],` +
				`"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)},
			want: `{"id":"resp_test","object":"response","created_at":1700000000,"status":"incomplete","error":null,"incomplete_details":{"reason":"content_filter"},` + echoDefaults +
				`"output":[{"type":"message","id":"msg_1","status":"incomplete","role":"assistant","content":[{"type":"refusal","refusal":"I can't."}]}],` +
				`"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":true,"temperature":1,` +
				`"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1,"truncation":"disabled",` + usageJSON + `,"metadata":{}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := NewResponse(mustDecode(t, tt.req), tt.chat, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("response\n got %s\nwant %s", b, tt.want)
			}
		})
	}
}

func TestNewResponseInvalidRaw(t *testing.T) {
	t.Parallel()
	_, err := NewResponse(mustDecode(t, `{"model":"m","input":"x"}`), &domain.ChatResponse{Raw: []byte(`{"choices":7}`)}, Options{})
	if domain.ErrorCode(err) != domain.CodeUpstream {
		t.Errorf("err = %v", err)
	}
}

func TestGeneratedIDs(t *testing.T) {
	t.Parallel()
	resp, err := NewResponse(mustDecode(t, `{"model":"m","input":"x"}`), &domain.ChatResponse{Choices: []domain.Choice{{
		Message: domain.Message{Content: domain.TextContent("y")}, FinishReason: "stop"}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ID) != len("resp_")+48 || resp.ID[:5] != "resp_" || resp.Output[0].ID[:4] != "msg_" || resp.CreatedAt == 0 {
		t.Errorf("ids = %q %q, created_at %d", resp.ID, resp.Output[0].ID, resp.CreatedAt)
	}
}

// TestHistory checks a previous_response_id chain: the second turn's chat
// request holds the first turn's input and output, and storing the second
// turn keeps the whole conversation for a third.
func TestHistory(t *testing.T) {
	t.Parallel()
	req1 := mustDecode(t, `{"model":"m","instructions":"only for turn 1","input":"Weather in Paris?","tools":[{"type":"function","name":"weather"}]}`)
	resp1, err := NewResponse(req1, &domain.ChatResponse{Choices: []domain.Choice{{FinishReason: "tool_calls", Message: domain.Message{
		ToolCalls: []domain.ToolCall{{ID: "call_1", Function: domain.FunctionCall{Name: "weather", Arguments: `{"city":"Paris"}`}}}}}}}, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	// Through JSON, as the store keeps it.
	b, err := json.Marshal(NewStored(req1, resp1))
	if err != nil {
		t.Fatal(err)
	}
	var stored Stored
	if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	req2 := mustDecode(t, `{"model":"m","previous_response_id":"resp_test","input":[{"type":"function_call_output","call_id":"call_1","output":"sunny"}]}`)
	req2.Input = History(&stored, req2.Input)
	chat, err := req2.ChatRequest()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"m","messages":[{"role":"user","content":"Weather in Paris?"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
		`{"role":"tool","content":"sunny","tool_call_id":"call_1"}]}`
	if string(chat.Raw) != want {
		t.Errorf("turn 2\n got %s\nwant %s", chat.Raw, want)
	}
	resp2, err := NewResponse(req2, &domain.ChatResponse{Choices: []domain.Choice{{FinishReason: "stop", Message: domain.Message{Content: domain.TextContent("Sunny.")}}}}, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if resp2.PreviousResponseID == nil || *resp2.PreviousResponseID != "resp_test" {
		t.Errorf("previous_response_id = %v", resp2.PreviousResponseID)
	}
	s2 := NewStored(req2, resp2)
	all := History(s2, []Item{{Type: TypeMessage, Role: "user", Content: []Part{{Type: "input_text", Text: "Thanks"}}}})
	var types []string
	for _, it := range all {
		types = append(types, it.Type+"/"+it.Role)
	}
	if got, want := len(all), 5; got != want {
		t.Fatalf("turn 3 items = %v", types)
	}
	if all[1].Type != TypeFunctionCall || all[3].Content[0].Text != "Sunny." || all[4].Content[0].Text != "Thanks" {
		t.Errorf("turn 3 items = %v", types)
	}
	if got := History(nil, all); len(got) != len(all) {
		t.Errorf("History(nil) changed the input")
	}
}
