package responsesapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

func textChunk(s string) *domain.ChatChunk {
	return &domain.ChatChunk{Choices: []domain.ChunkChoice{{Delta: domain.Delta{Content: &s}}}}
}

func reasoningChunk(s string) *domain.ChatChunk {
	return &domain.ChatChunk{Choices: []domain.ChunkChoice{{Delta: domain.Delta{ReasoningContent: &s}}}}
}

func refusalChunk(s string) *domain.ChatChunk {
	return &domain.ChatChunk{Choices: []domain.ChunkChoice{{Delta: domain.Delta{Refusal: &s}}}}
}

func toolChunk(index int, id, name, args string) *domain.ChatChunk {
	return &domain.ChatChunk{Choices: []domain.ChunkChoice{{Delta: domain.Delta{ToolCalls: []domain.ToolCall{
		{Index: new(index), ID: id, Function: domain.FunctionCall{Name: name, Arguments: args}}}}}}}
}

func finishChunk(reason string) *domain.ChatChunk {
	return &domain.ChatChunk{Choices: []domain.ChunkChoice{{FinishReason: &reason}}}
}

func usageChunk(in, out int) *domain.ChatChunk {
	return &domain.ChatChunk{Choices: []domain.ChunkChoice{}, Usage: &domain.Usage{PromptTokens: in, CompletionTokens: out, TotalTokens: in + out}}
}

type sseEvent struct {
	typ  string
	data map[string]any
	raw  string
}

// parseSSE splits frames and checks the framing, the type member and the
// sequence numbers (0, 1, 2, ... across calls when next is shared).
func parseSSE(t testing.TB, b []byte, next *int) []sseEvent {
	t.Helper()
	var out []sseEvent
	s := string(b)
	for s != "" {
		frame, rest, ok := strings.Cut(s, "\n\n")
		if !ok {
			t.Fatalf("unterminated frame %q", s)
		}
		s = rest
		head, data, ok := strings.Cut(frame, "\ndata: ")
		typ, found := strings.CutPrefix(head, "event: ")
		if !ok || !found || strings.Contains(data, "\n") {
			t.Fatalf("bad frame %q", frame)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			t.Fatalf("frame data %q: %v", data, err)
		}
		if m["type"] != typ {
			t.Fatalf("event %q has type %v", typ, m["type"])
		}
		if seq, _ := m["sequence_number"].(float64); int(seq) != *next {
			t.Fatalf("event %q: sequence_number %v, want %d", typ, m["sequence_number"], *next)
		}
		*next++
		out = append(out, sseEvent{typ, m, data})
	}
	return out
}

// runStream feeds chunks and then Finish (or Fail with failErr) and returns
// the events and the encoder.
func runStream(t *testing.T, reqBody string, chunks []*domain.ChatChunk, failErr error) ([]sseEvent, *StreamEncoder) {
	t.Helper()
	enc := NewStreamEncoder(mustDecode(t, reqBody), testOptions())
	var all []sseEvent
	next := 0
	for _, c := range chunks {
		all = append(all, parseSSE(t, enc.Chunk(c), &next)...)
	}
	if failErr != nil {
		all = append(all, parseSSE(t, enc.Fail(failErr), &next)...)
	} else {
		all = append(all, parseSSE(t, enc.Finish(), &next)...)
	}
	if enc.Finish() != nil || enc.Fail(errors.New("x")) != nil || enc.Chunk(textChunk("late")) != nil {
		t.Errorf("the encoder wrote after the end")
	}
	return all, enc
}

func types(evs []sseEvent) string {
	var b []string
	for _, e := range evs {
		b = append(b, strings.TrimPrefix(e.typ, "response."))
	}
	return strings.Join(b, " ")
}

