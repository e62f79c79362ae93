package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/airouter/airouter/core/domain"
)

// ModelDTO is a model as the admin API shows it.
type ModelDTO struct {
	ID               int64          `json:"id"`
	Name             string         `json:"name" example:"gpt-4o-mini"`
	Strategy         string         `json:"strategy" doc:"Empty: the global default (LOAD_BALANCING_STRATEGY)"`
	StrategyConfig   map[string]any `json:"strategy_config"`
	Enabled          bool           `json:"enabled"`
	ContextWindow    int            `json:"context_window"`
	DefaultMaxTokens int            `json:"default_max_tokens"`
	Capabilities     []string       `json:"capabilities" enum:"chat,embeddings,images" example:"[\"chat\"]" doc:"What the model serves: chat (chat completions, Messages, Responses), embeddings, images"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
	Routes           []RouteDTO     `json:"routes"`
}

func modelDTO(m domain.Model, providerName func(int64) string) ModelDTO {
	cfg := map[string]any{}
	_ = json.Unmarshal(m.StrategyConfig, &cfg)
	return ModelDTO{ID: m.ID, Name: m.Name, Strategy: string(m.Strategy), StrategyConfig: cfg, Enabled: m.Enabled,
		ContextWindow: m.ContextWindow, DefaultMaxTokens: m.DefaultMaxTokens, Capabilities: capabilityNames(m.Capabilities),
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
		Routes: dtos(m.Routes, func(r domain.Route) RouteDTO { return routeDTO(r, providerName) })}
}

// capabilityNames is what a model serves, as the API shows it: none
// declared means chat.
func capabilityNames(cs []domain.Capability) []string {
	if len(cs) == 0 {
		return []string{string(domain.CapChat)}
	}
	return dtos(cs, func(c domain.Capability) string { return string(c) })
}

// toCapabilities converts the API's capability names; the use case
// validates them.
func toCapabilities(names []string) []domain.Capability {
	return dtos(names, func(n string) domain.Capability { return domain.Capability(n) })
}

// ModelCreate creates a model.
type ModelCreate struct {
	Name             string         `json:"name" example:"gpt-4o-mini" doc:"The name clients use"`
	Strategy         string         `json:"strategy,omitempty" enum:",auto,specified_provider,fallback,weighted_round_robin,least_connections,response_time,cost_optimized,hybrid"`
	StrategyConfig   map[string]any `json:"strategy_config,omitempty" doc:"Strategy options, e.g. {\"weights\":{\"latency\":0.5,\"success\":0.3,\"cost\":0.1,\"load\":0.1}} for hybrid"`
	Enabled          *bool          `json:"enabled,omitempty" doc:"Default true"`
	ContextWindow    int            `json:"context_window,omitempty" minimum:"0"`
	DefaultMaxTokens int            `json:"default_max_tokens,omitempty" minimum:"0" doc:"max_tokens for upstreams that require it (Anthropic) when the request has none"`
	Capabilities     []string       `json:"capabilities,omitempty" enum:"chat,embeddings,images" default:"[\"chat\"]" example:"[\"chat\"]" doc:"What the model serves: chat (chat completions, Messages, Responses), embeddings, images; each route's provider must serve them all (Anthropic serves chat only)"`
}

// ModelPatch changes some fields of a model.
type ModelPatch struct {
	Name             *string        `json:"name,omitempty"`
	Strategy         *string        `json:"strategy,omitempty" enum:",auto,specified_provider,fallback,weighted_round_robin,least_connections,response_time,cost_optimized,hybrid"`
	StrategyConfig   map[string]any `json:"strategy_config,omitempty"`
	Enabled          *bool          `json:"enabled,omitempty"`
	ContextWindow    *int           `json:"context_window,omitempty" minimum:"0"`
	DefaultMaxTokens *int           `json:"default_max_tokens,omitempty" minimum:"0"`
	Capabilities     []string       `json:"capabilities,omitempty" enum:"chat,embeddings,images" doc:"Replaces what the model serves; each route's provider must serve it all; [] means [\"chat\"]"`
}

type ModelPath struct {
	Model string `path:"model" doc:"Model id or name"`
}

type modelBody struct{ Body ModelDTO }

// RouteDTO is a model route.
type RouteDTO struct {
	ID            int64   `json:"id"`
	ModelID       int64   `json:"model_id"`
	ProviderID    int64   `json:"provider_id"`
	Provider      string  `json:"provider"`
	UpstreamModel string  `json:"upstream_model" example:"gpt-4o-mini-2024-07-18"`
	Weight        int     `json:"weight"`
	Priority      int     `json:"priority" doc:"Lower runs first in fallback"`
	InputPrice    float64 `json:"input_price" doc:"Per million prompt tokens"`
	OutputPrice   float64 `json:"output_price" doc:"Per million completion tokens"`
	// CachedInputPrice prices prompt-cache reads.
	CachedInputPrice float64   `json:"cached_input_price" doc:"Per million cached prompt tokens (OpenAI cached_tokens, Anthropic cache reads); 0: the input price"`
	Enabled          bool      `json:"enabled"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

func routeDTO(r domain.Route, providerName func(int64) string) RouteDTO {
	return RouteDTO{ID: r.ID, ModelID: r.ModelID, ProviderID: r.ProviderID, Provider: providerName(r.ProviderID), UpstreamModel: r.UpstreamModel,
		Weight: r.Weight, Priority: r.Priority, InputPrice: r.InputPrice, OutputPrice: r.OutputPrice, Enabled: r.Enabled,
		CachedInputPrice: r.CachedInputPrice, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// RouteCreate adds a route.
type RouteCreate struct {
	Provider      string  `json:"provider" example:"openai-main" doc:"Provider id or name"`
	UpstreamModel string  `json:"upstream_model" example:"gpt-4o-mini"`
	Weight        *int    `json:"weight,omitempty" doc:"Default 1"`
	Priority      int     `json:"priority,omitempty"`
	InputPrice    float64 `json:"input_price,omitempty"`
	OutputPrice   float64 `json:"output_price,omitempty"`
	// CachedInputPrice is per million cached prompt tokens; 0: the input price.
	CachedInputPrice float64 `json:"cached_input_price,omitempty"`
	Enabled          *bool   `json:"enabled,omitempty" doc:"Default true"`
}

// RoutePatch changes some fields of a route.
type RoutePatch struct {
	UpstreamModel *string  `json:"upstream_model,omitempty"`
	Weight        *int     `json:"weight,omitempty"`
	Priority      *int     `json:"priority,omitempty"`
	InputPrice    *float64 `json:"input_price,omitempty"`
	OutputPrice   *float64 `json:"output_price,omitempty"`
	// CachedInputPrice is per million cached prompt tokens; 0: the input price.
	CachedInputPrice *float64 `json:"cached_input_price,omitempty"`
	Enabled          *bool    `json:"enabled,omitempty"`
}

type RoutePath struct {
	Model string `path:"model" doc:"Model id or name"`
	Route int64  `path:"route" doc:"Route id"`
}

type routeBody struct{ Body RouteDTO }

func (h *adminHandlers) providerNames(ctx context.Context) func(int64) string {
	names := map[int64]string{}
	if ps, err := h.a.ListProviders(ctx); err == nil {
		for _, p := range ps {
			names[p.ID] = p.Name
		}
	}
	return func(id int64) string {
		if n, ok := names[id]; ok {
			return n
		}
		return strconv.FormatInt(id, 10)
	}
}

func configJSON(m map[string]any) (json.RawMessage, error) {
	if m == nil {
		return json.RawMessage("{}"), nil
	}
	return json.Marshal(m)
}

func (h *adminHandlers) registerModels(api huma.API) {
	o := op("createModel", http.MethodPost, "/models", "Create a model", "Models", http.StatusConflict)
	o.DefaultStatus = http.StatusCreated
	huma.Register(api, o, func(ctx context.Context, in *struct{ Body ModelCreate }) (*modelBody, error) {
		b := in.Body
		cfg, err := configJSON(b.StrategyConfig)
		if err != nil {
			return nil, h.problem(ctx, domain.FieldError("strategy_config", "is not valid JSON"))
		}
		m := domain.Model{Name: b.Name, Strategy: domain.Strategy(b.Strategy), StrategyConfig: cfg, Enabled: true,
			ContextWindow: b.ContextWindow, DefaultMaxTokens: b.DefaultMaxTokens, Capabilities: toCapabilities(b.Capabilities)}
		if b.Enabled != nil {
			m.Enabled = *b.Enabled
		}
		out, err := h.a.CreateModel(ctx, m)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &modelBody{Body: modelDTO(out, h.providerNames(ctx))}, nil
	})

	huma.Register(api, op("listAdminModels", http.MethodGet, "/models", "List models with their routes", "Models"),
		func(ctx context.Context, _ *struct{}) (*struct {
			Body AdminModelList
		}, error) {
			ms, err := h.a.ListModels(ctx)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			names := h.providerNames(ctx)
			return &struct {
				Body AdminModelList
			}{Body: AdminModelList{Data: dtos(ms, func(m domain.Model) ModelDTO { return modelDTO(m, names) })}}, nil
		})

	huma.Register(api, op("getModel", http.MethodGet, "/models/{model}", "Get a model with its routes", "Models", http.StatusNotFound),
		func(ctx context.Context, in *ModelPath) (*modelBody, error) {
			m, err := h.a.ModelRef(ctx, in.Model)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &modelBody{Body: modelDTO(m, h.providerNames(ctx))}, nil
		})

	huma.Register(api, op("updateModel", http.MethodPatch, "/models/{model}", "Update a model, its strategy or strategy config", "Models", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *struct {
			ModelPath
			Body ModelPatch
		}) (*modelBody, error) {
			b := in.Body
			out, err := h.a.UpdateModel(ctx, in.Model, func(m *domain.Model) error {
				if b.Name != nil {
					m.Name = *b.Name
				}
				if b.Strategy != nil {
					m.Strategy = domain.Strategy(*b.Strategy)
				}
				if b.StrategyConfig != nil {
					cfg, err := configJSON(b.StrategyConfig)
					if err != nil {
						return domain.FieldError("strategy_config", "is not valid JSON")
					}
					m.StrategyConfig = cfg
				}
				if b.Enabled != nil {
					m.Enabled = *b.Enabled
				}
				if b.ContextWindow != nil {
					m.ContextWindow = *b.ContextWindow
				}
				if b.DefaultMaxTokens != nil {
					m.DefaultMaxTokens = *b.DefaultMaxTokens
				}
				if b.Capabilities != nil {
					m.Capabilities = toCapabilities(b.Capabilities)
				}
				return nil
			})
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &modelBody{Body: modelDTO(out, h.providerNames(ctx))}, nil
		})

	registerDelete(api, h, op("deleteModel", http.MethodDelete, "/models/{model}", "Delete a model and its routes", "Models", http.StatusNotFound),
		func(ctx context.Context, in *ModelPath) error { return h.a.DeleteModel(ctx, in.Model) })
}

func (h *adminHandlers) registerRoutes(api huma.API) {
	o := op("createRoute", http.MethodPost, "/models/{model}/routes", "Add a route from a model to a provider", "Routes", http.StatusNotFound, http.StatusConflict)
	o.DefaultStatus = http.StatusCreated
	huma.Register(api, o, func(ctx context.Context, in *struct {
		ModelPath
		Body RouteCreate
	}) (*routeBody, error) {
		b := in.Body
		r := domain.Route{UpstreamModel: b.UpstreamModel, Weight: 1, Priority: b.Priority, InputPrice: b.InputPrice, OutputPrice: b.OutputPrice, CachedInputPrice: b.CachedInputPrice, Enabled: true}
		if b.Weight != nil {
			r.Weight = *b.Weight
		}
		if b.Enabled != nil {
			r.Enabled = *b.Enabled
		}
		out, err := h.a.CreateRoute(ctx, in.Model, b.Provider, r)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &routeBody{Body: routeDTO(out, h.providerNames(ctx))}, nil
	})

	huma.Register(api, op("listRoutes", http.MethodGet, "/models/{model}/routes", "List a model's routes", "Routes", http.StatusNotFound),
		func(ctx context.Context, in *ModelPath) (*struct {
			Body RouteList
		}, error) {
			rs, err := h.a.ListRoutes(ctx, in.Model)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			names := h.providerNames(ctx)
			return &struct {
				Body RouteList
			}{Body: RouteList{Data: dtos(rs, func(r domain.Route) RouteDTO { return routeDTO(r, names) })}}, nil
		})

	huma.Register(api, op("updateRoute", http.MethodPatch, "/models/{model}/routes/{route}", "Update a route's weight, priority, prices or upstream model", "Routes", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *struct {
			RoutePath
			Body RoutePatch
		}) (*routeBody, error) {
			b := in.Body
			out, err := h.a.UpdateRoute(ctx, in.Model, in.Route, func(r *domain.Route) error {
				if b.UpstreamModel != nil {
					r.UpstreamModel = *b.UpstreamModel
				}
				if b.Weight != nil {
					r.Weight = *b.Weight
				}
				if b.Priority != nil {
					r.Priority = *b.Priority
				}
				if b.InputPrice != nil {
					r.InputPrice = *b.InputPrice
				}
				if b.OutputPrice != nil {
					r.OutputPrice = *b.OutputPrice
				}
				if b.CachedInputPrice != nil {
					r.CachedInputPrice = *b.CachedInputPrice
				}
				if b.Enabled != nil {
					r.Enabled = *b.Enabled
				}
				return nil
			})
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &routeBody{Body: routeDTO(out, h.providerNames(ctx))}, nil
		})

	registerDelete(api, h, op("deleteRoute", http.MethodDelete, "/models/{model}/routes/{route}", "Delete a route", "Routes", http.StatusNotFound),
		func(ctx context.Context, in *RoutePath) error { return h.a.DeleteRoute(ctx, in.Model, in.Route) })
}
