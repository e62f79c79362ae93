package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
)

// keyRouter is what key health needs of the router.
type keyRouter interface {
	Key(id int64) (*routing.Key, bool)
	InvalidateKey(id int64, reason string)
	ClearKeySuspicion(id int64)
}

// keyStatusStore reads a key and stores its status.
type keyStatusStore interface {
	GetKey(ctx context.Context, id int64) (domain.ProviderKey, error)
	SetKeyStatus(ctx context.Context, id, expectedVersion int64, status domain.KeyStatus, lastError string) (domain.ProviderKey, error)
}

// recoveryStarter starts a provider's recovery probe.
type recoveryStarter interface {
	StartRecovery(ctx context.Context, providerID int64) error
}

// keyHealth reacts to the router's events: it confirms a key an upstream
// refused with a probe before storing it invalid, and starts a recovery
// probe for a provider whose route was ejected. Its work runs off the request
// path, as background tasks that Shutdown waits for.
type keyHealth struct {
	snap         func() *snapshot
	router       keyRouter
	keys         keyStatusStore
	orchestrator recoveryStarter // nil: no recovery workflows are started
	goTask       func(f func(ctx context.Context)) bool
	log          *slog.Logger
	clock        ports.Clock

	recoveryMu   sync.Mutex
	recoveryLast map[int64]time.Time
}

func (h *keyHealth) onRoutingEvent(ev routing.Event) {
	switch ev.Kind {
	case routing.EventKeyAuthFailed:
		h.log.Warn("provider key refused by the upstream; probing it before marking it invalid", "provider_id", ev.ProviderID, "key_id", ev.KeyID, "until", ev.Until, "reason", ev.Reason)
		pid, kid, reason, status := ev.ProviderID, ev.KeyID, ev.Reason, ev.Status
		if !h.goTask(func(ctx context.Context) { h.confirmKey(ctx, pid, kid, status, reason) }) {
			h.log.Warn("shutting down: the refused key is not probed; its cooldown keeps it out", "key_id", kid)
		}
	case routing.EventKeyInvalidated:
		// Stored by confirmKey, in the same task (so Shutdown waits for it).
		h.log.Warn("provider key refusal confirmed by a probe; marking it invalid", "provider_id", ev.ProviderID, "key_id", ev.KeyID, "reason", ev.Reason)
	case routing.EventRouteEjected:
		h.log.Warn("route ejected by outlier detection", "provider_id", ev.ProviderID, "route_id", ev.RouteID, "until", ev.Until, "reason", ev.Reason)
		h.startRecovery(ev.ProviderID)
	case routing.EventRouteReturned:
		h.log.Info("route returned to service", "provider_id", ev.ProviderID, "route_id", ev.RouteID)
	case routing.EventKeyRateLimited:
		h.log.Debug("provider key cooling down after 429", "provider_id", ev.ProviderID, "key_id", ev.KeyID, "until", ev.Until)
	}
}

// confirmKey probes a key an attempt saw refused (401/403), off the request
// path: a refusal of the probe too (401/403) confirms it and the key is
// invalidated and stored invalid; a successful probe returns the key at
// once after a 401 (after a 403 — permission, billing, a model the key may
// not use — a model listing proves nothing, so it sits out its cooldown);
// any other outcome (network error, 5xx) leaves it to its short cooldown,
// never invalid.
func (h *keyHealth) confirmKey(ctx context.Context, providerID, keyID int64, status int, reason string) {
	pe := h.snap().providers[providerID]
	k, ok := h.router.Key(keyID)
	if pe == nil || !ok {
		return
	}
	err := pe.client.Probe(ctx, ports.Target{Key: k.Secret()})
	var ue *domain.UpstreamError
	switch {
	case err == nil && status == 401:
		h.log.Info("provider key passed its probe after a refusal; back in rotation", "provider_id", providerID, "key_id", keyID)
		h.router.ClearKeySuspicion(keyID)
	case err == nil:
		// A 403 (permission, billing, a model the key may not use) is not
		// disproved by a probe that lists models: the key sits out its
		// cooldown instead of being returned at once and refused again.
		h.log.Info("provider key passed its probe after a 403; it stays out until its cooldown ends", "provider_id", providerID, "key_id", keyID, "status", status)
	case errors.As(err, &ue) && ue.Class == domain.ClassAuth && (ue.Status == 401 || ue.Status == 403):
		reason += "; probe: " + truncate(ue.Error(), 200)
		h.router.InvalidateKey(keyID, reason)
		h.invalidateKey(ctx, keyID, reason)
	default:
		h.log.Warn("provider key probe after a refusal was inconclusive; the key stays out until its cooldown ends", "provider_id", providerID, "key_id", keyID, "err", err)
	}
}

func (h *keyHealth) invalidateKey(ctx context.Context, id int64, reason string) {
	for i := 0; i < 3; i++ {
		k, err := h.keys.GetKey(ctx, id)
		if err != nil {
			h.log.Warn("cannot read key to invalidate it", "key_id", id, "err", err)
			return
		}
		if k.Status != domain.KeyActive && k.Status != domain.KeyDraining {
			return
		}
		_, err = h.keys.SetKeyStatus(ctx, id, k.Version, domain.KeyInvalid, "upstream refused the key: "+truncate(reason, 200))
		if err == nil || domain.ErrorCode(err) != domain.CodeConflict {
			if err != nil {
				h.log.Warn("cannot mark key invalid", "key_id", id, "err", err)
			}
			return
		}
	}
}

func (h *keyHealth) startRecovery(providerID int64) {
	if h.orchestrator == nil {
		return
	}
	now := h.clock.Now()
	h.recoveryMu.Lock()
	if last, ok := h.recoveryLast[providerID]; ok && now.Sub(last) < 10*time.Second {
		h.recoveryMu.Unlock()
		return
	}
	h.recoveryLast[providerID] = now
	h.recoveryMu.Unlock()
	h.goTask(func(ctx context.Context) {
		if err := h.orchestrator.StartRecovery(ctx, providerID); err != nil {
			h.log.Warn("cannot start the recovery probe", "provider_id", providerID, "err", err)
		}
	})
}
