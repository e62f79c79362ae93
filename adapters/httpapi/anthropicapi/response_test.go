package anthropicapi

import (
	"encoding/json"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

func testReq(stops ...string) *Request {
	return &Request{Chat: &domain.ChatRequest{Model: "claude-x"}, Model: "claude-x", StopSequences: stops}
}

func TestEncodeResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		stops []string
		resp  *domain.ChatResponse
		want  string
	}{
		{
			name: "text and usage with cache hits",
			resp: &domain.ChatResponse{ID: "chatcmpl-abc", Model: "gpt-4o", Choices: []domain.Choice{{Message: domain.Message{Role: "assistant", Content: domain.TextContent("Hello \"you\"")}, FinishReason: "stop"}},
				Usage: &domain.Usage{PromptTokens: 100, CompletionTokens: 7, TotalTokens: 107, CachedTokens: 60}},
			want: `{"id":"msg_abc","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Hello \"you\""}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":40,"cache_creation_input_tokens":0,"cache_read_input_tokens":60,"output_tokens":7}}`,
		},
		{
			name: "tool calls with reasoning",
			resp: &domain.ChatResponse{ID: "x1", Choices: []domain.Choice{{Message: domain.Message{Role: "assistant", ReasoningContent: "hmm",
				ToolCalls: []domain.ToolCall{{ID: "call_1", Type: "function", Function: domain.FunctionCall{Name: "f", Arguments: `{"a": 1}`}},
					{ID: "call_2", Type: "function", Function: domain.FunctionCall{Name: "g", Arguments: `{"b":`}}}}, FinishReason: "tool_calls"}}},
			want: `{"id":"msg_x1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"thinking","thinking":"hmm","signature":""},{"type":"tool_use","id":"call_1","name":"f","input":{"a":1}},{"type":"tool_use","id":"call_2","name":"g","input":{}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`,
		},
		{
			name: "length",
			resp: &domain.ChatResponse{ID: "msg_1", Choices: []domain.Choice{{Message: domain.Message{Content: domain.TextContent("cut")}, FinishReason: "length"}}, Usage: &domain.Usage{PromptTokens: 3, CompletionTokens: 5}},
			want: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"cut"}],"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":5}}`,
		},
		{
			name: "content filter",
			resp: &domain.ChatResponse{ID: "1", Choices: []domain.Choice{{Message: domain.Message{}, FinishReason: "content_filter"}}},
			want: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`,
		},
		{
			name: "refusal message",
			resp: &domain.ChatResponse{ID: "1", Choices: []domain.Choice{{Message: domain.Message{Refusal: new("I can't")}, FinishReason: "stop"}}},
			want: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"I can't"}],"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`,
		},
		{
			name:  "stop sequence reported by the upstream (vLLM stop_reason)",
			stops: []string{"END"},
			resp: &domain.ChatResponse{ID: "1", Choices: []domain.Choice{{Message: domain.Message{Content: domain.TextContent("a")}, FinishReason: "stop"}},
				Raw: []byte(`{"id":"1","choices":[{"index":0,"message":{"role":"assistant","content":"a"},"finish_reason":"stop","stop_reason":"END"}]}`)},
			want: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"a"}],"stop_reason":"stop_sequence","stop_sequence":"END","usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`,
		},
		{
			name: "raw only, as the OpenAI adapter returns it",
			resp: &domain.ChatResponse{ID: "chatcmpl-9", Usage: &domain.Usage{PromptTokens: 10, CompletionTokens: 2, CachedTokens: 4},
				Raw: []byte(`{"id":"chatcmpl-9","object":"chat.completion","model":"gpt","choices":[{"index":0,"message":{"role":"assistant","content":"hey"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":4}}}`)},
			want: `{"id":"msg_9","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"hey"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":6,"cache_creation_input_tokens":0,"cache_read_input_tokens":4,"output_tokens":2}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := EncodeResponse(testReq(tt.stops...), tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Error("invalid JSON")
			}
		})
	}
}

func TestEncodeResponseEmptyID(t *testing.T) {
	t.Parallel()
	got, err := EncodeResponse(testReq(), &domain.ChatResponse{Choices: []domain.Choice{{Message: domain.Message{ToolCalls: []domain.ToolCall{{Function: domain.FunctionCall{Name: "f"}}}}, FinishReason: "tool_calls"}}})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		ID      string `json:"id"`
		Content []struct {
			ID string `json:"id"`
		} `json:"content"`
	}
	if err := json.Unmarshal(got, &m); err != nil || len(m.ID) != len("msg_")+24 || len(m.Content) != 1 || len(m.Content[0].ID) != len("toolu_")+24 {
		t.Errorf("%s: %v", got, err)
	}
}

func TestEncodeResponseBadRaw(t *testing.T) {
	t.Parallel()
	if _, err := EncodeResponse(testReq(), &domain.ChatResponse{Raw: []byte(`{"choices":5}`)}); err == nil {
		t.Error("want an error")
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	for status, typ := range map[int]string{400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
		404: "not_found_error", 409: "invalid_request_error", 413: "request_too_large", 422: "invalid_request_error", 429: "rate_limit_error",
		500: "api_error", 502: "api_error", 503: "overloaded_error", 504: "timeout_error", 529: "overloaded_error", 0: "api_error"} {
		if got := ErrorType(status); got != typ {
			t.Errorf("ErrorType(%d) = %s, want %s", status, got, typ)
		}
	}
	want := `{"type":"error","error":{"type":"not_found_error","message":"model \"x\" not found"}}`
	if got := string(ErrorBody(404, `model "x" not found`)); got != want {
		t.Errorf("got %s", got)
	}
}

func TestReplaceModel(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`{"model":"a","max_tokens":1}`, `{"model":"up/b","max_tokens":1}`},
		{` { "max_tokens" : 1 , "model" : "a" , "x":{"model":"keep"} } `, ` { "max_tokens" : 1 , "model" : "up/b" , "x":{"model":"keep"} } `},
		{`{"messages":[{"content":"\"model\":\"a\""}],"model":null,"unknown":[1,{"a":"}"}]}`, `{"messages":[{"content":"\"model\":\"a\""}],"model":"up/b","unknown":[1,{"a":"}"}]}`},
		{`{"mod\u0065l":"a"}`, `{"mod\u0065l":"up/b"}`},
		{`{"model":"a","model":"c"}`, `{"model":"up/b","model":"up/b"}`},
		{`{}`, `{"model":"up/b"}`},
		{`{ "a":1}`, `{"model":"up/b", "a":1}`},
	}
	for _, tt := range tests {
		got, err := ReplaceModel([]byte(tt.in), "up/b")
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: got %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{``, `[]`, `"model"`, `{"model":}`, `{"model":"a"} x`} {
		if _, err := ReplaceModel([]byte(in), "b"); domain.ErrorCode(err) != domain.CodeInvalid {
			t.Errorf("%q: got %v", in, err)
		}
	}
}

func TestCountTokens(t *testing.T) {
	t.Parallel()
	got, err := CountTokensResponse([]byte(`{"model":"m","system":"You are helpful.","messages":[{"role":"user","content":"Hello, world! How are you?"}],
		"tools":[{"name":"f","description":"does f","input_schema":{"type":"object"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	// system 4+4, user 4+7, tool 8+1+2+5 (17 bytes of schema).
	if string(got) != `{"input_tokens":35}` {
		t.Errorf("got %s", got)
	}
	small, _ := CountTokens([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	img, _ := CountTokens([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]}]}`))
	cjk, _ := CountTokens([]byte(`{"model":"m","messages":[{"role":"user","content":"你好世界"}]}`))
	if small != 5 || img != 5+tokensPerImage || cjk != 8 {
		t.Errorf("small %d, image %d, cjk %d", small, img, cjk)
	}
	if _, err := CountTokens([]byte(`{"model":"m","messages":[]}`)); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Errorf("got %v", err)
	}
}
