package postgres

import (
	"context"
	"time"

	"github.com/airouter/airouter/adapters/postgres/sqlcgen"
	"github.com/airouter/airouter/core/domain"
)

func toHealth(ph []sqlcgen.ProviderHealth, kh []sqlcgen.KeyHealth) []domain.Health {
	out := make([]domain.Health, 0, len(ph)+len(kh))
	for _, r := range ph {
		out = append(out, domain.Health{
			ProviderID: r.ProviderID, Status: domain.HealthStatus(r.Status), CheckedAt: r.CheckedAt,
			Latency: ms(r.LatencyMs), ConsecutiveFailures: int(r.ConsecutiveFailures), LastError: r.LastError,
		})
	}
	for _, r := range kh {
		out = append(out, domain.Health{
			ProviderID: r.ProviderID, KeyID: r.KeyID, Status: domain.HealthStatus(r.Status), CheckedAt: r.CheckedAt,
			Latency: ms(r.LatencyMs), ConsecutiveFailures: int(r.ConsecutiveFailures), LastError: r.LastError,
		})
	}
	return out
}

// RecordChecks stores probe results and updates current health, counting
// consecutive failures (only "unhealthy" counts), in one transaction. A
// check with KeyID 0 is about the provider; a zero CheckedAt means now.
func (s *Store) RecordChecks(ctx context.Context, checks []domain.HealthCheck) error {
	if len(checks) == 0 {
		return nil
	}
	return s.inTx(ctx, readWrite, func(q *sqlcgen.Queries) error {
		now := time.Now()
		for _, c := range checks {
			latency, err := msField("latency", c.Latency)
			if err != nil {
				return err
			}
			at := c.CheckedAt
			if at.IsZero() {
				at = now
			}
			refs := []ref{{"provider_id", c.ProviderID}, {"key_id", c.KeyID}}
			if err := q.InsertHealthCheck(ctx, sqlcgen.InsertHealthCheckParams{
				ProviderID: c.ProviderID, KeyID: optID(c.KeyID), Status: string(c.Status),
				LatencyMs: latency, Error: c.Error, CheckedAt: at,
			}); err != nil {
				return dbError(err, "record check", "health check", c.ProviderID, refs...)
			}
			if c.KeyID == 0 {
				err = q.RecordProviderCheck(ctx, sqlcgen.RecordProviderCheckParams{
					ProviderID: c.ProviderID, Status: string(c.Status), CheckedAt: at, LatencyMs: latency, LastError: c.Error,
				})
			} else {
				err = q.RecordKeyCheck(ctx, sqlcgen.RecordKeyCheckParams{
					KeyID: c.KeyID, ProviderID: c.ProviderID, Status: string(c.Status), CheckedAt: at,
					LatencyMs: latency, LastError: c.Error,
				})
			}
			if err != nil {
				return dbError(err, "record check", "health", c.ProviderID, refs...)
			}
		}
		return nil
	})
}

// SetHealth overwrites the current health of a provider (KeyID 0) or key.
func (s *Store) SetHealth(ctx context.Context, h domain.Health) error {
	latency, err := msField("latency", h.Latency)
	if err != nil {
		return err
	}
	failures, err := int32Field("consecutive_failures", h.ConsecutiveFailures)
	if err != nil {
		return err
	}
	at := h.CheckedAt
	if at.IsZero() {
		at = time.Now()
	}
	if h.KeyID == 0 {
		err = s.q.UpsertProviderHealth(ctx, sqlcgen.UpsertProviderHealthParams{
			ProviderID: h.ProviderID, Status: string(h.Status), CheckedAt: at, LatencyMs: latency,
			ConsecutiveFailures: failures, LastError: h.LastError,
		})
	} else {
		err = s.q.UpsertKeyHealth(ctx, sqlcgen.UpsertKeyHealthParams{
			KeyID: h.KeyID, ProviderID: h.ProviderID, Status: string(h.Status), CheckedAt: at, LatencyMs: latency,
			ConsecutiveFailures: failures, LastError: h.LastError,
		})
	}
	return dbError(err, "set health", "health", h.ProviderID, ref{"provider_id", h.ProviderID}, ref{"key_id", h.KeyID})
}

// ListHealth returns provider rows (KeyID 0) by provider, then key rows by
// provider and key.
func (s *Store) ListHealth(ctx context.Context) ([]domain.Health, error) {
	var out []domain.Health
	err := s.inTx(ctx, snapshot, func(q *sqlcgen.Queries) error {
		ph, err := q.ListProviderHealth(ctx)
		if err != nil {
			return dbError(err, "list health", "health", nil)
		}
		kh, err := q.ListKeyHealth(ctx)
		if err != nil {
			return dbError(err, "list health", "health", nil)
		}
		out = toHealth(ph, kh)
		return nil
	})
	return out, err
}

// RecentChecks returns a provider's latest checks (provider- and key-level),
// newest first; limit defaults to 50 and is capped at 1000.
func (s *Store) RecentChecks(ctx context.Context, providerID int64, limit int) ([]domain.HealthCheck, error) {
	rows, err := s.q.ListRecentHealthChecks(ctx, sqlcgen.ListRecentHealthChecksParams{
		ProviderID: providerID, Limit: int32(clampLimit(limit)),
	})
	if err != nil {
		return nil, dbError(err, "recent checks", "provider", providerID)
	}
	if len(rows) == 0 {
		if err := s.providerExists(ctx, s.q, providerID); err != nil {
			return nil, err
		}
	}
	return toChecks(rows), nil
}

func toChecks(rows []sqlcgen.HealthCheck) []domain.HealthCheck {
	out := make([]domain.HealthCheck, 0, len(rows))
	for _, r := range rows {
		out = append(out, domain.HealthCheck{
			ProviderID: r.ProviderID, KeyID: derefID(r.KeyID), Status: domain.HealthStatus(r.Status),
			Latency: ms(r.LatencyMs), Error: r.Error, CheckedAt: r.CheckedAt,
		})
	}
	return out
}

// PruneHealthChecks deletes checks older than before and returns how many.
func (s *Store) PruneHealthChecks(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.q.PruneHealthChecks(ctx, before)
	if err != nil {
		return 0, dbError(err, "prune health checks", "health check", nil)
	}
	return n, nil
}

// DefaultLimit and MaxLimit bound list queries.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// RecentChecksOf returns the latest checks of each given provider (limit
// each, defaulting to 50 and capped at 1000), by provider and newest first,
// in one query. Unknown providers have none.
func (s *Store) RecentChecksOf(ctx context.Context, providerIDs []int64, limit int) ([]domain.HealthCheck, error) {
	rows, err := s.q.ListRecentHealthChecksOf(ctx, sqlcgen.ListRecentHealthChecksOfParams{
		ProviderIds: providerIDs, PerProvider: int32(clampLimit(limit)),
	})
	if err != nil {
		return nil, dbError(err, "recent checks", "health", nil)
	}
	return toChecks(rows), nil
}

// ListKeysOf returns the keys (without secrets) of the given providers, by
// provider and id, in one query. Unknown providers have none.
func (s *Store) ListKeysOf(ctx context.Context, providerIDs []int64) ([]domain.ProviderKey, error) {
	rows, err := s.q.ListProviderKeysOf(ctx, providerIDs)
	if err != nil {
		return nil, dbError(err, "list keys", "key", nil)
	}
	out := make([]domain.ProviderKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, toKey(keyRow(r)))
	}
	return out, nil
}
