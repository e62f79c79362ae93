package providertest

import (
	"bytes"
	"context"
	"encoding/json"

	"io"

	"reflect"

	"testing"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// streamed is what a stream assembles to.
type streamed struct {
	chunks    []*domain.ChatChunk
	text      string
	reasoning string
	calls     map[int]*domain.ToolCall
	finish    []string
	usage     *domain.Usage
	err       error
}

// cloneChunk deep-copies what a chunk may share with the stream's buffers.
func cloneChunk(ch *domain.ChatChunk) *domain.ChatChunk {
	c := *ch
	c.Raw = bytes.Clone(ch.Raw)
	c.Choices = append([]domain.ChunkChoice(nil), ch.Choices...)
	str := func(p *string) *string {
		if p == nil {
			return nil
		}
		s := *p
		return &s
	}
	for i := range c.Choices {
		cc := &c.Choices[i]
		cc.FinishReason = str(cc.FinishReason)
		cc.Logprobs = bytes.Clone(cc.Logprobs)
		d := &cc.Delta
		d.Content, d.ReasoningContent, d.Refusal = str(d.Content), str(d.ReasoningContent), str(d.Refusal)
		d.ToolCalls = append([]domain.ToolCall(nil), d.ToolCalls...)
	}
	if ch.Usage != nil {
		u := *ch.Usage
		c.Usage = &u
	}
	return &c
}

func collect(t *testing.T, st ports.ChatStream) streamed {
	t.Helper()
	out := streamed{calls: map[int]*domain.ToolCall{}}
	for {
		ch, err := st.Next()
		if err != nil {
			out.err = err
			return out
		}
		checkChunkRaw(t, ch)
		// A chunk is valid until the next call to Next: keep a copy.
		ch = cloneChunk(ch)
		out.chunks = append(out.chunks, ch)
		if ch.Usage != nil {
			out.usage = ch.Usage
		}
		for _, c := range ch.Choices {
			d := c.Delta
			if d.Content != nil {
				out.text += *d.Content
			}
			if d.ReasoningContent != nil {
				out.reasoning += *d.ReasoningContent
			}
			for _, tc := range d.ToolCalls {
				if tc.Index == nil {
					t.Fatalf("tool call delta without index: %s", ch.Raw)
				}
				acc := out.calls[*tc.Index]
				if acc == nil {
					acc = &domain.ToolCall{}
					out.calls[*tc.Index] = acc
				}
				if tc.ID != "" {
					acc.ID = tc.ID
				}
				if tc.Function.Name != "" {
					acc.Function.Name = tc.Function.Name
				}
				acc.Function.Arguments += tc.Function.Arguments
			}
			if c.FinishReason != nil {
				out.finish = append(out.finish, *c.FinishReason)
			}
		}
	}
}

// checkChunkRaw checks that a chunk's Raw is an OpenAI chunk that says what
// its typed fields say.
func checkChunkRaw(t *testing.T, ch *domain.ChatChunk) {
	t.Helper()
	var c domain.ChatChunk
	if err := json.Unmarshal(ch.Raw, &c); err != nil {
		t.Fatalf("chunk Raw is not JSON: %v: %s", err, ch.Raw)
	}
	if c.ID != ch.ID || c.Model != ch.Model || c.Object != "chat.completion.chunk" || len(c.Choices) != len(ch.Choices) || (c.Usage == nil) != (ch.Usage == nil) {
		t.Fatalf("chunk Raw %s does not match %+v", ch.Raw, ch)
	}
	for i := range c.Choices {
		a, b := c.Choices[i].Delta, ch.Choices[i].Delta
		if deref(a.Content) != deref(b.Content) || deref(a.ReasoningContent) != deref(b.ReasoningContent) || len(a.ToolCalls) != len(b.ToolCalls) || deref(c.Choices[i].FinishReason) != deref(ch.Choices[i].FinishReason) {
			t.Fatalf("chunk Raw %s does not match delta %+v", ch.Raw, b)
		}
	}
	if c.Usage != nil && (c.Usage.PromptTokens != ch.Usage.PromptTokens || c.Usage.CompletionTokens != ch.Usage.CompletionTokens) {
		t.Fatalf("chunk Raw usage %s does not match %+v", ch.Raw, ch.Usage)
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func (e *env) stream(req *domain.ChatRequest) streamed {
	e.t.Helper()
	st, err := e.c.ChatStream(context.Background(), e.tgt, req)
	if err != nil {
		e.t.Fatalf("ChatStream: %v", err)
	}
	defer st.Close()
	out := collect(e.t, st)
	if out.err != io.EOF {
		e.t.Fatalf("stream ended with %v, want io.EOF", out.err)
	}
	if _, err := st.Next(); err != io.EOF {
		e.t.Fatalf("Next after the end: %v", err)
	}
	if len(out.chunks) == 0 || out.chunks[0].Choices[0].Delta.Role != "assistant" {
		e.t.Fatalf("first chunk is not the assistant role: %s", out.chunks[0].Raw)
	}
	last := out.chunks[len(out.chunks)-1]
	if last.Usage == nil || len(last.Choices) != 0 {
		e.t.Fatalf("last chunk is not a usage chunk: %s", last.Raw)
	}
	return out
}

func (s Subject) testStreamText(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{Reply: textReply})
	out := e.stream(parse(t, textRequest, true))
	if out.text != textReply.Text || !reflect.DeepEqual(out.finish, []string{"stop"}) {
		t.Fatalf("text %q finish %v", out.text, out.finish)
	}
	if out.usage.PromptTokens != 11 || out.usage.CompletionTokens != 7 || out.usage.TotalTokens != 18 {
		t.Fatalf("usage %+v", out.usage)
	}
	// The router asks for usage even when the client did not.
	e.checkRequest(e.u.LastRequest(t), textRequest, true)
}

func (s Subject) testStreamToolCall(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	two := toolReply
	two.Reasoning = "The user wants weather."
	two.ToolCalls = append(two.ToolCalls, ToolCall{ID: "call_def456", Name: "get_weather", Arguments: `{"city":"Lyon"}`})
	if s.Wire == WireOpenAI {
		two.Reasoning = "" // OpenAI does not stream reasoning
	}
	e.u.Respond(Behavior{Reply: two})
	out := e.stream(parse(t, toolRequest, true))
	if len(out.calls) != 2 || !reflect.DeepEqual(out.finish, []string{"tool_calls"}) {
		t.Fatalf("calls %v finish %v", out.calls, out.finish)
	}
	for i, want := range two.ToolCalls {
		got := out.calls[i]
		if got == nil || got.ID != want.ID || got.Function.Name != want.Name || !sameJSON(got.Function.Arguments, want.Arguments) {
			t.Fatalf("call %d: %+v, want %+v", i, got, want)
		}
	}
	if out.reasoning != two.Reasoning {
		t.Fatalf("reasoning %q, want %q", out.reasoning, two.Reasoning)
	}
	// Time to first token: the first chunk with content is a tool call or
	// reasoning, not the role chunk (Ark has no separate role chunk).
	if s.Wire != WireArk && out.chunks[0].HasContent() {
		t.Fatalf("role chunk counts as content: %s", out.chunks[0].Raw)
	}
}

// readier is what a stream offers the HTTP layer to flush in batches.
type readier interface{ Ready() bool }

// testStreamReady checks Ready: false while the upstream sends nothing
// (Next would wait), true once the stream has ended (Next returns at once).
func (s Subject) testStreamReady(t *testing.T) {
	t.Parallel()
	e := s.setup(t, NormalTimeouts)
	e.u.Respond(Behavior{StallAfter: -1})
	st, err := e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	r, ok := st.(readier)
	if !ok {
		t.Fatalf("%T has no Ready method", st)
	}
	if r.Ready() {
		t.Fatal("Ready before the upstream sent any event")
	}
	st.Close()
	e.u.Respond(Behavior{Reply: textReply})
	st, err = e.c.ChatStream(context.Background(), e.tgt, parse(t, textRequest, true))
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	defer st.Close()
	if out := collect(t, st); out.err != io.EOF {
		t.Fatalf("stream ended with %v, want io.EOF", out.err)
	}
	if !st.(readier).Ready() {
		t.Fatal("not Ready after the end of the stream")
	}
}
