package anthropicapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

func chunk(d domain.Delta) *domain.ChatChunk {
	return &domain.ChatChunk{ID: "chatcmpl-1", Model: "gpt", Choices: []domain.ChunkChoice{{Delta: d}}}
}

func textChunk(s string) *domain.ChatChunk      { return chunk(domain.Delta{Content: new(s)}) }
func reasoningChunk(s string) *domain.ChatChunk { return chunk(domain.Delta{ReasoningContent: new(s)}) }
func roleChunk() *domain.ChatChunk              { return chunk(domain.Delta{Role: "assistant", Content: new("")}) }

func toolChunk(idx int, id, name, args string) *domain.ChatChunk {
	return chunk(domain.Delta{ToolCalls: []domain.ToolCall{{Index: new(idx), ID: id, Function: domain.FunctionCall{Name: name, Arguments: args}}}})
}

func finishChunk(reason string) *domain.ChatChunk {
	c := chunk(domain.Delta{})
	c.Choices[0].FinishReason = new(reason)
	return c
}

func usageChunk(prompt, completion, cached int) *domain.ChatChunk {
	return &domain.ChatChunk{ID: "chatcmpl-1", Choices: []domain.ChunkChoice{}, Usage: &domain.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion, CachedTokens: cached}}
}

// encode feeds chunks and then Finish, returning everything written.
func encode(req *Request, chunks ...*domain.ChatChunk) string {
	e := NewStreamEncoder(req)
	var b strings.Builder
	for _, c := range chunks {
		b.Write(e.Chunk(c))
	}
	b.Write(e.Finish())
	return b.String()
}

func ev(name, data string) string { return "event: " + name + "\ndata: " + data + "\n\n" }

const start = `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}`

func TestStreamEncoder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stops  []string
		chunks []*domain.ChatChunk
		want   []string
	}{
		{
			name:   "text then usage",
			chunks: []*domain.ChatChunk{roleChunk(), textChunk("Hel"), textChunk("lo\n"), finishChunk("stop"), usageChunk(12, 3, 2)},
			want: []string{
				ev("message_start", start),
				ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
				ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}`),
				ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo\n"}}`),
				ev("content_block_stop", `{"type":"content_block_stop","index":0}`),
				ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":2,"output_tokens":3}}`),
				ev("message_stop", `{"type":"message_stop"}`),
			},
		},
		{
			name: "thinking, text and two tool calls with arguments over many chunks",
			chunks: []*domain.ChatChunk{roleChunk(), reasoningChunk("Let me"), reasoningChunk(" think"), textChunk("Sure."),
				toolChunk(0, "call_a", "get_weather", ""), toolChunk(0, "", "", `{"ci`), toolChunk(0, "", "", `ty":`), toolChunk(0, "", "", `"Paris"}`),
				toolChunk(1, "call_b", "get_time", `{"tz":`), toolChunk(1, "", "", `"CET"}`),
				finishChunk("tool_calls"), usageChunk(50, 20, 0)},
			want: []string{
				ev("message_start", start),
				ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`),
				ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me"}}`),
				ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":" think"}}`),
				ev("content_block_stop", `{"type":"content_block_stop","index":0}`),
				ev("content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}`),
				ev("content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Sure."}}`),
				ev("content_block_stop", `{"type":"content_block_stop","index":1}`),
				ev("content_block_start", `{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_a","name":"get_weather","input":{}}}`),
				ev("content_block_delta", `{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"ci"}}`),
				ev("content_block_delta", `{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ty\":"}}`),
				ev("content_block_delta", `{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}`),
				ev("content_block_stop", `{"type":"content_block_stop","index":2}`),
				ev("content_block_start", `{"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"call_b","name":"get_time","input":{}}}`),
				ev("content_block_delta", `{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"tz\":"}}`),
				ev("content_block_delta", `{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"\"CET\"}"}}`),
				ev("content_block_stop", `{"type":"content_block_stop","index":3}`),
				ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":50,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":20}}`),
				ev("message_stop", `{"type":"message_stop"}`),
			},
		},
		{
			name:   "length without usage, ended by Finish",
			chunks: []*domain.ChatChunk{textChunk("a"), finishChunk("length")},
			want: []string{
				ev("message_start", start),
				ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
				ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}`),
				ev("content_block_stop", `{"type":"content_block_stop","index":0}`),
				ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":0}}`),
				ev("message_stop", `{"type":"message_stop"}`),
			},
		},
		{
			name: "content filter with usage in the finish chunk",
			chunks: []*domain.ChatChunk{func() *domain.ChatChunk {
				c := finishChunk("content_filter")
				c.Usage = &domain.Usage{PromptTokens: 4, CompletionTokens: 0}
				return c
			}()},
			want: []string{
				ev("message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":4,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}`),
				ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"refusal","stop_sequence":null},"usage":{"input_tokens":4,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`),
				ev("message_stop", `{"type":"message_stop"}`),
			},
		},
		{
			name:  "matched stop sequence from the chunk's raw stop_reason",
			stops: []string{"###"},
			chunks: []*domain.ChatChunk{textChunk("x"), func() *domain.ChatChunk {
				c := finishChunk("stop")
				c.Raw = []byte(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{},"finish_reason":"stop","stop_reason":"###"}]}`)
				return c
			}(), usageChunk(1, 1, 0)},
			want: []string{
				ev("message_start", start),
				ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
				ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}`),
				ev("content_block_stop", `{"type":"content_block_stop","index":0}`),
				ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"###"},"usage":{"input_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}`),
				ev("message_stop", `{"type":"message_stop"}`),
			},
		},
		{
			name:   "ended without finish reason",
			chunks: []*domain.ChatChunk{textChunk("par")},
			want: []string{
				ev("message_start", start),
				ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
				ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"par"}}`),
				ev("error", `{"type":"error","error":{"type":"api_error","message":"the upstream stream ended before the message was complete"}}`),
			},
		},
		{
			name:   "chunks after the end are ignored",
			chunks: []*domain.ChatChunk{finishChunk("stop"), usageChunk(1, 0, 0), textChunk("late")},
			want: []string{
				ev("message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}`),
				ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`),
				ev("message_stop", `{"type":"message_stop"}`),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := encode(testReq(tt.stops...), tt.chunks...)
			if want := strings.Join(tt.want, ""); got != want {
				t.Errorf("\n got %s\nwant %s", got, want)
			}
			if err := checkEvents(got); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestStreamEncoderFail(t *testing.T) {
	t.Parallel()
	e := NewStreamEncoder(testReq())
	e.Chunk(toolChunk(0, "c", "f", `{"a"`))
	got := string(e.Fail(529, "Overloaded"))
	if want := ev("error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`); got != want {
		t.Errorf("got %q", got)
	}
	if b := e.Finish(); len(b) != 0 {
		t.Errorf("Finish after Fail wrote %q", b)
	}
	if b := e.Chunk(textChunk("x")); len(b) != 0 {
		t.Errorf("Chunk after Fail wrote %q", b)
	}
	if got := string(e.Ping()); got != ev("ping", `{"type":"ping"}`) {
		t.Errorf("ping %q", got)
	}
}

