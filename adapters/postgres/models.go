package postgres

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/airouter/airouter/adapters/postgres/sqlcgen"
	"github.com/airouter/airouter/core/domain"
)

// strategyConfig returns the jsonb value of a model's strategy config:
// empty means {}.
func strategyConfig(raw json.RawMessage) ([]byte, error) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return []byte("{}"), nil
	}
	if !json.Valid(b) || b[0] != '{' {
		return nil, domain.FieldError("strategy_config", "must be a JSON object")
	}
	return b, nil
}

type modelColumns struct {
	config                  []byte
	contextWindow, maxToken int32
	capabilities            []string
}

// capabilities returns the text[] value of a model's capabilities: empty
// means chat only. The database checks that they are known.
func capabilities(cs []domain.Capability) []string {
	if len(cs) == 0 {
		return []string{string(domain.CapChat)}
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

func modelValues(m *domain.Model) (modelColumns, error) {
	var c modelColumns
	var err error
	if c.config, err = strategyConfig(m.StrategyConfig); err != nil {
		return c, err
	}
	if c.contextWindow, err = int32Field("context_window", m.ContextWindow); err != nil {
		return c, err
	}
	if c.maxToken, err = int32Field("default_max_tokens", m.DefaultMaxTokens); err != nil {
		return c, err
	}
	c.capabilities = capabilities(m.Capabilities)
	return c, nil
}

func toModel(r sqlcgen.Model) domain.Model {
	cfg := json.RawMessage(r.StrategyConfig)
	if len(cfg) == 0 {
		cfg = json.RawMessage("{}")
	}
	caps := make([]domain.Capability, len(r.Capabilities))
	for i, c := range r.Capabilities {
		caps[i] = domain.Capability(c)
	}
	return domain.Model{
		ID: r.ID, Name: r.Name, Strategy: domain.Strategy(r.Strategy), StrategyConfig: cfg,
		Enabled: r.Enabled, ContextWindow: int(r.ContextWindow), DefaultMaxTokens: int(r.DefaultMaxTokens),
		Capabilities: caps, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Routes: []domain.Route{},
	}
}

func toRoute(r sqlcgen.ModelRoute) domain.Route {
	return domain.Route{
		ID: r.ID, ModelID: r.ModelID, ProviderID: r.ProviderID, UpstreamModel: r.UpstreamModel,
		Weight: int(r.Weight), Priority: int(r.Priority), InputPrice: r.InputPrice, OutputPrice: r.OutputPrice,
		CachedInputPrice: r.CachedInputPrice, Enabled: r.Enabled, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

func toRoutes(rows []sqlcgen.ModelRoute) []domain.Route {
	out := make([]domain.Route, 0, len(rows))
	for _, r := range rows {
		out = append(out, toRoute(r))
	}
	return out
}

// withRoutes attaches routes (ordered by model) to models.
func withRoutes(models []sqlcgen.Model, routes []sqlcgen.ModelRoute) []domain.Model {
	byModel := make(map[int64][]domain.Route, len(models))
	for _, r := range routes {
		byModel[r.ModelID] = append(byModel[r.ModelID], toRoute(r))
	}
	out := make([]domain.Model, 0, len(models))
	for _, r := range models {
		m := toModel(r)
		if rs := byModel[r.ID]; rs != nil {
			m.Routes = rs
		}
		out = append(out, m)
	}
	return out
}

// CreateModel inserts m and, in the same transaction, its routes (their
// ModelID is set to the new model's).
func (s *Store) CreateModel(ctx context.Context, m domain.Model) (domain.Model, error) {
	c, err := modelValues(&m)
	if err != nil {
		return domain.Model{}, err
	}
	var out domain.Model
	err = s.inTx(ctx, readWrite, func(q *sqlcgen.Queries) error {
		row, err := q.CreateModel(ctx, sqlcgen.CreateModelParams{
			Name: m.Name, Strategy: string(m.Strategy), StrategyConfig: c.config, Enabled: m.Enabled,
			ContextWindow: c.contextWindow, DefaultMaxTokens: c.maxToken, Capabilities: c.capabilities,
		})
		if err != nil {
			return dbError(err, "create model", "model", m.Name)
		}
		out = toModel(row)
		if len(m.Routes) == 0 {
			return nil
		}
		for _, r := range m.Routes {
			r.ModelID = row.ID
			if _, err := createRoute(ctx, q, r); err != nil {
				return err
			}
		}
		routes, err := q.ListRoutesByModel(ctx, row.ID)
		if err != nil {
			return dbError(err, "create model", "model", row.ID)
		}
		out.Routes = toRoutes(routes)
		return nil
	})
	if err != nil {
		return domain.Model{}, err
	}
	return out, nil
}

// GetModel returns a model with its routes.
func (s *Store) GetModel(ctx context.Context, id int64) (domain.Model, error) {
	row, err := s.q.GetModel(ctx, id)
	if err != nil {
		return domain.Model{}, dbError(err, "get model", "model", id)
	}
	return s.loadRoutes(ctx, row)
}

// GetModelByName returns the model with that name, with its routes.
func (s *Store) GetModelByName(ctx context.Context, name string) (domain.Model, error) {
	row, err := s.q.GetModelByName(ctx, name)
	if err != nil {
		return domain.Model{}, dbError(err, "get model", "model", name)
	}
	return s.loadRoutes(ctx, row)
}

func (s *Store) loadRoutes(ctx context.Context, row sqlcgen.Model) (domain.Model, error) {
	routes, err := s.q.ListRoutesByModel(ctx, row.ID)
	if err != nil {
		return domain.Model{}, dbError(err, "list routes", "model", row.ID)
	}
	m := toModel(row)
	m.Routes = toRoutes(routes)
	return m, nil
}

// ListModels returns every model with its routes, by name, read in one
// snapshot.
func (s *Store) ListModels(ctx context.Context) ([]domain.Model, error) {
	var out []domain.Model
	err := s.inTx(ctx, snapshot, func(q *sqlcgen.Queries) error {
		models, err := q.ListModels(ctx)
		if err != nil {
			return dbError(err, "list models", "model", nil)
		}
		routes, err := q.ListAllRoutes(ctx)
		if err != nil {
			return dbError(err, "list routes", "route", nil)
		}
		out = withRoutes(models, routes)
		return nil
	})
	return out, err
}

// UpdateModel lets fn change a model (not its routes) in one transaction.
// The model passed to fn carries its current routes, for reference.
func (s *Store) UpdateModel(ctx context.Context, id int64, fn func(*domain.Model) error) (domain.Model, error) {
	var out domain.Model
	err := s.inTx(ctx, readWrite, func(q *sqlcgen.Queries) error {
		row, err := q.GetModelForUpdate(ctx, id)
		if err != nil {
			return dbError(err, "update model", "model", id)
		}
		routes, err := q.ListRoutesByModel(ctx, id)
		if err != nil {
			return dbError(err, "update model", "model", id)
		}
		m := toModel(row)
		m.Routes = toRoutes(routes)
		if err := fn(&m); err != nil {
			return err
		}
		c, err := modelValues(&m)
		if err != nil {
			return err
		}
		row, err = q.UpdateModel(ctx, sqlcgen.UpdateModelParams{
			ID: id, Name: m.Name, Strategy: string(m.Strategy), StrategyConfig: c.config, Enabled: m.Enabled,
			ContextWindow: c.contextWindow, DefaultMaxTokens: c.maxToken, Capabilities: c.capabilities,
		})
		if err != nil {
			return dbError(err, "update model", "model", id)
		}
		out = toModel(row)
		out.Routes = toRoutes(routes)
		return nil
	})
	if err != nil {
		return domain.Model{}, err
	}
	return out, nil
}

// DeleteModel deletes a model and its routes.
func (s *Store) DeleteModel(ctx context.Context, id int64) error {
	n, err := s.q.DeleteModel(ctx, id)
	if err != nil {
		return dbError(err, "delete model", "model", id)
	}
	if n == 0 {
		return notFound("model", id)
	}
	return nil
}

type routeColumns struct {
	weight, priority int32
}

func routeValues(r *domain.Route) (routeColumns, error) {
	var c routeColumns
	var err error
	if c.weight, err = int32Field("weight", r.Weight); err != nil {
		return c, err
	}
	if c.priority, err = int32Field("priority", r.Priority); err != nil {
		return c, err
	}
	return c, nil
}

func createRoute(ctx context.Context, q *sqlcgen.Queries, r domain.Route) (domain.Route, error) {
	c, err := routeValues(&r)
	if err != nil {
		return domain.Route{}, err
	}
	row, err := q.CreateRoute(ctx, sqlcgen.CreateRouteParams{
		ModelID: r.ModelID, ProviderID: r.ProviderID, UpstreamModel: r.UpstreamModel, Weight: c.weight,
		Priority: c.priority, InputPrice: r.InputPrice, OutputPrice: r.OutputPrice, Enabled: r.Enabled,
		CachedInputPrice: r.CachedInputPrice,
	})
	if err != nil {
		return domain.Route{}, dbError(err, "create route", "route", 0,
			ref{"model_id", r.ModelID}, ref{"provider_id", r.ProviderID})
	}
	return toRoute(row), nil
}

// CreateRoute inserts a route.
func (s *Store) CreateRoute(ctx context.Context, r domain.Route) (domain.Route, error) {
	return createRoute(ctx, s.q, r)
}

// GetRoute returns one route.
func (s *Store) GetRoute(ctx context.Context, id int64) (domain.Route, error) {
	row, err := s.q.GetRoute(ctx, id)
	if err != nil {
		return domain.Route{}, dbError(err, "get route", "route", id)
	}
	return toRoute(row), nil
}

// ListRoutes returns a model's routes by priority, then id.
func (s *Store) ListRoutes(ctx context.Context, modelID int64) ([]domain.Route, error) {
	rows, err := s.q.ListRoutesByModel(ctx, modelID)
	if err != nil {
		return nil, dbError(err, "list routes", "model", modelID)
	}
	if len(rows) == 0 {
		if _, err := s.q.GetModel(ctx, modelID); err != nil {
			return nil, dbError(err, "list routes", "model", modelID)
		}
	}
	return toRoutes(rows), nil
}

// UpdateRoute lets fn change a route in one transaction. The route cannot
// move to another model.
func (s *Store) UpdateRoute(ctx context.Context, id int64, fn func(*domain.Route) error) (domain.Route, error) {
	var out domain.Route
	err := s.inTx(ctx, readWrite, func(q *sqlcgen.Queries) error {
		row, err := q.GetRouteForUpdate(ctx, id)
		if err != nil {
			return dbError(err, "update route", "route", id)
		}
		r := toRoute(row)
		if err := fn(&r); err != nil {
			return err
		}
		c, err := routeValues(&r)
		if err != nil {
			return err
		}
		row, err = q.UpdateRoute(ctx, sqlcgen.UpdateRouteParams{
			ID: id, ProviderID: r.ProviderID, UpstreamModel: r.UpstreamModel, Weight: c.weight,
			Priority: c.priority, InputPrice: r.InputPrice, OutputPrice: r.OutputPrice, Enabled: r.Enabled,
			CachedInputPrice: r.CachedInputPrice,
		})
		if err != nil {
			return dbError(err, "update route", "route", id, ref{"provider_id", r.ProviderID})
		}
		out = toRoute(row)
		return nil
	})
	if err != nil {
		return domain.Route{}, err
	}
	return out, nil
}

// DeleteRoute deletes a route.
func (s *Store) DeleteRoute(ctx context.Context, id int64) error {
	n, err := s.q.DeleteRoute(ctx, id)
	if err != nil {
		return dbError(err, "delete route", "route", id)
	}
	if n == 0 {
		return notFound("route", id)
	}
	return nil
}
