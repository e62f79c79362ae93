package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/go-chi/chi/v5"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/core/routing"
)

// The OpenAI-compatible API is served by hand-written handlers on chi rather
// than through huma's request pipeline: request bodies must pass through
// unchanged (unknown fields included), errors use OpenAI's envelope, and
// streams are written as OpenAI frames them. The operations are still
// documented in the one OpenAPI document (see openai_docs.go).

// registerOpenAI serves and documents the OpenAI-compatible API and the
// Anthropic Messages and OpenAI Responses front doors.
func registerOpenAI(r chi.Router, api huma.API, o Options) {
	oh := &openaiHandlers{gw: o.Gateway, maxBody: o.MaxBodyBytes, bodyTimeout: o.BodyTimeout, writeTimeout: o.WriteTimeout}
	lim := newLimiter(o.MaxInFlight, o.OnShed)
	r.Post("/v1/chat/completions", lim.wrap(oh.chatCompletions))
	r.Get("/v1/models", lim.wrap(oh.listModels))
	r.Get("/v1/models/*", lim.wrap(oh.getModel))
	r.Post("/v1/embeddings", lim.wrap(oh.embeddings))
	r.Post("/v1/images/generations", lim.wrap(oh.images))
	r.Post("/v1/messages", lim.wrap(oh.messages))
	r.Post("/v1/messages/count_tokens", lim.wrap(oh.countTokens))
	rh := &responsesHandlers{openaiHandlers: oh, store: o.Responses, retention: o.ResponsesRetention}
	r.Post("/v1/responses", lim.wrap(rh.create))
	r.Get("/v1/responses/{id}", lim.wrap(rh.retrieve))
	r.Delete("/v1/responses/{id}", lim.wrap(rh.remove))
	documentOpenAI(api)
	documentPassthrough(api)
	documentMessages(api)
	documentResponses(api)
}

type openaiHandlers struct {
	gw           *gateway.Service
	maxBody      int64
	bodyTimeout  time.Duration
	writeTimeout time.Duration
}

// Header names of the router's response metadata.
const (
	headerRequestID = "X-Request-Id"
	headerProvider  = "X-Airouter-Provider"
	headerAttempts  = "X-Airouter-Attempts"
)

// initialBodyBuffer caps the buffer allocated before any byte arrives: a
// Content-Length is a claim, not bytes, and a client that claims 32 MiB and
// trickles must not hold 32 MiB. Bodies up to this size (nearly all) are read
// into one exactly sized buffer; larger ones grow it as bytes arrive.
const initialBodyBuffer = 64 << 10

// openAIDoor reads the key from Authorization (or Api-Key) and answers in
// OpenAI's error envelope.
var openAIDoor = door{key: bearer, fail: writeOpenAIError, unauthorized: writeOpenAIError,
	refuse: func(w http.ResponseWriter, status int, code, msg string) {
		writeOpenAIErrorStatus(w, status, "invalid_request_error", code, "", msg)
	}}

var (
	errBodyTooLarge = errors.New("request body too large")
	errBodyTimeout  = errors.New("request body not received in time")
)

func (h *openaiHandlers) chatCompletions(w http.ResponseWriter, r *http.Request) {
	a, ok := h.admit(w, r, openAIDoor)
	if !ok {
		return
	}
	req, err := domain.ParseChatRequest(a.body)
	if err != nil {
		h.reject(w, openAIDoor, a, err)
		return
	}
	call := a.call(r, req)
	if req.Stream {
		h.stream(w, r, a.rc, call)
		return
	}
	resp, res, err := h.gw.Complete(r.Context(), call)
	setResult(w, res)
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	out := resp.Raw
	if out == nil {
		if out, err = json.Marshal(resp); err != nil {
			writeOpenAIError(w, err)
			return
		}
	}
	writeBody(w, out)
	res.Finish()
}

var (
	dataPrefix = []byte("data: ")
	frameEnd   = []byte("\n\n")
	doneFrame  = []byte("data: [DONE]\n\n")
)

// stream writes an OpenAI server-sent event stream. The first chunk arrives
// before the status line goes out, so that failures before it keep their
// status and may fail over; after it, a failure ends the stream with an error
// event and no [DONE].
func (h *openaiHandlers) stream(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, call *gateway.Call) {
	var scratch []byte
	chunk := func(ch *domain.ChatChunk) ([]byte, error) {
		payload := ch.Raw
		if payload == nil {
			var err error
			if payload, err = json.Marshal(ch); err != nil {
				return nil, err
			}
		}
		scratch = append(scratch[:0], dataPrefix...)
		scratch = append(scratch, payload...)
		return append(scratch, frameEnd...), nil
	}
	end := func(err error) []byte {
		if err == io.EOF {
			return doneFrame
		}
		scratch = append(scratch[:0], dataPrefix...)
		scratch = appendOpenAIError(scratch, err)
		return append(scratch, frameEnd...)
	}
	h.serveStream(w, r, rc, call, openAIDoor, chunk, end)
}

