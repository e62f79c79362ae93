package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/airouter/airouter/core/domain"
)

// ClientKeyDTO is a client key; the token is never shown after creation.
type ClientKeyDTO struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name" example:"backend-prod"`
	Prefix     string     `json:"prefix" example:"sk-ar-1a2b" doc:"First characters of the token, to recognise it"`
	Enabled    bool       `json:"enabled"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

func clientKeyDTO(k domain.ClientKey) ClientKeyDTO {
	return ClientKeyDTO{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Enabled: k.Enabled, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt}
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
		Body ClientKeyName
	}) (*struct{ Body ClientKeyCreated }, error) {
		k, token, err := h.a.CreateClientKey(ctx, in.Body.Name)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &struct{ Body ClientKeyCreated }{Body: ClientKeyCreated{ClientKeyDTO: clientKeyDTO(k), Token: token}}, nil
	})

	huma.Register(api, op("listClientKeys", http.MethodGet, "/client-keys", "List client keys", "Client keys"),
		func(ctx context.Context, _ *struct{}) (*struct {
			Body ClientKeyList
		}, error) {
			ks, err := h.a.ListClientKeys(ctx)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			out := &struct {
				Body ClientKeyList
			}{}
			out.Body.Data = make([]ClientKeyDTO, 0, len(ks))
			for _, k := range ks {
				out.Body.Data = append(out.Body.Data, clientKeyDTO(k))
			}
			return out, nil
		})

	for _, enable := range []bool{false, true} {
		id, path, summary := "revokeClientKey", "/client-keys/{id}/revoke", "Revoke a client key"
		if enable {
			id, path, summary = "restoreClientKey", "/client-keys/{id}/restore", "Restore a revoked client key"
		}
		huma.Register(api, op(id, http.MethodPost, path, summary, "Client keys", http.StatusNotFound),
			func(ctx context.Context, in *ClientKeyPath) (*struct{ Body ClientKeyDTO }, error) {
				k, err := h.a.SetClientKeyEnabled(ctx, in.ID, enable)
				if err != nil {
					return nil, h.problem(ctx, err)
				}
				return &struct{ Body ClientKeyDTO }{Body: clientKeyDTO(k)}, nil
			})
	}

	d := op("deleteClientKey", http.MethodDelete, "/client-keys/{id}", "Delete a client key", "Client keys", http.StatusNotFound)
	d.DefaultStatus = http.StatusNoContent
	huma.Register(api, d, func(ctx context.Context, in *ClientKeyPath) (*struct{}, error) {
		if err := h.a.DeleteClientKey(ctx, in.ID); err != nil {
			return nil, h.problem(ctx, err)
		}
		return nil, nil
	})
}
