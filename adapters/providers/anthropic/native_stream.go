package anthropic

import (
	"encoding/json"
	"io"

	"github.com/airouter/airouter/adapters/providers/internal/upstream"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/jsonx"
	"github.com/airouter/airouter/ports"
)

// nativeStream yields a Messages API stream's events as the upstream sent
// them: message_start, content_block_start/delta/stop, message_delta,
// message_stop and ping (and event types added later), then io.EOF after
// message_stop.
type nativeStream struct {
	upstream.Stream
	p  eventParser
	ev ports.NativeEvent
}

// Ready reports whether Next can return without waiting for the upstream:
// the stream has ended or message_stop was read, or the next event is
// already buffered.
func (s *nativeStream) Ready() bool { return s.Ended() || s.p.stopped || s.SSE.HasEvent() }

// Next returns the next event. A stream that ends before message_stop, an
// in-band error event and an invalid event end the stream with an
// *domain.UpstreamError. Keep-alive pings are yielded but, like SSE
// comments, are not progress for the idle timeout.
func (s *nativeStream) Next() (*ports.NativeEvent, error) {
	if err := s.Done(); err != nil {
		return nil, err
	}
	if s.p.stopped {
		return nil, s.End(io.EOF)
	}
	ev, err := s.SSE.Next()
	if err != nil {
		return nil, s.Broken(err)
	}
	info, err := s.p.event(ev.Type, ev.Data)
	if err != nil {
		return nil, s.End(err)
	}
	if info.typ != "ping" {
		s.A.Progress()
	}
	if s.p.started {
		s.A.Receiving()
	}
	if s.p.stopped {
		s.Drain()
		s.Release()
	}
	s.ev = ports.NativeEvent{Name: ev.Type, Data: ev.Data, Content: info.content, Usage: info.usage}
	return &s.ev, nil
}

// eventParser reads what the router needs from Messages API stream events:
// whether an event carries output, the stream's usage, its end and in-band
// errors. It holds no I/O, so that it can be tested and fuzzed alone.
type eventParser struct {
	usage   usage
	started bool // message_start was read
	stopped bool // message_stop was read
	key     string
}

// eventInfo is what eventParser.event learnt from one event.
type eventInfo struct {
	typ     string        // the data's "type", else the event name
	content bool          // a content_block_delta: generated output
	usage   *domain.Usage // on message_delta: the usage so far
}

// event reads one event: its name (the event: field) and data. Only the
// top-level members it needs are decoded, so that the token deltas that
// make up most of a stream cost one scan each.
func (p *eventParser) event(name string, data []byte) (eventInfo, error) {
	info := eventInfo{typ: name}
	var msg, usg, errv []byte
	it := jsonx.Object(data)
	var m jsonx.Member
	for it.Next(&m) {
		switch {
		case m.KeyFold("type"):
			if typ := eventType(m.Value(data)); typ != "" {
				info.typ = typ
			}
		case m.KeyFold("message"):
			msg = m.Value(data)
		case m.KeyFold("usage"):
			usg = m.Value(data)
		case m.KeyFold("error"):
			errv = m.Value(data)
		}
	}
	if err := it.Err(); err != nil {
		return info, invalidEvent(err)
	}
	switch info.typ {
	case "message_start":
		if msg != nil {
			var start struct {
				Usage usage `json:"usage"`
			}
			if err := json.Unmarshal(msg, &start); err != nil {
				return info, invalidEvent(err)
			}
			p.usage = start.Usage
		}
		p.started = true
	case "content_block_delta":
		info.content = true
	case "message_delta":
		if usg != nil {
			var d usage
			if err := json.Unmarshal(usg, &d); err != nil {
				return info, invalidEvent(err)
			}
			p.usage.merge(&d)
		}
		info.usage = p.usage.openai()
	case "message_stop":
		p.stopped = true
	case "error":
		var ae *apiError
		if errv != nil && !jsonx.IsNull(errv) {
			ae = new(apiError)
			if err := json.Unmarshal(errv, ae); err != nil {
				ae = nil // still an error event: classed as api_error
			}
		}
		return info, streamError(ae, p.key)
	}
	// ping, content_block_start/stop and event types added later: passed on.
	return info, nil
}

// eventTypes are the Messages API's stream event types, matched by their
// JSON form so that the common ones are read without allocating.
var eventTypes = [...]string{"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop", "ping", "error"}

// eventType decodes an event's "type" value; "" when it is not a string.
func eventType(v []byte) string {
	if len(v) > 2 && v[0] == '"' && v[len(v)-1] == '"' {
		for _, t := range eventTypes {
			if string(v[1:len(v)-1]) == t {
				return t
			}
		}
	}
	typ, _ := jsonx.String(v)
	return typ
}

func invalidEvent(err error) *domain.UpstreamError {
	return &domain.UpstreamError{Class: domain.ClassAmbiguous, Status: 200, Message: "the upstream sent an invalid stream event", Err: err}
}
