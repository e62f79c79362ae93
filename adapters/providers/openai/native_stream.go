package openai

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/airouter/airouter/adapters/providers/internal/upstream"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/jsonx"
	"github.com/airouter/airouter/ports"
)

// nativeStream reads a stream of typed events: the Responses API's
// (response.created ... response.completed) or the Images API's
// (image_generation.partial_image ... image_generation.completed). Each
// event names its type in the event: field and again in the data's "type";
// the data's is used when a server sends no event: field.
//
// The terminal event is yielded, then io.EOF; a body that ends before it is
// a stream cut short. An "error" event ends the stream with the
// *domain.UpstreamError the same error has outside a stream. Only events
// with data count as progress for the idle timeout.
type nativeStream struct {
	upstream.Stream
	key      string
	ev       ports.NativeEvent
	started  bool
	terminal bool // the terminal event was yielded
}

var _ ports.NativeStream = (*nativeStream)(nil)

// Ready reports whether Next returns without waiting for the upstream.
func (s *nativeStream) Ready() bool { return s.Ended() || s.terminal || s.SSE.HasEvent() }

// Next returns the next event; io.EOF after the terminal event.
func (s *nativeStream) Next() (*ports.NativeEvent, error) {
	if err := s.Done(); err != nil {
		return nil, err
	}
	if s.terminal {
		s.Drain()
		return nil, s.End(io.EOF)
	}
	for {
		ev, err := s.SSE.Next()
		if err != nil {
			return nil, s.Broken(err)
		}
		data := ev.Data
		if len(bytes.TrimSpace(data)) == 0 {
			continue // a keep-alive: not progress
		}
		if bytes.Equal(data, done) {
			// [DONE] is no terminal event of these APIs: the answer
			// ended without its final event.
			return nil, s.End(s.A.Fail(upstream.ErrTruncated))
		}
		typ := ev.Type
		if typ == "" || typ == "message" {
			typ = eventType(data)
		}
		if typ == "error" {
			return nil, s.End(streamError(upstream.ParseErrorBody(data), s.key))
		}
		s.A.Progress()
		if !s.started {
			s.started = true
			s.A.Receiving()
		}
		s.ev = ports.NativeEvent{Name: ev.Type, Data: data}
		switch kind := classifyEvent(typ); kind {
		case eventContent:
			s.ev.Content = true
		case eventTerminal:
			s.terminal = true
			u, err := eventUsage(data)
			if err != nil {
				return nil, s.End(&domain.UpstreamError{Class: domain.ClassAmbiguous, Status: http.StatusOK, Message: "the upstream sent an invalid " + typ + " event", Err: err})
			}
			s.ev.Usage = u
		}
		return &s.ev, nil
	}
}

type eventKind int

const (
	eventOther eventKind = iota
	eventContent
	eventTerminal
)

// classifyEvent sorts an event type. Every delta of generated output counts
// as content: output_text, refusal, function_call_arguments, reasoning_text,
// reasoning_summary_text, audio and its transcript, custom tool input, code
// interpreter code, MCP call arguments, and partial images.
func classifyEvent(typ string) eventKind {
	switch typ {
	case "response.completed", "response.failed", "response.incomplete",
		"image_generation.completed", "image_edit.completed":
		return eventTerminal
	case "response.image_generation_call.partial_image",
		"image_generation.partial_image", "image_edit.partial_image":
		return eventContent
	}
	if strings.HasPrefix(typ, "response.") && strings.HasSuffix(typ, ".delta") {
		return eventContent
	}
	return eventOther
}

// eventType reads the data's top-level "type"; "" when there is none.
func eventType(data []byte) string {
	it := jsonx.Object(data)
	var m jsonx.Member
	for it.Next(&m) {
		if string(m.RawKey()) == "type" {
			s, _ := str(m.Value(data))
			return s
		}
	}
	return ""
}

// eventUsage reads a terminal event's usage: the Responses API's
// response.usage, or the Images API's top-level usage. nil when the event
// reports none.
func eventUsage(data []byte) (*domain.Usage, error) {
	it := jsonx.Object(data)
	var m jsonx.Member
	var usage []byte
	for it.Next(&m) {
		v := m.Value(data)
		switch string(m.RawKey()) {
		case "usage":
			usage = v
		case "response":
			if len(v) > 0 && v[0] == '{' {
				rit := jsonx.Object(v)
				var rm jsonx.Member
				for rit.Next(&rm) {
					if string(rm.RawKey()) == "usage" {
						usage = rm.Value(v)
					}
				}
				if err := rit.Err(); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return parseNativeUsage(usage)
}
