package postgres

import (
	"context"
	"time"

	"github.com/airouter/airouter/adapters/postgres/sqlcgen"
	"github.com/airouter/airouter/core/domain"
)

func toClientKey(r sqlcgen.ClientKey) domain.ClientKey {
	return domain.ClientKey{
		ID: r.ID, Name: r.Name, Hash: r.TokenSha256, Prefix: r.Prefix, Enabled: r.Enabled,
		CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, Owner: r.Owner, Tags: r.Tags,
		Limits: domain.Limits{
			Allow: r.Allow, RPM: int(r.Rpm), TPM: r.Tpm, ExpiresAt: r.ExpiresAt,
			Budget: domain.Budget{USD: r.BudgetUsd, Period: domain.BudgetPeriod(r.BudgetPeriod), HardStop: r.BudgetHardStop},
		},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func toClientKeys(rows []sqlcgen.ClientKey) []domain.ClientKey {
	out := make([]domain.ClientKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, toClientKey(r))
	}
	return out
}

// CreateClientKey stores a client key (its token's SHA-256 only).
func (s *Store) CreateClientKey(ctx context.Context, k domain.ClientKey) (domain.ClientKey, error) {
	rpm, err := int32Field("rpm", k.RPM)
	if err != nil {
		return domain.ClientKey{}, err
	}
	row, err := s.q.CreateClientKey(ctx, sqlcgen.CreateClientKeyParams{
		Name: k.Name, TokenSha256: k.Hash, Prefix: k.Prefix, Enabled: k.Enabled,
		Allow: nonNil(k.Allow), Rpm: rpm, Tpm: k.TPM, BudgetUsd: k.Budget.USD, BudgetPeriod: string(k.Budget.Period),
		BudgetHardStop: k.Budget.HardStop, ExpiresAt: k.ExpiresAt, Owner: k.Owner, Tags: nonNil(k.Tags),
	})
	if err != nil {
		return domain.ClientKey{}, dbError(err, "create client key", "client key", k.Name)
	}
	return toClientKey(row), nil
}

// ListClientKeys returns every client key, by id.
func (s *Store) ListClientKeys(ctx context.Context) ([]domain.ClientKey, error) {
	rows, err := s.q.ListClientKeys(ctx)
	if err != nil {
		return nil, dbError(err, "list client keys", "client key", nil)
	}
	return toClientKeys(rows), nil
}

// SetClientKeyEnabled enables or disables a client key.
func (s *Store) SetClientKeyEnabled(ctx context.Context, id int64, enabled bool) (domain.ClientKey, error) {
	row, err := s.q.SetClientKeyEnabled(ctx, sqlcgen.SetClientKeyEnabledParams{ID: id, Enabled: enabled})
	if err != nil {
		return domain.ClientKey{}, dbError(err, "set client key enabled", "client key", id)
	}
	return toClientKey(row), nil
}

// UpdateClientKey changes a client key's name, limits and metadata in a
// transaction.
func (s *Store) UpdateClientKey(ctx context.Context, id int64, fn func(*domain.ClientKey) error) (domain.ClientKey, error) {
	var out domain.ClientKey
	err := s.inTx(ctx, readWrite, func(q *sqlcgen.Queries) error {
		row, err := q.GetClientKeyForUpdate(ctx, id)
		if err != nil {
			return dbError(err, "update client key", "client key", id)
		}
		k := toClientKey(row)
		if err := fn(&k); err != nil {
			return err
		}
		rpm, err := int32Field("rpm", k.RPM)
		if err != nil {
			return err
		}
		updated, err := q.UpdateClientKeyLimits(ctx, sqlcgen.UpdateClientKeyLimitsParams{
			ID: id, Name: k.Name, Allow: nonNil(k.Allow), Rpm: rpm, Tpm: k.TPM, BudgetUsd: k.Budget.USD,
			BudgetPeriod: string(k.Budget.Period), BudgetHardStop: k.Budget.HardStop, ExpiresAt: k.ExpiresAt,
			Owner: k.Owner, Tags: nonNil(k.Tags),
		})
		if err != nil {
			return dbError(err, "update client key", "client key", k.Name)
		}
		out = toClientKey(updated)
		return nil
	})
	if err != nil {
		return domain.ClientKey{}, err
	}
	return out, nil
}

// DeleteClientKey deletes a client key.
func (s *Store) DeleteClientKey(ctx context.Context, id int64) error {
	n, err := s.q.DeleteClientKey(ctx, id)
	if err != nil {
		return dbError(err, "delete client key", "client key", id)
	}
	if n == 0 {
		return notFound("client key", id)
	}
	return nil
}

// TouchClientKeys records when keys were last used, in one statement; a
// time never moves back, and unknown ids are ignored.
func (s *Store) TouchClientKeys(ctx context.Context, used map[int64]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	p := sqlcgen.TouchClientKeysParams{Ids: make([]int64, 0, len(used)), UsedAt: make([]time.Time, 0, len(used))}
	for id, t := range used {
		p.Ids = append(p.Ids, id)
		p.UsedAt = append(p.UsedAt, t)
	}
	if err := s.q.TouchClientKeys(ctx, p); err != nil {
		return dbError(err, "touch client keys", "client key", nil)
	}
	return nil
}
