package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
)

// TimeoutsDTO are a provider's timeouts in milliseconds; 0 means the default.
type TimeoutsDTO struct {
	ConnectMS   int64 `json:"connect_ms,omitempty" minimum:"0" doc:"TCP and TLS connect (default 5000)"`
	FirstByteMS int64 `json:"first_byte_ms,omitempty" minimum:"0" doc:"Request sent to response headers and first stream event (default 60000)"`
	IdleMS      int64 `json:"idle_ms,omitempty" minimum:"0" doc:"Between two stream chunks (default 60000)"`
	TotalMS     int64 `json:"total_ms,omitempty" minimum:"0" doc:"Whole attempt (default 600000)"`
}

func (t TimeoutsDTO) domain() domain.Timeouts {
	return domain.Timeouts{Connect: ms(t.ConnectMS), FirstByte: ms(t.FirstByteMS), Idle: ms(t.IdleMS), Total: ms(t.TotalMS)}
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

func timeoutsDTO(t domain.Timeouts) TimeoutsDTO {
	return TimeoutsDTO{ConnectMS: t.Connect.Milliseconds(), FirstByteMS: t.FirstByte.Milliseconds(), IdleMS: t.Idle.Milliseconds(), TotalMS: t.Total.Milliseconds()}
}

// ProviderDTO is a provider as the admin API shows it.
type ProviderDTO struct {
	ID        int64             `json:"id" example:"1"`
	Name      string            `json:"name" example:"openai-main"`
	Kind      string            `json:"kind" enum:"openai,anthropic,volcengine,openai_compatible" example:"openai"`
	BaseURL   string            `json:"base_url" example:"https://api.openai.com/v1"`
	Enabled   bool              `json:"enabled"`
	Timeouts  TimeoutsDTO       `json:"timeouts"`
	Headers   map[string]string `json:"headers"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

func providerDTO(p domain.Provider) ProviderDTO {
	h := p.Headers
	if h == nil {
		h = map[string]string{}
	}
	return ProviderDTO{ID: p.ID, Name: p.Name, Kind: string(p.Kind), BaseURL: p.BaseURL, Enabled: p.Enabled,
		Timeouts: timeoutsDTO(p.Timeouts), Headers: h, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

// ProviderCreate is the body that creates a provider.
type ProviderCreate struct {
	Name     string            `json:"name" example:"openai-main" doc:"Unique name: letters, digits, '.', '_', '-'"`
	Kind     string            `json:"kind" enum:"openai,anthropic,volcengine,openai_compatible" example:"openai"`
	BaseURL  string            `json:"base_url,omitempty" example:"https://api.openai.com/v1" doc:"Defaults to the kind's public endpoint; required for openai_compatible"`
	Enabled  *bool             `json:"enabled,omitempty" doc:"Default true"`
	Timeouts *TimeoutsDTO      `json:"timeouts,omitempty"`
	Headers  map[string]string `json:"headers,omitempty" doc:"Extra headers sent upstream, e.g. OpenAI-Organization or anthropic-beta; not for keys"`
}

// ProviderPatch changes some fields of a provider.
type ProviderPatch struct {
	Name     *string           `json:"name,omitempty"`
	Kind     *string           `json:"kind,omitempty" enum:"openai,anthropic,volcengine,openai_compatible"`
	BaseURL  *string           `json:"base_url,omitempty"`
	Enabled  *bool             `json:"enabled,omitempty"`
	Timeouts *TimeoutsDTO      `json:"timeouts,omitempty"`
	Headers  map[string]string `json:"headers,omitempty" doc:"Replaces all extra headers"`
	Keys     []KeyCreate       `json:"keys,omitempty" doc:"Replaces every stored key of the provider. Required when base_url or kind changes and the provider has keys: changing where keys are sent requires knowing them"`
}

func newKeys(in []KeyCreate) []gateway.NewKey {
	if len(in) == 0 {
		return nil
	}
	out := make([]gateway.NewKey, len(in))
	for i, k := range in {
		out[i] = gateway.NewKey{Name: k.Name, Secret: k.Secret, Weight: k.Weight, ExpiresAt: k.ExpiresAt}
	}
	return out
}

type ProviderPath struct {
	Provider string `path:"provider" doc:"Provider id or name" example:"openai-main"`
}

type providerBody struct {
	Body ProviderDTO
}

type providerList struct {
	Body ProviderList
}

func (h *adminHandlers) registerProviders(api huma.API) {
	o := op("createProvider", http.MethodPost, "/providers", "Create a provider", "Providers", http.StatusConflict)
	o.DefaultStatus = http.StatusCreated
	huma.Register(api, o, func(ctx context.Context, in *struct{ Body ProviderCreate }) (*providerBody, error) {
		b := in.Body
		p := domain.Provider{Name: b.Name, Kind: domain.ProviderKind(b.Kind), BaseURL: b.BaseURL, Enabled: true, Headers: b.Headers}
		if b.Enabled != nil {
			p.Enabled = *b.Enabled
		}
		if b.Timeouts != nil {
			p.Timeouts = b.Timeouts.domain()
		}
		out, err := h.a.CreateProvider(ctx, p)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &providerBody{Body: providerDTO(out)}, nil
	})

	huma.Register(api, op("listProviders", http.MethodGet, "/providers", "List providers", "Providers"),
		func(ctx context.Context, _ *struct{}) (*providerList, error) {
			ps, err := h.a.ListProviders(ctx)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &providerList{Body: ProviderList{Data: dtos(ps, providerDTO)}}, nil
		})

	huma.Register(api, op("getProvider", http.MethodGet, "/providers/{provider}", "Get a provider", "Providers", http.StatusNotFound),
		func(ctx context.Context, in *ProviderPath) (*providerBody, error) {
			p, err := h.a.ProviderRef(ctx, in.Provider)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &providerBody{Body: providerDTO(p)}, nil
		})

	huma.Register(api, op("updateProvider", http.MethodPatch, "/providers/{provider}", "Update a provider", "Providers", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *struct {
			ProviderPath
			Body ProviderPatch
		}) (*providerBody, error) {
			b := in.Body
			out, err := h.a.UpdateProvider(ctx, in.Provider, func(p *domain.Provider) error {
				if b.Name != nil {
					p.Name = *b.Name
				}
				if b.Kind != nil {
					p.Kind = domain.ProviderKind(*b.Kind)
				}
				if b.BaseURL != nil {
					p.BaseURL = *b.BaseURL
				}
				if b.Enabled != nil {
					p.Enabled = *b.Enabled
				}
				if b.Timeouts != nil {
					p.Timeouts = b.Timeouts.domain()
				}
				if b.Headers != nil {
					p.Headers = b.Headers
				}
				return nil
			}, newKeys(b.Keys))
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &providerBody{Body: providerDTO(out)}, nil
		})

	registerToggles(api, h, "Providers", []int{http.StatusNotFound},
		func(ctx context.Context, in *ProviderPath, enable bool) (domain.Provider, error) {
			return h.a.UpdateProvider(ctx, in.Provider, func(p *domain.Provider) error {
				p.Enabled = enable
				return nil
			}, nil)
		}, providerDTO,
		toggle{true, "enableProvider", "/providers/{provider}/enable", "Enable a provider"},
		toggle{false, "disableProvider", "/providers/{provider}/disable", "Disable a provider"})

	registerDelete(api, h, op("deleteProvider", http.MethodDelete, "/providers/{provider}", "Delete a provider with its keys and routes", "Providers", http.StatusNotFound),
		func(ctx context.Context, in *ProviderPath) error { return h.a.DeleteProvider(ctx, in.Provider) })
}
