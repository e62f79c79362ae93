package anthropicapi

import (
	"errors"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // the OpenAI body
	}{
		{
			name: "string content",
			in:   `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"Hi"}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"Hi"}],"max_tokens":100}`,
		},
		{
			name: "system string, sampling, stop, user, top_k dropped",
			in: `{"model":"m","max_tokens":10,"system":"Be brief.","temperature":0.5,"top_p":0.9,"top_k":40,
				"stop_sequences":["END","\n\nHuman:"],"metadata":{"user_id":"u-1"},"messages":[{"role":"user","content":"Hi"}]}`,
			want: `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"temperature":0.5,"top_p":0.9,"max_tokens":10,"stop":["END","\n\nHuman:"],"user":"u-1"}`,
		},
		{
			name: "system blocks with cache_control are joined",
			in: `{"model":"m","max_tokens":10,"system":[{"type":"text","text":"A"},{"type":"text","text":"B","cache_control":{"type":"ephemeral"}}],
				"messages":[{"role":"user","content":[{"type":"text","text":"Hi","cache_control":{"type":"ephemeral"}}]}]}`,
			want: `{"model":"m","messages":[{"role":"system","content":"A\n\nB"},{"role":"user","content":"Hi"}],"max_tokens":10}`,
		},
		{
			name: "stream asks for usage",
			in:   `{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"Hi"}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"Hi"}],"max_tokens":10,"stream":true,"stream_options":{"include_usage":true}}`,
		},
		{
			name: "images base64 and url",
			in: `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[
				{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}},
				{"type":"image","source":{"type":"url","url":"https://x.test/a.jpg"}},
				{"type":"text","text":"What is this?"}]}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},{"type":"image_url","image_url":{"url":"https://x.test/a.jpg"}},{"type":"text","text":"What is this?"}]}],"max_tokens":10}`,
		},
		{
			name: "multi-turn with tools, tool use, tool results and thinking dropped",
			in: `{"model":"m","max_tokens":2048,
				"tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
				"tool_choice":{"type":"auto","disable_parallel_tool_use":true},
				"messages":[
				{"role":"user","content":"Weather in Paris and Rome?"},
				{"role":"assistant","content":[
					{"type":"thinking","thinking":"need tools","signature":"sig"},
					{"type":"redacted_thinking","data":"xyz"},
					{"type":"text","text":"Checking."},
					{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{ "city" : "Paris" }},
					{"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Rome"}}]},
				{"role":"user","content":[
					{"type":"tool_result","tool_use_id":"toolu_1","content":"18C"},
					{"type":"tool_result","tool_use_id":"toolu_2","is_error":true,"content":[{"type":"text","text":"timeout"}]},
					{"type":"text","text":"Thanks"}]}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"Weather in Paris and Rome?"},` +
				`{"role":"assistant","content":"Checking.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},` +
				`{"role":"tool","content":"18C","tool_call_id":"toolu_1"},{"role":"tool","content":"Error: timeout","tool_call_id":"toolu_2"},{"role":"user","content":"Thanks"}],` +
				`"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],` +
				`"tool_choice":"auto","parallel_tool_calls":false,"max_tokens":2048}`,
		},
		{
			name: "assistant tool use without text or input has null content",
			in: `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f"}]},
				{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1"}]}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","content":"","tool_call_id":"t1"}],"max_tokens":5}`,
		},
		{
			name: "tool result with an image adds a user message",
			in: `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[
				{"type":"text","text":"screenshot:"},{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"AAA"}}]}]}]}`,
			want: `{"model":"m","messages":[{"role":"tool","content":"screenshot:","tool_call_id":"t1"},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,AAA"}}]}],"max_tokens":5}`,
		},
		{
			name: "tool_choice any, tool and none",
			in: `{"model":"m","max_tokens":5,"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"f"},
				"messages":[{"role":"user","content":"x"}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"function":{"name":"f"},"type":"function"},"max_tokens":5}`,
		},
		{
			name: "tool_choice any",
			in:   `{"model":"m","max_tokens":5,"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"any"},"messages":[{"role":"user","content":"x"}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":"required","max_tokens":5}`,
		},
		{
			name: "tool_choice none",
			in:   `{"model":"m","max_tokens":5,"tools":[{"type":"custom","name":"f","input_schema":{}}],"tool_choice":{"type":"none"},"messages":[{"role":"user","content":"x"}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":"none","max_tokens":5}`,
		},
		{
			name: "thinking enabled maps to reasoning effort",
			in:   `{"model":"m","max_tokens":20000,"thinking":{"type":"enabled","budget_tokens":10000},"messages":[{"role":"user","content":"x"}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":20000,"reasoning_effort":"medium"}`,
		},
		{
			name: "thinking disabled",
			in:   `{"model":"m","max_tokens":5,"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"x"}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":5}`,
		},
		{
			name: "pdf and text documents",
			in: `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"}},
				{"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain"}}]}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBE","filename":"document.pdf"}},{"type":"text","text":"plain"}]}],"max_tokens":5}`,
		},
		{
			name: "assistant prefill string",
			in:   `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"{"}]}`,
			want: `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":"{"}],"max_tokens":5}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := DecodeRequest([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(r.Chat.Raw); got != tt.want {
				t.Errorf("body\n got %s\nwant %s", got, tt.want)
			}
			if r.Chat.Model != "m" || r.Model != "m" || r.Chat.MaxTokens == 0 {
				t.Errorf("routing fields %+v", r.Chat)
			}
			if r.Chat.IncludeUsage != r.Chat.Stream {
				t.Errorf("include usage %v, stream %v", r.Chat.IncludeUsage, r.Chat.Stream)
			}
			// The body must be what the gateway accepts from the chat front door.
			if _, err := domain.ParseChatRequest(r.Chat.Raw); err != nil {
				t.Errorf("ParseChatRequest: %v", err)
			}
		})
	}
}

func TestDecodeRequestStreamFields(t *testing.T) {
	t.Parallel()
	r, err := DecodeRequest([]byte(`{"model":"claude-x","max_tokens":77,"stream":true,"stop_sequences":["S"],"messages":[{"role":"user","content":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	c := r.Chat
	if c.Model != "claude-x" || !c.Stream || !c.IncludeUsage || c.MaxTokens != 77 || len(r.StopSequences) != 1 || r.StopSequences[0] != "S" {
		t.Errorf("got %+v %+v", c, r)
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, field string
	}{
		{`{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, "model"},
		{`{"model":"m","messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{`{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{`{"model":"m","max_tokens":"5","messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{`{"model":"m","max_tokens":5}`, "messages"},
		{`{"model":"m","max_tokens":5,"messages":[]}`, "messages"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"x"}]}`, "messages[0].role"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user"}]}`, "messages[0].content"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":5}]}`, "messages[0].content"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"video"}]}]}`, "messages[0].content[0].type"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"A"}}]}]}`, "messages[0].content[0].source.media_type"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}`, "messages[0].content[0].source.type"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image"}]}]}`, "messages[0].content[0].source"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result"}]}]}`, "messages[0].content[0].tool_use_id"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":[1]}]}]}`, "messages[1].content[0].input"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","name":"f"}]}]}`, "messages[1].content[0].id"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"server_tool_use"}]}]}`, "messages[1].content[0].type"},
		{`{"model":"m","max_tokens":5,"system":[{"type":"image"}],"messages":[{"role":"user","content":"x"}]}`, "system[0].type"},
		{`{"model":"m","max_tokens":5,"system":5,"messages":[{"role":"user","content":"x"}]}`, "system"},
		{`{"model":"m","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"x"}]}`, "tools[0].type"},
		{`{"model":"m","max_tokens":5,"tools":[{"name":"f"}],"messages":[{"role":"user","content":"x"}]}`, "tools[0].input_schema"},
		{`{"model":"m","max_tokens":5,"tools":[{"input_schema":{}}],"messages":[{"role":"user","content":"x"}]}`, "tools[0].name"},
		{`{"model":"m","max_tokens":5,"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"tool"},"messages":[{"role":"user","content":"x"}]}`, "tool_choice.name"},
		{`{"model":"m","max_tokens":5,"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"maybe"},"messages":[{"role":"user","content":"x"}]}`, "tool_choice.type"},
		{`{"model":"m","max_tokens":5,"tool_choice":{"type":"any"},"messages":[{"role":"user","content":"x"}]}`, "tool_choice"},
		{`{"model":"m","max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":100},"messages":[{"role":"user","content":"x"}]}`, "thinking.budget_tokens"},
		{`{"model":"m","max_tokens":5,"thinking":{"type":"on"},"messages":[{"role":"user","content":"x"}]}`, "thinking.type"},
		{`{"model":"m","max_tokens":5,"stop_sequences":[""],"messages":[{"role":"user","content":"x"}]}`, "stop_sequences[0]"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"thinking","thinking":"x"}]}]}`, "messages"},
		{`[1]`, ""},
		{`{`, ""},
	}
	for _, tt := range tests {
		_, err := DecodeRequest([]byte(tt.in))
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.CodeInvalid {
			t.Errorf("%s: got %v, want an invalid-input error", tt.in, err)
			continue
		}
		if de.Field != tt.field {
			t.Errorf("%s: field %q, want %q (%v)", tt.in, de.Field, tt.field, err)
		}
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	rf, err := Routing([]byte(`{"messages":[{"role":"user","content":"x"}],"stream":true,"max_tokens":9,"model":"claude-sonnet-4-5","extra":{"a":[1,2]}}`))
	if err != nil || rf != (RoutingFields{Model: "claude-sonnet-4-5", Stream: true, MaxTokens: 9}) {
		t.Errorf("got %+v, %v", rf, err)
	}
	for _, in := range []string{`{}`, `{"model":5}`, `not json`, `{"model":""}`} {
		if _, err := Routing([]byte(in)); domain.ErrorCode(err) != domain.CodeInvalid {
			t.Errorf("%s: got %v", in, err)
		}
	}
}
