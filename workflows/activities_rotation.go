package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// The rotation activities: planning a rotation, verifying the new key,
// moving keys between statuses under compare-and-swap, saving progress.

// KeyRef is a key at a known version: the compare-and-swap guard of every
// rotation step.
type KeyRef struct {
	ID      int64
	Version int64
	Status  domain.KeyStatus
}

// RotationPlan is the keys a rotation changes, at the versions it read.
type RotationPlan struct {
	New KeyRef
	Old []KeyRef
	// Problem says why the rotation cannot go on although the new key is
	// fine (the old key does not fit); the workflow then rolls back.
	Problem string
}

// PrepareRotation reads the keys of a rotation and their versions: the new
// key must be the provider's and standby (else the activity fails without
// retry); the old key must be another key of the provider, active or
// draining (else plan.Problem says why), or, when OldKeyID is 0, every
// active key of the provider but the new one is rotated out.
func (a *Activities) PrepareRotation(ctx context.Context, in RotationInput) (RotationPlan, error) {
	var plan RotationPlan
	nk, err := a.Keys.GetKey(ctx, in.NewKeyID)
	if domain.ErrorCode(err) == domain.CodeNotFound {
		return plan, temporal.NewNonRetryableApplicationError(fmt.Sprintf("new key %d does not exist", in.NewKeyID), ErrTypeBadRequest, nil)
	}
	if err != nil {
		return plan, err
	}
	if nk.ProviderID != in.ProviderID {
		return plan, temporal.NewNonRetryableApplicationError(fmt.Sprintf("new key %d is not a key of provider %d", nk.ID, in.ProviderID), ErrTypeBadRequest, nil)
	}
	if nk.Status != domain.KeyStandby {
		return plan, temporal.NewNonRetryableApplicationError(fmt.Sprintf("new key %d is %s, not standby", nk.ID, nk.Status), ErrTypeBadRequest, nil)
	}
	plan.New = KeyRef{ID: nk.ID, Version: nk.Version, Status: nk.Status}
	if in.OldKeyID != 0 {
		ok, err := a.Keys.GetKey(ctx, in.OldKeyID)
		switch {
		case domain.ErrorCode(err) == domain.CodeNotFound:
			plan.Problem = fmt.Sprintf("old key %d does not exist", in.OldKeyID)
		case err != nil:
			return plan, err
		case ok.ProviderID != in.ProviderID || ok.ID == nk.ID:
			plan.Problem = fmt.Sprintf("old key %d is not another key of provider %d", ok.ID, in.ProviderID)
		case ok.Status != domain.KeyActive && ok.Status != domain.KeyDraining:
			plan.Problem = fmt.Sprintf("old key %d is %s, not active", ok.ID, ok.Status)
		default:
			plan.Old = []KeyRef{{ID: ok.ID, Version: ok.Version, Status: ok.Status}}
		}
		return plan, nil
	}
	keys, err := a.Keys.ListKeys(ctx, in.ProviderID)
	if err != nil {
		return plan, err
	}
	for _, k := range keys {
		if k.ID != nk.ID && k.Status == domain.KeyActive {
			plan.Old = append(plan.Old, KeyRef{ID: k.ID, Version: k.Version, Status: k.Status})
		}
	}
	return plan, nil
}

// VerifyInput names the key to verify.
type VerifyInput struct {
	ProviderID int64
	Key        KeyRef
	Timeout    time.Duration // per probe; zero: the worker's ProbeTimeout
}

