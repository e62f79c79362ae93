package responsesapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/airouter/airouter/adapters/httpapi/responsesapi"
	"github.com/airouter/airouter/core/domain"
)

// fakeFrontDoor is a minimal /v1/responses handler wired as the package
// documentation says, over a fake chat upstream: it calls a tool when the
// conversation ends with a user message and answers in text after a tool
// result.
type fakeFrontDoor struct {
	t      *testing.T
	mu     sync.Mutex
	stored map[string][]byte // id → Stored JSON
	chats  []string          // the chat bodies sent "upstream"
}

func (f *fakeFrontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := responsesapi.DecodeRequest(body)
	if err != nil {
		http.Error(w, `{"error":{"message":"`+err.Error()+`","type":"invalid_request_error"}}`, 400)
		return
	}
	if req.PreviousResponseID != "" {
		f.mu.Lock()
		raw, ok := f.stored[req.PreviousResponseID]
		f.mu.Unlock()
		if !ok {
			http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, 404)
			return
		}
		var prev responsesapi.Stored
		if err := json.Unmarshal(raw, &prev); err != nil {
			f.t.Errorf("stored: %v", err)
		}
		req.Input = responsesapi.History(&prev, req.Input)
	}
	chat, err := req.ChatRequest()
	if err != nil {
		http.Error(w, `{"error":{"message":"`+err.Error()+`","type":"invalid_request_error"}}`, 400)
		return
	}
	f.mu.Lock()
	f.chats = append(f.chats, string(chat.Raw))
	f.mu.Unlock()
	p, err := chat.Params()
	if err != nil {
		f.t.Fatal(err)
	}
	toolTurn := p.Messages[len(p.Messages)-1].Role == "user"
	usage := &domain.Usage{PromptTokens: 11, CompletionTokens: 7, TotalTokens: 18}
	var resp *responsesapi.Response
	if !req.Stream {
		msg := domain.Message{Role: "assistant", Content: domain.TextContent("It is sunny.")}
		finish := "stop"
		if toolTurn {
			msg = domain.Message{Role: "assistant", ToolCalls: []domain.ToolCall{{ID: "call_1", Type: "function",
				Function: domain.FunctionCall{Name: "weather", Arguments: `{"city":"Paris"}`}}}}
			finish = "tool_calls"
		}
		resp, err = responsesapi.NewResponse(req, &domain.ChatResponse{Choices: []domain.Choice{{Message: msg, FinishReason: finish}}, Usage: usage}, responsesapi.Options{})
		if err != nil {
			f.t.Fatal(err)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	} else {
		w.Header().Set("Content-Type", "text/event-stream")
		enc := responsesapi.NewStreamEncoder(req, responsesapi.Options{})
		var chunks []*domain.ChatChunk
		delta := func(d domain.Delta) *domain.ChatChunk {
			return &domain.ChatChunk{Choices: []domain.ChunkChoice{{Delta: d}}}
		}
		if toolTurn {
			chunks = append(chunks, delta(domain.Delta{ToolCalls: []domain.ToolCall{{Index: new(0), ID: "call_1", Type: "function", Function: domain.FunctionCall{Name: "weather"}}}}))
			for _, a := range []string{`{"ci`, `ty":"Pa`, `ris"}`} {
				chunks = append(chunks, delta(domain.Delta{ToolCalls: []domain.ToolCall{{Index: new(0), Function: domain.FunctionCall{Arguments: a}}}}))
			}
			chunks = append(chunks, &domain.ChatChunk{Choices: []domain.ChunkChoice{{FinishReason: new("tool_calls")}}})
		} else {
			for _, s := range []string{"It is ", "sunny."} {
				chunks = append(chunks, delta(domain.Delta{Content: new(s)}))
			}
			chunks = append(chunks, &domain.ChatChunk{Choices: []domain.ChunkChoice{{FinishReason: new("stop")}}})
		}
		chunks = append(chunks, &domain.ChatChunk{Choices: []domain.ChunkChoice{}, Usage: usage})
		for _, c := range chunks {
			_, _ = w.Write(enc.Chunk(c))
		}
		_, _ = w.Write(enc.Finish())
		resp = enc.Response()
	}
	if req.StoreEnabled() {
		b, err := json.Marshal(responsesapi.NewStored(req, resp))
		if err != nil {
			f.t.Fatal(err)
		}
		f.mu.Lock()
		f.stored[resp.ID] = b
		f.mu.Unlock()
	}
}

