package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/temporal"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// Activities holds the ports every activity uses. Register it with
// w.RegisterActivity(&Activities{...}); workflows call its methods through a
// nil *Activities, so the activity names are the method names. Renaming a
// method breaks running workflows: the names are part of the history.
//
// Activities never retry on their own: Temporal's retry policy, set by the
// calling workflow, is the only retry loop (ProviderClient implementations do
// not retry either).
type Activities struct {
	Providers ports.ProviderStore
	Keys      ports.KeyStore
	Health    ports.HealthStore
	Rotations ports.RotationStore
	Factory   ports.ProviderFactory
	Clock     ports.Clock
	Logger    *slog.Logger
	// Models, when set, gives probes a model this provider serves: some
	// providers (Volcengine Ark) have no model listing and are probed with
	// a one-token chat, which needs one.
	Models ports.ModelStore

	ProbeTimeout      time.Duration // per probe when the input does not say; zero: 10 s
	DegradedThreshold time.Duration // zero: 3 s
	ExpiryWarning     time.Duration // zero: 7 days
}

// NewActivities returns the activities over deps with cfg's settings.
func NewActivities(cfg Config, deps Deps) (*Activities, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := deps.validate(); err != nil {
		return nil, err
	}
	return &Activities{
		Providers: deps.Providers, Keys: deps.Keys, Health: deps.Health, Rotations: deps.Rotations,
		Factory: deps.Factory, Clock: deps.Clock, Logger: cfg.Logger, Models: deps.Models,
		ProbeTimeout: cfg.ProbeTimeout, DegradedThreshold: cfg.DegradedThreshold, ExpiryWarning: cfg.ExpiryWarning,
	}, nil
}

// Error types of non-retryable activity failures; workflows match on them.
const (
	// ErrTypeKeyConflict: a key's version is not the one the workflow
	// expected: someone changed it concurrently and the workflow stops
	// rather than overwrite that change.
	ErrTypeKeyConflict = "KeyConflict"
	// ErrTypeKeyRejected: the upstream refused a key (401/403).
	ErrTypeKeyRejected = "KeyRejected"
	// ErrTypeBadRequest: the rotation's input does not fit the stored keys.
	ErrTypeBadRequest = "BadRotation"
)

func (a *Activities) log() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

func (a *Activities) now() time.Time {
	if a.Clock == nil {
		return time.Now()
	}
	return a.Clock.Now()
}

func (a *Activities) probeTimeout(d time.Duration) time.Duration {
	switch {
	case d > 0:
		return d
	case a.ProbeTimeout > 0:
		return a.ProbeTimeout
	}
	return maxProbeTimeout
}

func (a *Activities) degradedThreshold() time.Duration {
	if a.DegradedThreshold > 0 {
		return a.DegradedThreshold
	}
	return DefaultDegradedThreshold
}

func (a *Activities) expiryWarning() time.Duration {
	if a.ExpiryWarning > 0 {
		return a.ExpiryWarning
	}
	return DefaultExpiryWarning
}

// ---- health ----

// ProbeInput names the provider to probe; no secret ever enters a
// workflow's history, the activity reads keys itself.
type ProbeInput struct {
	ProviderID int64
	Timeout    time.Duration // per probe; zero: the worker's ProbeTimeout
}

// ProbeReport is what a probe found. It carries no secret.
type ProbeReport struct {
	ProviderID int64
	Provider   string // name, for the Temporal UI
	// Skipped says why nothing was probed: the provider was deleted or
	// disabled. Empty when probes ran.
	Skipped string
	// Status is the provider-level result: healthy if any key answered
	// quickly, degraded if the best answer was slow, else unhealthy.
	Status domain.HealthStatus
	Error  string
	// Checks are the key-level checks followed by the provider-level one
	// (KeyID 0), ready for HealthStore.RecordChecks.
	Checks []domain.HealthCheck
	// Invalidated lists the keys marked invalid because the upstream refused
	// them (401/403).
	Invalidated []int64
}

// Answered reports whether the provider answered (healthy or degraded).
func (r ProbeReport) Answered() bool {
	return r.Status == domain.HealthHealthy || r.Status == domain.HealthDegraded
}

