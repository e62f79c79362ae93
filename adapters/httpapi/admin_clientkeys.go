package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/airouter/airouter/core/domain"
)

// BudgetDTO is a client key's spending limit.
type BudgetDTO struct {
	USD      float64 `json:"usd" example:"25" doc:"USD per period (with route prices in USD per million tokens); 0: no budget"`
	Period   string  `json:"period" example:"monthly" doc:"daily, monthly (both from 00:00 UTC) or total"`
	HardStop *bool   `json:"hard_stop,omitempty" doc:"Refuse requests (429) once the budget is used up; default true. false: only track it"`
}

// ClientKeyDTO is a client key; the token is never shown after creation.
type ClientKeyDTO struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name" example:"backend-prod"`
	Prefix     string     `json:"prefix" example:"sk-ar-1a2b" doc:"First characters of the token, to recognise it"`
	Enabled    bool       `json:"enabled"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	Allow      []string   `json:"allow" example:"[\"gpt-4o-mini\",\"claude-*\"]" doc:"Models the key may use (names, or prefixes ending in *); empty: all"`
	RPM        int        `json:"rpm" doc:"Requests per minute across all replicas; 0: unlimited"`
	TPM        int64      `json:"tpm" doc:"Tokens (prompt + completion) per minute across all replicas; 0: unlimited"`
	Budget     *BudgetDTO `json:"budget,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty" doc:"After this the key is refused (401)"`
	Owner      string     `json:"owner,omitempty" example:"team-search"`
	Tags       []string   `json:"tags" example:"[\"prod\"]"`
}

func clientKeyDTO(k domain.ClientKey) ClientKeyDTO {
	d := ClientKeyDTO{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Enabled: k.Enabled, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt,
		Allow: k.Allow, RPM: k.RPM, TPM: k.TPM, ExpiresAt: k.ExpiresAt, Owner: k.Owner, Tags: k.Tags}
	if d.Allow == nil {
		d.Allow = []string{}
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	if k.Budget.USD > 0 || k.Budget.Period != "" {
		hs := k.Budget.HardStop
		d.Budget = &BudgetDTO{USD: k.Budget.USD, Period: string(k.Budget.Period), HardStop: &hs}
	}
	return d
}

func (b *BudgetDTO) domain() domain.Budget {
	if b == nil {
		return domain.Budget{}
	}
	out := domain.Budget{USD: b.USD, Period: domain.BudgetPeriod(b.Period), HardStop: true}
	if b.HardStop != nil {
		out.HardStop = *b.HardStop
	}
	return out
}

// ClientKeyCreate is a new client key: a name, and optionally limits and
// metadata.
type ClientKeyCreate struct {
	Name      string     `json:"name" example:"backend-prod"`
	Allow     []string   `json:"allow,omitempty" doc:"Models the key may use (names, or prefixes ending in *); empty: all"`
	RPM       int        `json:"rpm,omitempty" doc:"Requests per minute; 0: unlimited"`
	TPM       int64      `json:"tpm,omitempty" doc:"Tokens per minute; 0: unlimited"`
	Budget    *BudgetDTO `json:"budget,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Owner     string     `json:"owner,omitempty"`
	Tags      []string   `json:"tags,omitempty"`
}