// VerifyKey makes a live probe with a key that must still be at the
// expected version. A 401/403 fails without retry (ErrTypeKeyRejected);
// other failures are retried by the workflow's retry policy.
func (a *Activities) VerifyKey(ctx context.Context, in VerifyInput) error {
	k, err := a.Keys.GetKey(ctx, in.Key.ID)
	if domain.ErrorCode(err) == domain.CodeNotFound {
		return conflictError(in.Key, nil)
	}
	if err != nil {
		return err
	}
	if k.Version != in.Key.Version {
		return conflictError(in.Key, &k)
	}
	p, err := a.Providers.GetProvider(ctx, in.ProviderID)
	if domain.ErrorCode(err) == domain.CodeNotFound {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("provider %d was deleted", in.ProviderID), ErrTypeBadRequest, nil)
	}
	if err != nil {
		return err
	}
	secret, err := a.Keys.KeySecret(ctx, k.ID)
	if err != nil {
		if domain.ErrorCode(err) == domain.CodeInternal {
			return err
		}
		return temporal.NewNonRetryableApplicationError("cannot read the new key's secret: "+err.Error(), ErrTypeKeyRejected, nil)
	}
	client, err := a.Factory.NewClient(p)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("cannot build a client for the provider: "+err.Error(), ErrTypeBadRequest, nil)
	}
	defer client.Close()
	pctx, cancel := context.WithTimeout(ctx, a.probeTimeout(in.Timeout))
	defer cancel()
	err = client.Probe(pctx, ports.Target{Key: secret, Model: a.probeModel(ctx, p.ID)})
	if err == nil {
		return nil
	}
	var ue *domain.UpstreamError
	if errors.As(err, &ue) && ue.Class == domain.ClassAuth {
		return temporal.NewNonRetryableApplicationError("the upstream refused the new key: "+truncate(err.Error(), 400), ErrTypeKeyRejected, nil)
	}
	if pctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("probe with the new key timed out after %s", a.probeTimeout(in.Timeout))
	}
	return fmt.Errorf("probe with the new key failed: %s", truncate(err.Error(), 400))
}

// TransitionInput moves one key from a known version to a status.
type TransitionInput struct {
	Key       KeyRef
	To        domain.KeyStatus
	LastError string
}

// TransitionKey sets a key's status by compare-and-swap on its version and
// returns the key at its new version. It is idempotent: when the key is
// already exactly one version further and in the target status, the change
// is taken as this step's own (a retry after the write succeeded but the
// answer was lost) and the key is returned as it is. Any other version means
// someone else changed the key: the step fails without retry
// (ErrTypeKeyConflict) and the key is left alone.
func (a *Activities) TransitionKey(ctx context.Context, in TransitionInput) (KeyRef, error) {
	for range 2 {
		k, err := a.Keys.GetKey(ctx, in.Key.ID)
		if domain.ErrorCode(err) == domain.CodeNotFound {
			return KeyRef{}, conflictError(in.Key, nil)
		}
		if err != nil {
			return KeyRef{}, err
		}
		switch {
		case k.Version == in.Key.Version+1 && k.Status == in.To:
			return KeyRef{ID: k.ID, Version: k.Version, Status: k.Status}, nil
		case k.Version != in.Key.Version:
			return KeyRef{}, conflictError(in.Key, &k)
		}
		out, err := a.Keys.SetKeyStatus(ctx, k.ID, in.Key.Version, in.To, in.LastError)
		if err == nil {
			return KeyRef{ID: out.ID, Version: out.Version, Status: out.Status}, nil
		}
		if domain.ErrorCode(err) != domain.CodeConflict {
			return KeyRef{}, err
		}
		// Lost a race between the read and the write: look again.
	}
	return KeyRef{}, conflictError(in.Key, nil)
}

func conflictError(want KeyRef, got *domain.ProviderKey) error {
	if got == nil {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("key %d was deleted or changed concurrently (expected version %d); it is left as it is", want.ID, want.Version),
			ErrTypeKeyConflict, nil)
	}
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("key %d was changed concurrently: it is %s at version %d, expected %s at version %d; it is left as it is",
			want.ID, got.Status, got.Version, want.Status, want.Version),
		ErrTypeKeyConflict, nil)
}

// SaveRotation stores a rotation's progress for the admin API.
func (a *Activities) SaveRotation(ctx context.Context, r domain.Rotation) error {
	_, err := a.Rotations.SaveRotation(ctx, r)
	if err != nil && (domain.ErrorCode(err) == domain.CodeNotFound || domain.ErrorCode(err) == domain.CodeInvalid) {
		return temporal.NewNonRetryableApplicationError("cannot save the rotation's progress: "+err.Error(), "RotationRecord", err)
	}
	return err
}
