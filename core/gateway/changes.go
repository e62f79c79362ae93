package gateway

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// maxPartial is how many changed parts one Apply loads one by one; a larger
// burst (an import, a provider deleted with many models) is cheaper as one
// full reload.
const maxPartial = 32

// Apply applies changes of the configuration by their kind and id, without
// rereading the rest:
//
//   - health: the result the change carries goes straight to the router;
//     nothing is loaded.
//   - provider or key: that provider is reloaded with its keys (only its
//     secrets are decrypted) and only its client is rebuilt when its
//     configuration changed.
//   - model: that model is reloaded with its routes.
//   - client_key: that key is reloaded; a key now disabled or deleted ends
//     its open streams.
//   - resync, anything unknown, or more than maxPartial parts: a full
//     Reload.
//
// A change whose part is already as loaded (the echo, through the change
// feed, of a change this replica applied itself) installs nothing.
func (c *configuration) Apply(ctx context.Context, changes ...ports.Change) error {
	parts := 0
	for _, ch := range changes {
		switch ch.Kind {
		case ports.ChangeHealth:
		case ports.ChangeProvider, ports.ChangeKey, ports.ChangeModel, ports.ChangeClientKey:
			parts++
		default:
			return c.Reload(ctx)
		}
	}
	if parts > maxPartial {
		return c.Reload(ctx)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next := c.cfg
	changed := false
	seen := make(map[ports.Change]bool, len(changes))
	for _, ch := range changes {
		start := time.Now()
		if ch.Kind == ports.ChangeHealth {
			if ch.Health != nil {
				c.applyHealth(*ch.Health)
				c.metrics.ConfigApplied(string(ports.ChangeHealth), time.Since(start))
			}
			continue
		}
		key := ports.Change{Kind: ch.Kind, ID: ch.ID}
		if ch.Kind == ports.ChangeKey { // a key's change reloads its provider
			key = ports.Change{Kind: ports.ChangeProvider, ID: ch.ProviderID}
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		var (
			did bool
			err error
		)
		switch key.Kind {
		case ports.ChangeProvider:
			next, did, err = c.withProvider(ctx, next, key.ID)
		case ports.ChangeModel:
			next, did, err = c.withModel(ctx, next, key.ID)
		case ports.ChangeClientKey:
			next, did, err = c.withClientKey(ctx, next, key.ID)
		}
		if err != nil {
			return fmt.Errorf("apply %s %d: %w", key.Kind, key.ID, err)
		}
		scope := string(ch.Kind)
		if !did {
			scope = "unchanged"
		}
		c.metrics.ConfigApplied(scope, time.Since(start))
		changed = changed || did
	}
	if changed {
		c.install(next)
	}
	return nil
}

// withProvider returns cfg with provider id and its keys as stored now, and
// whether that differs from cfg. cfg's slices are not modified.
func (c *configuration) withProvider(ctx context.Context, cfg ports.Config, id int64) (ports.Config, bool, error) {
	pc, found, err := c.loader.LoadProvider(ctx, id)
	if err != nil {
		return cfg, false, err
	}
	i := slices.IndexFunc(cfg.Providers, func(p domain.Provider) bool { return p.ID == id })
	var oldKeys []domain.ProviderKey
	for _, k := range cfg.Keys {
		if k.ProviderID == id {
			oldKeys = append(oldKeys, k)
		}
	}
	switch {
	case !found && i < 0:
		return cfg, false, nil
	case found && i >= 0 && reflect.DeepEqual(cfg.Providers[i], pc.Provider) && keysEqual(oldKeys, pc.Keys):
		return cfg, false, nil
	}
	provs := slices.DeleteFunc(slices.Clone(cfg.Providers), func(p domain.Provider) bool { return p.ID == id })
	keys := slices.DeleteFunc(slices.Clone(cfg.Keys), func(k domain.ProviderKey) bool { return k.ProviderID == id })
	if found {
		provs = append(provs, pc.Provider)
		keys = append(keys, pc.Keys...)
	}
	cfg.Providers, cfg.Keys = provs, keys
	return cfg, true, nil
}

func keysEqual(a, b []domain.ProviderKey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// withModel returns cfg with model id as stored now.
func (c *configuration) withModel(ctx context.Context, cfg ports.Config, id int64) (ports.Config, bool, error) {
	m, found, err := c.loader.LoadModel(ctx, id)
	if err != nil {
		return cfg, false, err
	}
	i := slices.IndexFunc(cfg.Models, func(m domain.Model) bool { return m.ID == id })
	switch {
	case !found && i < 0:
		return cfg, false, nil
	case found && i >= 0 && reflect.DeepEqual(cfg.Models[i], m):
		return cfg, false, nil
	}
	models := slices.DeleteFunc(slices.Clone(cfg.Models), func(m domain.Model) bool { return m.ID == id })
	if found {
		models = append(models, m)
	}
	cfg.Models = models
	return cfg, true, nil
}

// withClientKey returns cfg with client key id as stored now.
func (c *configuration) withClientKey(ctx context.Context, cfg ports.Config, id int64) (ports.Config, bool, error) {
	k, found, err := c.loader.LoadClientKey(ctx, id)
	if err != nil {
		return cfg, false, err
	}
	i := slices.IndexFunc(cfg.ClientKeys, func(k domain.ClientKey) bool { return k.ID == id })
	switch {
	case !found && i < 0:
		return cfg, false, nil
	case found && i >= 0 && clientKeyEqual(cfg.ClientKeys[i], k):
		return cfg, false, nil
	}
	keys := slices.DeleteFunc(slices.Clone(cfg.ClientKeys), func(k domain.ClientKey) bool { return k.ID == id })
	if found {
		keys = append(keys, k)
	}
	cfg.ClientKeys = keys
	return cfg, true, nil
}

// clientKeyEqual compares what routing and limits read; LastUsedAt changes
// on every use and is not part of the configuration.
func clientKeyEqual(a, b domain.ClientKey) bool {
	a.LastUsedAt, b.LastUsedAt = nil, nil
	return reflect.DeepEqual(a, b)
}