// TestStreamTextGolden checks the exact event sequence of a short answer.
func TestStreamTextGolden(t *testing.T) {
	t.Parallel()
	role := &domain.ChatChunk{Choices: []domain.ChunkChoice{{Delta: domain.Delta{Role: "assistant", Content: new("")}}}}
	evs, enc := runStream(t, `{"model":"m","input":"hi","stream":true}`,
		[]*domain.ChatChunk{role, textChunk("Hel"), textChunk("lo"), finishChunk("stop"), usageChunk(3, 2)}, nil)
	const pending = `{"id":"resp_test","object":"response","created_at":1700000000,"status":"in_progress","error":null,"incomplete_details":null,` + echoDefaults +
		`"output":[],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":true,"temperature":1,` +
		`"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1,"truncation":"disabled","usage":null,"metadata":{}}`
	const final = `{"id":"resp_test","object":"response","created_at":1700000000,"status":"completed","error":null,"incomplete_details":null,` + echoDefaults +
		`"output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello","annotations":[]}]}],` +
		`"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":true,"temperature":1,` +
		`"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1,"truncation":"disabled",` +
		`"usage":{"input_tokens":3,"input_tokens_details":{"cached_tokens":0},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":5},"metadata":{}}`
	want := []string{
		`{"type":"response.created","sequence_number":0,"response":` + pending + `}`,
		`{"type":"response.in_progress","sequence_number":1,"response":` + pending + `}`,
		`{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"type":"message","id":"msg_1","status":"in_progress","role":"assistant","content":[]}}`,
		`{"type":"response.content_part.added","sequence_number":3,"output_index":0,"item_id":"msg_1","content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}`,
		`{"type":"response.output_text.delta","sequence_number":4,"output_index":0,"item_id":"msg_1","content_index":0,"delta":"Hel","logprobs":[]}`,
		`{"type":"response.output_text.delta","sequence_number":5,"output_index":0,"item_id":"msg_1","content_index":0,"delta":"lo","logprobs":[]}`,
		`{"type":"response.output_text.done","sequence_number":6,"output_index":0,"item_id":"msg_1","content_index":0,"text":"Hello","logprobs":[]}`,
		`{"type":"response.content_part.done","sequence_number":7,"output_index":0,"item_id":"msg_1","content_index":0,"part":{"type":"output_text","text":"Hello","annotations":[]}}`,
		`{"type":"response.output_item.done","sequence_number":8,"output_index":0,"item":{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello","annotations":[]}]}}`,
		`{"type":"response.completed","sequence_number":9,"response":` + final + `}`,
	}
	if len(evs) != len(want) {
		t.Fatalf("events: %s", types(evs))
	}
	for i := range want {
		if evs[i].raw != want[i] {
			t.Errorf("event %d\n got %s\nwant %s", i, evs[i].raw, want[i])
		}
	}
	if b, _ := json.Marshal(enc.Response()); string(b) != final {
		t.Errorf("Response()\n got %s\nwant %s", b, final)
	}
}

