package ports

import (
	"context"

	"github.com/airouter/airouter/core/domain"
)

// Operation names a front-door operation that a provider may serve in the
// client's own wire format.
type Operation string

// The operations beyond chat completions.
const (
	OpEmbeddings  Operation = "embeddings"   // OpenAI POST /embeddings
	OpImages      Operation = "images"       // OpenAI POST /images/generations
	OpResponses   Operation = "responses"    // OpenAI POST /responses
	OpMessages    Operation = "messages"     // Anthropic POST /v1/messages
	OpCountTokens Operation = "count_tokens" // Anthropic POST /v1/messages/count_tokens
)

// NativeRequest is a front-door request in its own wire format.
type NativeRequest struct {
	Op   Operation
	Body []byte // the client's body, validated by its front door
	// Beta is the client's beta-feature header (anthropic-beta for
	// Messages and count_tokens, OpenAI-Beta for OpenAI operations), passed
	// on as is; empty when the client sent none. No other client header
	// reaches the upstream.
	Beta string
}

// NativeClient passes a request through in its own wire format: the body
// reaches the upstream byte for byte except for its top-level "model",
// which the adapter sets to t.Model, and a bound on output tokens when
// t.CapMaxTokens asks for one (and the operation has one). Router-only
// top-level fields ("provider") are dropped. Like Chat and ChatStream,
// calls never retry and fail with *domain.UpstreamError, classified from
// the upstream's own error format.
type NativeClient interface {
	// Serves reports whether the provider serves op natively.
	Serves(op Operation) bool
	// Call makes a non-streaming call. An operation the provider does not
	// serve fails with a *domain.Error of code invalid.
	Call(ctx context.Context, t Target, req *NativeRequest) (*NativeResponse, error)
	// CallStream makes a streaming call and returns once the upstream
	// accepted it (status 200); errors before that are returned here.
	CallStream(ctx context.Context, t Target, req *NativeRequest) (NativeStream, error)
}

// NativeResponse is an upstream's answer to a native call.
type NativeResponse struct {
	Body        []byte // as the upstream sent it
	ContentType string
	// Usage, when the answer reports it, read by the adapter.
	Usage *domain.Usage
}

// NativeStream is a stream of server-sent events as the upstream sent them.
type NativeStream interface {
	// Next returns the next event, io.EOF after a clean end, or an error
	// (*domain.UpstreamError for upstream failures, idle timeouts and
	// streams cut short). The event is valid only until the next call.
	Next() (*NativeEvent, error)
	// Ready reports whether Next would return without waiting (an event is
	// already buffered), so writers can flush in batches.
	Ready() bool
	// Close ends the stream and releases its connection; safe to call twice.
	Close() error
}

// NativeEvent is one server-sent event.
type NativeEvent struct {
	Name string // the event: field; empty when the upstream sent none
	Data []byte // the data: field, joined
	// Content marks an event carrying generated output (the first one is
	// the time to first token).
	//
	// The stream yields the upstream's terminal event (Anthropic's
	// message_stop, the Responses API's response.completed, .failed or
	// .incomplete) like any other, then io.EOF. An in-band error event
	// (Anthropic's "error", the Responses API's "error") is returned by Next
	// as a *domain.UpstreamError instead of an event.
	Content bool
	// Usage is set on the event that reports the stream's usage (the
	// adapter merges partial reports, e.g. Anthropic's message_start and
	// message_delta, so the last one set is the total).
	Usage *domain.Usage
}
