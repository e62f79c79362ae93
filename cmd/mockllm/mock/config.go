// Package mock is a fake LLM upstream: it answers OpenAI Chat Completions,
// OpenAI Responses and Anthropic Messages requests, as JSON or as SSE
// streams, and OpenAI Embeddings and image generation requests, in the
// providers' wire formats, with configurable latency, pacing, sizes and
// failures. Embeddings are deterministic unit vectors derived from each
// input; images are one-colour PNGs derived from the prompt. cmd/mockllm serves it; tests start it in-process with httptest:
//
//	srv := httptest.NewServer(mock.NewHandler(mock.Config{TTFT: 20 * time.Millisecond}))
//
// Every Config field can be overridden per request by an X-Mock-* header
// (see the Header* constants); an unknown X-Mock-* header is a 400, so a
// typo does not silently test the wrong thing.
package mock

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Size presets, in bytes of generated assistant text. SizeSmall makes an
// OpenAI JSON response of about 300 bytes, SizeLarge one of about 10 KB.
const (
	SizeSmall = 32
	SizeLarge = 9900

	// BytesPerToken relates Size and Tokens when only one of them is set.
	BytesPerToken = 4

	// MaxSize bounds Size, from flags and headers alike.
	MaxSize = 16 << 20
	// MaxTokens bounds Tokens.
	MaxTokens = 1 << 20
	// MaxBodyBytes is the largest request body read; larger ones get a 413.
	MaxBodyBytes = 32 << 20
)

// Per-request override headers. Durations accept milliseconds ("50",
// "12.5") or Go durations ("50ms", "2s").
const (
	HeaderLatency     = "X-Mock-Latency"      // fixed delay before the first byte
	HeaderJitter      = "X-Mock-Jitter"       // extra uniform random delay in [0, jitter)
	HeaderTTFT        = "X-Mock-TTFT"         // time from the response start to the first token
	HeaderTPS         = "X-Mock-TPS"          // tokens per second after the first; 0 = unpaced
	HeaderTokens      = "X-Mock-Tokens"       // completion tokens (= content chunks when streaming)
	HeaderSize        = "X-Mock-Size"         // small | large | bytes of assistant text
	HeaderErrorRate   = "X-Mock-Error-Rate"   // probability in [0, 1] of answering with ErrorStatus
	HeaderErrorStatus = "X-Mock-Error-Status" // 500, 503, 429, 529, or any 4xx/5xx
	HeaderErrorCode   = "X-Mock-Error-Code"   // error code of injected errors, e.g. content_policy_violation
	HeaderRetryAfter  = "X-Mock-Retry-After"  // seconds in the Retry-After header of a 429
	HeaderStall       = "X-Mock-Stall"        // before-first-byte:DUR | mid-stream:DUR
	HeaderCut         = "X-Mock-Cut"          // true: write half an event mid-stream, then close
	HeaderReset       = "X-Mock-Reset"        // before-first-byte | mid-stream (true = before-first-byte): TCP RST
	HeaderToolCall    = "X-Mock-Tool-Call"    // off | auto | NAME of the tool to call (when the request offers tools)
)

// Point is where in a response a stall or reset happens.
type Point uint8

const (
	// Nowhere disables the injection.
	Nowhere Point = iota
	// BeforeFirstByte happens after the latency, before the status line.
	BeforeFirstByte
	// MidStream happens before the middle content chunk of a stream, or
	// after the first half of a JSON body.
	MidStream
)

func (p Point) String() string {
	switch p {
	case BeforeFirstByte:
		return "before-first-byte"
	case MidStream:
		return "mid-stream"
	default:
		return "none"
	}
}

// ParsePoint reads "before-first-byte", "mid-stream", or a boolean (true
// means before-first-byte, false or "" means Nowhere).
func ParsePoint(s string) (Point, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none", "off", "false", "0", "no":
		return Nowhere, nil
	case "before-first-byte", "before", "true", "1", "yes", "on":
		return BeforeFirstByte, nil
	case "mid-stream", "mid":
		return MidStream, nil
	}
	return Nowhere, fmt.Errorf("%q: want before-first-byte, mid-stream or a boolean", s)
}

// Stall pauses a response for For at At.
type Stall struct {
	At  Point
	For time.Duration
}