// ClientKeyPatch changes a client key; absent fields stay as they are.
type ClientKeyPatch struct {
	Name      *string    `json:"name,omitempty"`
	Allow     *[]string  `json:"allow,omitempty" doc:"Replaces the allowlist; [] allows every model"`
	RPM       *int       `json:"rpm,omitempty"`
	TPM       *int64     `json:"tpm,omitempty"`
	Budget    *BudgetDTO `json:"budget,omitempty" doc:"Replaces the budget; usd 0 removes it"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	NoExpiry  bool       `json:"no_expiry,omitempty" doc:"Remove the expiry"`
	Owner     *string    `json:"owner,omitempty"`
	Tags      *[]string  `json:"tags,omitempty"`
}

// ClientKeyCreated is a new client key with its token, shown this once.
type ClientKeyCreated struct {
	ClientKeyDTO
	Token string `json:"token" example:"sk-ar-..." doc:"The token; only its SHA-256 is stored, so it cannot be shown again"`
}

type ClientKeyPath struct {
	ID int64 `path:"id" doc:"Client key id"`
}

func (h *adminHandlers) registerClientKeys(api huma.API) {
	o := op("createClientKey", http.MethodPost, "/client-keys", "Create a client key", "Client keys", http.StatusConflict)
	o.DefaultStatus = http.StatusCreated
	huma.Register(api, o, func(ctx context.Context, in *struct {
		Body ClientKeyCreate
	}) (*struct{ Body ClientKeyCreated }, error) {
		b := in.Body
		spec := domain.ClientKey{Name: b.Name, Owner: b.Owner, Tags: b.Tags, Limits: domain.Limits{
			Allow: b.Allow, RPM: b.RPM, TPM: b.TPM, Budget: b.Budget.domain(), ExpiresAt: b.ExpiresAt,
		}}
		k, token, err := h.a.CreateLimitedClientKey(ctx, spec)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &struct{ Body ClientKeyCreated }{Body: ClientKeyCreated{ClientKeyDTO: clientKeyDTO(k), Token: token}}, nil
	})

	huma.Register(api, op("updateClientKey", http.MethodPatch, "/client-keys/{id}", "Change a client key's limits and metadata", "Client keys", http.StatusNotFound, http.StatusConflict),
		func(ctx context.Context, in *struct {
			ClientKeyPath
			Body ClientKeyPatch
		}) (*struct{ Body ClientKeyDTO }, error) {
			b := in.Body
			k, err := h.a.UpdateClientKey(ctx, in.ID, func(k *domain.ClientKey) error {
				if b.Name != nil {
					k.Name = *b.Name
				}
				if b.Allow != nil {
					k.Allow = *b.Allow
				}
				if b.RPM != nil {
					k.RPM = *b.RPM
				}
				if b.TPM != nil {
					k.TPM = *b.TPM
				}
				if b.Budget != nil {
					k.Budget = b.Budget.domain()
				}
				if b.ExpiresAt != nil {
					k.ExpiresAt = b.ExpiresAt
				}
				if b.NoExpiry {
					k.ExpiresAt = nil
				}
				if b.Owner != nil {
					k.Owner = *b.Owner
				}
				if b.Tags != nil {
					k.Tags = *b.Tags
				}
				return nil
			})
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &struct{ Body ClientKeyDTO }{Body: clientKeyDTO(k)}, nil
		})

	huma.Register(api, op("listClientKeys", http.MethodGet, "/client-keys", "List client keys", "Client keys"),
		func(ctx context.Context, _ *struct{}) (*struct {
			Body ClientKeyList
		}, error) {
			ks, err := h.a.ListClientKeys(ctx)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &struct{ Body ClientKeyList }{Body: ClientKeyList{Data: dtos(ks, clientKeyDTO)}}, nil
		})

	registerToggles(api, h, "Client keys", []int{http.StatusNotFound},
		func(ctx context.Context, in *ClientKeyPath, enable bool) (domain.ClientKey, error) {
			return h.a.SetClientKeyEnabled(ctx, in.ID, enable)
		}, clientKeyDTO,
		toggle{false, "revokeClientKey", "/client-keys/{id}/revoke", "Revoke a client key"},
		toggle{true, "restoreClientKey", "/client-keys/{id}/restore", "Restore a revoked client key"})

	registerDelete(api, h, op("deleteClientKey", http.MethodDelete, "/client-keys/{id}", "Delete a client key", "Client keys", http.StatusNotFound),
		func(ctx context.Context, in *ClientKeyPath) error { return h.a.DeleteClientKey(ctx, in.ID) })
}

func clientKeyStatsRows(rows []domain.ClientKeyStats) []StatsRowDTO {
	out := make([]StatsRowDTO, 0, len(rows))
	for _, r := range rows {
		var rate float64
		if r.Requests > 0 {
			rate = float64(r.Requests-r.Errors) / float64(r.Requests)
		}
		out = append(out, StatsRowDTO{ClientKeyID: r.ClientKeyID, ClientKey: r.ClientKey, Requests: r.Requests, Errors: r.Errors,
			SuccessRate: rate, LatencyP50MS: msf(r.LatencyP50), LatencyP95MS: msf(r.LatencyP95), LatencyP99MS: msf(r.LatencyP99),
			PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens, Cost: r.Cost})
	}
	return out
}
