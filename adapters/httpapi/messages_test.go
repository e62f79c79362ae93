package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
)

// The Anthropic front door's error mapping, key headers, shedding and
// OpenAPI operations; the served path is tested end to end with
// anthropic-sdk-go in cmd/airouter (TestE2EAnthropicSDK).

func TestAnthropicErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		err        error
		status     int
		typ        string
		retryAfter string
	}{
		{"bad field", domain.FieldError("max_tokens", "is required"), 400, "invalid_request_error", ""},
		{"bad key", &domain.Error{Code: domain.CodeUnauthorized, Msg: "invalid API key"}, 401, "authentication_error", ""},
		{"model", gateway.ModelNotFound("nope"), 404, "not_found_error", ""},
		{"limits", &domain.UpstreamError{Class: domain.ClassRateLimited, Status: 429, RetryAfter: 1500 * time.Millisecond, Message: "rate limited"}, 429, "rate_limit_error", "2"},
		{"no route", &domain.UpstreamError{Class: domain.ClassRetryable, Status: 503, RetryAfter: time.Second, Message: "no healthy route"}, 503, "overloaded_error", "1"},
		{"timeout", &domain.UpstreamError{Class: domain.ClassRetryable, Timeout: true, Message: "no first byte"}, 504, "timeout_error", ""},
		{"upstream", &domain.UpstreamError{Class: domain.ClassRetryable, Status: 500, Message: "boom"}, 502, "api_error", ""},
		{"canceled", &domain.UpstreamError{Class: domain.ClassCanceled, Message: "gone"}, 408, "invalid_request_error", ""},
		{"internal", errInternalForTest, 500, "api_error", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			writeAnthropicError(w, c.err)
			env, err := decodeAnthropicError(w.Body.Bytes())
			if err != nil {
				t.Fatalf("%v: %s", err, w.Body)
			}
			if w.Code != c.status || env.Type != "error" || env.Error.Type != c.typ || env.Error.Message == "" {
				t.Fatalf("got %d %s", w.Code, w.Body)
			}
			if got := w.Header().Get("Retry-After"); got != c.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, c.retryAfter)
			}
			if c.name == "internal" && env.Error.Message == errInternalForTest.Error() {
				t.Fatal("an internal error's text reached the client")
			}
		})
	}
}

// anthropicError is Anthropic's error envelope.
type anthropicError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeAnthropicError(b []byte) (anthropicError, error) {
	var env anthropicError
	err := json.Unmarshal(b, &env)
	return env, err
}

var errInternalForTest = &testErr{"database password in a DSN"}

type testErr struct{ s string }

func (e *testErr) Error() string { return e.s }

func TestAnthropicKey(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("POST", "/v1/messages", nil)
	if anthropicKey(r) != "" {
		t.Fatal("no key expected")
	}
	r.Header.Set("Authorization", "Bearer sk-ar-bearer")
	if got := anthropicKey(r); got != "sk-ar-bearer" {
		t.Fatal(got)
	}
	r.Header.Set("x-api-key", "sk-ar-x")
	if got := anthropicKey(r); got != "sk-ar-x" {
		t.Fatal(got)
	}
}

func TestMessagesShedInAnthropicEnvelope(t *testing.T) {
	t.Parallel()
	lim := newLimiter(1, func() {})
	lim.slots <- struct{}{} // full
	h := lim.wrap(func(http.ResponseWriter, *http.Request) { t.Fatal("served past the limit") })
	w := httptest.NewRecorder()
	h(w, httptest.NewRequest("POST", "/v1/messages", nil))
	if w.Code != 503 || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	var env struct {
		Type  string `json:"type"`
		Error struct {
			Type string `json:"type"`
		} `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Type != "error" || env.Error.Type != "overloaded_error" {
		t.Fatalf("%v %s", err, w.Body)
	}
}

func TestMessagesDocumented(t *testing.T) {
	t.Parallel()
	oa := Document("test").OpenAPI()
	for path, id := range map[string]string{"/v1/messages": "createMessage", "/v1/messages/count_tokens": "countMessageTokens"} {
		item := oa.Paths[path]
		if item == nil || item.Post == nil || item.Post.OperationID != id {
			t.Fatalf("%s not documented", path)
		}
		for _, code := range []string{"200", "400", "401", "404"} {
			if item.Post.Responses[code] == nil {
				t.Fatalf("%s: no %s response", path, code)
			}
		}
		if got := item.Post.Responses["404"].Content["application/json"].Schema.Ref; got != "#/components/schemas/AnthropicError" {
			t.Fatalf("%s errors: %s", path, got)
		}
	}
	if oa.Paths["/v1/messages/count_tokens"].Post.Responses["200"].Headers["X-Airouter-Token-Estimate"] == nil {
		t.Fatal("the estimate header is not documented")
	}
}
