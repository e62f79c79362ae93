package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"time"

	"github.com/airouter/airouter/adapters/httpapi/anthropicapi"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/ports"
)

// relayEvents writes a natively served stream's events as the upstream sent
// them, flushing when no further event is buffered (events that arrived
// together leave together). onEvent, when set, sees each event first and may
// return bytes to write instead of it (the Responses API stores its response
// before the terminal event). A failure after the first event ends the
// stream with fail's error event. The stream ends at the upstream's
// terminal event, at the first failure, or when the client leaves.
func (h *openaiHandlers) relayEvents(w http.ResponseWriter, rc *http.ResponseController, st *gateway.NativeStream,
	fail func(err error) []byte, onEvent func(ev *ports.NativeEvent) []byte) {
	buf := make([]byte, 0, 512)
	for {
		ev, err := st.Next()
		if h.writeTimeout > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(h.writeTimeout))
		}
		if err == io.EOF {
			_ = rc.Flush()
			return
		}
		if err != nil {
			_, _ = w.Write(fail(err))
			_ = rc.Flush()
			return
		}
		var out []byte
		if onEvent != nil {
			out = onEvent(ev)
		}
		if out == nil {
			buf = appendEvent(buf[:0], ev.Name, ev.Data)
			out = buf
		}
		if _, err := w.Write(out); err != nil {
			return // the client is gone: Close cancels the upstream
		}
		if st.Ready() {
			continue
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// appendEvent appends one server-sent event; data of several lines becomes
// several data: fields.
func appendEvent(b []byte, name string, data []byte) []byte {
	if name != "" {
		b = append(b, "event: "...)
		b = append(b, name...)
		b = append(b, '\n')
	}
	for {
		line, rest, more := bytes.Cut(data, []byte{'\n'})
		b = append(b, "data: "...)
		b = append(b, line...)
		b = append(b, '\n')
		if !more {
			break
		}
		data = rest
	}
	return append(b, '\n')
}

// anthropicErrorEvent is the event that ends a broken Messages stream.
func anthropicErrorEvent(err error) []byte {
	b := append([]byte("event: error\ndata: "), anthropicapi.ErrorBody(anthropicStatus(err), anthropicMessage(err))...)
	return append(b, "\n\n"...)
}
