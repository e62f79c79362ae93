package responsesapi

import (
	"encoding/json"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/jsonx"
)

// Native routes (OpenAI upstreams) receive the client's body as it is, with
// one exception: a request that continues a stored response
// (previous_response_id) is sent with its full history as input and
// without previous_response_id, because the router's store, not the
// upstream's, is where the chain lives (it may have started on another
// provider).

// NativeBody returns the body to send a native route: body itself when req
// continues no stored response, else body with input replaced by req.Input
// (already History-expanded) and previous_response_id removed.
func NativeBody(body []byte, req *Request) ([]byte, error) {
	if req.PreviousResponseID == "" {
		return body, nil
	}
	input, err := json.Marshal(req.Input)
	if err != nil {
		return nil, err
	}
	return jsonx.Patch(make([]byte, 0, len(body)+len(input)), body, []jsonx.Op{
		{Key: "input", Value: input},
		{Key: "previous_response_id", Delete: true},
	})
}

// DecodeResponse reads an upstream's response object (the body of a
// native answer) for the store. Members the router does not model are
// dropped from the stored copy only; the client gets the upstream's bytes.
func DecodeResponse(body []byte) (*Response, error) {
	var r Response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	if r.ID == "" {
		return nil, domain.FieldError("id", "the upstream's response has no id")
	}
	return &r, nil
}

// TerminalResponse returns the response object of a stream's terminal
// event (response.completed, response.incomplete or response.failed), and
// whether the event is one.
func TerminalResponse(name string, data []byte) (*Response, bool) {
	switch name {
	case "response.completed", "response.incomplete", "response.failed":
	default:
		return nil, false
	}
	var ev struct {
		Response *Response `json:"response"`
	}
	if json.Unmarshal(data, &ev) != nil || ev.Response == nil || ev.Response.ID == "" {
		return nil, true
	}
	return ev.Response, true
}

// ErrorEvent is the error event that ends a native stream broken after its
// first event; seq is its sequence_number (the count of events before it:
// upstream streams number their events from 0).
func ErrorEvent(err error, seq int) []byte {
	b, _ := json.Marshal(event{Type: "error", SequenceNumber: seq, Code: errorCode(err), Message: new(domain.ErrorMessage(err)), Param: json.RawMessage("null")})
	out := append([]byte("event: error\ndata: "), b...)
	return append(out, "\n\n"...)
}

// WithPrevious sets previous_response_id in a native answer (a response
// object) of a request that continued a stored response: the upstream was
// sent the history instead, so it answers null, but the client asked for a
// continuation and its SDK reads the field back. Bodies of requests without
// one, and bodies that are not objects, are returned as they are.
func WithPrevious(body []byte, req *Request) []byte {
	if req.PreviousResponseID == "" {
		return body
	}
	id := jsonx.AppendString(nil, req.PreviousResponseID)
	out, err := jsonx.Patch(make([]byte, 0, len(body)+len(id)), body, []jsonx.Op{{Key: "previous_response_id", Value: id}})
	if err != nil {
		return body
	}
	return out
}

// EventWithPrevious is WithPrevious for the response object of a stream
// event (response.created, .in_progress, .completed, …); events without one
// are returned as they are.
func EventWithPrevious(data []byte, req *Request) []byte {
	if req.PreviousResponseID == "" {
		return data
	}
	out, err := jsonx.Patch(make([]byte, 0, len(data)+len(req.PreviousResponseID)+32), data, []jsonx.Op{{Key: "response", OnlyIfPresent: true,
		Edit: func(old []byte) []byte {
			if len(old) == 0 || old[0] != '{' {
				return nil
			}
			return WithPrevious(old, req)
		}}})
	if err != nil {
		return data
	}
	return out
}
