package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/airouter/airouter/adapters/httpapi/responsesapi"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/ports"
)

// ResponseStore keeps the responses of POST /v1/responses with store: true,
// for previous_response_id and GET/DELETE /v1/responses/{id}. A response
// belongs to the client key that created it: Get and Delete of another
// owner's response (or of an expired one) fail with domain.CodeNotFound.
type ResponseStore interface {
	SaveResponse(ctx context.Context, r ports.StoredResponse) error
	GetResponse(ctx context.Context, id string, owner int64, now time.Time) (ports.StoredResponse, error)
	DeleteResponse(ctx context.Context, id string, owner int64, now time.Time) error
}

// responsesHandlers serve the OpenAI Responses API on the translated path:
// the request becomes a chat request (responsesapi), goes through the chat
// use cases like /v1/chat/completions, and the answer is encoded back.
type responsesHandlers struct {
	*openaiHandlers
	store     ResponseStore // nil: storage off (store is ignored, ids are not found)
	retention time.Duration // 0: stored responses do not expire
}

// storeTimeout bounds a store round trip on the request path; it is
// detached from the client's context so that a client leaving right after
// the upstream answered does not lose the stored response.
const storeTimeout = 5 * time.Second

func (h *responsesHandlers) create(w http.ResponseWriter, r *http.Request) {
	a, ok := h.admit(w, r, openAIDoor)
	if !ok {
		return
	}
	client := a.client
	reject := func(err error) { h.reject(w, openAIDoor, a, err) }
	req, err := responsesapi.DecodeRequest(a.body)
	if err != nil {
		reject(err)
		return
	}
	if req.PreviousResponseID != "" {
		prev, err := h.load(r.Context(), req.PreviousResponseID, client, "previous_response_id")
		if err != nil {
			reject(err)
			return
		}
		req.Input = responsesapi.History(prev, req.Input)
	}
	chat, err := req.ChatRequest()
	if err != nil {
		reject(err)
		return
	}
	native, err := responsesapi.NativeBody(a.body, req)
	if err != nil {
		reject(err)
		return
	}
	call := a.native(r, ports.OpResponses, native, chat, true, domain.CapChat, "OpenAI-Beta")
	if req.Stream {
		h.streamResponse(w, r, a.rc, call, req)
		return
	}
	served, res, err := h.gw.CallNative(r.Context(), call)
	setResult(w, res)
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	defer res.Finish()
	if served.Native != nil {
		h.answerNative(w, req, served.Native.Body, client)
		return
	}
	resp, err := responsesapi.NewResponse(req, served.Chat, responsesapi.Options{})
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	// Stored before it is answered: the next request may name it.
	if err := h.save(req, resp, client); err != nil {
		writeOpenAIError(w, err)
		return
	}
	out, err := json.Marshal(resp)
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	writeBody(w, out)
}

// answerNative stores a native route's response (when asked to) and
// answers with the upstream's bytes (previous_response_id set back when the
// request continued a stored response).
func (h *responsesHandlers) answerNative(w http.ResponseWriter, req *responsesapi.Request, body []byte, client *domain.ClientKey) {
	body = responsesapi.WithPrevious(body, req)
	if h.store != nil && req.StoreEnabled() {
		resp, err := responsesapi.DecodeResponse(body)
		if err == nil {
			err = h.save(req, resp, client)
		}
		if err != nil {
			writeOpenAIError(w, fmt.Errorf("the upstream's response could not be stored: %w", err))
			return
		}
	}
	writeBody(w, body)
}

// streamResponse writes the Responses API's event stream. As for chat, the
// first event arrives before the status line, so errors before it keep
// their status and may fail over. A native route's events pass through; a
// translated route's chunks are encoded as the Responses events, and a
// failure after the first ends the stream with error and response.failed
// events. The response is stored before its last event (response.completed
// or response.failed) is written.
func (h *responsesHandlers) streamResponse(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, call *gateway.NativeCall, req *responsesapi.Request) {
	enc := responsesapi.NewStreamEncoder(req, responsesapi.Options{})
	chunk := func(ch *domain.ChatChunk) ([]byte, error) { return enc.Chunk(ch), nil }
	end := func(err error) []byte {
		var last []byte
		if err == io.EOF {
			last = enc.Finish()
		} else {
			last = enc.Fail(err)
		}
		if serr := h.save(req, enc.Response(), call.Client); serr != nil && err == io.EOF {
			// The client must not believe the response is stored: an
			// error event instead of response.completed.
			last = storeFailedEvent
		}
		return last
	}
	// Native events: previous_response_id set back, the response stored
	// from the terminal event before that event is written.
	seq := 0
	var buf []byte
	onEvent := func(ev *ports.NativeEvent) []byte {
		seq++
		data := responsesapi.EventWithPrevious(ev.Data, req)
		resp, terminal := responsesapi.TerminalResponse(ev.Name, data)
		if terminal && h.store != nil && req.StoreEnabled() && (resp == nil || h.save(req, resp, call.Client) != nil) && ev.Name == "response.completed" {
			return storeFailedEvent
		}
		if len(data) == len(ev.Data) {
			return nil // unchanged: written as it came
		}
		buf = appendEvent(buf[:0], ev.Name, data)
		return buf
	}
	fail := func(err error) []byte { return responsesapi.ErrorEvent(err, seq) }
	h.serveNativeStream(w, r, rc, call, openAIDoor, fail, onEvent, chunk, end)
}

