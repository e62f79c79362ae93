package anthropic

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/airouter/airouter/adapters/providers/internal/upstream"
	"github.com/airouter/airouter/adapters/providers/sse"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

func build(t *testing.T, body string, tgt ports.Target, stream bool) (map[string]any, error) {
	t.Helper()
	req, err := domain.ParseChatRequest([]byte(body))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	out, err := BuildRequest(req, tgt, stream)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("output is not JSON: %s", out)
	}
	return m, nil
}

func sameAs(t *testing.T, got map[string]any, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation: %v", err)
	}
	if !reflect.DeepEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Fatalf("got\n%s\nwant\n%s", g, want)
	}
}

// TestBuildRequestFull translates a request using every translated field
// into the Messages request the API reference describes.
func TestBuildRequestFull(t *testing.T) {
	body := `{
	  "model": "claude", "provider": "anthropic", "stream": true,
	  "max_completion_tokens": 2048, "max_tokens": 10, "temperature": 0.3, "top_p": 0.9,
	  "stop": ["END", ""], "user": "user-42", "seed": 7, "n": 1, "presence_penalty": 0, "parallel_tool_calls": false,
	  "tools": [{"type": "function", "function": {"name": "lookup", "description": "Look up", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}},
	            {"type": "function", "function": {"name": "noargs"}}],
	  "tool_choice": {"type": "function", "function": {"name": "lookup"}},
	  "messages": [
	    {"role": "system", "content": "You are terse."},
	    {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
	    {"role": "user", "content": "First question"},
	    {"role": "user", "content": [{"type": "text", "text": "Second part"}, {"type": "image_url", "image_url": {"url": "data:image/JPEG;base64,/9j/4AAQ"}}]},
	    {"role": "assistant", "content": "Let me look.", "tool_calls": [
	      {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"a\"}"}},
	      {"id": "call_2", "type": "function", "function": {"name": "noargs", "arguments": ""}}]},
	    {"role": "tool", "tool_call_id": "call_1", "content": "result a"},
	    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "done"}]},
	    {"role": "user", "content": "Thanks, and?"},
	    {"role": "assistant", "content": ""},
	    {"role": "assistant", "content": [{"type": "text", "text": "Voilà."}]}
	  ]}`
	got, err := build(t, body, ports.Target{Model: "claude-sonnet-4-5", DefaultMaxTokens: 999}, true)
	if err != nil {
		t.Fatal(err)
	}
	sameAs(t, got, `{
	  "model": "claude-sonnet-4-5", "max_tokens": 2048, "stream": true, "temperature": 0.3, "top_p": 0.9,
	  "stop_sequences": ["END"], "metadata": {"user_id": "user-42"},
	  "system": [{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Answer in French."}],
	  "tools": [{"name": "lookup", "description": "Look up", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}},
	            {"name": "noargs", "input_schema": {"type": "object", "properties": {}}}],
	  "tool_choice": {"type": "tool", "name": "lookup", "disable_parallel_tool_use": true},
	  "messages": [
	    {"role": "user", "content": [
	      {"type": "text", "text": "First question"},
	      {"type": "text", "text": "Second part"},
	      {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}}]},
	    {"role": "assistant", "content": [
	      {"type": "text", "text": "Let me look."},
	      {"type": "tool_use", "id": "call_1", "name": "lookup", "input": {"q": "a"}},
	      {"type": "tool_use", "id": "call_2", "name": "noargs", "input": {}}]},
	    {"role": "user", "content": [
	      {"type": "tool_result", "tool_use_id": "call_1", "content": "result a"},
	      {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "done"}]},
	      {"type": "text", "text": "Thanks, and?"}]},
	    {"role": "assistant", "content": [{"type": "text", "text": "Voilà."}]}
	  ]}`)
}

