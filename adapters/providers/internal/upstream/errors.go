package upstream

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// MaxRetryAfter caps the delay an upstream may ask for.
const MaxRetryAfter = 60 * time.Second

// maxErrorBody is how much of an error response is read.
const maxErrorBody = 64 << 10

// maxMessage bounds the provider message kept in an error.
const maxMessage = 1024

// RetryAfter reads the delay an upstream asks for: retry-after-ms
// (milliseconds, as OpenAI sends), else Retry-After in delta-seconds or as an
// HTTP date. Invalid or negative values give 0; large ones are capped at
// MaxRetryAfter.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && !math.IsInf(f, 0) {
			if f >= float64(MaxRetryAfter/time.Millisecond) {
				return MaxRetryAfter
			}
			return time.Duration(f * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return MaxRetryAfter
			}
			return 0
		}
		if n >= uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	switch {
	case d <= 0:
		return 0
	case d > MaxRetryAfter:
		return MaxRetryAfter
	}
	return d
}

// ErrorBody is the provider's description of a failure.
type ErrorBody struct {
	Type    string // error type (OpenAI's type, Anthropic's error.type, Ark's type)
	Code    string // error code, when the provider sends one (OpenAI, Ark)
	Message string
	// Flagged: the error's metadata names moderation results
	// (OpenRouter's error.metadata.reasons / flagged_input on a 403).
	Flagged bool
}

