package mock

import (
	"github.com/airouter/airouter/core/jsonx"

	"io"
	"math/rand/v2"

	"net/http"

	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Shared, never-modified header values: assigning them skips an allocation
// per response.
var (
	hvJSON    = []string{"application/json"}
	hvSSE     = []string{"text/event-stream; charset=utf-8"}
	hvNoCache = []string{"no-cache"}
	hvText    = []string{"text/plain; charset=utf-8"}
)

type handler struct {
	cfg          Config
	retryAfter   []string
	openAIModels []byte
	anthModels   []byte
	salt         uint32
	seq          atomic.Uint64
	pool         sync.Pool // *state
}

// state is the per-request scratch space, pooled.
type state struct {
	body  []byte
	buf   []byte
	pre   []byte // OpenAI chunk prefix of the current stream
	timer *time.Timer
	ri    reqInfo   // chat, messages, responses
	ei    embedInfo // embeddings
	ii    imageInfo // images
}

// NewHandler returns the mock upstream. Routes:
//
//	POST /v1/chat/completions, /chat/completions  OpenAI Chat Completions
//	POST /v1/messages                             Anthropic Messages
//	POST /v1/responses, /responses                OpenAI Responses (JSON or SSE)
//	POST /v1/embeddings, /embeddings              OpenAI Embeddings
//	POST /v1/images/generations                   OpenAI image generation (b64_json or url)
//	GET  /mock/images/WxH/RRGGBB.png              the image a url answer points to
//	GET  /v1/models, /models                      OpenAI list, or Anthropic's when
//	                                              x-api-key or anthropic-version is sent
//	GET  /healthz                                 200 "ok"
//
// Out-of-range Config values are clamped; call Config.Validate first to
// reject them instead.
func NewHandler(cfg Config) http.Handler {
	cfg.TPS = max(cfg.TPS, 0)
	cfg.Tokens = min(max(cfg.Tokens, 0), MaxTokens)
	cfg.Size = min(max(cfg.Size, 0), MaxSize)
	cfg.ErrorRate = min(max(cfg.ErrorRate, 0), 1)
	if cfg.ErrorStatus < 400 || cfg.ErrorStatus > 599 {
		cfg.ErrorStatus = 500
	}
	if checkErrorCode(cfg.ErrorCode) != nil {
		cfg.ErrorCode = ""
	}
	if cfg.Models == nil {
		cfg.Models = DefaultModels
	}
	h := &handler{
		cfg:        cfg,
		retryAfter: []string{retryAfterSeconds(cfg.RetryAfter)},
		salt:       rand.Uint32(),
	}
	h.openAIModels, h.anthModels = renderModels(cfg.Models)
	h.pool.New = func() any { return &state{body: make([]byte, 0, 4096), buf: make([]byte, 0, 4096)} }
	return h
}

func renderModels(models []string) (oa, an []byte) {
	oa = append(oa, `{"object":"list","data":[`...)
	an = append(an, `{"data":[`...)
	for i, m := range models {
		if i > 0 {
			oa = append(oa, ',')
			an = append(an, ',')
		}
		oa = append(oa, `{"id":`...)
		oa = jsonx.AppendString(oa, m)
		oa = append(oa, `,"object":"model","created":1735689600,"owned_by":"mockllm"}`...)
		an = append(an, `{"type":"model","id":`...)
		an = jsonx.AppendString(an, m)
		an = append(an, `,"display_name":`...)
		an = jsonx.AppendString(an, m)
		an = append(an, `,"created_at":"2025-01-01T00:00:00Z"}`...)
	}
	oa = append(oa, `]}`...)
	an = append(an, `],"has_more":false,"first_id":`...)
	if len(models) > 0 {
		an = jsonx.AppendString(an, models[0])
		an = append(an, `,"last_id":`...)
		an = jsonx.AppendString(an, models[len(models)-1])
	} else {
		an = append(an, `null,"last_id":null`...)
	}
	an = append(an, '}')
	return oa, an
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/chat/completions", "/chat/completions":
		h.serve(w, r, epChat)
	case "/v1/messages":
		h.serve(w, r, epMessages)
	case "/v1/responses", "/responses":
		h.serve(w, r, epResponses)
	case "/v1/embeddings", "/embeddings":
		h.serve(w, r, epEmbeddings)
	case "/v1/images/generations", "/images/generations":
		h.serve(w, r, epImages)
	case "/v1/models", "/models":
		prov := openAI
		if isAnthropic(r.Header) {
			prov = anthropic
		}
		switch {
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			h.writeError(w, prov, http.StatusMethodNotAllowed, "")
		case !h.authorized(r.Header):
			h.writeError(w, prov, http.StatusUnauthorized, "")
		case prov == anthropic:
			writeJSON(w, http.StatusOK, h.anthModels)
		default:
			writeJSON(w, http.StatusOK, h.openAIModels)
		}
	case "/healthz":
		w.Header()["Content-Type"] = hvText
		_, _ = io.WriteString(w, "ok\n")
	default:
		if strings.HasPrefix(r.URL.Path, imagePathPrefix) {
			h.serveImageFile(w, r)
			return
		}
		prov := openAI
		if isAnthropic(r.Header) {
			prov = anthropic
		}
		h.writeError(w, prov, http.StatusNotFound, "")
	}
}