func TestBuildRequestDefaults(t *testing.T) {
	msg := `"messages":[{"role":"user","content":"hi"}]`
	got, _ := build(t, `{"model":"m",`+msg+`}`, ports.Target{Model: "c"}, false)
	if got["max_tokens"] != float64(DefaultMaxTokens) {
		t.Errorf("default max_tokens: %v", got["max_tokens"])
	}
	got, _ = build(t, `{"model":"m",`+msg+`}`, ports.Target{Model: "c", DefaultMaxTokens: 321}, false)
	if got["max_tokens"] != float64(321) {
		t.Errorf("model max_tokens: %v", got["max_tokens"])
	}
	got, _ = build(t, `{"model":"m","max_tokens":77,`+msg+`}`, ports.Target{Model: "c", DefaultMaxTokens: 321}, false)
	if got["max_tokens"] != float64(77) {
		t.Errorf("request max_tokens: %v", got["max_tokens"])
	}
	got, _ = build(t, `{"model":"m","stop":"###",`+msg+`}`, ports.Target{Model: "c"}, false)
	if !reflect.DeepEqual(got["stop_sequences"], []any{"###"}) {
		t.Errorf("stop string: %v", got["stop_sequences"])
	}
	for mode, want := range map[string]string{`"auto"`: `{"type":"auto"}`, `"required"`: `{"type":"any"}`, `"none"`: `{"type":"none"}`} {
		got, _ = build(t, `{"model":"m","tool_choice":`+mode+`,"tools":[{"type":"function","function":{"name":"f"}}],`+msg+`}`, ports.Target{Model: "c"}, false)
		var w any
		json.Unmarshal([]byte(want), &w)
		if !reflect.DeepEqual(got["tool_choice"], w) {
			t.Errorf("tool_choice %s: %v", mode, got["tool_choice"])
		}
	}
	got, _ = build(t, `{"model":"m","reasoning_effort":"low","max_tokens":8000,`+msg+`}`, ports.Target{Model: "c"}, false)
	if !reflect.DeepEqual(got["thinking"], map[string]any{"type": "enabled", "budget_tokens": float64(2048)}) {
		t.Errorf("thinking: %v", got["thinking"])
	}
	got, _ = build(t, `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x/y.png"}},{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBER"}}]}]}`, ports.Target{Model: "c"}, false)
	blocks := got["messages"].([]any)[0].(map[string]any)["content"].([]any)
	if blocks[0].(map[string]any)["source"].(map[string]any)["url"] != "http://x/y.png" || blocks[1].(map[string]any)["type"] != "document" {
		t.Errorf("url image / pdf: %v", blocks)
	}
}

func TestBuildRequestRejects(t *testing.T) {
	msg := `"messages":[{"role":"user","content":"hi"}]`
	cases := map[string]string{
		`{"model":"m","n":2,` + msg + `}`:                                                                                             "n",
		`{"model":"m","logprobs":true,` + msg + `}`:                                                                                   "logprobs",
		`{"model":"m","top_logprobs":3,` + msg + `}`:                                                                                  "top_logprobs",
		`{"model":"m","frequency_penalty":0.5,` + msg + `}`:                                                                           "frequency_penalty",
		`{"model":"m","presence_penalty":-1,` + msg + `}`:                                                                             "presence_penalty",
		`{"model":"m","logit_bias":{"50256":-100},` + msg + `}`:                                                                       "logit_bias",
		`{"model":"m","response_format":{"type":"json_object"},` + msg + `}`:                                                          "response_format",
		`{"model":"m","audio":{"voice":"alloy"},` + msg + `}`:                                                                         "audio",
		`{"model":"m","modalities":["text","audio"],` + msg + `}`:                                                                     "modalities",
		`{"model":"m","functions":[{"name":"f"}],` + msg + `}`:                                                                        "functions",
		`{"model":"m","reasoning_effort":"max",` + msg + `}`:                                                                          "reasoning_effort",
		`{"model":"m","reasoning_effort":"high","max_tokens":500,` + msg + `}`:                                                        "max_tokens",
		`{"model":"m","tools":[{"type":"custom","function":{"name":"f"}}],` + msg + `}`:                                               "tools[0].type",
		`{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAA","format":"wav"}}]}]}`:   "messages[0].content[0].input_audio",
		`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/tiff;base64,AA"}}]}]}`: "messages[0].content[0].image_url.url",
		`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,rawbytes"}}]}]}`:   "messages[0].content[0].image_url.url",
		`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`:             "messages[0].content[0].image_url.url",
		`{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`: "messages[1].tool_calls[0].function.arguments",
		`{"model":"m","messages":[{"role":"tool","content":"x"}]}`:                                                     "messages[0].tool_call_id",
		`{"model":"m","messages":[{"role":"function","content":"x"}]}`:                                                 "messages[0].role",
		`{"model":"m","messages":[{"role":"system","content":"only"}]}`:                                                "messages",
		`{"model":"m","messages":[{"role":"user","content":""}]}`:                                                      "messages[0].content",
		`{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"http://x"}}]}]}`: "messages[0].content[0].type",
	}
	for body, field := range cases {
		_, err := build(t, body, ports.Target{Model: "c"}, false)
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.CodeInvalid || de.Field != field {
			t.Errorf("%s: got %v, want an invalid error on %q", body, err, field)
		}
	}
}

