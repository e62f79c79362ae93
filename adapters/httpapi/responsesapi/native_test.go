package responsesapi

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNativeBodyExpandsTheChain(t *testing.T) {
	body := []byte(`{"model":"m","input":"more","previous_response_id":"resp_1","x_new":{"a":1}}`)
	req, err := DecodeRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := NativeBody([]byte(`{"model":"m","input":"x"}`), &Request{}); string(got) != `{"model":"m","input":"x"}` {
		t.Fatalf("unchained body changed: %s", got)
	}
	prev := &Stored{Input: []Item{{Type: TypeMessage, Role: "user", Content: []Part{{Type: "input_text", Text: "first"}}}},
		Response: &Response{Output: []Item{{Type: TypeMessage, Role: "assistant", Content: []Part{{Type: "output_text", Text: "answer"}}}}}}
	req.Input = History(prev, req.Input)
	got, err := NativeBody(body, req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	in := string(m["input"])
	if _, ok := m["previous_response_id"]; ok || string(m["x_new"]) != `{"a":1}` ||
		!strings.Contains(in, "first") || !strings.Contains(in, "answer") || !strings.Contains(in, "more") {
		t.Fatalf("%s", got)
	}
}

func TestWithPrevious(t *testing.T) {
	req := &Request{PreviousResponseID: "resp_prev"}
	if got := string(WithPrevious([]byte(`{"id":"resp_2","previous_response_id":null,"output":[]}`), req)); got != `{"id":"resp_2","previous_response_id":"resp_prev","output":[]}` {
		t.Fatal(got)
	}
	ev := `{"type":"response.completed","sequence_number":9,"response":{"id":"resp_2","previous_response_id":null}}`
	if got := string(EventWithPrevious([]byte(ev), req)); got != `{"type":"response.completed","sequence_number":9,"response":{"id":"resp_2","previous_response_id":"resp_prev"}}` {
		t.Fatal(got)
	}
	delta := `{"type":"response.output_text.delta","sequence_number":3,"delta":"x"}`
	if got := string(EventWithPrevious([]byte(delta), req)); got != delta {
		t.Fatal(got)
	}
	if got := string(WithPrevious([]byte(`{"id":"x"}`), &Request{})); got != `{"id":"x"}` {
		t.Fatal(got)
	}
}

func TestTerminalResponseAndErrorEvent(t *testing.T) {
	r, ok := TerminalResponse("response.completed", []byte(`{"type":"response.completed","response":{"id":"resp_9","status":"completed","output":[]}}`))
	if !ok || r == nil || r.ID != "resp_9" {
		t.Fatalf("%+v %v", r, ok)
	}
	if _, ok := TerminalResponse("response.output_text.delta", []byte(`{}`)); ok {
		t.Fatal("a delta is not terminal")
	}
	if r, ok := TerminalResponse("response.failed", []byte(`not json`)); !ok || r != nil {
		t.Fatal("an unreadable terminal event")
	}
	ev := string(ErrorEvent(errString("boom"), 4))
	if !strings.HasPrefix(ev, "event: error\ndata: {\"type\":\"error\",\"sequence_number\":4,") || !strings.HasSuffix(ev, "\n\n") {
		t.Fatal(ev)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
