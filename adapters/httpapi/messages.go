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
// /v1/chat/completions (CallNative and StreamNative): limits, routing,
// failover before the first byte, statistics, metrics and the request log
// are theirs. Anthropic routes get the client's body natively (their answer
// and events pass through); other routes are served the neutral chat request
// in their own wire format and their answer is encoded back. Errors use
// Anthropic's envelope {"type":"error","error":{"type","message"}}.

// anthropicKey returns the client key of an Anthropic-style request: x-api-key
// (what anthropic-sdk-go and Claude Code with ANTHROPIC_API_KEY send), else
// Authorization: Bearer (ANTHROPIC_AUTH_TOKEN).
func anthropicKey(r *http.Request) string {
	if k := strings.TrimSpace(r.Header.Get("X-Api-Key")); k != "" {
		return k
	}
	return bearer(r)
}

// anthropicDoor reads the key from X-Api-Key (or Authorization) and answers
// in Anthropic's error envelope.
var anthropicDoor = door{key: anthropicKey, fail: writeAnthropicError,
	unauthorized: func(w http.ResponseWriter, err error) {
		writeAnthropicStatus(w, http.StatusUnauthorized, domain.ErrorMessage(err))
	},
	refuse: func(w http.ResponseWriter, status int, _, msg string) { writeAnthropicStatus(w, status, msg) }}

func (h *openaiHandlers) messages(w http.ResponseWriter, r *http.Request) {
	a, ok := h.admit(w, r, anthropicDoor)
	if !ok {
		return
	}
	req, err := anthropicapi.DecodeRequest(a.body)
	if err != nil {
		h.reject(w, anthropicDoor, a, err)
		return
	}
	call := a.native(r, ports.OpMessages, a.body, req.Chat, true, domain.CapChat, "Anthropic-Beta")
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
	enc := anthropicapi.NewStreamEncoder(req)
	pinged := false
	chunk := func(ch *domain.ChatChunk) ([]byte, error) {
		out := enc.Chunk(ch)
		if !pinged {
			// Anthropic sends a ping after message_start; clients expect
			// to see (and ignore) one.
			pinged = true
			out = append(out, enc.Ping()...)
		}
		return out, nil
	}
	end := func(err error) []byte {
		if err == io.EOF {
			return enc.Finish()
		}
		return enc.Fail(anthropicStatus(err), anthropicMessage(err))
	}
	h.serveNativeStream(w, r, http.NewResponseController(w), call, anthropicDoor, anthropicErrorEvent, nil, chunk, end)
}

// countTokens answers POST /v1/messages/count_tokens: natively when a route
// of the model is an Anthropic upstream (the upstream's own count), else,
// or when those upstreams fail, with the codec's estimate, marked by
// anthropicapi.EstimateHeader. The model must exist for the key, as for
// /v1/messages.
func (h *openaiHandlers) countTokens(w http.ResponseWriter, r *http.Request) {
	a, ok := h.admit(w, r, anthropicDoor)
	if !ok {
		return
	}
	rf, err := anthropicapi.Routing(a.body)
	if err != nil {
		h.reject(w, anthropicDoor, a, err)
		return
	}
	if !h.modelServed(a.client, rf.Model) {
		h.reject(w, anthropicDoor, a, gateway.ModelNotFound(rf.Model))
		return
	}
	estimate, err := anthropicapi.CountTokensResponse(a.body)
	if err != nil {
		h.reject(w, anthropicDoor, a, err)
		return
	}
	if h.gw.ServesNatively(rf.Model, ports.OpCountTokens) {
		call := a.native(r, ports.OpCountTokens, a.body, &domain.ChatRequest{Model: rf.Model, Raw: a.body}, false, domain.CapChat, "Anthropic-Beta")
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