func (s Stall) String() string {
	if s.At == Nowhere {
		return ""
	}
	return s.At.String() + ":" + s.For.String()
}

// ParseStall reads "POINT:DURATION" (also "POINT=DURATION" or
// "POINT,DURATION"), for example "mid-stream:2s" or "before-first-byte:500";
// "" or "off" disables the stall.
func ParseStall(s string) (Stall, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, ":=,")
	if i < 0 {
		if p, err := ParsePoint(s); err == nil && p == Nowhere {
			return Stall{}, nil
		}
		return Stall{}, fmt.Errorf("%q: want POINT:DURATION, e.g. mid-stream:2s", s)
	}
	p, err := ParsePoint(s[:i])
	if err != nil {
		return Stall{}, err
	}
	d, err := ParseDelay(s[i+1:])
	if err != nil {
		return Stall{}, err
	}
	if p == Nowhere {
		return Stall{}, nil
	}
	return Stall{At: p, For: d}, nil
}

// ParseDelay reads milliseconds ("50", "12.5") or a Go duration ("50ms").
// Negative values are rejected.
func ParseDelay(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f > float64(time.Hour/time.Millisecond) {
			return 0, fmt.Errorf("%q: out of range", s)
		}
		d = time.Duration(f * float64(time.Millisecond))
	} else {
		pd, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q: want milliseconds or a duration like 50ms", s)
		}
		d = pd
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: negative", s)
	}
	return d, nil
}

// checkErrorCode accepts "" or up to MaxErrorCode letters, digits, '_', '-'
// and '.', so a code never needs escaping.
func checkErrorCode(s string) error {
	if len(s) > MaxErrorCode {
		return fmt.Errorf("%d bytes: want at most %d", len(s), MaxErrorCode)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("%q: want letters, digits, '_', '-' or '.'", s)
		}
	}
	return nil
}

// ParseSize reads "small", "large" or a number of bytes of assistant text;
// "" means unset (0).
func ParseSize(s string) (int, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return 0, nil
	case "small":
		return SizeSmall, nil
	case "large":
		return SizeLarge, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > MaxSize {
		return 0, fmt.Errorf("%q: want small, large or 1..%d bytes", s, MaxSize)
	}
	return n, nil
}

// ToolCallMode decides whether a request that offers tools is answered with
// a tool call.
type ToolCallMode uint8

const (
	// ToolCallOff always answers with text.
	ToolCallOff ToolCallMode = iota
	// ToolCallAuto calls the first offered tool (or the one named by the
	// X-Mock-Tool-Call header) when the last message is the user's own turn
	// (not a tool result) and tool_choice is not "none"; otherwise it answers
	// with text, so a client's tool loop ends after one round.
	ToolCallAuto
)

// ParseToolCallMode reads "off" or "auto" (booleans work too).
func ParseToolCallMode(s string) (ToolCallMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "off", "false", "0", "no", "never":
		return ToolCallOff, nil
	case "auto", "on", "true", "1", "yes":
		return ToolCallAuto, nil
	}
	return ToolCallOff, fmt.Errorf("%q: want off or auto", s)
}

func (m ToolCallMode) String() string {
	if m == ToolCallAuto {
		return "auto"
	}
	return "off"
}

