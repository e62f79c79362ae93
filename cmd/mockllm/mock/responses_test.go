package mock_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

const pathResponses = "/v1/responses"

// responseAbsent are the fields where the mock and openai-go's Response
// part: the SDK requires access_programs (an account feature the mock
// leaves out) and lacks store (which OpenAI's responses carry).
var responseAbsent = []string{"access_programs", "store"}

// checkResponse checks a final response object and returns its text or
// function call.
func checkResponse(t *testing.T, r *responses.Response, wantStatus string) (text string, call *responses.ResponseFunctionToolCall) {
	t.Helper()
	checkSDK(t, r, responseAbsent...)
	if !strings.HasPrefix(r.ID, "resp_") || r.Object != "response" || r.CreatedAt == 0 || string(r.Status) != wantStatus {
		t.Errorf("envelope: id %q object %q created_at %v status %q", r.ID, r.Object, r.CreatedAt, r.Status)
	}
	u := r.Usage
	if u.InputTokens <= 0 || u.OutputTokens <= 0 || u.TotalTokens != u.InputTokens+u.OutputTokens || !u.JSON.InputTokensDetails.Valid() {
		t.Errorf("usage: %s", u.RawJSON())
	}
	if len(r.Output) != 1 {
		t.Fatalf("%d output items", len(r.Output))
	}
	switch it := r.Output[0]; it.Type {
	case "message":
		m := it.AsMessage()
		checkSDK(t, m)
		if len(m.Content) != 1 || m.Role != "assistant" || !strings.HasPrefix(m.ID, "msg_") {
			t.Fatalf("message: %s", it.RawJSON())
		}
		part := m.Content[0].AsOutputText()
		checkSDK(t, part)
		if part.Type != "output_text" || part.Annotations == nil || !part.JSON.Annotations.Valid() {
			t.Errorf("part: %s", m.Content[0].RawJSON())
		}
		wantItem := "completed"
		if wantStatus == "incomplete" {
			wantItem = "incomplete"
		}
		if string(m.Status) != wantItem {
			t.Errorf("message status %q, want %q", m.Status, wantItem)
		}
		if r.OutputText() != part.Text {
			t.Errorf("OutputText %q, part %q", r.OutputText(), part.Text)
		}
		return part.Text, nil
	case "function_call":
		fc := it.AsFunctionCall()
		checkSDK(t, fc)
		if !strings.HasPrefix(fc.ID, "fc_") || !strings.HasPrefix(fc.CallID, "call_") || fc.Status != "completed" || !json.Valid([]byte(fc.Arguments)) {
			t.Errorf("function call: %s", it.RawJSON())
		}
		return "", &fc
	default:
		t.Fatalf("output item type %q", it.Type)
	}
	return "", nil
}

