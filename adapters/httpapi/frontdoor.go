package httpapi

// What the front doors (OpenAI chat, Anthropic Messages, the Responses API)
// share: reading the client's token and body, the router's response
// headers, and writing JSON answers and event streams.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/ports"
)

// A door is what differs between the front doors while a request is
// admitted and streamed: where the client's key is read from, and the
// envelope of the errors.
type door struct {
	key          func(*http.Request) string
	fail         func(http.ResponseWriter, error) // any error
	unauthorized func(http.ResponseWriter, error) // a failed authentication
	// refuse answers a body too slow (408) or too large (413); code is
	// OpenAI's error code.
	refuse func(w http.ResponseWriter, status int, code, msg string)
}

// An admission is a front-door request whose client is authenticated and
// whose body has arrived.
type admission struct {
	reqID  string
	start  time.Time
	rc     *http.ResponseController
	client *domain.ClientKey
	body   []byte
}

// call is the use cases' call for the admitted request asking req.
func (a admission) call(r *http.Request, req *domain.ChatRequest) *gateway.Call {
	return &gateway.Call{Req: req, Client: a.client, Provider: r.Header.Get("X-Provider"), RequestID: a.reqID, Start: a.start}
}

// native is the use cases' call of operation op for the admitted request:
// body is what native routes get, req the routing view (the whole chat
// request when translate is set), beta the name of the client's
// beta-feature header.
func (a admission) native(r *http.Request, op ports.Operation, body []byte, req *domain.ChatRequest, translate bool, need domain.Capability, beta string) *gateway.NativeCall {
	return &gateway.NativeCall{Call: *a.call(r, req), Op: op, Body: body, Beta: r.Header.Get(beta), Translate: translate, Needs: need}
}

// admit starts a front-door request: it sets the request id, authenticates
// the client and reads the body. The body must arrive within bodyTimeout.
// The deadline is set first and lifted once the body has arrived, so that it
// does not cut a long stream (net/http's background read would cancel the
// request); on every early return it stays, so that net/http's drain of an
// unread body cannot wait on a trickling client either. A failure is
// answered in d's envelope and recorded; ok is false then.
func (h *openaiHandlers) admit(w http.ResponseWriter, r *http.Request, d door) (a admission, ok bool) {
	a.start = time.Now()
	a.reqID = h.gw.NewRequestID()
	w.Header().Set(headerRequestID, a.reqID)
	a.rc = http.NewResponseController(w)
	if h.bodyTimeout > 0 {
		_ = a.rc.SetReadDeadline(time.Now().Add(h.bodyTimeout))
	}
	client, err := h.gw.Authenticate(d.key(r))
	if err != nil {
		d.unauthorized(w, err)
		h.gw.Reject(a.reqID, a.start, nil, http.StatusUnauthorized, err)
		return a, false
	}
	a.client = client
	a.body, err = readBody(r, h.maxBody)
	switch err {
	case nil:
		if h.bodyTimeout > 0 {
			_ = a.rc.SetReadDeadline(time.Time{})
		}
		return a, true
	case errBodyTimeout:
		w.Header().Set("Connection", "close")
		d.refuse(w, http.StatusRequestTimeout, "request_timeout", "The request body did not arrive within "+h.bodyTimeout.String()+".")
		h.gw.Reject(a.reqID, a.start, client, http.StatusRequestTimeout, &domain.Error{Code: domain.CodeInvalid, Msg: "request body timeout"})
	case errBodyTooLarge:
		d.refuse(w, http.StatusRequestEntityTooLarge, "request_too_large", "The request body exceeds the limit of "+strconv.FormatInt(h.maxBody, 10)+" bytes.")
		h.gw.Reject(a.reqID, a.start, client, http.StatusRequestEntityTooLarge, &domain.Error{Code: domain.CodeInvalid, Msg: "request body too large"})
	default:
		h.reject(w, d, a, err)
	}
	return a, false
}

// authenticate sets the request id of a bodiless OpenAI-style request (the
// model and stored-response reads and deletes) and authenticates its client,
// answering a failure in OpenAI's envelope; ok is false then.
func (h *openaiHandlers) authenticate(w http.ResponseWriter, r *http.Request) (client *domain.ClientKey, ok bool) {
	w.Header().Set(headerRequestID, h.gw.NewRequestID())
	client, err := h.gw.Authenticate(bearer(r))
	if err != nil {
		writeOpenAIError(w, err)
		return nil, false
	}
	return client, true
}