type probeResult struct {
	check   domain.HealthCheck
	key     domain.ProviderKey
	auth    bool // 401/403
	rawGood domain.HealthStatus
}

const maxConcurrentProbes = 16

// ProbeProvider probes each enabled (active or draining) key of a provider
// with the cheapest authenticated call it offers, each bounded by the probe
// timeout, and reports healthy, degraded (slower than the degraded
// threshold) or unhealthy per key and for the provider. It records nothing
// (RecordHealth does), except that a key the upstream refuses with 401/403
// is marked invalid at once (compare-and-swap on its version), so it is
// neither used nor probed again until an operator re-enables it.
//
// Keys past their expiry are not probed and count as unhealthy; keys that
// answer but expire within the expiry warning are reported degraded with
// "expires at ..." as their error. An openai_compatible provider without
// keys is probed keyless.
func (a *Activities) ProbeProvider(ctx context.Context, in ProbeInput) (ProbeReport, error) {
	rep := ProbeReport{ProviderID: in.ProviderID}
	p, err := a.Providers.GetProvider(ctx, in.ProviderID)
	if domain.ErrorCode(err) == domain.CodeNotFound {
		rep.Skipped = "provider not found (deleted)"
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("get provider %d: %w", in.ProviderID, err)
	}
	rep.Provider = p.Name
	if !p.Enabled {
		rep.Skipped = "provider disabled"
		return rep, nil
	}
	keys, err := a.Keys.ListKeys(ctx, p.ID)
	if err != nil {
		return rep, fmt.Errorf("list keys of provider %d: %w", p.ID, err)
	}
	now := a.now()
	warnBefore := now.Add(a.expiryWarning())

	var expired []domain.HealthCheck
	var targets []domain.ProviderKey
	for _, k := range keys {
		if k.Status != domain.KeyActive && k.Status != domain.KeyDraining {
			continue // standby, disabled, invalid and retired keys are not probed
		}
		if k.ExpiresAt != nil && !k.ExpiresAt.After(now) {
			expired = append(expired, domain.HealthCheck{ProviderID: p.ID, KeyID: k.ID, Status: domain.HealthUnhealthy,
				Error: "key expired at " + k.ExpiresAt.UTC().Format(time.RFC3339) + "; rotate it", CheckedAt: now})
			continue
		}
		targets = append(targets, k)
	}
	keyless := len(keys) == 0 && p.Kind == domain.KindOpenAICompatible

	provider := domain.HealthCheck{ProviderID: p.ID, Status: domain.HealthUnhealthy, CheckedAt: now}
	var results []probeResult
	switch {
	case len(targets) == 0 && !keyless:
		provider.Error = "no usable key (every key is expired, invalid, disabled, retired or standby)"
	default:
		client, err := a.Factory.NewClient(p)
		if err != nil {
			provider.Error = "cannot build a client for the provider: " + truncate(err.Error(), 300)
			break
		}
		defer client.Close()
		timeout := a.probeTimeout(in.Timeout)
		if keyless {
			r := a.probeOne(ctx, client, domain.ProviderKey{ProviderID: p.ID}, "", a.probeModel(ctx, p.ID), timeout, now)
			results = append(results, r)
		} else {
			results = a.probeKeys(ctx, client, targets, a.probeModel(ctx, p.ID), timeout, now)
		}
	}

	// The provider's state is its best key's.
	var best *probeResult
	for i := range results {
		r := &results[i]
		if best == nil || rank(r.rawGood) < rank(best.rawGood) ||
			(rank(r.rawGood) == rank(best.rawGood) && r.check.Latency < best.check.Latency) {
			best = r
		}
	}
	if best != nil {
		provider.Status, provider.Latency = best.rawGood, best.check.Latency
		if best.rawGood != domain.HealthHealthy {
			provider.Error = best.check.Error
		}
	}
	if ctx.Err() != nil {
		return rep, ctx.Err() // the activity itself timed out or was canceled: report nothing
	}

	for _, r := range results {
		if r.auth && r.key.ID != 0 {
			if a.markInvalid(ctx, r.key, r.check.Error) {
				rep.Invalidated = append(rep.Invalidated, r.key.ID)
			}
		}
		if r.key.ID == 0 {
			continue // keyless: only the provider-level row
		}
		c := r.check
		if c.Status == domain.HealthHealthy && r.key.ExpiresAt != nil && r.key.ExpiresAt.Before(warnBefore) {
			c.Status, c.Error = domain.HealthDegraded, expiryWarning(*r.key.ExpiresAt)
		}
		rep.Checks = append(rep.Checks, c)
	}
	rep.Checks = append(rep.Checks, expired...)
	rep.Checks = append(rep.Checks, provider)
	rep.Status, rep.Error = provider.Status, provider.Error
	return rep, nil
}