func TestStreamToolCalls(t *testing.T) {
	t.Parallel()
	// Two tool calls, the arguments split over many chunks, after a bit of text.
	chunks := []*domain.ChatChunk{textChunk("Checking.")}
	chunks = append(chunks, toolChunk(0, "call_a", "weather", ""))
	for _, p := range []string{`{"ci`, `ty":`, `"Par`, `is"}`} {
		chunks = append(chunks, toolChunk(0, "", "", p))
	}
	chunks = append(chunks, toolChunk(1, "call_b", "time", `{"tz"`))
	chunks = append(chunks, toolChunk(1, "", "", `:"CET"}`))
	chunks = append(chunks, finishChunk("tool_calls"), usageChunk(20, 9))
	evs, enc := runStream(t, `{"model":"m","input":"hi","stream":true,"tools":[{"type":"function","name":"weather"},{"type":"function","name":"time"}]}`, chunks, nil)
	want := "created in_progress output_item.added content_part.added output_text.delta " +
		"output_text.done content_part.done output_item.done " +
		"output_item.added function_call_arguments.delta function_call_arguments.delta function_call_arguments.delta function_call_arguments.delta " +
		"output_item.added function_call_arguments.delta function_call_arguments.delta " +
		"function_call_arguments.done output_item.done function_call_arguments.done output_item.done completed"
	if got := types(evs); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	wantItems := []string{
		`{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Checking.","annotations":[]}]}`,
		`{"type":"function_call","id":"fc_2","status":"completed","call_id":"call_a","name":"weather","arguments":"{\"city\":\"Paris\"}"}`,
		`{"type":"function_call","id":"fc_3","status":"completed","call_id":"call_b","name":"time","arguments":"{\"tz\":\"CET\"}"}`,
	}
	resp := enc.Response()
	if len(resp.Output) != len(wantItems) {
		t.Fatalf("output = %+v", resp.Output)
	}
	for i, w := range wantItems {
		if b, _ := json.Marshal(resp.Output[i]); string(b) != w {
			t.Errorf("output[%d]\n got %s\nwant %s", i, b, w)
		}
	}
	added := evs[8].raw
	if want := `{"type":"response.output_item.added","sequence_number":8,"output_index":1,"item":{"type":"function_call","id":"fc_2","status":"in_progress","call_id":"call_a","name":"weather","arguments":""}}`; added != want {
		t.Errorf("added\n got %s\nwant %s", added, want)
	}
	if want := `{"type":"response.function_call_arguments.delta","sequence_number":10,"output_index":1,"item_id":"fc_2","delta":"ty\":"}`; evs[10].raw != want {
		t.Errorf("delta\n got %s\nwant %s", evs[10].raw, want)
	}
	if want := `{"type":"response.function_call_arguments.done","sequence_number":16,"output_index":1,"item_id":"fc_2","arguments":"{\"city\":\"Paris\"}"}`; evs[16].raw != want {
		t.Errorf("done\n got %s\nwant %s", evs[16].raw, want)
	}
	if resp.Status != "completed" || resp.Usage.TotalTokens != 29 {
		t.Errorf("status %s usage %+v", resp.Status, resp.Usage)
	}
}

