package postgres

import (
	"context"

	"github.com/airouter/airouter/adapters/postgres/sqlcgen"
	"github.com/airouter/airouter/core/domain"
)

func toRotation(r sqlcgen.KeyRotation) domain.Rotation {
	return domain.Rotation{
		ID: r.ID, ProviderID: r.ProviderID, OldKeyID: derefID(r.OldKeyID), NewKeyID: r.NewKeyID,
		Step: r.Step, Status: r.Status, Error: r.Error, StartedAt: r.StartedAt, UpdatedAt: r.UpdatedAt,
	}
}

// SaveRotation inserts a rotation or updates its step, status, error and
// (when given) old key. An empty Step is "started", an empty Status
// "running".
func (s *Store) SaveRotation(ctx context.Context, r domain.Rotation) (domain.Rotation, error) {
	if r.ID == "" {
		return domain.Rotation{}, domain.FieldError("id", "is required")
	}
	if r.Step == "" {
		r.Step = "started"
	}
	if r.Status == "" {
		r.Status = "running"
	}
	row, err := s.q.UpsertRotation(ctx, sqlcgen.UpsertRotationParams{
		ID: r.ID, ProviderID: r.ProviderID, OldKeyID: optID(r.OldKeyID), NewKeyID: r.NewKeyID,
		Step: r.Step, Status: r.Status, Error: r.Error,
	})
	if err != nil {
		return domain.Rotation{}, dbError(err, "save rotation", "rotation", r.ID, ref{"provider_id", r.ProviderID})
	}
	return toRotation(row), nil
}

// GetRotation returns one rotation.
func (s *Store) GetRotation(ctx context.Context, id string) (domain.Rotation, error) {
	row, err := s.q.GetRotation(ctx, id)
	if err != nil {
		return domain.Rotation{}, dbError(err, "get rotation", "rotation", id)
	}
	return toRotation(row), nil
}

// ListRotations returns a provider's latest rotations, newest first; limit
// defaults to 50 and is capped at 1000.
func (s *Store) ListRotations(ctx context.Context, providerID int64, limit int) ([]domain.Rotation, error) {
	rows, err := s.q.ListRotations(ctx, sqlcgen.ListRotationsParams{ProviderID: providerID, Limit: int32(clampLimit(limit))})
	if err != nil {
		return nil, dbError(err, "list rotations", "provider", providerID)
	}
	if len(rows) == 0 {
		if err := s.providerExists(ctx, s.q, providerID); err != nil {
			return nil, err
		}
	}
	out := make([]domain.Rotation, 0, len(rows))
	for _, r := range rows {
		out = append(out, toRotation(r))
	}
	return out, nil
}