// modelObject is OpenAI's model object with one extra field, capabilities:
// what the model serves through its usable routes.
type modelObject struct {
	ID           string   `json:"id"`
	Object       string   `json:"object"`
	Created      int64    `json:"created"`
	OwnedBy      string   `json:"owned_by"`
	Capabilities []string `json:"capabilities"`
}

func toModelObject(m routing.ModelInfo) modelObject {
	caps := make([]string, len(m.Capabilities))
	for i, c := range m.Capabilities {
		caps[i] = string(c)
	}
	return modelObject{ID: m.Name, Object: "model", Created: m.Created.Unix(), OwnedBy: "airouter", Capabilities: caps}
}

type modelList struct {
	Object string        `json:"object"`
	Data   []modelObject `json:"data"`
}

func (h *openaiHandlers) listModels(w http.ResponseWriter, r *http.Request) {
	client, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	ms := h.gw.ListModels()
	out := modelList{Object: "list", Data: make([]modelObject, 0, len(ms))}
	for _, m := range ms {
		if !client.Allows(m.Name) {
			continue // absent for a key whose allowlist excludes it
		}
		out.Data = append(out.Data, toModelObject(m))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *openaiHandlers) getModel(w http.ResponseWriter, r *http.Request) {
	client, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	name := chi.URLParam(r, "*")
	for _, m := range h.gw.ListModels() {
		if m.Name == name && client.Allows(name) {
			writeJSON(w, http.StatusOK, toModelObject(m))
			return
		}
	}
	writeOpenAIError(w, gateway.ModelNotFound(name))
}

// openAIError is OpenAI's error envelope.
type openAIError struct {
	Error openAIErrorBody `json:"error"`
}

type openAIErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// openAIErrorFor maps an error to a status and OpenAI's type and code.
func openAIErrorFor(err error) (status int, typ, code, param, msg string) {
	status = StatusOf(err)
	msg = domain.ErrorMessage(err)
	var de *domain.Error
	if errors.As(err, &de) {
		param = de.Field
		msg = de.Msg
	}
	var ue *domain.UpstreamError
	isUp := errors.As(err, &ue)
	switch {
	case status == 401:
		typ, code = "invalid_request_error", "invalid_api_key"
	case status == 404 && param == "model":
		typ, code = "invalid_request_error", "model_not_found"
	case status == 429:
		typ, code = "rate_limit_error", "rate_limit_exceeded"
	case status == 499:
		typ, code = "invalid_request_error", "client_closed_request"
	case status >= 400 && status < 500:
		typ = "invalid_request_error"
		if isUp && ue.Type != "" {
			code = ue.Type
		}
	case status == 503:
		typ, code = "api_error", "upstream_unavailable"
	case status == 504:
		typ, code = "api_error", "upstream_timeout"
	case status == 502:
		typ, code = "api_error", "upstream_error"
	default:
		typ, code, msg = "api_error", "internal_error", "The server had an error while processing your request."
	}
	return status, typ, code, param, msg
}

func appendOpenAIError(dst []byte, err error) []byte {
	_, typ, code, param, msg := openAIErrorFor(err)
	b, _ := json.Marshal(envelope(typ, code, param, msg))
	return append(dst, b...)
}

func envelope(typ, code, param, msg string) openAIError {
	e := openAIError{Error: openAIErrorBody{Message: msg, Type: typ}}
	if code != "" {
		e.Error.Code = &code
	}
	if param != "" {
		e.Error.Param = &param
	}
	return e
}

func writeOpenAIError(w http.ResponseWriter, err error) {
	status, typ, code, param, msg := openAIErrorFor(err)
	var ue *domain.UpstreamError
	if errors.As(err, &ue) && ue.RetryAfter > 0 && (status == 429 || status == 503) {
		w.Header().Set("Retry-After", strconv.Itoa(int((ue.RetryAfter+time.Second-1)/time.Second)))
	}
	if status == 499 {
		// Nobody is listening; net/http needs a valid status all the same.
		status = 408
	}
	writeOpenAIErrorStatus(w, status, typ, code, param, msg)
}

func writeOpenAIErrorStatus(w http.ResponseWriter, status int, typ, code, param, msg string) {
	writeJSON(w, status, envelope(typ, code, param, msg))
}