// reject answers err in d's envelope and records the admitted request as
// refused.
func (h *openaiHandlers) reject(w http.ResponseWriter, d door, a admission, err error) {
	d.fail(w, err)
	h.gw.Reject(a.reqID, a.start, a.client, StatusOf(err), err)
}

// serveStream answers call with a server-sent event stream. The first chunk
// arrives before the status line goes out, so that failures before it keep
// their status (answered by d) and may fail over; see relayChat.
func (h *openaiHandlers) serveStream(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, call *gateway.Call, d door,
	chunk func(*domain.ChatChunk) ([]byte, error), end func(error) []byte) {
	st, res, err := h.gw.Stream(r.Context(), call)
	setResult(w, res)
	if err != nil {
		d.fail(w, err)
		return
	}
	defer st.Close()
	startEventStream(w)
	h.relayChat(w, rc, st, chunk, end)
}

// relayChat writes an open chat stream whose status line went out: each
// chunk as chunk's bytes (none: nothing), and the error that ends the stream
// (io.EOF after a clean end) as end's; chunks that arrived together are
// flushed together. An error of chunk ends the stream without a last event.
func (h *openaiHandlers) relayChat(w http.ResponseWriter, rc *http.ResponseController, st *gateway.Stream,
	chunk func(*domain.ChatChunk) ([]byte, error), end func(error) []byte) {
	for {
		ch, err := st.Next()
		if h.writeTimeout > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(h.writeTimeout))
		}
		if err != nil {
			_, _ = w.Write(end(err))
			_ = rc.Flush()
			return
		}
		b, err := chunk(ch)
		if err != nil {
			return
		}
		if len(b) > 0 {
			if _, err := w.Write(b); err != nil {
				return // the client is gone: Close cancels the upstream
			}
		}
		if st.Ready() {
			continue // the next chunk is already here: send both at once
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// serveNativeStream answers a NativeCall with a server-sent event stream:
// the upstream's own events when a route served it natively (relayEvents
// with fail and onEvent), else the chat stream of a translated route
// (relayChat with chunk and end). Failures before the first event are
// answered by d.
func (h *openaiHandlers) serveNativeStream(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, call *gateway.NativeCall, d door,
	fail func(error) []byte, onEvent func(*ports.NativeEvent) []byte,
	chunk func(*domain.ChatChunk) ([]byte, error), end func(error) []byte) {
	sd, res, err := h.gw.StreamNative(r.Context(), call)
	setResult(w, res)
	if err != nil {
		d.fail(w, err)
		return
	}
	if sd.Native != nil {
		defer sd.Native.Close()
		startEventStream(w)
		h.relayEvents(w, rc, sd.Native, fail, onEvent)
		return
	}
	defer sd.Chat.Close()
	startEventStream(w)
	h.relayChat(w, rc, sd.Chat, chunk, end)
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	// Anthropic-style clients and some tools send the key in api-key headers.
	if k := r.Header.Get("Api-Key"); k != "" {
		return k
	}
	return ""
}

// readBody reads at most limit bytes of the body into one buffer that the
// request keeps. The buffer grows from the bytes actually read.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errBodyTooLarge
	}
	size := int64(512)
	if r.ContentLength > 0 {
		size = min(r.ContentLength+1, initialBodyBuffer) // +1: EOF is seen without growing
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, errBodyTimeout
		}
		return nil, &domain.Error{Code: domain.CodeInvalid, Msg: "could not read the request body"}
	}
	if n > limit {
		return nil, errBodyTooLarge
	}
	return buf.Bytes(), nil
}

func setResult(w http.ResponseWriter, res *gateway.Result) {
	if res == nil {
		return
	}
	hd := w.Header()
	if res.Provider != "" {
		hd.Set(headerProvider, res.Provider)
	}
	if res.Attempts > 0 {
		hd.Set(headerAttempts, strconv.Itoa(res.Attempts))
	}
	setRateLimitHeaders(hd, &res.Limits)
}

// writeBody answers 200 with a JSON body and hands the bytes to the kernel
// at once, so that the client does not wait for the statistics and logging
// that follow.
func writeBody(w http.ResponseWriter, out []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// startEventStream sends the status line and headers of a server-sent event
// stream (every front door's: OpenAI's, Anthropic's, the Responses API's).
func startEventStream(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Connection", "keep-alive")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
