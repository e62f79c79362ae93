package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
)

// KeyDTO is a provider key as the admin API shows it: never the secret.
type KeyDTO struct {
	ID          int64      `json:"id"`
	ProviderID  int64      `json:"provider_id"`
	Name        string     `json:"name"`
	Last4       string     `json:"last4" example:"x7Qa" doc:"Last four characters of the secret"`
	Fingerprint string     `json:"fingerprint" example:"sha256:1f2e3d4c5b6a"`
	Status      string     `json:"status" enum:"active,standby,draining,retired,invalid,disabled"`
	Weight      int        `json:"weight"`
	Version     int64      `json:"version" doc:"Bumped on every change (compare-and-swap)"`
	CreatedAt   time.Time  `json:"created_at"`
	RotatedAt   *time.Time `json:"rotated_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

func keyDTO(k domain.ProviderKey) KeyDTO {
	return KeyDTO{ID: k.ID, ProviderID: k.ProviderID, Name: k.Name, Last4: k.Last4, Fingerprint: k.Fingerprint, Status: string(k.Status),
		Weight: k.Weight, Version: k.Version, CreatedAt: k.CreatedAt, RotatedAt: k.RotatedAt, ExpiresAt: k.ExpiresAt, LastError: k.LastError}
}

// KeyCreate adds a key; the secret is write-only.
type KeyCreate struct {
	Name      string     `json:"name,omitempty" example:"primary"`
	Secret    string     `json:"secret" writeOnly:"true" doc:"The provider's API key; stored encrypted, never shown again"`
	Weight    *int       `json:"weight,omitempty" doc:"Share among the provider's active keys (default 1)"`
	ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"When the key expires; the worker warns ahead of it"`
}