// TestOpenAIGoSDK runs the official SDK against the codec: create, a tool
// loop continued by previous_response_id, streaming with tool-call argument
// deltas, and the SDK's own decoding of every event.
func TestOpenAIGoSDK(t *testing.T) {
	t.Parallel()
	fd := &fakeFrontDoor{t: t, stored: map[string][]byte{}}
	srv := httptest.NewServer(fd)
	t.Cleanup(srv.Close)
	client := openai.NewClient(option.WithAPIKey("k"), option.WithBaseURL(srv.URL+"/v1"), option.WithMaxRetries(0))
	ctx := context.Background()
	tools := []responses.ToolUnionParam{responses.ToolParamOfFunction("weather", map[string]any{
		"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"},
		"additionalProperties": false}, true)}

	for _, stream := range []bool{false, true} {
		params := responses.ResponseNewParams{
			Model:        "m",
			Instructions: openai.String("Be brief."),
			Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather in Paris?")},
			Tools:        tools,
		}
		var first *responses.Response
		if !stream {
			r, err := client.Responses.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			first = r
		} else {
			first = collect(t, client.Responses.NewStreaming(ctx, params), `{"city":"Paris"}`, "")
		}
		if len(first.Output) != 1 {
			t.Fatalf("stream=%v: output = %s", stream, first.RawJSON())
		}
		call := first.Output[0].AsFunctionCall()
		if call.CallID != "call_1" || call.Name != "weather" || call.Arguments != `{"city":"Paris"}` || first.Status != "completed" {
			t.Fatalf("stream=%v: function call = %+v", stream, call)
		}
		if first.Usage.TotalTokens != 18 || first.Instructions.OfString != "Be brief." || len(first.Tools) != 1 || first.Tools[0].Name != "weather" {
			t.Errorf("stream=%v: echo/usage = %s", stream, first.RawJSON())
		}

		out := responses.ResponseInputItemParamOfFunctionCallOutput("sunny")
		out.OfFunctionCallOutput.CallID = openai.String(call.CallID)
		next := responses.ResponseNewParams{
			Model:              "m",
			PreviousResponseID: openai.String(first.ID),
			Input:              responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{out}},
		}
		var second *responses.Response
		if !stream {
			r, err := client.Responses.New(ctx, next)
			if err != nil {
				t.Fatal(err)
			}
			second = r
		} else {
			second = collect(t, client.Responses.NewStreaming(ctx, next), "", "It is sunny.")
		}
		if second.OutputText() != "It is sunny." || second.PreviousResponseID != first.ID {
			t.Errorf("stream=%v: second = %s", stream, second.RawJSON())
		}
	}
	// The continued request carried the first turn's history upstream.
	fd.mu.Lock()
	last := fd.chats[len(fd.chats)-1]
	fd.mu.Unlock()
	if want := `"messages":[{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1"`; !strings.Contains(last, want) {
		t.Errorf("continued chat body %s lacks the history", last)
	}
	if !strings.Contains(last, `{"role":"tool","content":"sunny","tool_call_id":"call_1"}`) || !strings.Contains(last, `"stream_options":{"include_usage":true}`) {
		t.Errorf("continued chat body %s", last)
	}
}

// collect reads a stream with the SDK, checking each event's typed form,
// and returns the completed response.
func collect(t *testing.T, s interface {
	Next() bool
	Current() responses.ResponseStreamEventUnion
	Err() error
}, wantArgs, wantText string) *responses.Response {
	t.Helper()
	var args, text strings.Builder
	var final *responses.Response
	seq := int64(0)
	for s.Next() {
		ev := s.Current()
		if ev.SequenceNumber != seq {
			t.Errorf("%s: sequence_number %d, want %d", ev.Type, ev.SequenceNumber, seq)
		}
		seq++
		switch e := ev.AsAny().(type) {
		case responses.ResponseTextDeltaEvent:
			text.WriteString(e.Delta)
		case responses.ResponseFunctionCallArgumentsDeltaEvent:
			args.WriteString(e.Delta)
		case responses.ResponseFunctionCallArgumentsDoneEvent:
			if e.Arguments != wantArgs {
				t.Errorf("arguments.done = %q", e.Arguments)
			}
		case responses.ResponseOutputItemAddedEvent:
			if e.Item.ID == "" {
				t.Errorf("added item without id: %s", e.RawJSON())
			}
		case responses.ResponseCompletedEvent:
			final = &e.Response
		case nil:
			t.Errorf("the SDK does not know event %s", ev.Type)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if final == nil {
		t.Fatal("no response.completed")
	}
	if args.String() != wantArgs || text.String() != wantText {
		t.Errorf("deltas: args %q text %q", args.String(), text.String())
	}
	return final
}