func TestConvertResponse(t *testing.T) {
	raw := `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[
	  {"type":"thinking","thinking":"Let me think.","signature":"sig"},
	  {"type":"text","text":"Checking."},
	  {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}],
	  "stop_reason":"tool_use","stop_sequence":null,
	  "usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":20,"output_tokens":7}}`
	var r response
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatal(err)
	}
	out, err := convertResponse(&r, 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	if out.Usage == nil || out.Usage.PromptTokens != 35 || out.Usage.CachedTokens != 20 {
		t.Fatalf("usage %+v: want 35 prompt tokens, 20 of them cached", out.Usage)
	}
	var got map[string]any
	json.Unmarshal(out.Raw, &got)
	sameAs(t, got, `{"id":"msg_1","object":"chat.completion","created":1700000000,"model":"claude-x",
	  "choices":[{"index":0,"message":{"role":"assistant","content":"Checking.","reasoning_content":"Let me think.",
	    "tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
	    "finish_reason":"tool_calls","logprobs":null}],
	  "usage":{"prompt_tokens":35,"completion_tokens":7,"total_tokens":42,"prompt_tokens_details":{"cached_tokens":20}}}`)
	for stop, want := range map[string]string{"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls", "stop_sequence": "stop", "refusal": "content_filter", "pause_turn": "stop"} {
		if got := finishReason(stop); got != want {
			t.Errorf("%s → %s, want %s", stop, got, want)
		}
	}
	r.Content = r.Content[2:]
	out, _ = convertResponse(&r, 1)
	if !strings.Contains(string(out.Raw), `"content":null`) {
		t.Errorf("tool-only answer should have null content: %s", out.Raw)
	}
}

// events runs a translator over a stream's event data.
func events(t *testing.T, data ...string) ([]*domain.ChatChunk, error) {
	t.Helper()
	tr := translator{created: 1}
	var out []*domain.ChatChunk
	for _, d := range data {
		ch, err := tr.event([]byte(d))
		if err != nil {
			return out, err
		}
		if ch != nil {
			var m map[string]any
			if err := json.Unmarshal(ch.Raw, &m); err != nil {
				t.Fatalf("Raw is not JSON: %s", ch.Raw)
			}
			out = append(out, ch)
		}
	}
	return out, nil
}

func TestTranslatorThinkingAndTools(t *testing.T) {
	chunks, err := events(t,
		`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":12,"cache_read_input_tokens":3,"output_tokens":1}}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hmm."}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"abc"}}`,
		`{"type":"content_block_stop","index":0}`,
		`{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_a","name":"f","input":{}}}`,
		`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}`,
		`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"x\":"}}`,
		`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"1}"}}`,
		`{"type":"content_block_stop","index":1}`,
		`{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_b","name":"g","input":{}}}`,
		`{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}}`,
		`{"type":"content_block_stop","index":2}`,
		`{"type":"ping"}`,
		`{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":40}}`,
		`{"type":"future_event","x":1}`,
		`{"type":"message_stop"}`,
	)
	if err != nil {
		t.Fatal(err)
	}
	var raws []string
	for _, c := range chunks {
		raws = append(raws, string(c.Raw))
	}
	want := []string{
		`{"id":"msg_1","object":"chat.completion.chunk","created":1,"model":"claude-x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`,
		`{"id":"msg_1","object":"chat.completion.chunk","created":1,"model":"claude-x","choices":[{"index":0,"delta":{"reasoning_content":"Hmm."},"logprobs":null,"finish_reason":null}]}`,
		`{"id":"msg_1","object":"chat.completion.chunk","created":1,"model":"claude-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"toolu_a","type":"function","function":{"name":"f","arguments":""}}]},"logprobs":null,"finish_reason":null}]}`,
		`{"id":"msg_1","object":"chat.completion.chunk","created":1,"model":"claude-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":"}}]},"logprobs":null,"finish_reason":null}]}`,
		`{"id":"msg_1","object":"chat.completion.chunk","created":1,"model":"claude-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"logprobs":null,"finish_reason":null}]}`,
		`{"id":"msg_1","object":"chat.completion.chunk","created":1,"model":"claude-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"toolu_b","type":"function","function":{"name":"g","arguments":""}}]},"logprobs":null,"finish_reason":null}]}`,
		`{"id":"msg_1","object":"chat.completion.chunk","created":1,"model":"claude-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]},"logprobs":null,"finish_reason":null}]}`,
		`{"id":"msg_1","object":"chat.completion.chunk","created":1,"model":"claude-x","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}`,
		`{"id":"msg_1","object":"chat.completion.chunk","created":1,"model":"claude-x","choices":[],"usage":{"prompt_tokens":15,"completion_tokens":40,"total_tokens":55,"prompt_tokens_details":{"cached_tokens":3}}}`,
	}
	if !reflect.DeepEqual(raws, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(raws, "\n"), strings.Join(want, "\n"))
	}
	if chunks[0].HasContent() || !chunks[1].HasContent() || !chunks[2].HasContent() {
		t.Fatal("HasContent")
	}
}

