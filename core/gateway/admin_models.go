package gateway

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
)

// Models is the use case of models and their routes.
type Models struct {
	store     ports.ModelStore
	providers ProviderFinder
	applier
}

// NewModels checks the dependencies and returns the use case.
func NewModels(store ports.ModelStore, providers ProviderFinder, r Reloader, log *slog.Logger) (*Models, error) {
	if store == nil || providers == nil {
		return nil, errors.New("gateway: NewModels needs a model store and providers")
	}
	ap, err := newApplier(r, log)
	if err != nil {
		return nil, err
	}
	return &Models{store: store, providers: providers, applier: ap}, nil
}

// ModelRef resolves a model by numeric id or by name.
func (a *Models) ModelRef(ctx context.Context, ref string) (domain.Model, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		if m, err := a.store.GetModel(ctx, id); err == nil || domain.ErrorCode(err) != domain.CodeNotFound {
			return m, err
		}
	}
	return a.store.GetModelByName(ctx, ref)
}

// CreateModel validates and stores a model.
func (a *Models) CreateModel(ctx context.Context, m domain.Model) (domain.Model, error) {
	if err := m.Validate(routing.ValidateStrategyConfig); err != nil {
		return m, err
	}
	out, err := a.store.CreateModel(ctx, m)
	if err != nil {
		return out, err
	}
	a.applied(ctx, changed(ports.ChangeModel, out.ID))
	return out, nil
}

// ListModels lists models with their routes.
func (a *Models) ListModels(ctx context.Context) ([]domain.Model, error) {
	return a.store.ListModels(ctx)
}

// UpdateModel changes a model through fn and validates the result.
func (a *Models) UpdateModel(ctx context.Context, ref string, fn func(*domain.Model) error) (domain.Model, error) {
	cur, err := a.ModelRef(ctx, ref)
	if err != nil {
		return cur, err
	}
	out, err := a.store.UpdateModel(ctx, cur.ID, func(m *domain.Model) error {
		if err := fn(m); err != nil {
			return err
		}
		return m.Validate(routing.ValidateStrategyConfig)
	})
	if err != nil {
		return out, err
	}
	a.applied(ctx, changed(ports.ChangeModel, out.ID))
	return out, nil
}

// DeleteModel deletes a model and its routes.
func (a *Models) DeleteModel(ctx context.Context, ref string) error {
	cur, err := a.ModelRef(ctx, ref)
	if err != nil {
		return err
	}
	if err := a.store.DeleteModel(ctx, cur.ID); err != nil {
		return err
	}
	a.applied(ctx, changed(ports.ChangeModel, cur.ID))
	return nil
}

// CreateRoute adds a route to a model; the provider is given by id or name.
func (a *Models) CreateRoute(ctx context.Context, modelRef, providerRef string, r domain.Route) (domain.Route, error) {
	m, err := a.ModelRef(ctx, modelRef)
	if err != nil {
		return r, err
	}
	p, err := findProvider(ctx, a.providers, providerRef)
	if err != nil {
		if domain.ErrorCode(err) == domain.CodeNotFound {
			return r, domain.FieldError("provider", "provider %q does not exist", providerRef)
		}
		return r, err
	}
	r.ModelID, r.ProviderID = m.ID, p.ID
	if err := r.Validate(); err != nil {
		return r, err
	}
	out, err := a.store.CreateRoute(ctx, r)
	if err != nil {
		return out, err
	}
	a.applied(ctx, changed(ports.ChangeModel, m.ID))
	return out, nil
}

// ListRoutes lists a model's routes.
func (a *Models) ListRoutes(ctx context.Context, modelRef string) ([]domain.Route, error) {
	m, err := a.ModelRef(ctx, modelRef)
	if err != nil {
		return nil, err
	}
	return a.store.ListRoutes(ctx, m.ID)
}

func (a *Models) modelRoute(ctx context.Context, modelRef string, routeID int64) (domain.Route, error) {
	m, err := a.ModelRef(ctx, modelRef)
	if err != nil {
		return domain.Route{}, err
	}
	r, err := a.store.GetRoute(ctx, routeID)
	if err != nil {
		return r, err
	}
	if r.ModelID != m.ID {
		return domain.Route{}, domain.Errorf(domain.CodeNotFound, "route %d not found for model %s", routeID, m.Name)
	}
	return r, nil
}

// UpdateRoute changes a route through fn and validates the result.
func (a *Models) UpdateRoute(ctx context.Context, modelRef string, routeID int64, fn func(*domain.Route) error) (domain.Route, error) {
	if _, err := a.modelRoute(ctx, modelRef, routeID); err != nil {
		return domain.Route{}, err
	}
	out, err := a.store.UpdateRoute(ctx, routeID, func(r *domain.Route) error {
		if err := fn(r); err != nil {
			return err
		}
		return r.Validate()
	})
	if err != nil {
		return out, err
	}
	a.applied(ctx, changed(ports.ChangeModel, out.ModelID))
	return out, nil
}

// DeleteRoute deletes a route.
func (a *Models) DeleteRoute(ctx context.Context, modelRef string, routeID int64) error {
	dr, err := a.modelRoute(ctx, modelRef, routeID)
	if err != nil {
		return err
	}
	if err := a.store.DeleteRoute(ctx, routeID); err != nil {
		return err
	}
	a.applied(ctx, changed(ports.ChangeModel, dr.ModelID))
	return nil
}
