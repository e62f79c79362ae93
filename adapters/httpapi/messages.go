package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/airouter/airouter/adapters/httpapi/anthropicapi"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/ports"
)

// The Anthropic Messages front door (POST /v1/messages and
// /v1/messages/count_tokens). Requests are decoded by anthropicapi into the
// neutral chat request and served by the same use cases as
// /v1/chat/completions (Complete and Stream): limits, routing, failover before
// the first byte, statistics, metrics and the request log are theirs. Every
// route is served translated in this version (the provider adapter turns the
// chat request into its own wire format); native pass-through to Anthropic
// upstreams (ports/native.go) is not wired yet. Errors use Anthropic's
// envelope {"type":"error","error":{"type","message"}}.

// anthropicKey returns the client key of an Anthropic-style request: x-api-key
// (what anthropic-sdk-go and Claude Code with ANTHROPIC_API_KEY send), else
// Authorization: Bearer (ANTHROPIC_AUTH_TOKEN).
func anthropicKey(r *http.Request) string {
	if k := strings.TrimSpace(r.Header.Get("X-Api-Key")); k != "" {
		return k
	}
	return bearer(r)
}

// messagesBody authenticates the request and reads its body, answering
// failures in Anthropic's envelope. ok is false when the answer was written.
func (h *openaiHandlers) messagesBody(w http.ResponseWriter, r *http.Request, reqID string, start time.Time) (body []byte, client *domain.ClientKey, ok bool) {
	rc := http.NewResponseController(w)
	if h.bodyTimeout > 0 {
		_ = rc.SetReadDeadline(time.Now().Add(h.bodyTimeout))
	}
	client, err := h.gw.Authenticate(anthropicKey(r))
	if err != nil {
		writeAnthropicStatus(w, http.StatusUnauthorized, domain.ErrorMessage(err))
		h.gw.Reject(reqID, start, nil, http.StatusUnauthorized, err)
		return nil, nil, false
	}
	body, err = readBody(r, h.maxBody)
	switch {
	case err == nil:
		if h.bodyTimeout > 0 {
			_ = rc.SetReadDeadline(time.Time{})
		}
		return body, client, true
	case err == errBodyTimeout:
		w.Header().Set("Connection", "close")
		writeAnthropicStatus(w, http.StatusRequestTimeout, "The request body did not arrive within "+h.bodyTimeout.String()+".")
		h.gw.Reject(reqID, start, client, http.StatusRequestTimeout, &domain.Error{Code: domain.CodeInvalid, Msg: "request body timeout"})
	case err == errBodyTooLarge:
		writeAnthropicStatus(w, http.StatusRequestEntityTooLarge, "The request body exceeds the limit of "+strconv.FormatInt(h.maxBody, 10)+" bytes.")
		h.gw.Reject(reqID, start, client, http.StatusRequestEntityTooLarge, &domain.Error{Code: domain.CodeInvalid, Msg: "request body too large"})
	default:
		writeAnthropicError(w, err)
		h.gw.Reject(reqID, start, client, StatusOf(err), err)
	}
	return nil, nil, false
}

func (h *openaiHandlers) messages(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := h.gw.NewRequestID()
	w.Header().Set(headerRequestID, reqID)
	body, client, ok := h.messagesBody(w, r, reqID, start)
	if !ok {
		return
	}
	req, err := anthropicapi.DecodeRequest(body)
	if err != nil {
		writeAnthropicError(w, err)
		h.gw.Reject(reqID, start, client, StatusOf(err), err)
		return
	}
	call := &gateway.NativeCall{Op: ports.OpMessages, Body: body, Beta: r.Header.Get("Anthropic-Beta"), Translate: true, Needs: domain.CapChat,
		Call: gateway.Call{Req: req.Chat, Client: client, Provider: r.Header.Get("X-Provider"), RequestID: reqID, Start: start}}
	if req.Chat.Stream {
		h.messagesStream(w, r, req, call)
		return
	}
	served, res, err := h.gw.CallNative(r.Context(), call)
	setResult(w, res)
	if err != nil {
		writeAnthropicError(w, err)
		return
	}
	if served.Native != nil {
		writeBody(w, served.Native.Body)
		res.Finish()
		return
	}
	out, err := anthropicapi.EncodeResponse(req, served.Chat)
	if err != nil {
		// The upstream's answer cannot be expressed; it was served, so
		// it is recorded all the same.
		writeAnthropicStatus(w, http.StatusBadGateway, "The upstream's answer could not be translated: "+err.Error())
		res.Finish()
		return
	}
	writeBody(w, out)
	res.Finish()
}

