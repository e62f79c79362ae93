package openai

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

func mustParse(t testing.TB, body string) *domain.ChatRequest {
	t.Helper()
	r, err := domain.ParseChatRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPatchBody(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		stream bool
		want   string
	}{
		{"chat keeps everything else", `{"model": "gpt", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2, "new_param": {"x": [1, 2]}}`, false,
			`{"model":"up-model", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2, "new_param": {"x": [1, 2]}}`},
		{"provider removed", `{"provider":"ark","model":"gpt","messages":[{"role":"user","content":"hi"}]}`, false,
			`{"model":"up-model","messages":[{"role":"user","content":"hi"}]}`},
		{"stream adds usage", `{"model":"gpt","messages":[{"role":"user","content":"hi"}],"stream":true}`, true,
			`{"model":"up-model","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`},
		{"stream keeps other stream options", `{"model":"gpt","stream":true,"stream_options":{"include_obfuscation":false,"include_usage":false},"messages":[{"role":"user","content":"hi"}]}`, true,
			`{"model":"up-model","stream":true,"stream_options":{"include_obfuscation":false,"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`},
		{"stream options null", `{"model":"gpt","stream":true,"stream_options":null,"messages":[{"role":"user","content":"hi"}]}`, true,
			`{"model":"up-model","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`},
		{"non-stream call of a stream body", `{"model":"gpt","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`, false,
			`{"model":"up-model","stream":false,"messages":[{"role":"user","content":"hi"}]}`},
		{"escaped model", `{"model":"gpt","messages":[{"role":"user","content":"hi"}]}`, false,
			`{"model":"up-model","messages":[{"role":"user","content":"hi"}]}`},
	}
	for _, c := range cases {
		got, err := PatchBody(nil, mustParse(t, c.in), "up-model", c.stream, "", 0)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	got, _ := PatchBody(nil, mustParse(t, `{"model":"a","messages":[{"role":"user","content":"x"}]}`), "ep-\"quoted\"\n", false, "", 0)
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil || m["model"] != "ep-\"quoted\"\n" {
		t.Fatalf("model escaping: %s %v", got, err)
	}
}

func bigRequest(n int) *domain.ChatRequest {
	var b strings.Builder
	b.WriteString(`{"model":"gpt-4o-mini","provider":"openai","stream":true,"temperature":0.7,"messages":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"role":"user","content":"Lorem ipsum dolor sit amet, \"consectetur\" adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua."}`)
	}
	b.WriteString(`],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`)
	r, err := domain.ParseChatRequest([]byte(b.String()))
	if err != nil {
		panic(err)
	}
	return r
}