var storeFailedEvent = []byte("event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"The response could not be stored.\",\"param\":null}\n\n")

// save stores resp when the request asked for it (store defaults to true).
func (h *responsesHandlers) save(req *responsesapi.Request, resp *responsesapi.Response, client *domain.ClientKey) error {
	if h.store == nil || !req.StoreEnabled() || resp == nil {
		return nil
	}
	stored := responsesapi.NewStored(req, resp)
	input, err := json.Marshal(stored.Input)
	if err != nil {
		return err
	}
	body, err := json.Marshal(stored.Response)
	if err != nil {
		return err
	}
	now := time.Now()
	rec := ports.StoredResponse{ID: resp.ID, Owner: owner(client), Model: resp.Model,
		PreviousResponseID: req.PreviousResponseID, Input: input, Response: body, CreatedAt: now}
	if h.retention > 0 {
		exp := now.Add(h.retention)
		rec.ExpiresAt = &exp
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := h.store.SaveResponse(ctx, rec); err != nil {
		return fmt.Errorf("store response %s: %w", resp.ID, err)
	}
	return nil
}

// load returns the stored response id of client; field names the
// parameter for the 404.
func (h *responsesHandlers) load(ctx context.Context, id string, client *domain.ClientKey, field string) (*responsesapi.Stored, error) {
	rec, err := h.get(ctx, id, client, field)
	if err != nil {
		return nil, err
	}
	var s responsesapi.Stored
	if err := json.Unmarshal(rec.Input, &s.Input); err != nil {
		return nil, fmt.Errorf("stored response %s is unreadable: %w", id, err)
	}
	if err := json.Unmarshal(rec.Response, &s.Response); err != nil {
		return nil, fmt.Errorf("stored response %s is unreadable: %w", id, err)
	}
	return &s, nil
}

func (h *responsesHandlers) get(ctx context.Context, id string, client *domain.ClientKey, field string) (ports.StoredResponse, error) {
	if h.store == nil || !validResponseID(id) {
		return ports.StoredResponse{}, responseNotFound(id, field)
	}
	rec, err := h.store.GetResponse(ctx, id, owner(client), time.Now())
	if domain.ErrorCode(err) == domain.CodeNotFound {
		return rec, responseNotFound(id, field)
	}
	return rec, err
}

func (h *responsesHandlers) retrieve(w http.ResponseWriter, r *http.Request) {
	client, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	rec, err := h.get(r.Context(), chi.URLParam(r, "id"), client, "")
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(rec.Response)
}

type responseDeleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

func (h *responsesHandlers) remove(w http.ResponseWriter, r *http.Request) {
	client, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	id := chi.URLParam(r, "id")
	if h.store == nil || !validResponseID(id) {
		writeOpenAIError(w, responseNotFound(id, ""))
		return
	}
	err := h.store.DeleteResponse(r.Context(), id, owner(client), time.Now())
	if domain.ErrorCode(err) == domain.CodeNotFound {
		err = responseNotFound(id, "")
	}
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, responseDeleted{ID: id, Object: "response.deleted", Deleted: true})
}

func owner(c *domain.ClientKey) int64 {
	if c == nil {
		return 0
	}
	return c.ID
}

// validResponseID accepts the ids this router hands out ("resp_" and
// letters, digits, '-' or '_'), so that no other text reaches the store.
func validResponseID(id string) bool {
	if len(id) <= len("resp_") || len(id) > 200 || id[:5] != "resp_" {
		return false
	}
	for _, c := range []byte(id[5:]) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func responseNotFound(id, field string) error {
	return &domain.Error{Code: domain.CodeNotFound, Field: field,
		Msg: "Response with id '" + domain.CleanText(id, 200) + "' not found."}
}
