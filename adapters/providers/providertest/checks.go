package providertest

import (
	"encoding/json"
	"reflect"
	"strings"
)

// anthropicExpected is the Messages request each suite request translates
// to, written from the Messages API reference.
var anthropicExpected = map[string]string{
	textRequest: `{"model":"upstream-model-1","max_tokens":50,"temperature":0.5,
		"messages":[{"role":"user","content":[{"type":"text","text":"Say hello."}]}]}`,
	toolRequest: `{"model":"upstream-model-1","max_tokens":1000,
		"messages":[{"role":"user","content":[{"type":"text","text":"Weather in Paris?"}]}],
		"tools":[{"name":"get_weather","description":"Current weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],
		"tool_choice":{"type":"auto"}}`,
	loopRequest: `{"model":"upstream-model-1","max_tokens":1000,
		"system":[{"type":"text","text":"Be brief."}],
		"messages":[
			{"role":"user","content":[{"type":"text","text":"Weather in Paris?"}]},
			{"role":"assistant","content":[{"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"18C and sunny"}]}],
		"tools":[{"name":"get_weather","description":"Current weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]}`,
	imageRequest: `{"model":"upstream-model-1","max_tokens":1000,
		"messages":[{"role":"user","content":[
			{"type":"text","text":"What is in these images?"},
			{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
			{"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]}]}`,
}

// checkRequest checks what the upstream received for a suite request.
// OpenAI-compatible upstreams get the client's body with only model,
// provider, stream and stream_options changed; Anthropic gets the
// translation in anthropicExpected.
func (e *env) checkRequest(r Request, clientBody string, stream bool) {
	t := e.t
	t.Helper()
	if r.Method != "POST" {
		t.Fatalf("method %s", r.Method)
	}
	var got map[string]any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("upstream body is not JSON: %v: %s", err, r.Body)
	}
	var want map[string]any
	if e.s.Wire == WireAnthropic {
		if !strings.HasSuffix(r.Path, "/v1/messages") {
			t.Fatalf("path %s", r.Path)
		}
		if err := json.Unmarshal([]byte(anthropicExpected[clientBody]), &want); err != nil {
			t.Fatalf("bad expectation: %v", err)
		}
		if stream {
			want["stream"] = true
		}
	} else {
		if !strings.HasSuffix(r.Path, "/chat/completions") {
			t.Fatalf("path %s", r.Path)
		}
		if err := json.Unmarshal([]byte(clientBody), &want); err != nil {
			t.Fatal(err)
		}
		want["model"] = UpstreamModel
		delete(want, "provider")
		if stream {
			want["stream"] = true
			want["stream_options"] = map[string]any{"include_usage": true}
		}
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("upstream received\n%s\nwant\n%s", g, w)
	}
}