func rank(s domain.HealthStatus) int {
	switch s {
	case domain.HealthHealthy:
		return 0
	case domain.HealthDegraded:
		return 1
	}
	return 2
}

func expiryWarning(at time.Time) string {
	return "key expires at " + at.UTC().Format(time.RFC3339) + "; rotate it before then"
}

func (a *Activities) probeKeys(ctx context.Context, client ports.ProviderClient, keys []domain.ProviderKey, model string, timeout time.Duration, now time.Time) []probeResult {
	out := make([]probeResult, len(keys))
	sem := make(chan struct{}, maxConcurrentProbes)
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			secret, err := a.Keys.KeySecret(ctx, k.ID)
			if err != nil {
				// KeySecret marks an undecryptable key invalid itself.
				out[i] = probeResult{key: k, rawGood: domain.HealthUnhealthy, check: domain.HealthCheck{
					ProviderID: k.ProviderID, KeyID: k.ID, Status: domain.HealthUnhealthy, CheckedAt: now,
					Error: "cannot read the key's secret: " + truncate(err.Error(), 300)}}
				return
			}
			out[i] = a.probeOne(ctx, client, k, secret, model, timeout, now)
		})
	}
	wg.Wait()
	return out
}

func (a *Activities) probeOne(ctx context.Context, client ports.ProviderClient, k domain.ProviderKey, secret, model string, timeout time.Duration, now time.Time) probeResult {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	err := client.Probe(pctx, ports.Target{Key: secret, Model: model})
	latency := time.Since(start)
	r := probeResult{key: k, check: domain.HealthCheck{ProviderID: k.ProviderID, KeyID: k.ID, Latency: latency, CheckedAt: now}}
	switch {
	case err == nil && latency > a.degradedThreshold():
		r.rawGood = domain.HealthDegraded
		r.check.Error = fmt.Sprintf("slow: answered in %s (degraded threshold %s)", latency.Round(time.Millisecond), a.degradedThreshold())
	case err == nil:
		r.rawGood = domain.HealthHealthy
	default:
		r.rawGood = domain.HealthUnhealthy
		var ue *domain.UpstreamError
		if errors.As(err, &ue) && ue.Class == domain.ClassAuth {
			r.auth = true
		}
		if pctx.Err() != nil && ctx.Err() == nil {
			r.check.Error = fmt.Sprintf("probe timed out after %s", timeout)
		} else {
			r.check.Error = truncate(err.Error(), 500)
		}
	}
	r.check.Status = r.rawGood
	return r
}

// markInvalid marks a key the upstream refused as invalid, unless someone
// changed it since it was read. It reports whether the key was marked.
func (a *Activities) markInvalid(ctx context.Context, k domain.ProviderKey, reason string) bool {
	msg := truncate("upstream refused the key: "+reason, 400) + " — fix the account, then re-enable the key (POST /api/v1/providers/{provider}/keys/{key}/enable)"
	_, err := a.Keys.SetKeyStatus(ctx, k.ID, k.Version, domain.KeyInvalid, msg)
	switch {
	case err == nil:
		a.log().Warn("provider key refused by the upstream (401/403): marked invalid; it is no longer used or probed until re-enabled",
			"provider_id", k.ProviderID, "key_id", k.ID, "key", k.String())
		return true
	case domain.ErrorCode(err) == domain.CodeConflict:
		a.log().Info("key refused by the upstream but changed concurrently; left as it is", "key_id", k.ID)
	default:
		a.log().Warn("cannot mark a refused key invalid", "key_id", k.ID, "err", err)
	}
	return false
}