// ParseErrorBody reads the error shapes the supported upstreams send:
// OpenAI and Ark {"error":{"message","type","code","param"}}, Anthropic
// {"type":"error","error":{"type","message"}}, and the looser shapes of
// OpenAI-compatible servers ({"error":"..."}, {"message":...},
// {"detail":...}). Anything else yields the start of the body as text.
func ParseErrorBody(body []byte) ErrorBody {
	var top struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Detail  json.RawMessage `json:"detail"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
	}
	if err := json.Unmarshal(body, &top); err != nil {
		return ErrorBody{Message: strings.TrimSpace(truncate(string(body), 512))}
	}
	var eb ErrorBody
	switch e := trimJSON(top.Error); {
	case len(e) > 0 && e[0] == '{':
		var inner struct {
			Message  json.RawMessage `json:"message"`
			Type     string          `json:"type"`
			Code     json.RawMessage `json:"code"`
			Metadata struct {
				Reasons      json.RawMessage `json:"reasons"`
				FlaggedInput json.RawMessage `json:"flagged_input"`
			} `json:"metadata"`
		}
		_ = json.Unmarshal(e, &inner)
		eb = ErrorBody{Type: inner.Type, Code: scalar(inner.Code), Message: text(inner.Message),
			Flagged: len(trimJSON(inner.Metadata.Reasons)) > 0 || len(trimJSON(inner.Metadata.FlaggedInput)) > 0}
	case len(e) > 0 && e[0] == '"':
		eb.Message = text(e)
	}
	if eb.Message == "" {
		eb.Message = text(top.Message)
	}
	if eb.Message == "" {
		eb.Message = text(top.Detail)
	}
	if eb.Type == "" && top.Type != "error" {
		eb.Type = top.Type
	}
	if eb.Code == "" {
		eb.Code = scalar(top.Code)
	}
	if eb.Message == "" && eb.Type == "" && eb.Code == "" {
		eb.Message = strings.TrimSpace(truncate(string(body), 512))
	}
	// JSON strings may carry NUL (\u0000); the fields go on into logs and
	// the database.
	eb.Type, eb.Code, eb.Message = domain.CleanText(eb.Type, 256), domain.CleanText(eb.Code, 256), domain.CleanText(eb.Message, math.MaxInt)
	return eb
}

func trimJSON(b json.RawMessage) []byte {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	return []byte(s)
}

// scalar renders a string or number JSON value as text.
func scalar(b json.RawMessage) string {
	b, s, ok := unquoted(b)
	if ok || len(b) == 0 || b[0] == '{' || b[0] == '[' {
		return s
	}
	return string(b)
}

// unquoted trims b and, when it is a string, decodes it (ok true).
func unquoted(b json.RawMessage) (json.RawMessage, string, bool) {
	b = trimJSON(b)
	if len(b) == 0 || b[0] != '"' {
		return b, "", false
	}
	var s string
	_ = json.Unmarshal(b, &s)
	return b, s, true
}

// text renders a string, or any other JSON value compactly (FastAPI sends
// detail as a list of objects).
func text(b json.RawMessage) string {
	b, s, ok := unquoted(b)
	if ok || len(b) == 0 {
		return s
	}
	return truncate(string(b), 512)
}

// truncate makes an upstream's text safe to show and to store: valid UTF-8
// without NUL (an error body can hold any bytes; invalid ones and NUL become
// U+FFFD), at most n bytes cut on a rune boundary, plus an ellipsis when cut.
func truncate(s string, n int) string {
	s = domain.CleanText(s, math.MaxInt)
	if len(s) <= n {
		return s
	}
	return domain.TruncateText(s, n) + "…"
}

// Scrub removes a key, and anything that looks like an API key, from a
// provider message: upstreams echo keys in messages such as "Incorrect API
// key provided: sk-...".
func Scrub(msg, key string) string {
	if key != "" && len(key) >= 4 {
		msg = strings.ReplaceAll(msg, key, "[redacted]")
	}
	if !strings.Contains(msg, "sk-") && !strings.Contains(msg, "***") && (key == "" || len(key) < 12 || !strings.Contains(msg, key[:8])) {
		return truncate(msg, maxMessage)
	}
	words := strings.FieldsFunc(msg, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '"' || r == '\'' || r == ',' || r == '(' || r == ')'
	})
	for _, w := range words {
		w = strings.TrimRight(w, ".;:")
		if w == "[redacted]" {
			continue
		}
		if strings.HasPrefix(w, "sk-") || strings.Contains(w, "***") || (len(key) >= 12 && len(w) >= 8 && strings.Contains(w, key[:8])) {
			msg = strings.ReplaceAll(msg, w, "[redacted]")
		}
	}
	return truncate(msg, maxMessage)
}

// Classifier adjusts the class of an HTTP error for one provider's codes.
type Classifier func(status int, eb ErrorBody, class domain.ErrorClass) domain.ErrorClass

// StatusError builds the error for a non-2xx response.
func StatusError(resp *http.Response, body []byte, key string, now time.Time, classify Classifier) *domain.UpstreamError {
	eb := ParseErrorBody(body)
	class := ClassifyBody(resp.StatusCode, eb)
	if classify != nil {
		class = classify(resp.StatusCode, eb, class)
	}
	typ := eb.Code
	if typ == "" || (eb.Code[0] >= '0' && eb.Code[0] <= '9' && eb.Type != "") {
		typ = eb.Type
	}
	if class == domain.ClassRequest && eb.Flagged && (typ == "" || (typ[0] >= '0' && typ[0] <= '9')) {
		typ = "content_policy_violation" // OpenRouter's code is the HTTP status
	}
	msg := Scrub(eb.Message, key)
	if resp.StatusCode < 400 {
		// A redirect (not followed) or another non-error status: the
		// upstream, or the provider's base URL, is at fault, not the client.
		class = domain.ClassRetryable
		msg = "the upstream answered " + strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode) + "; redirects are not followed (check the provider's base URL)"
		if loc := resp.Header.Get("Location"); loc != "" {
			msg += ": Location " + Scrub(truncate(loc, 200), key)
		}
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &domain.UpstreamError{
		Class:      class,
		Status:     resp.StatusCode,
		Type:       Scrub(typ, key),
		Message:    msg,
		RetryAfter: RetryAfter(resp.Header, now),
	}
}

// ClassifyBody is domain.ClassifyStatus refined by what the body says,
// which is read before the status is trusted: a content-policy refusal is
// the request's fault whatever status carries it (OpenRouter flags input
// with a 403, OpenAI uses 400, some servers 422 or 500), so it never counts
// against the key; a context-length failure likewise, except under a 429
// (a tokens-per-minute limit is the key's).
func ClassifyBody(status int, eb ErrorBody) domain.ErrorClass {
	class := domain.ClassifyStatus(status)
	if class != domain.ClassRateLimited && IsContentPolicy(eb) {
		return domain.ClassRequest
	}
	if class == domain.ClassAuth || class == domain.ClassRateLimited {
		return class
	}
	if IsContextLength(eb) {
		return domain.ClassRequest
	}
	return class
}

// IsContextLength reports an error about a prompt that does not fit the
// model's context window.
func IsContextLength(eb ErrorBody) bool {
	switch eb.Code {
	case "context_length_exceeded", "string_above_max_length", "context_window_exceeded":
		return true
	}
	m := strings.ToLower(eb.Message)
	for _, s := range []string{"context length", "context_length", "context window", "maximum context", "prompt is too long", "input is too long", "too many tokens", "reduce the length of the messages"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// IsContentPolicy reports a refusal by a content filter or moderation.
func IsContentPolicy(eb ErrorBody) bool {
	if eb.Flagged {
		return true
	}
	for _, s := range []string{eb.Code, eb.Type} {
		switch s {
		case "content_policy_violation", "content_filter", "moderation_blocked", "invalid_prompt":
			return true
		}
		// Volcengine Ark: InputTextRiskDetection, OutputImageRiskDetection,
		// SensitiveContentDetected and their variants.
		if strings.Contains(s, "RiskDetection") || strings.Contains(s, "SensitiveContent") {
			return true
		}
	}
	m := strings.ToLower(eb.Message)
	for _, s := range []string{"content policy", "content management policy", "content filter", "moderation", "was flagged", "input was flagged", "safety system"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// Errorf builds an upstream error with a class and message.
func Errorf(class domain.ErrorClass, format string, args ...any) *domain.UpstreamError {
	return &domain.UpstreamError{Class: class, Message: fmt.Sprintf(format, args...)}
}