func BenchmarkPatchBody(b *testing.B) {
	for _, n := range []int{1, 100} {
		req := bigRequest(n)
		b.Run(strings.Repeat("x", 0)+map[int]string{1: "small", 100: "100msgs"}[n], func(b *testing.B) {
			b.SetBytes(int64(len(req.Raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := PatchBody(nil, req, "gpt-4o-mini-2024-07-18", true, "", 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeReencode is what PatchBody avoids: a full decode and
// re-encode of the request.
func BenchmarkDecodeReencode(b *testing.B) {
	req := bigRequest(100)
	b.SetBytes(int64(len(req.Raw)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := req.Params()
		if err != nil {
			b.Fatal(err)
		}
		p.Model = "x"
		if _, err := json.Marshal(p); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseChunk(t *testing.T) {
	var p chunkParser
	c, err := p.parse([]byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`))
	if err != nil || c.ID != "chatcmpl-1" || c.Model != "gpt-4o" || c.Created != 1700000000 || len(c.Choices) != 1 || c.Choices[0].Delta.Role != "assistant" || c.HasContent() || c.Usage != nil {
		t.Fatalf("role chunk: %+v %v", c, err)
	}
	c, _ = p.parse([]byte(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hel\u006co\n"},"finish_reason":null}]}`))
	if *c.Choices[0].Delta.Content != "Hello\n" || !c.HasContent() {
		t.Fatalf("content: %+v", c.Choices[0].Delta)
	}
	c, _ = p.parse([]byte(`{"id":"x","choices":[{"index":0,"delta":{"reasoning_content":"think"}}]}`))
	if !c.HasContent() || *c.Choices[0].Delta.ReasoningContent != "think" {
		t.Fatalf("reasoning: %+v", c.Choices[0].Delta)
	}
	c, _ = p.parse([]byte(`{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}`))
	if !c.HasContent() || c.Choices[0].Delta.ToolCalls[0].ID != "call_1" {
		t.Fatalf("tool call: %+v", c.Choices[0].Delta)
	}
	c, _ = p.parse([]byte(`{"id":"x","choices":[{"index":0,"delta":{},"finish_reason":"stop"},{"index":1,"delta":{"content":"b"},"finish_reason":"length"}]}`))
	if *c.Choices[0].FinishReason != "stop" || *c.Choices[1].FinishReason != "length" || *c.Choices[1].Delta.Content != "b" || c.Choices[1].Index != 1 {
		t.Fatalf("two choices: %+v", c.Choices)
	}
	c, _ = p.parse([]byte(`{"id":"x","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8,"prompt_tokens_details":{"cached_tokens":1}}}`))
	if c.Usage == nil || c.Usage.PromptTokens != 3 || c.Usage.CompletionTokens != 5 || c.Usage.CachedTokens != 1 || len(c.Choices) != 0 {
		t.Fatalf("usage: %+v", c)
	}
	c, _ = p.parse([]byte(`{"id":"x","choices":null,"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`))
	if c.Usage == nil || c.Choices == nil {
		t.Fatalf("vLLM usage chunk: %+v", c)
	}
	if _, err := p.parse([]byte(`{"error":{"message":"overloaded","type":"server_error"}}`)); err == nil {
		t.Fatal("error chunk accepted")
	}
	if _, err := p.parse([]byte(`{"id":`)); err == nil {
		t.Fatal("bad JSON accepted")
	}
	data := []byte(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"x"}}]}`)
	c, _ = p.parse(data)
	data[2] = 'X'
	if !bytes.Equal(c.Raw, []byte(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"x"}}]}`)) {
		t.Fatal("Raw aliases the input")
	}
}

func BenchmarkParseChunk(b *testing.B) {
	data := []byte(`{"id":"chatcmpl-AbCdEf123","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	var p chunkParser
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalChunk is the encoding/json baseline for BenchmarkParseChunk.
func BenchmarkUnmarshalChunk(b *testing.B) {
	data := []byte(`{"id":"chatcmpl-AbCdEf123","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var c domain.ChatChunk
		if err := json.Unmarshal(data, &c); err != nil {
			b.Fatal(err)
		}
		c.Raw = bytes.Clone(data)
	}
}

// TestRegressionPatchBodyAddsTheReservedCap: the bound a limited key
// reserved is added when the request has none, under the kind's member, and
// never overrides the client's own.
func TestRegressionPatchBodyAddsTheReservedCap(t *testing.T) {
	got, err := PatchBody(nil, mustParse(t, `{"model":"a","messages":[{"role":"user","content":"x"}]}`), "up", false, "max_completion_tokens", 512)
	if err != nil || string(got) != `{"model":"up","messages":[{"role":"user","content":"x"}],"max_completion_tokens":512}` {
		t.Fatalf("cap added: %s %v", got, err)
	}
	in := `{"model":"a","max_tokens":7,"messages":[{"role":"user","content":"x"}]}`
	got, err = PatchBody(nil, mustParse(t, in), "up", false, "max_tokens", 512)
	if err != nil || string(got) != `{"model":"up","max_tokens":7,"messages":[{"role":"user","content":"x"}]}` {
		t.Fatalf("client's bound kept: %s %v", got, err)
	}
}
