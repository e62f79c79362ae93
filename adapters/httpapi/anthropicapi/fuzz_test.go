package anthropicapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/airouter/airouter/core/domain"
)

// FuzzDecodeRequest: any body either is refused with an invalid-input error
// or becomes a chat request the chat front door accepts.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = Routing(body)
		if n, err := CountTokens(body); err == nil && n < 0 {
			t.Fatalf("negative estimate %d", n)
		} else if err != nil && domain.ErrorCode(err) != domain.CodeInvalid {
			t.Fatalf("CountTokens: %v", err)
		}
		r, err := DecodeRequest(body)
		if err != nil {
			if domain.ErrorCode(err) != domain.CodeInvalid {
				t.Fatalf("error %v has code %s", err, domain.ErrorCode(err))
			}
			return
		}
		if _, err := domain.ParseChatRequest(r.Chat.Raw); err != nil {
			t.Fatalf("ParseChatRequest(%s): %v", r.Chat.Raw, err)
		}
		if _, err := r.Chat.Params(); err != nil {
			t.Fatalf("Params(%s): %v", r.Chat.Raw, err)
		}
	})
}

// FuzzReplaceModel: the result is valid JSON whose model is the new one and
// whose other members are unchanged.
func FuzzReplaceModel(f *testing.F) {
	f.Add([]byte(`{"model":"a","x":[1,{"model":"b"}]}`), "up")
	f.Fuzz(func(t *testing.T, body []byte, model string) {
		out, err := ReplaceModel(body, model)
		if err != nil {
			var v map[string]any
			if json.Unmarshal(body, &v) == nil && v != nil {
				t.Fatalf("refused a JSON object: %v", err)
			}
			return
		}
		var before, after map[string]any
		if err := json.Unmarshal(body, &before); err != nil {
			t.Fatalf("accepted %q", body)
		}
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("output %q is not a JSON object: %v", out, err)
		}
		// Invalid UTF-8 becomes U+FFFD, as encoding/json does it.
		var want any
		enc, _ := json.Marshal(model)
		_ = json.Unmarshal(enc, &want)
		if after["model"] != want {
			t.Fatalf("model %v, want %q in %s", after["model"], model, out)
		}
		delete(before, "model")
		delete(after, "model")
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("other members changed:\n%s\n%s", body, out)
		}
	})
}

// FuzzEncodeResponse: any chat completion body the upstream may send either
// fails to decode or yields a valid Messages response.
func FuzzEncodeResponse(f *testing.F) {
	f.Add([]byte(`{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := EncodeResponse(testReq("END"), &domain.ChatResponse{Raw: raw})
		if err != nil {
			return
		}
		var m struct {
			Type       string            `json:"type"`
			Content    []json.RawMessage `json:"content"`
			StopReason string            `json:"stop_reason"`
		}
		if err := json.Unmarshal(out, &m); err != nil || m.Type != "message" || m.Content == nil || m.StopReason == "" {
			t.Fatalf("bad response %s: %v", out, err)
		}
	})
}

// FuzzStreamEncoder: any sequence of chunks (one JSON chunk per line) gives
// a well-formed Anthropic event stream.
func FuzzStreamEncoder(f *testing.F) {
	f.Add([]byte(`{"choices":[{"index":0,"delta":{"content":"a"}}]}` + "\n" + `{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := NewStreamEncoder(testReq("END"))
		var out bytes.Buffer
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			var c domain.ChatChunk
			if json.Unmarshal(line, &c) != nil {
				continue
			}
			c.Raw = line
			out.Write(e.Chunk(&c))
		}
		out.Write(e.Finish())
		if err := checkEvents(out.String()); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
	})
}
