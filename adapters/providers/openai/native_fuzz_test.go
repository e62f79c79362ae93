package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/airouter/airouter/adapters/providers/internal/upstream"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// FuzzNativeStream reads arbitrary bytes as a Responses or Images event
// stream. Whatever the bytes, Next ends, every error is io.EOF or an
// *domain.UpstreamError and stays, io.EOF comes only right after a terminal
// event, and only content and terminal events are marked as such.
// Seeds: testdata/fuzz/FuzzNativeStream.
func FuzzNativeStream(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		a := upstream.Begin(context.Background(), domain.Timeouts{Idle: time.Minute}.WithDefaults(), "")
		s := &nativeStream{}
		s.Start(a, &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(body))})
		defer s.Close()
		lastTerminal := false
		for i := 0; ; i++ {
			if i > len(body)+1 {
				t.Fatalf("more events (%d) than bytes", i)
			}
			ev, err := s.Next()
			if err != nil {
				var ue *domain.UpstreamError
				if err != io.EOF && !errors.As(err, &ue) {
					t.Fatalf("error %T %v", err, err)
				}
				if err == io.EOF && !lastTerminal {
					t.Fatal("io.EOF without a terminal event")
				}
				if _, again := s.Next(); again != err {
					t.Fatalf("error %v, then %v", err, again)
				}
				return
			}
			if lastTerminal {
				t.Fatal("an event after the terminal event")
			}
			typ := ev.Name
			if typ == "" || typ == "message" {
				typ = eventType(ev.Data)
			}
			kind := classifyEvent(typ)
			if ev.Content != (kind == eventContent) {
				t.Fatalf("event %q: content %v", typ, ev.Content)
			}
			if ev.Usage != nil && kind != eventTerminal {
				t.Fatalf("usage on a %q event", typ)
			}
			if typ == "error" {
				t.Fatal("an error event was yielded")
			}
			lastTerminal = kind == eventTerminal
		}
	})
}

// FuzzNativeBody patches arbitrary bodies. A valid JSON object stays valid
// JSON with the target's model, no provider, and, when streaming, "stream"
// true; invalid input is refused, never sent. The answer parser reads the
// same bytes as an upstream answer without panicking, and any usage it
// reports has the total the answer states.
// Seeds: testdata/fuzz/FuzzNativeBody.
func FuzzNativeBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, stream bool, capTokens int) {
		for _, op := range []ports.Operation{ports.OpEmbeddings, ports.OpResponses} {
			out, err := NativeBody(nil, op, body, "up-model", stream, capTokens)
			var obj map[string]json.RawMessage
			valid := json.Unmarshal(body, &obj) == nil && obj != nil
			if err != nil {
				var de *domain.Error
				if !errors.As(err, &de) || de.Code != domain.CodeInvalid {
					t.Fatalf("error %v", err)
				}
				if valid {
					t.Fatalf("a valid object was refused: %v", err)
				}
				continue
			}
			if !valid {
				continue // the iterator is lenient where encoding/json is strict
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("patched body is not JSON: %v\n%s", err, out)
			}
			if string(got["model"]) != `"up-model"` {
				t.Fatalf("model %s in %s", got["model"], out)
			}
			if _, ok := got["provider"]; ok {
				t.Fatalf("provider kept in %s", out)
			}
			if stream && string(got["stream"]) != "true" {
				t.Fatalf("stream %s in %s", got["stream"], out)
			}
		}
		u, err := parseNativeAnswer(ports.OpResponses, body)
		if err != nil || u == nil {
			return
		}
		var ans struct {
			Usage struct {
				TotalTokens *int `json:"total_tokens"`
			} `json:"usage"`
		}
		if json.Unmarshal(body, &ans) == nil && ans.Usage.TotalTokens != nil && *ans.Usage.TotalTokens != u.TotalTokens {
			t.Fatalf("total %d, answer says %d", u.TotalTokens, *ans.Usage.TotalTokens)
		}
	})
}