func isAnthropic(hdr http.Header) bool {
	return len(hdr["X-Api-Key"]) > 0 || len(hdr["Anthropic-Version"]) > 0
}

func (h *handler) authorized(hdr http.Header) bool {
	key := h.cfg.RequireKey
	if key == "" {
		return true
	}
	if v := hdr["Authorization"]; len(v) > 0 && strings.HasPrefix(v[0], "Bearer ") && v[0][len("Bearer "):] == key {
		return true
	}
	v := hdr["X-Api-Key"]
	return len(v) > 0 && v[0] == key
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = hvJSON
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (h *handler) writeError(w http.ResponseWriter, prov provider, status int, msg string) {
	buf := appendError(make([]byte, 0, 256), prov, status, msg, "", h.salt, h.seq.Add(1))
	hdr := w.Header()
	hdr["Content-Type"] = hvJSON
	if status == http.StatusTooManyRequests {
		hdr["Retry-After"] = h.retryAfter
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf)
}

func (h *handler) getState() *state { return h.pool.Get().(*state) }

func (h *handler) putState(st *state) {
	if cap(st.body) > 1<<20 || cap(st.buf) > 1<<20 || cap(st.pre) > 1<<16 {
		st.body, st.buf, st.pre = make([]byte, 0, 4096), make([]byte, 0, 4096), nil
	}
	st.body, st.buf, st.pre = st.body[:0], st.buf[:0], st.pre[:0]
	st.ri, st.ei, st.ii = reqInfo{}, embedInfo{}, imageInfo{}
	h.pool.Put(st)
}

// endpoint is what a generating route answers.
type endpoint uint8

const (
	epChat       endpoint = iota // OpenAI Chat Completions
	epMessages                   // Anthropic Messages
	epResponses                  // OpenAI Responses
	epEmbeddings                 // OpenAI Embeddings
	epImages                     // OpenAI image generation
)

// errProvider is the provider whose error envelope ep answers with.
func (ep endpoint) errProvider() provider {
	if ep == epMessages {
		return anthropic
	}
	return openAI
}

// serve is the request flow every generating endpoint shares: method, key,
// X-Mock-* headers, body, the endpoint's own validation, latency, injected
// errors, a reset or stall before the first byte, then the answer.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, ep endpoint) {
	prov := ep.errProvider()
	if r.Method != http.MethodPost {
		h.writeError(w, prov, http.StatusMethodNotAllowed, "")
		return
	}
	if !h.authorized(r.Header) {
		h.writeError(w, prov, http.StatusUnauthorized, "")
		return
	}
	p, err := h.params(r.Header)
	if err != nil {
		h.writeError(w, prov, http.StatusBadRequest, err.Error())
		return
	}
	st := h.getState()
	defer h.putState(st)

	if status, msg := h.readBody(r, st); status != 0 {
		h.writeError(w, prov, status, msg)
		return
	}
	if msg := h.check(r.Header, ep, st); msg != "" {
		h.writeError(w, prov, http.StatusBadRequest, msg)
		return
	}

	ctx := r.Context()
	if !st.sleep(ctx, p.delay()) {
		return
	}
	if p.errorRate > 0 && (p.errorRate >= 1 || rand.Float64() < p.errorRate) {
		hdr := w.Header()
		hdr["Content-Type"] = hvJSON
		if p.errorStatus == http.StatusTooManyRequests {
			hdr["Retry-After"] = p.retryAfter
		}
		st.buf = appendError(st.buf[:0], prov, p.errorStatus, "", p.errorCode, h.salt, h.seq.Add(1))
		w.WriteHeader(p.errorStatus)
		_, _ = w.Write(st.buf)
		return
	}
	counters := h.cfg.Counters
	if counters != nil {
		counters.started.Add(1)
	}
	if p.reset == BeforeFirstByte {
		abort(w, true)
		return
	}
	if p.stall.At == BeforeFirstByte && !st.sleep(ctx, p.stall.For) {
		return
	}

	var whole bool
	switch ep {
	case epEmbeddings:
		whole = st.sleep(ctx, p.ttft) && h.writeBody(ctx, w, st, &p, st.ei.appendJSON(st.buf[:0]))
	case epImages:
		whole = st.sleep(ctx, p.ttft) && h.writeBody(ctx, w, st, &p, st.ii.appendJSON(st.buf[:0], r, time.Now().Unix()))
	default:
		pl := h.newPlan(ep, &p, &st.ri, len(st.body))
		if pl.stream {
			whole = h.writeStream(ctx, w, st, &p, &pl)
		} else {
			whole = h.writeWhole(ctx, w, st, &p, &pl)
		}
	}
	if whole && counters != nil {
		counters.finished.Add(1)
	}
}