func TestStreamSequences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chunks []*domain.ChatChunk
		fail   error
		events string
		status string
		output string
	}{
		{
			name:   "reasoning then text",
			chunks: []*domain.ChatChunk{reasoningChunk("Let me"), reasoningChunk(" think"), textChunk("42"), finishChunk("stop")},
			events: "created in_progress output_item.added content_part.added reasoning_text.delta reasoning_text.delta " +
				"reasoning_text.done content_part.done output_item.done " +
				"output_item.added content_part.added output_text.delta output_text.done content_part.done output_item.done completed",
			status: "completed",
			output: `[{"type":"reasoning","id":"rs_1","status":"completed","content":[{"type":"reasoning_text","text":"Let me think"}],"summary":[]},` +
				`{"type":"message","id":"msg_2","status":"completed","role":"assistant","content":[{"type":"output_text","text":"42","annotations":[]}]}]`,
		},
		{
			name:   "max tokens is incomplete",
			chunks: []*domain.ChatChunk{textChunk("Hel"), finishChunk("length"), usageChunk(1, 1)},
			events: "created in_progress output_item.added content_part.added output_text.delta output_text.done content_part.done output_item.done incomplete",
			status: "incomplete",
			output: `[{"type":"message","id":"msg_1","status":"incomplete","role":"assistant","content":[{"type":"output_text","text":"Hel","annotations":[]}]}]`,
		},
		{
			name:   "refusal",
			chunks: []*domain.ChatChunk{refusalChunk("No"), refusalChunk("."), finishChunk("stop")},
			events: "created in_progress output_item.added content_part.added refusal.delta refusal.delta refusal.done content_part.done output_item.done completed",
			status: "completed",
			output: `[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"refusal","refusal":"No."}]}]`,
		},
		{
			name:   "empty stream",
			events: "created in_progress completed",
			status: "completed",
			output: `[]`,
		},
		{
			name:   "failure mid-stream",
			chunks: []*domain.ChatChunk{textChunk("Hel"), toolChunk(0, "call_1", "f", `{"a"`)},
			fail:   &domain.UpstreamError{Class: domain.ClassAmbiguous, Status: 500, Message: "boom"},
			events: "created in_progress output_item.added content_part.added output_text.delta output_text.done content_part.done output_item.done " +
				"output_item.added function_call_arguments.delta error failed",
			status: "failed",
			output: `[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hel","annotations":[]}]},` +
				`{"type":"function_call","id":"fc_2","status":"incomplete","call_id":"call_1","name":"f","arguments":"{\"a\""}]`,
		},
		{
			name:   "failure with an open message",
			chunks: []*domain.ChatChunk{textChunk("Hel")},
			fail:   &domain.UpstreamError{Class: domain.ClassRateLimited, Status: 429, Message: "slow down"},
			events: "created in_progress output_item.added content_part.added output_text.delta error failed",
			status: "failed",
			output: `[{"type":"message","id":"msg_1","status":"incomplete","role":"assistant","content":[{"type":"output_text","text":"Hel","annotations":[]}]}]`,
		},
		{
			name:   "failure before any chunk",
			fail:   errors.New("internal detail"),
			events: "created in_progress error failed",
			status: "failed",
			output: `[]`,
		},
		{
			name: "raw-only chunk, other choices and a tool call without id or index",
			chunks: []*domain.ChatChunk{
				{Raw: []byte(`{"choices":[{"index":0,"delta":{"content":"A"}}]}`)},
				{Choices: []domain.ChunkChoice{{Index: 1, Delta: domain.Delta{Content: new("ignored")}}}},
				{Choices: []domain.ChunkChoice{{Delta: domain.Delta{ToolCalls: []domain.ToolCall{{Function: domain.FunctionCall{Arguments: "{}"}}}}}}},
				{Choices: []domain.ChunkChoice{{Delta: domain.Delta{ToolCalls: []domain.ToolCall{{Function: domain.FunctionCall{Name: "late"}}}}}}},
			},
			events: "created in_progress output_item.added content_part.added output_text.delta output_text.done content_part.done output_item.done " +
				"output_item.added function_call_arguments.delta function_call_arguments.done output_item.done completed",
			status: "completed",
			output: `[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"A","annotations":[]}]},` +
				`{"type":"function_call","id":"fc_3","status":"completed","call_id":"call_2","name":"late","arguments":"{}"}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			evs, enc := runStream(t, `{"model":"m","input":"hi","stream":true}`, tt.chunks, tt.fail)
			if got := types(evs); got != tt.events {
				t.Errorf("events\n got %s\nwant %s", got, tt.events)
			}
			resp := enc.Response()
			if resp.Status != tt.status {
				t.Errorf("status = %s", resp.Status)
			}
			if b, _ := json.Marshal(resp.Output); string(b) != tt.output {
				t.Errorf("output\n got %s\nwant %s", b, tt.output)
			}
			last := evs[len(evs)-1].data["response"].(map[string]any)
			if last["status"] != tt.status || last["usage"] == nil {
				t.Errorf("last event response: status %v usage %v", last["status"], last["usage"])
			}
		})
	}
}

func TestStreamFailureEvents(t *testing.T) {
	t.Parallel()
	evs, _ := runStream(t, `{"model":"m","input":"hi","stream":true}`, nil,
		&domain.UpstreamError{Class: domain.ClassRateLimited, Status: 429, Message: "slow down", Provider: "p"})
	if want := `{"type":"error","sequence_number":2,"code":"rate_limit_exceeded","message":"p: upstream returned 429: slow down","param":null}`; evs[2].raw != want {
		t.Errorf("error event\n got %s\nwant %s", evs[2].raw, want)
	}
	errObj := evs[3].data["response"].(map[string]any)["error"]
	if b, _ := json.Marshal(errObj); string(b) != `{"code":"rate_limit_exceeded","message":"p: upstream returned 429: slow down"}` {
		t.Errorf("response.error = %s", b)
	}
	evs, _ = runStream(t, `{"model":"m","input":"hi","stream":true}`, nil, errors.New("secret detail"))
	if evs[2].data["code"] != "server_error" || evs[2].data["message"] != "internal error" {
		t.Errorf("internal error event = %s", evs[2].raw)
	}
}