// Config is the default behaviour of the handler; the zero value answers at
// once with a small text response and never fails.
type Config struct {
	Latency time.Duration // fixed delay before the first byte of every response
	Jitter  time.Duration // extra uniform random delay in [0, Jitter)
	// TTFT is the time from the start of the response (after Latency) to
	// the first content token. Content chunk i of a stream is written at
	// start + TTFT + i/TPS (deadline pacing: slow writes do not add up); a
	// JSON response is written when its last token would have been.
	// Embeddings and images, which have no tokens to pace, answer TTFT
	// after the start.
	TTFT time.Duration
	TPS  float64 // tokens per second; 0 sends all tokens at once
	// Tokens is the number of completion tokens, which is also the number
	// of content chunks of a stream. 0 derives it from Size (Size/4).
	Tokens int
	// Size is the number of bytes of assistant text. 0 derives it from
	// Tokens (4 bytes a token), or SizeSmall if both are 0. A request's
	// max_tokens (or max_completion_tokens) below Tokens truncates the
	// answer proportionally, with finish_reason "length" (OpenAI) or
	// stop_reason "max_tokens" (Anthropic), as the real APIs do.
	Size int

	ErrorRate   float64       // probability of answering with ErrorStatus instead
	ErrorStatus int           // 0 means 500
	RetryAfter  time.Duration // Retry-After of a 429, rounded up to seconds; 0 means 1s
	// ErrorCode, when set, is the OpenAI error code of injected errors in
	// place of the status's usual one. ErrorCodeContentPolicy also brings
	// the content filter's type and message (OpenAI and Anthropic), so that
	// a 403 with it reads as a refused prompt rather than a refused key.
	ErrorCode string

	Stall Stall // pause at a point of every response
	Cut   bool  // cut every stream in the middle of an event
	Reset Point // reset the TCP connection at this point

	// RequireKey, when set, makes every endpoint demand it (OpenAI:
	// Authorization: Bearer KEY; Anthropic: x-api-key: KEY) and answer 401
	// in the provider's format otherwise.
	RequireKey string
	// Models are listed by GET /v1/models; nil lists DefaultModels. Chat
	// requests echo whatever model they name.
	Models   []string
	ToolCall ToolCallMode
	// Lenient accepts requests the real APIs reject: Anthropic requests
	// without max_tokens or an anthropic-version header.
	Lenient bool
	// IgnoreHeaders disables the X-Mock-* overrides.
	IgnoreHeaders bool
	// Counters, when set, counts the generations the handler starts and
	// finishes, so a test can tell how often an upstream did (and would
	// bill) the work behind its client's requests.
	Counters *Counters
}

// ErrorCodeContentPolicy is OpenAI's code for a prompt its safety system
// flagged.
const ErrorCodeContentPolicy = "content_policy_violation"

// MaxErrorCode bounds the length of Config.ErrorCode and X-Mock-Error-Code.
const MaxErrorCode = 64

// Counters counts generations; safe for concurrent use. A generation starts
// when a valid request (chat, responses, embeddings or images) passes the
// injected errors (so a stall, a cut or a reset happens inside a started
// generation, as the upstream would have done and billed the work), and
// finishes when its whole response was written. Rejected requests (bad
// input, 401, injected error statuses) start none.
type Counters struct {
	started, finished atomic.Int64
}

// Started is the number of generations begun.
func (c *Counters) Started() int64 { return c.started.Load() }

// Finished is the number of generations whose response was written in full.
func (c *Counters) Finished() int64 { return c.finished.Load() }

// DefaultModels is what GET /v1/models lists when Config.Models is nil.
var DefaultModels = []string{"mock-gpt", "mock-claude"}

// Validate reports the first out-of-range field.
func (c Config) Validate() error {
	var errs []error
	if c.Latency < 0 || c.Jitter < 0 || c.TTFT < 0 || c.Stall.For < 0 || c.RetryAfter < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if c.TPS < 0 || math.IsNaN(c.TPS) || math.IsInf(c.TPS, 0) {
		errs = append(errs, fmt.Errorf("tps %v: want >= 0", c.TPS))
	}
	if c.Tokens < 0 || c.Tokens > MaxTokens {
		errs = append(errs, fmt.Errorf("tokens %d: want 0..%d", c.Tokens, MaxTokens))
	}
	if c.Size < 0 || c.Size > MaxSize {
		errs = append(errs, fmt.Errorf("size %d: want 0..%d", c.Size, MaxSize))
	}
	if !(c.ErrorRate >= 0 && c.ErrorRate <= 1) {
		errs = append(errs, fmt.Errorf("error rate %v: want 0..1", c.ErrorRate))
	}
	if c.ErrorStatus != 0 && (c.ErrorStatus < 400 || c.ErrorStatus > 599) {
		errs = append(errs, fmt.Errorf("error status %d: want 400..599", c.ErrorStatus))
	}
	if err := checkErrorCode(c.ErrorCode); err != nil {
		errs = append(errs, fmt.Errorf("error code: %v", err))
	}
	if c.Stall.At > MidStream || c.Reset > MidStream {
		errs = append(errs, errors.New("unknown stall or reset point"))
	}
	for _, m := range c.Models {
		if m == "" {
			errs = append(errs, errors.New("empty model name"))
			break
		}
	}
	return errors.Join(errs...)
}