func TestResponsesJSON(t *testing.T) {
	t.Parallel()
	c := sdk(t, start(t, mock.Config{}), "X-Mock-Tokens: 5", "X-Mock-Size: 40")
	r, err := c.Responses.New(context.Background(), responses.ResponseNewParams{
		Model:        "gpt-4.1",
		Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello")},
		Instructions: openai.String("Be brief."),
		Temperature:  openai.Float(0.5),
		Metadata:     shared.Metadata{"k": "v"},
	})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := checkResponse(t, r, "completed")
	if len(text) != 40 || r.Usage.OutputTokens != 5 || r.Model != "gpt-4.1" {
		t.Errorf("text %q, %d output tokens, model %q", text, r.Usage.OutputTokens, r.Model)
	}
	if r.Instructions.OfString != "Be brief." || r.Temperature != 0.5 || r.Metadata["k"] != "v" || r.TopP != 1 || r.ToolChoice.OfToolChoiceMode != "auto" {
		t.Errorf("echoed fields: %s", r.RawJSON())
	}
	if !r.JSON.IncompleteDetails.Valid() && r.JSON.IncompleteDetails.Raw() != "null" {
		t.Errorf("incomplete_details: %q", r.JSON.IncompleteDetails.Raw())
	}

	// max_output_tokens cuts the answer: status incomplete, with the reason.
	r, err = c.Responses.New(context.Background(), responses.ResponseNewParams{
		Model: "gpt-4.1", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello")},
		MaxOutputTokens: openai.Int(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	text, _ = checkResponse(t, r, "incomplete")
	if r.IncompleteDetails.Reason != "max_output_tokens" || r.Usage.OutputTokens != 2 || len(text) != 16 || r.MaxOutputTokens != 2 {
		t.Errorf("truncated: %q, %s", text, r.RawJSON())
	}
}

var weatherTool = []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{
	Name: "get_weather", Parameters: map[string]any{"type": "object", "properties": map[string]any{}},
}}}

func TestResponsesToolCall(t *testing.T) {
	t.Parallel()
	c := sdk(t, start(t, mock.Config{ToolCall: mock.ToolCallAuto}))
	ctx := context.Background()
	r, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model: "gpt-4.1", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather in Paris?")},
		Tools: weatherTool,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, call := checkResponse(t, r, "completed")
	if call == nil || call.Name != "get_weather" || len(r.Tools) != 1 {
		t.Fatalf("want a call of get_weather: %s", r.RawJSON())
	}

	// After the tool's output the answer is text.
	output := responses.ResponseInputItemParamOfFunctionCallOutput("sunny")
	output.OfFunctionCallOutput.CallID = openai.String(call.CallID)
	r, err = c.Responses.New(ctx, responses.ResponseNewParams{
		Model: "gpt-4.1", Tools: weatherTool,
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("Weather in Paris?", responses.EasyInputMessageRoleUser),
			responses.ResponseInputItemParamOfFunctionCall("{}", call.CallID, call.Name),
			output,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if text, call := checkResponse(t, r, "completed"); call != nil || text == "" {
		t.Errorf("after the tool output: %s", r.RawJSON())
	}

	// Built-in tools are not the mock's to call.
	_, body := post(t, start(t, mock.Config{ToolCall: mock.ToolCallAuto}), pathResponses,
		`{"model":"m","input":"x","tools":[{"type":"web_search"}]}`)
	if !strings.Contains(string(body), `"type":"message"`) {
		t.Errorf("web_search only: %s", body)
	}
}

// respStream reads a Responses stream with openai-go and checks its framing:
// an event: line naming each event's type, sequence numbers from 0, no
// [DONE]. It returns the events.
func respStream(t *testing.T, c openai.Client, hdr []string, p responses.ResponseNewParams) []responses.ResponseStreamEventUnion {
	t.Helper()
	s := c.Responses.NewStreaming(context.Background(), p)
	defer s.Close()
	var evs []responses.ResponseStreamEventUnion
	for s.Next() {
		ev := s.Current()
		if ev.SequenceNumber != int64(len(evs)) {
			t.Errorf("event %d (%s) has sequence number %d", len(evs), ev.Type, ev.SequenceNumber)
		}
		checkSDK(t, ev.AsAny(), responseAbsent...)
		evs = append(evs, ev)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return evs
}

func eventTypes(evs []responses.ResponseStreamEventUnion) []string {
	var out []string
	for i, ev := range evs {
		if i > 0 && ev.Type == evs[i-1].Type && strings.HasSuffix(ev.Type, ".delta") {
			continue
		}
		out = append(out, ev.Type)
	}
	return out
}

func TestResponsesStream(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{ToolCall: mock.ToolCallAuto})
	c := sdk(t, srv, "X-Mock-Tokens: 6")
	hello := responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello")}

	whole, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "m", Input: hello})
	if err != nil {
		t.Fatal(err)
	}
	evs := respStream(t, c, nil, responses.ResponseNewParams{Model: "m", Input: hello})
	want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
		"response.output_text.delta", "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"}
	if got := eventTypes(evs); strings.Join(got, " ") != strings.Join(want, " ") || len(evs) != 4+6+4 {
		t.Fatalf("events %v (%d)", got, len(evs))
	}
	created := evs[0].AsResponseCreated().Response
	if created.Status != "in_progress" || len(created.Output) != 0 || created.JSON.Usage.Raw() != "null" {
		t.Errorf("response.created: %s", evs[0].RawJSON())
	}
	var deltas strings.Builder
	itemID := evs[2].AsResponseOutputItemAdded().Item.ID
	for _, ev := range evs[4:10] {
		d := ev.AsResponseOutputTextDelta()
		if d.ItemID != itemID || d.OutputIndex != 0 || d.ContentIndex != 0 || !d.JSON.Logprobs.Valid() {
			t.Errorf("delta: %s", ev.RawJSON())
		}
		deltas.WriteString(d.Delta)
	}
	final := evs[len(evs)-1].AsResponseCompleted().Response
	text, _ := checkResponse(t, &final, "completed")
	if deltas.String() != text || evs[10].AsResponseOutputTextDone().Text != text || text != whole.OutputText() {
		t.Errorf("deltas %q, done %q, final %q, JSON %q", deltas.String(), evs[10].AsResponseOutputTextDone().Text, text, whole.OutputText())
	}
	if final.ID != created.ID || evs[12].AsResponseOutputItemDone().Item.AsMessage().Status != "completed" {
		t.Errorf("final response %q, created %q", final.ID, created.ID)
	}

	// Truncated: the stream ends with response.incomplete.
	evs = respStream(t, c, nil, responses.ResponseNewParams{Model: "m", Input: hello, MaxOutputTokens: openai.Int(2)})
	last := evs[len(evs)-1]
	if last.Type != "response.incomplete" || len(evs) != 4+2+4 {
		t.Fatalf("truncated stream ends with %s after %d events", last.Type, len(evs))
	}
	inc := last.AsResponseIncomplete().Response
	checkResponse(t, &inc, "incomplete")

	// A tool call streams its arguments.
	evs = respStream(t, c, nil, responses.ResponseNewParams{Model: "m", Input: hello, Tools: weatherTool})
	want = []string{"response.created", "response.in_progress", "response.output_item.added",
		"response.function_call_arguments.delta", "response.function_call_arguments.done", "response.output_item.done", "response.completed"}
	if got := eventTypes(evs); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("tool call events %v", got)
	}
	var args strings.Builder
	for _, ev := range evs {
		if ev.Type == "response.function_call_arguments.delta" {
			args.WriteString(ev.AsResponseFunctionCallArgumentsDelta().Delta)
		}
	}
	done := evs[len(evs)-3].AsResponseFunctionCallArgumentsDone()
	final = evs[len(evs)-1].AsResponseCompleted().Response
	_, call := checkResponse(t, &final, "completed")
	if call == nil || args.String() != done.Arguments || call.Arguments != done.Arguments || done.ItemID != call.ID {
		t.Errorf("arguments %q, done %q, call %+v", args.String(), done.Arguments, call)
	}
}

