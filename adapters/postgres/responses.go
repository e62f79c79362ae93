package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/airouter/airouter/adapters/postgres/sqlcgen"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// SaveResponse stores a Responses API response. Ids are the caller's to
// validate; the model name is cleaned as in the request log (PostgreSQL
// refuses NUL bytes in text; jsonb escapes them).
func (s *Store) SaveResponse(ctx context.Context, r ports.StoredResponse) error {
	var prev *string
	if r.PreviousResponseID != "" {
		prev = &r.PreviousResponseID
	}
	var exp *time.Time
	if r.ExpiresAt != nil {
		e := r.ExpiresAt.UTC()
		exp = &e
	}
	err := s.q.InsertResponse(ctx, sqlcgen.InsertResponseParams{
		ID: r.ID, ClientKeyID: r.Owner, Model: domain.CleanText(r.Model, 1000),
		Input: r.Input, Response: r.Response, PreviousResponseID: prev,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: exp,
	})
	if err != nil {
		return dbError(err, "save response", "response", nil)
	}
	return nil
}

// GetResponse returns the response id owned by owner that has not expired;
// a response of another owner is not found, like a missing one.
func (s *Store) GetResponse(ctx context.Context, id string, owner int64, now time.Time) (ports.StoredResponse, error) {
	row, err := s.q.GetResponse(ctx, sqlcgen.GetResponseParams{ID: id, ClientKeyID: owner, Now: now.UTC()})
	if errors.Is(err, pgx.ErrNoRows) {
		return ports.StoredResponse{}, notFound("response", id)
	}
	if err != nil {
		return ports.StoredResponse{}, dbError(err, "get response", "response", nil)
	}
	out := ports.StoredResponse{ID: row.ID, Owner: row.ClientKeyID, Model: row.Model,
		Input: row.Input, Response: row.Response, CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt}
	if row.PreviousResponseID != nil {
		out.PreviousResponseID = *row.PreviousResponseID
	}
	return out, nil
}

// DeleteResponse deletes the response id owned by owner; another owner's
// response is not found.
func (s *Store) DeleteResponse(ctx context.Context, id string, owner int64, now time.Time) error {
	n, err := s.q.DeleteResponse(ctx, sqlcgen.DeleteResponseParams{ID: id, ClientKeyID: owner, Now: now.UTC()})
	if err != nil {
		return dbError(err, "delete response", "response", nil)
	}
	if n == 0 {
		return notFound("response", id)
	}
	return nil
}

// PruneResponses deletes responses that expired at or before now and
// returns how many.
func (s *Store) PruneResponses(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.q.PruneResponses(ctx, now.UTC())
	if err != nil {
		return 0, dbError(err, "prune responses", "response", nil)
	}
	return n, nil
}