// RecordHealth stores a probe report's checks (key rows and the provider
// row). The database notifies every router, which applies them within a
// second.
func (a *Activities) RecordHealth(ctx context.Context, rep ProbeReport) error {
	if len(rep.Checks) == 0 {
		return nil
	}
	if err := a.Health.RecordChecks(ctx, rep.Checks); err != nil {
		if domain.ErrorCode(err) == domain.CodeNotFound || domain.ErrorCode(err) == domain.CodeInvalid {
			// The provider or a key was deleted meanwhile: nothing to record.
			return temporal.NewNonRetryableApplicationError("cannot record health: "+err.Error(), "HealthRecord", err)
		}
		return err
	}
	return nil
}

// ---- expiry ----

// ExpiryInput configures one expiry sweep.
type ExpiryInput struct {
	Warning time.Duration // zero: the worker's ExpiryWarning
}

// ExpiryReport lists the keys a sweep flagged.
type ExpiryReport struct {
	Expiring []int64 // expire within the warning window: health degraded
	Expired  []int64 // past their expiry: health unhealthy
}

// CheckKeyExpiry flags usable (active or draining) keys that expire within
// the warning window: it logs a warning and sets the key's health to
// degraded with "key expires at ..." as its last error; keys already past
// their expiry get health unhealthy, so routing prefers other keys (the
// router also stops using a key at its expiry on its own). Nothing is rotated
// automatically: a rotation needs a new secret, which only the operator has.
func (a *Activities) CheckKeyExpiry(ctx context.Context, in ExpiryInput) (ExpiryReport, error) {
	var rep ExpiryReport
	warning := in.Warning
	if warning <= 0 {
		warning = a.expiryWarning()
	}
	now := a.now()
	keys, err := a.Keys.ListExpiringKeys(ctx, now.Add(warning))
	if err != nil {
		return rep, fmt.Errorf("list expiring keys: %w", err)
	}
	for _, k := range keys {
		if k.ExpiresAt == nil {
			continue
		}
		h := domain.Health{ProviderID: k.ProviderID, KeyID: k.ID, CheckedAt: now}
		if !k.ExpiresAt.After(now) {
			h.Status, h.LastError = domain.HealthUnhealthy, "key expired at "+k.ExpiresAt.UTC().Format(time.RFC3339)+"; rotate it"
			rep.Expired = append(rep.Expired, k.ID)
			a.log().Warn("provider key has expired: marked unhealthy; rotate it", "provider_id", k.ProviderID, "key_id", k.ID, "key", k.String(), "expired_at", *k.ExpiresAt)
		} else {
			h.Status, h.LastError = domain.HealthDegraded, expiryWarning(*k.ExpiresAt)
			rep.Expiring = append(rep.Expiring, k.ID)
			a.log().Warn("provider key expires soon; rotate it", "provider_id", k.ProviderID, "key_id", k.ID, "key", k.String(), "expires_at", *k.ExpiresAt)
		}
		if err := a.Health.SetHealth(ctx, h); err != nil && domain.ErrorCode(err) != domain.CodeNotFound {
			return rep, fmt.Errorf("set health of key %d: %w", k.ID, err)
		}
	}
	return rep, nil
}

// ---- rotation ----

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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// probeModel returns the upstream model of one enabled route of the
// provider (enabled models first), or "" when there is none or no ModelStore.
func (a *Activities) probeModel(ctx context.Context, providerID int64) string {
	if a.Models == nil {
		return ""
	}
	models, err := a.Models.ListModels(ctx)
	if err != nil {
		return ""
	}
	fallback := ""
	for _, m := range models {
		for _, r := range m.Routes {
			if r.ProviderID != providerID || !r.Enabled {
				continue
			}
			if m.Enabled {
				return r.UpstreamModel
			}
			if fallback == "" {
				fallback = r.UpstreamModel
			}
		}
	}
	return fallback
}