// messagesStream writes Anthropic's event sequence. As for chat, the first
// chunk arrives before the status line, so failures before it keep their
// status and may fail over; after it a failure is an "event: error".
func (h *openaiHandlers) messagesStream(w http.ResponseWriter, r *http.Request, req *anthropicapi.Request, call *gateway.NativeCall) {
	rc := http.NewResponseController(w)
	sd, res, err := h.gw.StreamNative(r.Context(), call)
	setResult(w, res)
	if err != nil {
		writeAnthropicError(w, err)
		return
	}
	if sd.Native != nil {
		defer sd.Native.Close()
		startEventStream(w)
		h.relayEvents(w, rc, sd.Native, anthropicErrorEvent, nil)
		return
	}
	st := sd.Chat
	defer st.Close()
	startEventStream(w)
	enc := anthropicapi.NewStreamEncoder(req)
	pinged := false
	for {
		ch, err := st.Next()
		if h.writeTimeout > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(h.writeTimeout))
		}
		if err == io.EOF {
			_, _ = w.Write(enc.Finish())
			_ = rc.Flush()
			return
		}
		if err != nil {
			_, _ = w.Write(enc.Fail(anthropicStatus(err), anthropicMessage(err)))
			_ = rc.Flush()
			return
		}
		out := enc.Chunk(ch)
		if len(out) > 0 {
			if _, err := w.Write(out); err != nil {
				return // the client is gone: Close cancels the upstream
			}
		}
		if !pinged {
			// Anthropic sends a ping after message_start; clients expect
			// to see (and ignore) one.
			pinged = true
			if _, err := w.Write(enc.Ping()); err != nil {
				return
			}
		}
		if st.Ready() {
			continue
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// countTokens answers POST /v1/messages/count_tokens: natively when a route
// of the model is an Anthropic upstream (the upstream's own count), else,
// or when those upstreams fail, with the codec's estimate, marked by
// anthropicapi.EstimateHeader. The model must exist for the key, as for
// /v1/messages.
func (h *openaiHandlers) countTokens(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := h.gw.NewRequestID()
	w.Header().Set(headerRequestID, reqID)
	body, client, ok := h.messagesBody(w, r, reqID, start)
	if !ok {
		return
	}
	rf, err := anthropicapi.Routing(body)
	if err != nil {
		writeAnthropicError(w, err)
		h.gw.Reject(reqID, start, client, StatusOf(err), err)
		return
	}
	if !h.modelServed(client, rf.Model) {
		err := gateway.ModelNotFound(rf.Model)
		writeAnthropicError(w, err)
		h.gw.Reject(reqID, start, client, StatusOf(err), err)
		return
	}
	estimate, err := anthropicapi.CountTokensResponse(body)
	if err != nil {
		writeAnthropicError(w, err)
		h.gw.Reject(reqID, start, client, StatusOf(err), err)
		return
	}
	if h.gw.ServesNatively(rf.Model, ports.OpCountTokens) {
		call := &gateway.NativeCall{Op: ports.OpCountTokens, Body: body, Beta: r.Header.Get("Anthropic-Beta"), Needs: domain.CapChat,
			Call: gateway.Call{Req: &domain.ChatRequest{Model: rf.Model, Raw: body}, Client: client,
				Provider: r.Header.Get("X-Provider"), RequestID: reqID, Start: start}}
		served, res, err := h.gw.CallNative(r.Context(), call)
		setResult(w, res)
		if err == nil {
			writeBody(w, served.Native.Body)
			res.Finish()
			return
		}
		if domain.ErrorCode(err) == domain.CodeRateLimited {
			writeAnthropicError(w, err) // the client's own limits: no estimate either
			return
		}
		// The upstreams that count failed: the estimate is better than
		// an error for a request that only sizes a prompt.
	}
	w.Header().Set(anthropicapi.EstimateHeader, "true")
	writeBody(w, estimate)
}

// modelServed reports whether the model is listed for the client key.
func (h *openaiHandlers) modelServed(client *domain.ClientKey, name string) bool {
	if !client.Allows(name) {
		return false
	}
	for _, m := range h.gw.ListModels() {
		if m.Name == name {
			return true
		}
	}
	return false
}

// anthropicStatus is StatusOf with 499 (nobody listens) written as 408.
func anthropicStatus(err error) int {
	if s := StatusOf(err); s != 499 {
		return s
	}
	return http.StatusRequestTimeout
}

// anthropicMessage is the client-facing message of err; internal errors are
// not described.
func anthropicMessage(err error) string {
	if StatusOf(err) == 500 {
		return "The server had an error while processing your request."
	}
	return domain.ErrorMessage(err)
}

func writeAnthropicError(w http.ResponseWriter, err error) {
	status := anthropicStatus(err)
	var ue *domain.UpstreamError
	if errors.As(err, &ue) && ue.RetryAfter > 0 && (status == 429 || status == 503) {
		w.Header().Set("Retry-After", strconv.Itoa(int((ue.RetryAfter+time.Second-1)/time.Second)))
	}
	writeAnthropicStatus(w, status, anthropicMessage(err))
}

func writeAnthropicStatus(w http.ResponseWriter, status int, msg string) {
	b := anthropicapi.ErrorBody(status, msg)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
