package workflows

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// The health activities: probing a provider's keys, recording the result,
// sweeping keys for expiry.

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
