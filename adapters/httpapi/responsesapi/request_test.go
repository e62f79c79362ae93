package responsesapi

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

func TestDecodeRequestToChat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		stream bool
		max    int
		chat   string // the exact chat-completions body
	}{
		{
			name: "string input",
			body: `{"model":"m","input":"Hello"}`,
			chat: `{"model":"m","messages":[{"role":"user","content":"Hello"}]}`,
		},
		{
			name: "instructions, developer and multi-turn",
			body: `{"model":"m","instructions":"Be brief.","input":[
				{"role":"developer","content":"Use French."},
				{"type":"message","role":"user","content":[{"type":"input_text","text":"Hi"}]},
				{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Salut","annotations":[]}]},
				{"role":"user","content":"Again"}]}`,
			chat: `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"system","content":"Use French."},` +
				`{"role":"user","content":"Hi"},{"role":"assistant","content":"Salut"},{"role":"user","content":"Again"}]}`,
		},
		{
			name: "images and text parts",
			body: `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"What is this?"},
				{"type":"input_image","image_url":"https://x.test/a.png","detail":"low"},
				{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]}]}`,
			chat: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},` +
				`{"type":"image_url","image_url":{"url":"https://x.test/a.png","detail":"low"}},` +
				`{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}`,
		},
		{
			name: "function calls join the assistant message; outputs become tool messages",
			body: `{"model":"m","input":[{"role":"user","content":"Weather in Paris and Rome?"},
				{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"think"}]},
				{"role":"assistant","content":"Let me check."},
				{"type":"function_call","id":"fc_1","call_id":"call_a","name":"weather","arguments":"{\"city\":\"Paris\"}"},
				{"type":"function_call","call_id":"call_b","name":"weather","arguments":""},
				{"type":"function_call_output","call_id":"call_a","output":"sunny"},
				{"type":"function_call_output","call_id":"call_b","output":[{"type":"input_text","text":"rain"},{"type":"input_text","text":"y"}]},
				{"type":"function_call","call_id":"call_c","name":"time","arguments":"{}"},
				{"type":"function_call_output","call_id":"call_c","output":"noon"}]}`,
			chat: `{"model":"m","messages":[{"role":"user","content":"Weather in Paris and Rome?"},` +
				`{"role":"assistant","content":"Let me check.","tool_calls":[` +
				`{"id":"call_a","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},` +
				`{"id":"call_b","type":"function","function":{"name":"weather","arguments":"{}"}}]},` +
				`{"role":"tool","content":"sunny","tool_call_id":"call_a"},{"role":"tool","content":"rainy","tool_call_id":"call_b"},` +
				`{"role":"assistant","content":null,"tool_calls":[{"id":"call_c","type":"function","function":{"name":"time","arguments":"{}"}}]},` +
				`{"role":"tool","content":"noon","tool_call_id":"call_c"}]}`,
		},
		{
			name: "tools, tool_choice, sampling, limits, reasoning, text format, streaming",
			body: `{"model":"m","input":"x","stream":true,"store":false,"metadata":{"k":"v"},"user":"u1",
				"previous_response_id":null,"temperature":0.5,"top_p":0.9,"max_output_tokens":100,"parallel_tool_calls":false,
				"tools":[{"type":"function","name":"f","description":"does f","parameters":{"type":"object","properties":{}},"strict":true},
				         {"type":"function","name":"g"}],
				"tool_choice":{"type":"function","name":"f"},
				"reasoning":{"effort":"low","summary":"auto"},
				"text":{"format":{"type":"json_schema","name":"out","schema":{"type":"object"},"strict":true}},
				"include":["reasoning.encrypted_content"],"prompt_cache_key":"abc"}`,
			stream: true, max: 100,
			chat: `{"model":"m","messages":[{"role":"user","content":"x"}],` +
				`"tools":[{"type":"function","function":{"name":"f","description":"does f","parameters":{"type":"object","properties":{}},"strict":true}},` +
				`{"type":"function","function":{"name":"g"}}],` +
				`"tool_choice":{"function":{"name":"f"},"type":"function"},"parallel_tool_calls":false,` +
				`"response_format":{"type":"json_schema","json_schema":{"name":"out","schema":{"type":"object"},"strict":true}},` +
				`"temperature":0.5,"top_p":0.9,"max_tokens":100,"user":"u1","stream":true,"stream_options":{"include_usage":true},"reasoning_effort":"low"}`,
		},
		{
			name: "json_object and string tool choice",
			body: `{"model":"m","input":"x","tool_choice":"required","text":{"format":{"type":"json_object"}}}`,
			chat: `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"required","response_format":{"type":"json_object"}}`,
		},
		{
			name: "text format text is the default",
			body: `{"model":"m","input":"x","text":{"format":{"type":"text"},"verbosity":"low"}}`,
			chat: `{"model":"m","messages":[{"role":"user","content":"x"}]}`,
		},
		{
			name: "input_file with data and refusal in history",
			body: `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_data":"data:application/pdf;base64,AA","filename":"a.pdf"}]},
				{"role":"assistant","content":[{"type":"refusal","refusal":"no"}]}]}`,
			chat: `{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,AA","filename":"a.pdf"}}]},` +
				`{"role":"assistant","content":"no"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := DecodeRequest([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeRequest: %v", err)
			}
			chat, err := req.ChatRequest()
			if err != nil {
				t.Fatalf("ChatRequest: %v", err)
			}
			if got := string(chat.Raw); got != tt.chat {
				t.Errorf("chat body\n got %s\nwant %s", got, tt.chat)
			}
			if chat.Model != "m" || chat.Stream != tt.stream || chat.IncludeUsage != tt.stream || chat.MaxTokens != tt.max {
				t.Errorf("routing fields = %+v", chat)
			}
			// The body is a valid chat completion request for the rest of the pipeline.
			parsed, err := domain.ParseChatRequest(chat.Raw)
			if err != nil {
				t.Fatalf("ParseChatRequest: %v", err)
			}
			if parsed.Stream != chat.Stream || parsed.IncludeUsage != chat.IncludeUsage || parsed.MaxTokens != chat.MaxTokens {
				t.Errorf("parsed routing fields %+v differ from %+v", parsed, chat)
			}
		})
	}
}

func TestDecodeRequestFields(t *testing.T) {
	t.Parallel()
	req, err := DecodeRequest([]byte(`{"model":"m","input":"x","store":false,"previous_response_id":"resp_1",
		"metadata":{"a":"b"},"tool_choice": { "type" : "function", "name":"f" },"tools":[{"type":"function","name":"f"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.StoreEnabled() || req.PreviousResponseID != "resp_1" || req.Metadata["a"] != "b" || string(req.ToolChoice) != `{"type":"function","name":"f"}` {
		t.Errorf("fields = %+v", req)
	}
	req, err = DecodeRequest([]byte(`{"model":"m","input":"x"}`))
	if err != nil || !req.StoreEnabled() {
		t.Errorf("store default: %v %v", req, err)
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, field string
	}{
		{"not json", `{`, ""},
		{"not an object", `[]`, "body"},
		{"no model", `{"input":"x"}`, "model"},
		{"model type", `{"model":1,"input":"x"}`, "model"},
		{"no input", `{"model":"m"}`, "input"},
		{"empty input", `{"model":"m","input":[]}`, "input"},
		{"input type", `{"model":"m","input":3}`, "input"},
		{"item not object", `{"model":"m","input":["x"]}`, "input[0]"},
		{"bad role", `{"model":"m","input":[{"role":"tool","content":"x"}]}`, "input[0].role"},
		{"no role", `{"model":"m","input":[{"content":"x"}]}`, "input[0].role"},
		{"no content", `{"model":"m","input":[{"role":"user"}]}`, "input[0].content"},
		{"content type", `{"model":"m","input":[{"role":"user","content":5}]}`, "input[0].content"},
		{"file_id image", `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_image","file_id":"file-1"}]}]}`, "input[0].content[1].file_id"},
		{"no image url", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image"}]}]}`, "input[0].content[0].image_url"},
		{"bad detail", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"https://x","detail":"max"}]}]}`, "input[0].content[0].detail"},
		{"file_id file", `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"file-1"}]}]}`, "input[0].content[0].file_id"},
		{"file url", `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_url":"https://x"}]}]}`, "input[0].content[0].file_url"},
		{"unknown part", `{"model":"m","input":[{"role":"user","content":[{"type":"input_audio"}]}]}`, "input[0].content[0].type"},
		{"image in assistant", `{"model":"m","input":[{"role":"assistant","content":[{"type":"input_image","image_url":"https://x"}]}]}`, "input[0].content[0].type"},
		{"call without call_id", `{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "input[0].call_id"},
		{"call without name", `{"model":"m","input":[{"type":"function_call","call_id":"c","arguments":"{}"}]}`, "input[0].name"},
		{"arguments type", `{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":{}}]}`, "input[0].arguments"},
		{"output without call", `{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":"x"}]}`, "input[0].call_id"},
		{"output missing", `{"model":"m","input":[{"type":"function_call_output","call_id":"c"}]}`, "input[0].output"},
		{"image output", `{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"https://x"}]}]}`, "input[0].output[0].type"},
		{"item reference", `{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "input[0].type"},
		{"built-in tool call item", `{"model":"m","input":[{"type":"web_search_call","id":"ws_1"}]}`, "input[0].type"},
		{"only reasoning", `{"model":"m","input":[{"type":"reasoning","summary":[]}]}`, "input"},
		{"web search tool", `{"model":"m","input":"x","tools":[{"type":"web_search"}]}`, "tools[0].type"},
		{"file search tool", `{"model":"m","input":"x","tools":[{"type":"function","name":"f"},{"type":"file_search","vector_store_ids":["v"]}]}`, "tools[1].type"},
		{"tool without name", `{"model":"m","input":"x","tools":[{"type":"function"}]}`, "tools[0].name"},
		{"tool parameters", `{"model":"m","input":"x","tools":[{"type":"function","name":"f","parameters":[]}]}`, "tools[0].parameters"},
		{"tool choice string", `{"model":"m","input":"x","tool_choice":"any"}`, "tool_choice"},
		{"tool choice hosted", `{"model":"m","input":"x","tool_choice":{"type":"web_search_preview"}}`, "tool_choice.type"},
		{"tool choice no name", `{"model":"m","input":"x","tool_choice":{"type":"function"}}`, "tool_choice.name"},
		{"instructions type", `{"model":"m","input":"x","instructions":[1]}`, "instructions"},
		{"max output tokens", `{"model":"m","input":"x","max_output_tokens":0}`, "max_output_tokens"},
		{"temperature type", `{"model":"m","input":"x","temperature":"hot"}`, "temperature"},
		{"format type", `{"model":"m","input":"x","text":{"format":{"type":"yaml"}}}`, "text.format.type"},
		{"schema name", `{"model":"m","input":"x","text":{"format":{"type":"json_schema","schema":{}}}}`, "text.format.name"},
		{"schema", `{"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"n"}}}`, "text.format.schema"},
		{"effort", `{"model":"m","input":"x","reasoning":{"effort":"max"}}`, "reasoning.effort"},
		{"background", `{"model":"m","input":"x","background":true}`, "background"},
		{"conversation", `{"model":"m","input":"x","conversation":"conv_1"}`, "conversation"},
		{"prompt", `{"model":"m","input":"x","prompt":{"id":"pmpt_1"}}`, "prompt"},
		{"metadata type", `{"model":"m","input":"x","metadata":{"a":1}}`, "metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := DecodeRequest([]byte(tt.body))
			if err == nil {
				_, err = req.ChatRequest()
			}
			var de *domain.Error
			if !errors.As(err, &de) {
				t.Fatalf("error = %v (%T), want *domain.Error", err, err)
			}
			if de.Code != domain.CodeInvalid || de.Field != tt.field {
				t.Errorf("error = %q (code %s, field %q), want field %q", de.Error(), de.Code, de.Field, tt.field)
			}
		})
	}
}

func TestItemJSONRoundTrip(t *testing.T) {
	t.Parallel()
	items := []Item{
		{Type: TypeMessage, Role: "user", Content: []Part{{Type: "input_text", Text: "hi"}, {Type: "input_image", ImageURL: "https://x", Detail: "high"}}},
		{Type: TypeMessage, ID: "msg_1", Status: "completed", Role: "assistant", Content: []Part{{Type: "output_text", Text: ""}, {Type: "refusal", Refusal: "no"}}},
		{Type: TypeFunctionCall, ID: "fc_1", Status: "completed", CallID: "c", Name: "f", Arguments: ""},
		{Type: TypeFunctionCallOutput, CallID: "c", Output: ""},
		{Type: TypeReasoning, ID: "rs_1", Summary: []Part{{Type: "summary_text", Text: "s"}}, Content: []Part{{Type: "reasoning_text", Text: "r"}}},
		{Type: TypeMessage, Role: "user", Content: []Part{{Type: "input_file", FileData: "AA", Filename: "f"}}},
	}
	b, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"},{"type":"input_image","image_url":"https://x","detail":"high"}]},` +
		`{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"","annotations":[]},{"type":"refusal","refusal":"no"}]},` +
		`{"type":"function_call","id":"fc_1","status":"completed","call_id":"c","name":"f","arguments":""},` +
		`{"type":"function_call_output","call_id":"c","output":""},` +
		`{"type":"reasoning","id":"rs_1","content":[{"type":"reasoning_text","text":"r"}],"summary":[{"type":"summary_text","text":"s"}]},` +
		`{"type":"message","role":"user","content":[{"type":"input_file","file_data":"AA","filename":"f"}]}]`
	if string(b) != want {
		t.Errorf("marshal\n got %s\nwant %s", b, want)
	}
	var back []Item
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b2) != string(b) {
		t.Errorf("round trip\n got %s\nwant %s", b2, b)
	}
}
