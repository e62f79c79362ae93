package gateway

import (
	"context"
	"errors"
	"log/slog"
	"slices"
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

// CreateModel validates and stores a model. A model given with routes is
// refused when one of their providers cannot serve what it declares.
func (a *Models) CreateModel(ctx context.Context, m domain.Model) (domain.Model, error) {
	if err := m.Validate(routing.ValidateStrategyConfig); err != nil {
		return m, err
	}
	if err := a.checkRouteProviders(ctx, &m, m.Routes); err != nil {
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

// checkRouteProviders refuses, naming capabilities, a model whose routes
// include one from a provider that cannot serve what the model declares. A
// route's missing provider is left to the store to report.
func (a *Models) checkRouteProviders(ctx context.Context, m *domain.Model, routes []domain.Route) error {
	seen := map[int64]bool{}
	for _, r := range routes {
		if seen[r.ProviderID] {
			continue
		}
		seen[r.ProviderID] = true
		p, err := a.providers.GetProvider(ctx, r.ProviderID)
		if domain.ErrorCode(err) == domain.CodeNotFound {
			continue
		}
		if err != nil {
			return err
		}
		if err := m.ValidateProvider("capabilities", p); err != nil {
			return err
		}
	}
	return nil
}

// UpdateModel changes a model through fn and validates the result. A change
// of capabilities that a route's provider cannot serve is refused.
func (a *Models) UpdateModel(ctx context.Context, ref string, fn func(*domain.Model) error) (domain.Model, error) {
	cur, err := a.ModelRef(ctx, ref)
	if err != nil {
		return cur, err
	}
	out, err := a.store.UpdateModel(ctx, cur.ID, func(m *domain.Model) error {
		before := slices.Clone(m.Capabilities)
		if err := fn(m); err != nil {
			return err
		}
		if err := m.Validate(routing.ValidateStrategyConfig); err != nil {
			return err
		}
		if slices.Equal(servedList(before), servedList(m.Capabilities)) {
			return nil // a model that predates a provider's change of kind stays editable
		}
		return a.checkRouteProviders(ctx, m, m.Routes)
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
	if err := m.ValidateProvider("provider", p); err != nil {
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

// servedList is what a model with capabilities cs serves: none means chat.
func servedList(cs []domain.Capability) []domain.Capability {
	if len(cs) == 0 {
		return []domain.Capability{domain.CapChat}
	}
	return cs
}

func (a *Models) modelRoute(ctx context.Context, modelRef string, routeID int64) (domain.Model, domain.Route, error) {
	m, err := a.ModelRef(ctx, modelRef)
	if err != nil {
		return m, domain.Route{}, err
	}
	r, err := a.store.GetRoute(ctx, routeID)
	if err != nil {
		return m, r, err
	}
	if r.ModelID != m.ID {
		return m, domain.Route{}, domain.Errorf(domain.CodeNotFound, "route %d not found for model %s", routeID, m.Name)
	}
	return m, r, nil
}

// UpdateRoute changes a route through fn and validates the result; a route
// moved to a provider that cannot serve what the model declares is refused.
func (a *Models) UpdateRoute(ctx context.Context, modelRef string, routeID int64, fn func(*domain.Route) error) (domain.Route, error) {
	m, _, err := a.modelRoute(ctx, modelRef, routeID)
	if err != nil {
		return domain.Route{}, err
	}
	out, err := a.store.UpdateRoute(ctx, routeID, func(r *domain.Route) error {
		from := r.ProviderID
		if err := fn(r); err != nil {
			return err
		}
		if err := r.Validate(); err != nil {
			return err
		}
		if r.ProviderID == from {
			return nil
		}
		p, err := a.providers.GetProvider(ctx, r.ProviderID)
		if domain.ErrorCode(err) == domain.CodeNotFound {
			return nil // the store reports the missing provider
		}
		if err != nil {
			return err
		}
		return m.ValidateProvider("provider", p)
	})
	if err != nil {
		return out, err
	}
	a.applied(ctx, changed(ports.ChangeModel, out.ModelID))
	return out, nil
}

// DeleteRoute deletes a route.
func (a *Models) DeleteRoute(ctx context.Context, modelRef string, routeID int64) error {
	_, dr, err := a.modelRoute(ctx, modelRef, routeID)
	if err != nil {
		return err
	}
	if err := a.store.DeleteRoute(ctx, routeID); err != nil {
		return err
	}
	a.applied(ctx, changed(ports.ChangeModel, dr.ModelID))
	return nil
}
