package responsesapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

// Seed corpora are in testdata/fuzz/<target>/.

// FuzzDecodeRequest: any body either fails with an invalid-input error or
// becomes a chat request the rest of the pipeline accepts, a response that
// marshals, and a stored form that survives JSON.
func FuzzDecodeRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeRequest(body)
		if err != nil {
			checkInvalid(t, err)
			return
		}
		chat, err := req.ChatRequest()
		if err != nil {
			checkInvalid(t, err)
			return
		}
		parsed, err := domain.ParseChatRequest(chat.Raw)
		if err != nil {
			t.Fatalf("ParseChatRequest(%s): %v", chat.Raw, err)
		}
		if parsed.Model != req.Model || parsed.Stream != req.Stream || parsed.MaxTokens != chat.MaxTokens || parsed.IncludeUsage != req.Stream {
			t.Fatalf("routing fields %+v vs %+v", parsed, chat)
		}
		if _, err := chat.Params(); err != nil {
			t.Fatalf("Params(%s): %v", chat.Raw, err)
		}
		resp, err := NewResponse(req, &domain.ChatResponse{Choices: []domain.Choice{{Message: domain.Message{Content: domain.TextContent("x")}}}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(NewStored(req, resp))
		if err != nil {
			t.Fatalf("marshal stored: %v", err)
		}
		var back Stored
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal stored %s: %v", b, err)
		}
		b2, err := json.Marshal(&back)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("stored round trip\n%s\n%s (%v)", b, b2, err)
		}
	})
}

func checkInvalid(t *testing.T, err error) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeInvalid {
		t.Fatalf("error %v (%T) is not an invalid-input *domain.Error", err, err)
	}
}

// FuzzNewResponse: any completion body either is refused as an upstream
// error or becomes a response that marshals and reads back.
func FuzzNewResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		req := &Request{Model: "m", Input: []Item{{Type: TypeMessage, Role: "user", Content: []Part{{Type: "input_text", Text: "x"}}}}}
		resp, err := NewResponse(req, &domain.ChatResponse{Raw: raw}, Options{})
		if err != nil {
			if domain.ErrorCode(err) != domain.CodeUpstream {
				t.Fatalf("error %v", err)
			}
			return
		}
		b, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		var back Response
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if len(resp.Output) == 0 || resp.Usage == nil {
			t.Fatalf("response without output or usage: %s", b)
		}
	})
}

// FuzzStreamEncoder: each line of the input is one chunk (JSON, or an
// undecodable Raw-only chunk); the encoder then finishes, or fails when the
// input starts with '!'. Every frame must be well formed and numbered, every
// item added must be done (when finished), and the last event must be
// terminal with the response the encoder returns.
func FuzzStreamEncoder(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		enc := NewStreamEncoder(&Request{Model: "m"}, Options{})
		next := 0
		var evs []sseEvent
		fail := bytes.HasPrefix(data, []byte("!"))
		for line := range bytes.SplitSeq(bytes.TrimPrefix(data, []byte("!")), []byte("\n")) {
			var c domain.ChatChunk
			if json.Unmarshal(line, &c) != nil {
				c = domain.ChatChunk{Raw: line}
			}
			evs = append(evs, parseSSE(t, enc.Chunk(&c), &next)...)
		}
		if fail {
			evs = append(evs, parseSSE(t, enc.Fail(errors.New("x")), &next)...)
		} else {
			evs = append(evs, parseSSE(t, enc.Finish(), &next)...)
		}
		last := evs[len(evs)-1]
		switch last.typ {
		case "response.completed", "response.incomplete", "response.failed":
		default:
			t.Fatalf("last event %s", last.typ)
		}
		final, err := json.Marshal(enc.Response())
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(last.data["response"])
		var want map[string]any
		_ = json.Unmarshal(final, &want)
		w, _ := json.Marshal(want)
		if !bytes.Equal(got, w) {
			t.Fatalf("terminal event response differs from Response()")
		}
		open := map[string]int{}
		args := map[string]*strings.Builder{}
		for _, e := range evs {
			switch e.typ {
			case "response.output_item.added":
				id := e.data["item"].(map[string]any)["id"].(string)
				open[id]++
				args[id] = &strings.Builder{}
			case "response.output_item.done":
				id := e.data["item"].(map[string]any)["id"].(string)
				open[id]--
			case "response.function_call_arguments.delta":
				args[e.data["item_id"].(string)].WriteString(e.data["delta"].(string))
			}
		}
		for id, n := range open {
			if n != 0 && !(fail && n == 1) {
				t.Fatalf("item %s added/done balance %d", id, n)
			}
		}
		for _, it := range enc.Response().Output {
			if it.Type == TypeFunctionCall && args[it.ID].String() != it.Arguments {
				t.Fatalf("arguments %q, deltas %q", it.Arguments, args[it.ID].String())
			}
		}
	})
}

// FuzzStored: a stored value that decodes re-encodes stably, and its
// history converts to chat messages or fails with an invalid-input error.
func FuzzStored(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Stored
		if json.Unmarshal(data, &s) != nil {
			return
		}
		b, err := json.Marshal(&s)
		if err != nil {
			t.Fatal(err)
		}
		var back Stored
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		b2, _ := json.Marshal(&back)
		if !bytes.Equal(b, b2) {
			t.Fatalf("round trip\n%s\n%s", b, b2)
		}
		items := History(&s, []Item{{Type: TypeMessage, Role: "user", Content: []Part{{Type: "input_text", Text: "next"}}}})
		req := &Request{Model: "m", Input: items}
		if _, err := req.ChatRequest(); err != nil {
			checkInvalid(t, err)
		}
	})
}