func TestStreamEncoderInterleavedTools(t *testing.T) {
	t.Parallel()
	// Some upstreams start every call first and send arguments later.
	got := encode(testReq(), toolChunk(0, "a", "f", ""), toolChunk(1, "b", "g", ""), toolChunk(0, "", "", `{}`), toolChunk(1, "", "", `{"x":1}`), finishChunk("tool_calls"))
	if err := checkEvents(got); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}`, `"index":1,"delta":{"type":"input_json_delta","partial_json":"{\"x\":1}"}`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
}

func TestStreamEncoderTextAllocs(t *testing.T) {
	e := NewStreamEncoder(testReq())
	e.Chunk(roleChunk())
	c := textChunk("some token")
	e.Chunk(c)
	if n := testing.AllocsPerRun(100, func() { e.Chunk(c) }); n != 0 {
		t.Errorf("%v allocations per text delta", n)
	}
}

// checkEvents parses SSE output and checks Anthropic's event grammar:
// message_start first; blocks started with consecutive indexes, one open at a
// time, deltas matching their block's type and only to started blocks
// (input_json_delta may reach an earlier tool block), every block stopped;
// then message_delta and message_stop last, or an error event last.
func checkEvents(s string) error {
	if s == "" {
		return fmt.Errorf("no events")
	}
	if !strings.HasSuffix(s, "\n\n") {
		return fmt.Errorf("output does not end with a blank line")
	}
	var kinds []string
	open := -1
	var delta, stop bool
	for i, raw := range strings.Split(strings.TrimSuffix(s, "\n\n"), "\n\n") {
		name, data, ok := strings.Cut(raw, "\n")
		if !ok || !strings.HasPrefix(name, "event: ") || !strings.HasPrefix(data, "data: ") || strings.Contains(data, "\n") {
			return fmt.Errorf("event %d is malformed: %q", i, raw)
		}
		name = strings.TrimPrefix(name, "event: ")
		var e struct {
			Type         string `json:"type"`
			Index        *int   `json:"index"`
			ContentBlock *struct {
				Type string `json:"type"`
			} `json:"content_block"`
			Delta *struct {
				Type       string `json:"type"`
				StopReason string `json:"stop_reason"`
			} `json:"delta"`
		}
		d := []byte(strings.TrimPrefix(data, "data: "))
		if !json.Valid(d) || json.Unmarshal(d, &e) != nil || e.Type != name {
			return fmt.Errorf("event %d: bad data %s", i, d)
		}
		if stop {
			return fmt.Errorf("event %d after the end", i)
		}
		if i == 0 && name != "message_start" && name != "error" {
			return fmt.Errorf("first event is %s", name)
		}
		switch name {
		case "message_start":
			if i != 0 {
				return fmt.Errorf("message_start at %d", i)
			}
		case "content_block_start":
			if open >= 0 || delta || e.Index == nil || *e.Index != len(kinds) || e.ContentBlock == nil {
				return fmt.Errorf("event %d: bad content_block_start %s", i, d)
			}
			kinds = append(kinds, e.ContentBlock.Type)
			open = *e.Index
		case "content_block_delta":
			if e.Index == nil || *e.Index >= len(kinds) || e.Delta == nil || delta {
				return fmt.Errorf("event %d: bad content_block_delta %s", i, d)
			}
			want := map[string]string{"text": "text_delta", "thinking": "thinking_delta", "tool_use": "input_json_delta"}[kinds[*e.Index]]
			if e.Delta.Type != want || (*e.Index != open && want != "input_json_delta") {
				return fmt.Errorf("event %d: %s delta for a %s block (open %d)", i, e.Delta.Type, kinds[*e.Index], open)
			}
		case "content_block_stop":
			if e.Index == nil || *e.Index != open {
				return fmt.Errorf("event %d: stop of a block that is not open", i)
			}
			open = -1
		case "message_delta":
			if open >= 0 || delta || e.Delta == nil || e.Delta.StopReason == "" {
				return fmt.Errorf("event %d: bad message_delta %s", i, d)
			}
			delta = true
		case "message_stop":
			if !delta {
				return fmt.Errorf("message_stop without message_delta")
			}
			stop = true
		case "error":
			stop = true
		case "ping":
		default:
			return fmt.Errorf("unknown event %s", name)
		}
	}
	if !stop {
		return fmt.Errorf("stream does not end with message_stop or error")
	}
	return nil
}

func TestCheckEventsRejects(t *testing.T) {
	t.Parallel()
	bad := []string{
		ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text"}}`),
		ev("message_start", start) + ev("content_block_stop", `{"type":"content_block_stop","index":0}`),
		ev("message_start", start) + ev("message_stop", `{"type":"message_stop"}`),
	}
	for _, s := range bad {
		if checkEvents(s) == nil {
			t.Errorf("accepted %q", s)
		}
	}
}

