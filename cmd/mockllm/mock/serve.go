package mock

import (
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/airouter/airouter/core/jsonx"
)

// The flow of a generating request: checks, body, validation, injected
// latency and failures, then the plan of the answer.

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
