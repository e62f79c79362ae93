package postgres

import (
	"errors"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

func TestResponses(t *testing.T) {
	t.Parallel()
	s := newStore(t, openPool(t, migratedDB(t)), newBox(t))
	ctx := t.Context()
	now := time.Now().Truncate(time.Microsecond)
	later := now.Add(time.Hour)
	in := ports.StoredResponse{ID: "resp_1", Owner: 7, Model: "chat", PreviousResponseID: "resp_0",
		Input: []byte(`[{"type":"message","role":"user","content":"hi"}]`), Response: []byte(`{"id":"resp_1","output":[]}`),
		CreatedAt: now, ExpiresAt: &later}
	if err := s.SaveResponse(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveResponse(ctx, in); !isCode(err, domain.CodeConflict) {
		t.Fatalf("second save: %v, want conflict", err)
	}
	got, err := s.GetResponse(ctx, "resp_1", 7, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != in.ID || got.Owner != 7 || got.Model != "chat" || got.PreviousResponseID != "resp_0" ||
		!got.CreatedAt.Equal(now) || got.ExpiresAt == nil || !got.ExpiresAt.Equal(later) {
		t.Fatalf("got %+v", got)
	}
	if string(got.Input) != `[{"role": "user", "type": "message", "content": "hi"}]` || string(got.Response) != `{"id": "resp_1", "output": []}` {
		t.Fatalf("json: %s %s", got.Input, got.Response)
	}
	// Another owner, an expired response and a missing id are all not found.
	if _, err := s.GetResponse(ctx, "resp_1", 8, now); !isCode(err, domain.CodeNotFound) {
		t.Fatalf("other owner: %v", err)
	}
	if _, err := s.GetResponse(ctx, "resp_1", 7, later); !isCode(err, domain.CodeNotFound) {
		t.Fatalf("expired: %v", err)
	}
	if err := s.DeleteResponse(ctx, "resp_1", 8, now); !isCode(err, domain.CodeNotFound) {
		t.Fatalf("delete by other owner: %v", err)
	}
	// Kept without expiry, then pruning removes only the expired one.
	keep := ports.StoredResponse{ID: "resp_2", Model: "chat", Input: []byte(`[]`), Response: []byte(`{}`), CreatedAt: now}
	if err := s.SaveResponse(ctx, keep); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneResponses(ctx, now); err != nil || n != 0 {
		t.Fatalf("prune before expiry: %d %v", n, err)
	}
	if n, err := s.PruneResponses(ctx, later); err != nil || n != 1 {
		t.Fatalf("prune at expiry: %d %v", n, err)
	}
	if _, err := s.GetResponse(ctx, "resp_2", 0, later.Add(1000*time.Hour)); err != nil {
		t.Fatalf("kept response: %v", err)
	}
	if err := s.DeleteResponse(ctx, "resp_2", 0, now); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteResponse(ctx, "resp_2", 0, now); !isCode(err, domain.CodeNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func isCode(err error, c domain.Code) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Code == c
}
