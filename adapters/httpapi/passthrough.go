package httpapi

import (
	"net/http"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// POST /v1/embeddings and /v1/images/generations pass the client's body
// through to OpenAI, Ark and OpenAI-compatible upstreams (model replaced by
// the route's upstream model) over the same pipeline as chat: the client
// key's limits, the model's strategy, failover before the first byte,
// statistics and the request log with usage and cost. A model must declare
// the capability (embeddings, images), and routes whose provider cannot
// serve the operation (Anthropic) are skipped; a model with no such route
// is refused with a 400. The upstream's answer is returned as it sent it.

func (h *openaiHandlers) embeddings(w http.ResponseWriter, r *http.Request) {
	h.passthrough(w, r, ports.OpEmbeddings, domain.CapEmbeddings, domain.ParseEmbeddingsRequest)
}

func (h *openaiHandlers) images(w http.ResponseWriter, r *http.Request) {
	h.passthrough(w, r, ports.OpImages, domain.CapImages, domain.ParseImagesRequest)
}

func (h *openaiHandlers) passthrough(w http.ResponseWriter, r *http.Request, op ports.Operation, need domain.Capability,
	parse func([]byte) (*domain.ChatRequest, error)) {
	a, ok := h.admit(w, r, openAIDoor)
	if !ok {
		return
	}
	req, err := parse(a.body)
	if err != nil {
		h.reject(w, openAIDoor, a, err)
		return
	}
	call := a.native(r, op, a.body, req, false, need, "OpenAI-Beta")
	served, res, err := h.gw.CallNative(r.Context(), call)
	setResult(w, res)
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	writeBody(w, served.Native.Body)
	res.Finish()
}
