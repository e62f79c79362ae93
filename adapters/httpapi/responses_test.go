package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

func TestResponsesDocumented(t *testing.T) {
	t.Parallel()
	paths := Document("test").OpenAPI().Paths
	for _, op := range []struct{ path, method, id string }{
		{"/v1/responses", http.MethodPost, "createResponse"},
		{"/v1/responses/{id}", http.MethodGet, "getResponse"},
		{"/v1/responses/{id}", http.MethodDelete, "deleteResponse"},
	} {
		item := paths[op.path]
		if item == nil {
			t.Fatalf("%s not documented", op.path)
		}
		got := map[string]string{}
		if item.Post != nil {
			got[http.MethodPost] = item.Post.OperationID
		}
		if item.Get != nil {
			got[http.MethodGet] = item.Get.OperationID
		}
		if item.Delete != nil {
			got[http.MethodDelete] = item.Delete.OperationID
		}
		if got[op.method] != op.id {
			t.Errorf("%s %s: operation %q, want %q", op.method, op.path, got[op.method], op.id)
		}
	}
}

func TestValidResponseID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"resp_3f9a": true, "resp_a-b_C9": true,
		"": false, "resp_": false, "msg_1": false, "resp_\x00": false, "resp_a b": false,
		"resp_é": false, "resp_" + strings.Repeat("a", 300): false,
	} {
		if got := validResponseID(id); got != want {
			t.Errorf("validResponseID(%q) = %v, want %v", id, got, want)
		}
	}
}

// responseStore is a consumer-side fake of ResponseStore: a map by id.
type responseStore struct {
	mu sync.Mutex
	m  map[string]ports.StoredResponse
}

func (s *responseStore) SaveResponse(_ context.Context, r ports.StoredResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]ports.StoredResponse{}
	}
	s.m[r.ID] = r
	return nil
}

func (s *responseStore) GetResponse(_ context.Context, id string, owner int64, _ time.Time) (ports.StoredResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[id]
	if !ok || r.Owner != owner {
		return ports.StoredResponse{}, &domain.Error{Code: domain.CodeNotFound, Msg: "no response " + id}
	}
	return r, nil
}

func (s *responseStore) DeleteResponse(_ context.Context, id string, owner int64, _ time.Time) error {
	if _, err := s.GetResponse(context.Background(), id, owner, time.Time{}); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
	return nil
}

func (fx *fixture) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fx.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestResponsesTranslatedStoredAndChained(t *testing.T) {
	store := &responseStore{}
	fx := newFixture(t, Options{Responses: store})
	resp, got := fx.postTo(t, "/v1/responses", `{"model":"chat","input":"hello","instructions":"be brief"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
	var r struct {
		ID     string `json:"id"`
		Object string `json:"object"`
		Status string `json:"status"`
		Model  string `json:"model"`
		Output []struct {
			Type    string `json:"type"`
			Content []struct{ Type, Text string }
		} `json:"output"`
	}
	if err := json.Unmarshal([]byte(got), &r); err != nil || r.Object != "response" || r.Status != "completed" || r.Model != "chat" ||
		len(r.Output) != 1 || r.Output[0].Content[0].Text != "hi" {
		t.Fatalf("%v: %s", err, got)
	}
	if resp, got := fx.get(t, "/v1/responses/"+r.ID); resp.StatusCode != 200 || !strings.Contains(got, r.ID) {
		t.Fatalf("get: %d %s", resp.StatusCode, got)
	}
	resp, got = fx.postTo(t, "/v1/responses", `{"model":"chat","input":"again","previous_response_id":"`+r.ID+`"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("chained: %d %s", resp.StatusCode, got)
	}
	resp, got = fx.postTo(t, "/v1/responses", `{"model":"chat","input":"x","previous_response_id":"resp_unknown"}`)
	if resp.StatusCode != 404 || !strings.Contains(got, `"param":"previous_response_id"`) {
		t.Fatalf("unknown previous: %d %s", resp.StatusCode, got)
	}
	// Streamed, translated: the Responses event sequence.
	fx.up.chunks = []string{"a", "b"}
	resp, got = fx.postTo(t, "/v1/responses", `{"model":"chat","input":"hello","stream":true}`)
	for _, ev := range []string{"event: response.created", "event: response.output_text.delta", "event: response.completed"} {
		if !strings.Contains(got, ev) {
			t.Fatalf("stream lacks %s: %d %s", ev, resp.StatusCode, got)
		}
	}
}

func TestResponsesNative(t *testing.T) {
	store := &responseStore{}
	fx := newFixture(t, Options{Responses: store})
	fx.up.native = true
	body := `{"model":"chat","input":"hello","tools":[{"type":"function","name":"f","parameters":{}}],"x_new":1}`
	resp, got := fx.postTo(t, "/v1/responses", body)
	if resp.StatusCode != 200 || got != nativeResponse || fx.up.body != body {
		t.Fatalf("%d %s (upstream got %s)", resp.StatusCode, got, fx.up.body)
	}
	if resp, got := fx.get(t, "/v1/responses/resp_native1"); resp.StatusCode != 200 || !strings.Contains(got, "native hi") {
		t.Fatalf("stored: %d %s", resp.StatusCode, got)
	}
	// A chain goes upstream with its history as input, not as an id the
	// upstream may not know.
	resp, got = fx.postTo(t, "/v1/responses", `{"model":"chat","input":"more","previous_response_id":"resp_native1"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("chained: %d %s", resp.StatusCode, got)
	}
	var sent map[string]json.RawMessage
	if err := json.Unmarshal([]byte(fx.up.body), &sent); err != nil {
		t.Fatal(err)
	}
	if _, ok := sent["previous_response_id"]; ok || !strings.Contains(string(sent["input"]), "native hi") || !strings.Contains(string(sent["input"]), "more") {
		t.Fatalf("upstream body %s", fx.up.body)
	}
	// Streamed natively: the upstream's events as they came, the response
	// stored from the terminal event.
	resp, got = fx.postTo(t, "/v1/responses", `{"model":"chat","input":"hello","stream":true}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(got, "event: response.created\ndata: ") || !strings.HasSuffix(got, "}\n\n") ||
		strings.Count(got, "event: ") != 3 {
		t.Fatalf("%d %q", resp.StatusCode, got)
	}
	if resp, _ := fx.get(t, "/v1/responses/resp_nativestream"); resp.StatusCode != 200 {
		t.Fatalf("stream not stored: %d", resp.StatusCode)
	}
	row := fx.logs.row(t, resp.Header.Get(headerRequestID))
	if row.PromptTokens != 9 || row.CompletionTokens != 2 {
		t.Fatalf("log %+v", row)
	}
}