func TestStreamEncoderToolIndexes(t *testing.T) {
	t.Parallel()
	noIndex := func(id, name, args string) *domain.ChatChunk {
		return chunk(domain.Delta{ToolCalls: []domain.ToolCall{{ID: id, Function: domain.FunctionCall{Name: name, Arguments: args}}}})
	}
	tests := []struct {
		name   string
		chunks []*domain.ChatChunk
		starts int
	}{
		{"every call at index 0 with its own id", []*domain.ChatChunk{toolChunk(0, "a", "f", `{"x":`), toolChunk(0, "", "", `1}`), toolChunk(0, "b", "g", `{}`)}, 2},
		{"no index, whole calls", []*domain.ChatChunk{noIndex("a", "f", `{}`), noIndex("b", "g", `{}`)}, 2},
		{"two calls in one chunk", []*domain.ChatChunk{chunk(domain.Delta{ToolCalls: []domain.ToolCall{
			{Index: new(0), ID: "a", Function: domain.FunctionCall{Name: "f", Arguments: "{}"}},
			{Index: new(1), ID: "b", Function: domain.FunctionCall{Name: "g", Arguments: "{}"}}}})}, 2},
		{"repeated id is the same call", []*domain.ChatChunk{toolChunk(0, "a", "f", `{`), toolChunk(0, "a", "", `}`)}, 1},
	}
	for _, tt := range tests {
		got := encode(testReq(), append(tt.chunks, finishChunk("tool_calls"))...)
		if err := checkEvents(got); err != nil {
			t.Errorf("%s: %v\n%s", tt.name, err, got)
		}
		if n := strings.Count(got, `"type":"tool_use"`); n != tt.starts {
			t.Errorf("%s: %d tool_use blocks, want %d\n%s", tt.name, n, tt.starts, got)
		}
	}
}
