package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// KeyEditor is what ProviderKeys needs of the key store.
type KeyEditor interface {
	AddKey(ctx context.Context, k domain.ProviderKey) (domain.ProviderKey, error)
	GetKey(ctx context.Context, id int64) (domain.ProviderKey, error)
	ListKeys(ctx context.Context, providerID int64) ([]domain.ProviderKey, error)
	SetKeyStatus(ctx context.Context, id, expectedVersion int64, status domain.KeyStatus, lastError string) (domain.ProviderKey, error)
	UpdateKey(ctx context.Context, id int64, fn func(*domain.ProviderKey) error) (domain.ProviderKey, error)
	DeleteKey(ctx context.Context, id int64) error
}

// RotationReader reads the recorded progress of key rotations.
type RotationReader interface {
	GetRotation(ctx context.Context, id string) (domain.Rotation, error)
	ListRotations(ctx context.Context, providerID int64, limit int) ([]domain.Rotation, error)
}

// RotationRunner starts and inspects rotation workflows (ports.Orchestrator).
type RotationRunner interface {
	Ready(ctx context.Context) error
	StartRotation(ctx context.Context, providerID, newKeyID, oldKeyID int64) (domain.Rotation, error)
	RotationStatus(ctx context.Context, id string) (domain.Rotation, error)
	CancelRotation(ctx context.Context, id string) error
}

// ProviderKeys is the use case of a provider's keys: add, list, change,
// switch on and off, delete, and rotate.
type ProviderKeys struct {
	providers ProviderFinder
	keys      KeyEditor
	rotations RotationReader
	runner    RotationRunner // may be nil: rotations need Temporal
	log       *slog.Logger
	applier
}

// NewProviderKeys checks the dependencies and returns the use case; runner
// may be nil.
func NewProviderKeys(providers ProviderFinder, keys KeyEditor, rotations RotationReader, runner RotationRunner, r Reloader, log *slog.Logger) (*ProviderKeys, error) {
	if providers == nil || keys == nil || rotations == nil {
		return nil, errors.New("gateway: NewProviderKeys needs providers, keys and rotations")
	}
	ap, err := newApplier(r, log)
	if err != nil {
		return nil, err
	}
	return &ProviderKeys{providers: providers, keys: keys, rotations: rotations, runner: runner, log: log, applier: ap}, nil
}

// NewKey is a key to add.
type NewKey struct {
	Name      string
	Secret    string
	Weight    *int
	ExpiresAt *time.Time
	Standby   bool
}

// key returns the checked key to store (without its provider).
func (k NewKey) key() (domain.ProviderKey, error) {
	out := domain.ProviderKey{Name: k.Name, Secret: k.Secret, Weight: domain.DefaultKeyWeight, ExpiresAt: k.ExpiresAt, Status: domain.KeyActive}
	if k.Weight != nil {
		out.Weight = *k.Weight
	}
	if k.Standby {
		out.Status = domain.KeyStandby
	}
	if err := out.ValidateNew(); err != nil {
		return domain.ProviderKey{}, err
	}
	return out, nil
}

// AddKey stores a new key for a provider. The secret is sealed by the store
// and never returned.
func (a *ProviderKeys) AddKey(ctx context.Context, ref string, in NewKey) (domain.ProviderKey, error) {
	p, err := findProvider(ctx, a.providers, ref)
	if err != nil {
		return domain.ProviderKey{}, err
	}
	k, err := in.key()
	if err != nil {
		return k, err
	}
	k.ProviderID = p.ID
	out, err := a.keys.AddKey(ctx, k)
	if err != nil {
		return out, err
	}
	a.applied(ctx, changed(ports.ChangeProvider, p.ID))
	return out, nil
}

// ListKeys lists a provider's keys (without secrets).
func (a *ProviderKeys) ListKeys(ctx context.Context, ref string) ([]domain.ProviderKey, error) {
	p, err := findProvider(ctx, a.providers, ref)
	if err != nil {
		return nil, err
	}
	return a.keys.ListKeys(ctx, p.ID)
}

func (a *ProviderKeys) providerKey(ctx context.Context, ref string, keyID int64) (domain.ProviderKey, error) {
	p, err := findProvider(ctx, a.providers, ref)
	if err != nil {
		return domain.ProviderKey{}, err
	}
	k, err := a.keys.GetKey(ctx, keyID)
	if err != nil {
		return k, err
	}
	if k.ProviderID != p.ID {
		return domain.ProviderKey{}, domain.Errorf(domain.CodeNotFound, "key %d not found for provider %s", keyID, p.Name)
	}
	return k, nil
}

// SetKeyEnabled switches a key between active and disabled. Retired keys
// cannot be enabled again; invalid keys can (after the operator fixed the
// account).
func (a *ProviderKeys) SetKeyEnabled(ctx context.Context, ref string, keyID int64, enabled bool) (domain.ProviderKey, error) {
	k, err := a.providerKey(ctx, ref, keyID)
	if err != nil {
		return k, err
	}
	target := domain.KeyDisabled
	if enabled {
		target = domain.KeyActive
		if k.Status == domain.KeyRetired {
			return k, domain.Errorf(domain.CodeConflict, "key %d is retired and its secret wiped; add a new key", keyID)
		}
	}
	if k.Status == target {
		return k, nil
	}
	out, err := a.keys.SetKeyStatus(ctx, k.ID, k.Version, target, "")
	if err != nil {
		return out, err
	}
	a.applied(ctx, changed(ports.ChangeProvider, out.ProviderID))
	return out, nil
}