// KeyPatch changes a key's metadata.
type KeyPatch struct {
	Name      *string    `json:"name,omitempty"`
	Weight    *int       `json:"weight,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

type KeyPath struct {
	Provider string `path:"provider" doc:"Provider id or name"`
	Key      int64  `path:"key" doc:"Key id"`
}

type keyBody struct{ Body KeyDTO }

// RotationDTO is a key rotation's state.
type RotationDTO struct {
	ID         string    `json:"id" doc:"Workflow id"`
	ProviderID int64     `json:"provider_id"`
	OldKeyID   int64     `json:"old_key_id,omitempty"`
	NewKeyID   int64     `json:"new_key_id"`
	Step       string    `json:"step" example:"verifying"`
	Status     string    `json:"status" enum:"running,completed,failed,canceled"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func rotationDTO(r domain.Rotation) RotationDTO {
	return RotationDTO{ID: r.ID, ProviderID: r.ProviderID, OldKeyID: r.OldKeyID, NewKeyID: r.NewKeyID, Step: r.Step, Status: r.Status,
		Error: r.Error, StartedAt: r.StartedAt, UpdatedAt: r.UpdatedAt}
}

// RotationCreate starts a rotation.
type RotationCreate struct {
	Secret   string `json:"secret" writeOnly:"true" doc:"The new key; stored encrypted as standby before the workflow starts"`
	Name     string `json:"name,omitempty"`
	OldKeyID int64  `json:"old_key_id,omitempty" doc:"The key to replace; default: every active key of the provider"`
}

func (h *adminHandlers) registerKeys(api huma.API) {
	o := op("addProviderKey", http.MethodPost, "/providers/{provider}/keys", "Add a provider key", "Provider keys", http.StatusNotFound, http.StatusConflict)
	o.DefaultStatus = http.StatusCreated
	huma.Register(api, o, func(ctx context.Context, in *struct {
		ProviderPath
		Body KeyCreate
	}) (*keyBody, error) {
		k, err := h.a.AddKey(ctx, in.Provider, gateway.NewKey{Name: in.Body.Name, Secret: in.Body.Secret, Weight: in.Body.Weight, ExpiresAt: in.Body.ExpiresAt})
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &keyBody{Body: keyDTO(k)}, nil
	})

	huma.Register(api, op("listProviderKeys", http.MethodGet, "/providers/{provider}/keys", "List a provider's keys", "Provider keys", http.StatusNotFound),
		func(ctx context.Context, in *ProviderPath) (*struct {
			Body KeyList
		}, error) {
			ks, err := h.a.ListKeys(ctx, in.Provider)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &struct{ Body KeyList }{Body: KeyList{Data: dtos(ks, keyDTO)}}, nil
		})

	huma.Register(api, op("updateProviderKey", http.MethodPatch, "/providers/{provider}/keys/{key}", "Update a key's name, weight or expiry", "Provider keys", http.StatusNotFound),
		func(ctx context.Context, in *struct {
			KeyPath
			Body KeyPatch
		}) (*keyBody, error) {
			k, err := h.a.UpdateKey(ctx, in.Provider, in.Key, in.Body.Name, in.Body.Weight, in.Body.ExpiresAt)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &keyBody{Body: keyDTO(k)}, nil
		})

	registerToggles(api, h, "Provider keys", []int{http.StatusNotFound, http.StatusConflict},
		func(ctx context.Context, in *KeyPath, enable bool) (domain.ProviderKey, error) {
			return h.a.SetKeyEnabled(ctx, in.Provider, in.Key, enable)
		}, keyDTO,
		toggle{true, "enableProviderKey", "/providers/{provider}/keys/{key}/enable", "Enable a key (make it active)"},
		toggle{false, "disableProviderKey", "/providers/{provider}/keys/{key}/disable", "Disable a key"})

	registerDelete(api, h, op("deleteProviderKey", http.MethodDelete, "/providers/{provider}/keys/{key}", "Delete a key", "Provider keys", http.StatusNotFound),
		func(ctx context.Context, in *KeyPath) error { return h.a.DeleteKey(ctx, in.Provider, in.Key) })

	r := op("startKeyRotation", http.MethodPost, "/providers/{provider}/rotations", "Rotate a provider key", "Provider keys", http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable)
	r.Description = "Stores the new secret encrypted as a standby key, then starts the durable rotation workflow (verify the new key, make it active and the old one draining, wait the grace period, retire the old key). Watch it in the Temporal UI or with getKeyRotation."
	r.DefaultStatus = http.StatusAccepted
	huma.Register(api, r, func(ctx context.Context, in *struct {
		ProviderPath
		Body RotationCreate
	}) (*struct {
		Body RotationStarted
	}, error) {
		rot, k, err := h.a.StartRotation(ctx, in.Provider, gateway.NewKey{Name: in.Body.Name, Secret: in.Body.Secret}, in.Body.OldKeyID)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		out := &struct {
			Body RotationStarted
		}{}
		out.Body.Rotation, out.Body.NewKey = rotationDTO(rot), keyDTO(k)
		return out, nil
	})

	huma.Register(api, op("listKeyRotations", http.MethodGet, "/providers/{provider}/rotations", "List a provider's key rotations", "Provider keys", http.StatusNotFound),
		func(ctx context.Context, in *ProviderPath) (*struct {
			Body RotationList
		}, error) {
			rs, err := h.a.ListRotations(ctx, in.Provider)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &struct{ Body RotationList }{Body: RotationList{Data: dtos(rs, rotationDTO)}}, nil
		})

	type RotationPath struct {
		ID string `path:"rotation" doc:"Rotation (workflow) id"`
	}
	huma.Register(api, op("getKeyRotation", http.MethodGet, "/rotations/{rotation}", "Get a key rotation's state", "Provider keys", http.StatusNotFound),
		func(ctx context.Context, in *RotationPath) (*struct{ Body RotationDTO }, error) {
			r, err := h.a.Rotation(ctx, in.ID)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &struct{ Body RotationDTO }{Body: rotationDTO(r)}, nil
		})

	c := op("cancelKeyRotation", http.MethodPost, "/rotations/{rotation}/cancel", "Cancel a key rotation", "Provider keys", http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable)
	c.Description = "Signals the workflow to stop; it rolls back if the new key is not active yet. Once the new key is active the rotation can no longer be canceled (409)."
	c.DefaultStatus = http.StatusAccepted
	registerNoBody(api, h, c, func(ctx context.Context, in *RotationPath) error { return h.a.CancelRotation(ctx, in.ID) })
}
