package mock

import (
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airouter/airouter/core/jsonx"
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