// UpdateKey changes a key's name, weight or expiry.
func (a *ProviderKeys) UpdateKey(ctx context.Context, ref string, keyID int64, name *string, weight *int, expiresAt *time.Time) (domain.ProviderKey, error) {
	if _, err := a.providerKey(ctx, ref, keyID); err != nil {
		return domain.ProviderKey{}, err
	}
	out, err := a.keys.UpdateKey(ctx, keyID, func(k *domain.ProviderKey) error {
		// Only the fields given are checked: a stored key is not refused
		// for a field the call leaves alone.
		if name != nil {
			k.Name = *name
			if err := k.ValidateName(); err != nil {
				return err
			}
		}
		if weight != nil {
			k.Weight = *weight
			if err := k.ValidateWeight(); err != nil {
				return err
			}
		}
		if expiresAt != nil {
			k.ExpiresAt = expiresAt
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	a.applied(ctx, changed(ports.ChangeProvider, out.ProviderID))
	return out, nil
}

// DeleteKey deletes a key.
func (a *ProviderKeys) DeleteKey(ctx context.Context, ref string, keyID int64) error {
	dk, err := a.providerKey(ctx, ref, keyID)
	if err != nil {
		return err
	}
	if err := a.keys.DeleteKey(ctx, keyID); err != nil {
		return err
	}
	a.applied(ctx, changed(ports.ChangeProvider, dk.ProviderID))
	return nil
}

// StartRotation stores the new secret as a standby key, then starts the
// durable rotation workflow with the key's id only.
func (a *ProviderKeys) StartRotation(ctx context.Context, ref string, in NewKey, oldKeyID int64) (domain.Rotation, domain.ProviderKey, error) {
	if a.runner == nil {
		return domain.Rotation{}, domain.ProviderKey{}, domain.Errorf(domain.CodeUnavailable, "key rotation needs Temporal, which is not configured")
	}
	if err := a.runner.Ready(ctx); err != nil {
		return domain.Rotation{}, domain.ProviderKey{}, domain.Errorf(domain.CodeUnavailable, "key rotation needs Temporal, which is not reachable now; retry later")
	}
	p, err := findProvider(ctx, a.providers, ref)
	if err != nil {
		return domain.Rotation{}, domain.ProviderKey{}, err
	}
	if oldKeyID != 0 {
		old, err := a.providerKey(ctx, ref, oldKeyID)
		if err != nil {
			return domain.Rotation{}, domain.ProviderKey{}, domain.FieldError("old_key_id", "%s", err.Error())
		}
		if old.Status != domain.KeyActive && old.Status != domain.KeyDraining {
			return domain.Rotation{}, domain.ProviderKey{}, domain.FieldError("old_key_id", "key %d is %s, not active", old.ID, old.Status)
		}
	}
	in.Standby = true
	k, err := in.key()
	if err != nil {
		return domain.Rotation{}, domain.ProviderKey{}, err
	}
	k.ProviderID = p.ID
	nk, err := a.keys.AddKey(ctx, k)
	if err != nil {
		return domain.Rotation{}, nk, err
	}
	rot, err := a.runner.StartRotation(ctx, p.ID, nk.ID, oldKeyID)
	if err != nil {
		// Leave no orphan standby key behind.
		if derr := a.keys.DeleteKey(context.WithoutCancel(ctx), nk.ID); derr != nil {
			a.log.Warn("cannot remove the standby key of a rotation that did not start", "key_id", nk.ID, "err", derr)
		}
		return rot, nk, err
	}
	a.applied(ctx, changed(ports.ChangeProvider, p.ID))
	return rot, nk, nil
}

// Rotation returns a rotation's state, live from the workflow when possible.
func (a *ProviderKeys) Rotation(ctx context.Context, id string) (domain.Rotation, error) {
	if a.runner != nil {
		if r, err := a.runner.RotationStatus(ctx, id); err == nil {
			return r, nil
		}
	}
	return a.rotations.GetRotation(ctx, id)
}

// ListRotations lists a provider's recent rotations.
func (a *ProviderKeys) ListRotations(ctx context.Context, ref string) ([]domain.Rotation, error) {
	p, err := findProvider(ctx, a.providers, ref)
	if err != nil {
		return nil, err
	}
	return a.rotations.ListRotations(ctx, p.ID, 50)
}

// CancelRotation signals a rotation to stop and roll back.
func (a *ProviderKeys) CancelRotation(ctx context.Context, id string) error {
	if a.runner == nil {
		return domain.Errorf(domain.CodeUnavailable, "key rotation needs Temporal, which is not configured")
	}
	return a.runner.CancelRotation(ctx, id)
}