func TestTranslatorError(t *testing.T) {
	_, err := events(t,
		`{"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":1,"output_tokens":1}}}`,
		`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
	var ue *domain.UpstreamError
	if !errors.As(err, &ue) || ue.Class != domain.ClassRetryable || ue.Status != 529 || ue.Type != "overloaded_error" || ue.Message != "Overloaded" {
		t.Fatalf("got %#v", err)
	}
	_, err = events(t, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)
	if !errors.As(err, &ue) || ue.Class != domain.ClassRateLimited {
		t.Fatalf("got %#v", err)
	}
	_, err = events(t, `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}`)
	if !errors.As(err, &ue) || ue.Class != domain.ClassRequest {
		t.Fatalf("got %#v", err)
	}
	_, err = events(t, `not json`)
	if !errors.As(err, &ue) || ue.Class != domain.ClassAmbiguous {
		t.Fatalf("got %#v", err)
	}
}

// FuzzBuildRequest checks that any request the router accepts either
// translates into a valid Messages request (roles alternate, max_tokens
// positive, every tool_use input an object) or fails with an invalid-input
// error naming a field — never a panic or another error.
func FuzzBuildRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := domain.ParseChatRequest(body)
		if err != nil {
			return
		}
		out, err := BuildRequest(req, ports.Target{Model: "claude"}, req.Stream)
		if err != nil {
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.CodeInvalid {
				t.Fatalf("%s: error %v (%T) is not an invalid-input error", body, err, err)
			}
			return
		}
		var r request
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("%s: output is not JSON: %s", body, out)
		}
		if r.Model != "claude" || r.MaxTokens <= 0 || len(r.Messages) == 0 {
			t.Fatalf("%s: bad output %s", body, out)
		}
		for i, m := range r.Messages {
			if (m.Role != "user" && m.Role != "assistant") || len(m.Content) == 0 || (i > 0 && r.Messages[i-1].Role == m.Role) {
				t.Fatalf("%s: bad turns %s", body, out)
			}
			seenOther := false
			for _, b := range m.Content {
				switch b.Type {
				case "tool_use":
					if len(b.Input) == 0 || b.Input[0] != '{' {
						t.Fatalf("%s: tool_use input %s", body, b.Input)
					}
				case "tool_result":
					if seenOther {
						t.Fatalf("%s: tool_result after other blocks: %s", body, out)
					}
				default:
					seenOther = true
				}
			}
		}
	})
}

// FuzzStreamTranslation feeds arbitrary SSE bytes through the reader and
// translator: every chunk produced must be valid JSON that matches its
// typed form, and failures must be *domain.UpstreamError.
func FuzzStreamTranslation(f *testing.F) {
	f.Add([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\"}}\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := sse.NewReaderSize(strings.NewReader(string(in)), 64, 1<<20)
		tr := translator{created: 1}
		for {
			ev, err := r.Next()
			if err != nil {
				return
			}
			ch, err := tr.event(ev.Data)
			if err != nil {
				var ue *domain.UpstreamError
				if !errors.As(err, &ue) {
					t.Fatalf("error %T", err)
				}
				return
			}
			if ch == nil {
				continue
			}
			var c domain.ChatChunk
			if err := json.Unmarshal(ch.Raw, &c); err != nil {
				t.Fatalf("invalid Raw %q", ch.Raw)
			}
			if c.ID != ch.ID || c.Model != ch.Model || len(c.Choices) != len(ch.Choices) {
				t.Fatalf("Raw %s does not match %+v", ch.Raw, ch)
			}
			for i := range c.Choices {
				a, b := c.Choices[i].Delta, ch.Choices[i].Delta
				if (a.Content == nil) != (b.Content == nil) || (a.Content != nil && *a.Content != strings.ToValidUTF8(*b.Content, "\uFFFD")) {
					t.Fatalf("content of %s does not match %q", ch.Raw, *b.Content)
				}
			}
		}
	})
}

func TestNewHeadersAndBase(t *testing.T) {
	c, err := New(domain.Provider{Kind: domain.KindAnthropic, BaseURL: "https://proxy.example.com/v1/", Headers: map[string]string{"anthropic-version": "2024-01-01", "anthropic-beta": "b1"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.messages.String() != "https://proxy.example.com/v1/messages" {
		t.Errorf("messages URL %s", c.messages)
	}
	h := c.up.Headers("k", upstream.JSON)
	if h.Get("Anthropic-Version") != "2024-01-01" || h.Get("Anthropic-Beta") != "b1" || h.Get("X-Api-Key") != "k" {
		t.Errorf("headers %v", h)
	}
	c, _ = New(domain.Provider{Kind: domain.KindAnthropic})
	if c.messages.String() != "https://api.anthropic.com/v1/messages" || c.up.Headers("", upstream.JSON).Get("Anthropic-Version") != DefaultVersion {
		t.Errorf("defaults %s", c.messages)
	}
	if _, err := New(domain.Provider{Kind: domain.KindOpenAI}); err == nil {
		t.Error("accepted another kind")
	}
}