// check scans and validates the request body of ep; a non-empty result is
// the message of a 400.
func (h *handler) check(hdr http.Header, ep endpoint, st *state) string {
	var err error
	switch ep {
	case epEmbeddings:
		err = scanEmbeddings(st.body, &st.ei)
	case epImages:
		err = scanImages(st.body, &st.ii)
	case epResponses:
		if err = scanResponses(st.body, &st.ri); err == nil && (st.ri.model == nil || len(st.ri.model) == 2) {
			return "model: field required"
		}
	default:
		if err = scanRequest(st.body, &st.ri); err == nil {
			return h.validate(hdr, ep.errProvider(), &st.ri)
		}
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// readBody reads the request body into st.body; a non-zero status reports
// why it could not.
func (h *handler) readBody(r *http.Request, st *state) (int, string) {
	if r.ContentLength > MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, ""
	}
	if r.ContentLength > int64(cap(st.body)) {
		st.body = make([]byte, 0, r.ContentLength+1)
	}
	for {
		if len(st.body) == cap(st.body) {
			if len(st.body) >= MaxBodyBytes {
				return http.StatusRequestEntityTooLarge, ""
			}
			st.body = append(st.body, 0)[:len(st.body)]
		}
		n, err := r.Body.Read(st.body[len(st.body):cap(st.body)])
		st.body = st.body[:len(st.body)+n]
		if err == io.EOF {
			return 0, ""
		}
		if err != nil {
			return http.StatusBadRequest, "reading the request body: " + err.Error()
		}
	}
}

func (h *handler) validate(hdr http.Header, prov provider, ri *reqInfo) string {
	switch {
	case ri.model == nil || len(ri.model) == 2:
		return "model: field required"
	case ri.messages == 0:
		return "messages: at least one message is required"
	case prov != anthropic || h.cfg.Lenient:
		return ""
	case ri.maxTokens == 0:
		return "max_tokens: field required"
	case len(hdr["Anthropic-Version"]) == 0:
		return "anthropic-version: header is required"
	}
	return ""
}

// newPlan decides the whole response from the effective parameters and the
// request.
func (h *handler) newPlan(ep endpoint, p *params, ri *reqInfo, bodyLen int) plan {
	prov := ep.errProvider()
	if ep == epResponses {
		prov = openAIResponses
	}
	tokens, size := p.tokens, p.size
	switch {
	case tokens == 0 && size == 0:
		size = SizeSmall
		tokens = SizeSmall / BytesPerToken
	case tokens == 0:
		tokens = max(1, (size+BytesPerToken-1)/BytesPerToken)
	case size == 0:
		size = min(tokens*BytesPerToken, MaxSize)
	}
	pl := plan{
		prov:         prov,
		stream:       ri.stream,
		includeUsage: ri.includeUsage && prov == openAI,
		model:        ri.model,
		id:           h.seq.Add(1),
		idSalt:       h.salt,
		created:      time.Now().Unix(),
		promptTokens: bodyLen/BytesPerToken + 1,
		echo:         &ri.echo,
	}
	if p.toolCall == ToolCallAuto && ri.tools > 0 && ri.lastIsUser && !ri.lastToolResult && !ri.toolChoiceNone {
		pl.tool = true
		pl.toolName = ri.toolName
		if p.toolName != "" {
			pl.toolName = jsonx.AppendString(nil, p.toolName)
		} else if pl.toolName == nil {
			pl.toolName = []byte(`"tool"`)
		}
	}
	if ri.maxTokens > 0 && int64(tokens) > ri.maxTokens {
		size = int(int64(size) * ri.maxTokens / int64(tokens))
		tokens = int(ri.maxTokens)
		pl.truncated = true
	}
	pl.tokens, pl.size = tokens, max(size, tokens)
	return pl
}
