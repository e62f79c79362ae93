package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/airouter/airouter/adapters/postgres/sqlcgen"
	"github.com/airouter/airouter/core/domain"
)

// providerRow holds the column values of a provider.
type providerRow struct {
	connect, firstByte, idle, total int32
	headers                         []byte
}

func providerColumns(p *domain.Provider) (providerRow, error) {
	var r providerRow
	var err error
	if r.connect, err = msField("timeouts", p.Timeouts.Connect); err != nil {
		return r, err
	}
	if r.firstByte, err = msField("timeouts", p.Timeouts.FirstByte); err != nil {
		return r, err
	}
	if r.idle, err = msField("timeouts", p.Timeouts.Idle); err != nil {
		return r, err
	}
	if r.total, err = msField("timeouts", p.Timeouts.Total); err != nil {
		return r, err
	}
	h := p.Headers
	if h == nil {
		h = map[string]string{}
	}
	if r.headers, err = json.Marshal(h); err != nil {
		return r, fmt.Errorf("postgres: encode headers: %w", err)
	}
	return r, nil
}

func toProvider(r sqlcgen.Provider) (domain.Provider, error) {
	p := domain.Provider{
		ID:      r.ID,
		Name:    r.Name,
		Kind:    domain.ProviderKind(r.Kind),
		BaseURL: r.BaseUrl,
		Enabled: r.Enabled,
		Timeouts: domain.Timeouts{
			Connect:   ms(r.ConnectTimeoutMs),
			FirstByte: ms(r.FirstByteTimeoutMs),
			Idle:      ms(r.IdleTimeoutMs),
			Total:     ms(r.TotalTimeoutMs),
		},
		CreatedAt: r.CreatedAt,
		UpdatedAt: r.UpdatedAt,
	}
	if len(r.Headers) > 0 {
		if err := json.Unmarshal(r.Headers, &p.Headers); err != nil {
			return p, fmt.Errorf("postgres: provider %d: decode headers: %w", r.ID, err)
		}
	}
	if len(p.Headers) == 0 {
		p.Headers = nil
	}
	return p, nil
}

func toProviders(rows []sqlcgen.Provider) ([]domain.Provider, error) {
	out := make([]domain.Provider, 0, len(rows))
	for _, r := range rows {
		p, err := toProvider(r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// CreateProvider inserts p; ID and timestamps are assigned.
func (s *Store) CreateProvider(ctx context.Context, p domain.Provider) (domain.Provider, error) {
	c, err := providerColumns(&p)
	if err != nil {
		return domain.Provider{}, err
	}
	row, err := s.q.CreateProvider(ctx, sqlcgen.CreateProviderParams{
		Name: p.Name, Kind: string(p.Kind), BaseUrl: p.BaseURL, Enabled: p.Enabled,
		ConnectTimeoutMs: c.connect, FirstByteTimeoutMs: c.firstByte, IdleTimeoutMs: c.idle, TotalTimeoutMs: c.total,
		Headers: c.headers,
	})
	if err != nil {
		return domain.Provider{}, dbError(err, "create provider", "provider", p.Name)
	}
	return toProvider(row)
}

// GetProvider returns one provider.
func (s *Store) GetProvider(ctx context.Context, id int64) (domain.Provider, error) {
	row, err := s.q.GetProvider(ctx, id)
	if err != nil {
		return domain.Provider{}, dbError(err, "get provider", "provider", id)
	}
	return toProvider(row)
}

// GetProviderByName returns the provider with that name.
func (s *Store) GetProviderByName(ctx context.Context, name string) (domain.Provider, error) {
	row, err := s.q.GetProviderByName(ctx, name)
	if err != nil {
		return domain.Provider{}, dbError(err, "get provider", "provider", name)
	}
	return toProvider(row)
}

// ListProviders returns every provider, by name.
func (s *Store) ListProviders(ctx context.Context) ([]domain.Provider, error) {
	rows, err := s.q.ListProviders(ctx)
	if err != nil {
		return nil, dbError(err, "list providers", "provider", nil)
	}
	return toProviders(rows)
}

// UpdateProvider locks the provider, lets fn change it and writes it back,
// in one transaction. fn cannot change the ID or the timestamps.
func (s *Store) UpdateProvider(ctx context.Context, id int64, fn func(*domain.Provider) error) (domain.Provider, error) {
	var out domain.Provider
	err := s.inTx(ctx, readWrite, func(q *sqlcgen.Queries) error {
		row, err := q.GetProviderForUpdate(ctx, id)
		if err != nil {
			return dbError(err, "update provider", "provider", id)
		}
		p, err := toProvider(row)
		if err != nil {
			return err
		}
		if err := fn(&p); err != nil {
			return err
		}
		c, err := providerColumns(&p)
		if err != nil {
			return err
		}
		row, err = q.UpdateProvider(ctx, sqlcgen.UpdateProviderParams{
			ID: id, Name: p.Name, Kind: string(p.Kind), BaseUrl: p.BaseURL, Enabled: p.Enabled,
			ConnectTimeoutMs: c.connect, FirstByteTimeoutMs: c.firstByte, IdleTimeoutMs: c.idle, TotalTimeoutMs: c.total,
			Headers: c.headers,
		})
		if err != nil {
			return dbError(err, "update provider", "provider", id)
		}
		out, err = toProvider(row)
		return err
	})
	if err != nil {
		return domain.Provider{}, err
	}
	return out, nil
}

// DeleteProvider deletes a provider; its keys, routes, health, checks and
// rotations go with it (ON DELETE CASCADE).
func (s *Store) DeleteProvider(ctx context.Context, id int64) error {
	n, err := s.q.DeleteProvider(ctx, id)
	if err != nil {
		return dbError(err, "delete provider", "provider", id)
	}
	if n == 0 {
		return notFound("provider", id)
	}
	return nil
}

// providerExists turns an empty child listing of a missing parent into not
// found.
func (s *Store) providerExists(ctx context.Context, q *sqlcgen.Queries, id int64) error {
	if _, err := q.GetProvider(ctx, id); err != nil {
		return dbError(err, "get provider", "provider", id)
	}
	return nil
}