// The raw stream: every event has an event: line equal to its data's type,
// and nothing follows response.completed.
func TestResponsesStreamFraming(t *testing.T) {
	t.Parallel()
	srv := start(t, mock.Config{})
	resp, err := do(t, srv, pathResponses, `{"model":"m","input":"hi","stream":true}`, "X-Mock-Tokens: 3")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	evs, rest, err := readSSE(resp.Body, time.Now())
	if err != nil || rest != "" || len(evs) != 4+3+4 {
		t.Fatalf("%v, leftover %q, %d events", err, rest, len(evs))
	}
	for i, ev := range evs {
		var d struct {
			Type string `json:"type"`
			Seq  *int   `json:"sequence_number"`
		}
		if err := json.Unmarshal([]byte(ev.data), &d); err != nil || d.Type != ev.event || d.Seq == nil || *d.Seq != i {
			t.Errorf("event %d: event %q, data %.120s", i, ev.event, ev.data)
		}
	}
	if evs[len(evs)-1].event != "response.completed" {
		t.Errorf("last event %q", evs[len(evs)-1].event)
	}
}

func TestResponsesPacingAndFailures(t *testing.T) {
	t.Parallel()
	ttft, interval := 60*time.Millisecond, 20*time.Millisecond
	srv := start(t, mock.Config{TTFT: ttft, TPS: 50, Tokens: 6})
	t0 := time.Now()
	resp, err := do(t, srv, pathResponses, `{"model":"m","input":"hi","stream":true}`)
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := readSSE(resp.Body, t0)
	resp.Body.Close()
	if err != nil || len(evs) != 4+6+4 {
		t.Fatalf("%v, %d events", err, len(evs))
	}
	if at := evs[3].at; at > ttft-10*time.Millisecond {
		t.Errorf("head events arrived after %v, before the first delta is due (%v)", at, ttft)
	}
	for i := range 6 {
		due := ttft + time.Duration(i)*interval
		if at := evs[4+i].at; at < due || at > due+late {
			t.Errorf("delta %d at %v, due %v", i, at, due)
		}
	}

	resp, body := post(t, srv, pathResponses, `{"model":"m","input":"hi","stream":true}`, "X-Mock-Error-Rate: 1", "X-Mock-Error-Status: 503")
	var oe oaError
	strictDecode(t, string(body), &oe)
	if resp.StatusCode != 503 || oe.Error.Type != "server_error" {
		t.Errorf("injected 503: %d %s", resp.StatusCode, body)
	}

	resp, err = do(t, srv, pathResponses, `{"model":"m","input":"hi","stream":true}`, "X-Mock-Cut: true", "X-Mock-TTFT: 0", "X-Mock-TPS: 0")
	if err != nil {
		t.Fatal(err)
	}
	evs, rest, _ := readSSE(resp.Body, time.Now())
	resp.Body.Close()
	if len(evs) != 4+3 || rest == "" || !strings.HasPrefix(rest, "event: response.output_text.delta") {
		t.Errorf("cut: %d events, then %q", len(evs), rest)
	}

	for name, body := range map[string]string{
		"no model":   `{"input":"hi"}`,
		"bad input":  `{"model":"m","input":42}`,
		"bad stream": `{"model":"m","input":"hi","stream":"yes"}`,
		"bad max":    `{"model":"m","input":"hi","max_output_tokens":-1}`,
	} {
		resp, b := post(t, srv, pathResponses, body)
		strictDecode(t, string(b), &oe)
		if resp.StatusCode != 400 || oe.Error.Type != "invalid_request_error" {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
}
