package gateway

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
)

// snapshot is the immutable configuration the request path reads.
type snapshot struct {
	providers  map[int64]*providerEntry
	clientKeys map[[sha256.Size]byte]*clientKeyEntry
	keyNames   map[int64]string // client key id → name, for metric labels
}

type providerEntry struct {
	p      domain.Provider
	client ports.ProviderClient
	native ports.NativeClient // the client's native operations; nil when it has none
}

// newProviderEntry pairs a provider with its client, and the client's
// native operations when it offers any.
func newProviderEntry(p domain.Provider, client ports.ProviderClient) *providerEntry {
	native, _ := client.(ports.NativeClient)
	return &providerEntry{p: p, client: client, native: native}
}

// serves reports whether the provider serves op natively.
func (pe *providerEntry) serves(op ports.Operation) bool {
	return pe.native != nil && pe.native.Serves(op)
}

type clientKeyEntry struct {
	key      domain.ClientKey
	lastUsed atomic.Int64 // unix nanoseconds, flushed by the toucher
}

// routerUpdater is what the configuration needs of the router: the new
// configuration and the active health it read.
type routerUpdater interface {
	Update(cfg routing.Config) []error
	ApplyHealth(h domain.Health)
}

type healthKey struct{ provider, key int64 }

// configuration owns the snapshot and the provider clients' lifecycle: Reload
// builds the next snapshot from the store, keeps the clients of unchanged
// providers with their connection pools, and closes the others.
type configuration struct {
	loader    ports.ConfigLoader
	factory   ports.ProviderFactory
	router    routerUpdater
	metrics   configMetrics
	log       *slog.Logger
	onEnabled func(enabled map[int64]bool) // told the enabled client keys after each swap

	snap        atomic.Pointer[snapshot]
	mu          sync.Mutex
	cfg         ports.Config            // guarded by mu: what the snapshot was built from, without health
	healthSeen  map[healthKey]time.Time // guarded by mu
	undecrypted map[int64]bool          // guarded by mu
}

// configMetrics is told of each change applied.
type configMetrics interface {
	ConfigApplied(scope string, d time.Duration)
}

func newConfiguration(loader ports.ConfigLoader, factory ports.ProviderFactory, router routerUpdater, metrics configMetrics, log *slog.Logger, onEnabled func(map[int64]bool)) *configuration {
	c := &configuration{loader: loader, factory: factory, router: router, metrics: metrics, log: log, onEnabled: onEnabled,
		healthSeen: map[healthKey]time.Time{}, undecrypted: map[int64]bool{}}
	c.snap.Store(&snapshot{providers: map[int64]*providerEntry{}, clientKeys: map[[32]byte]*clientKeyEntry{}})
	return c
}

// current returns the snapshot in use.
func (c *configuration) current() *snapshot { return c.snap.Load() }

// Reload reads the whole configuration and swaps it in atomically. Provider
// clients whose configuration did not change are kept with their
// connection pools.
func (c *configuration) Reload(ctx context.Context) error {
	start := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg, err := c.loader.LoadConfig(ctx)
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	c.install(cfg)
	c.metrics.ConfigApplied("full", time.Since(start))
	return nil
}

// install builds the snapshot of cfg and swaps it in; it needs c.mu. The
// clients of providers that did not change are kept, the others closed;
// cfg.Health, when set, is applied where newer than what was seen.
func (c *configuration) install(cfg ports.Config) {
	old := c.snap.Load()
	next := &snapshot{
		providers:  make(map[int64]*providerEntry, len(cfg.Providers)),
		clientKeys: make(map[[32]byte]*clientKeyEntry, len(cfg.ClientKeys)),
		keyNames:   make(map[int64]string, len(cfg.ClientKeys)),
	}
	for _, p := range cfg.Providers {
		if prev, ok := old.providers[p.ID]; ok && sameProvider(prev.p, p) {
			next.providers[p.ID] = newProviderEntry(p, prev.client)
			continue
		}
		client, err := c.factory.NewClient(p)
		if err != nil {
			c.log.Error("provider cannot be used", "provider", p.Name, "err", err)
			continue
		}
		next.providers[p.ID] = newProviderEntry(p, client)
	}
	enabledKeys := make(map[int64]bool, len(cfg.ClientKeys))
	for _, k := range cfg.ClientKeys {
		if len(k.Hash) != sha256.Size {
			continue
		}
		if k.Enabled {
			enabledKeys[k.ID] = true
		}
		var h [32]byte
		copy(h[:], k.Hash)
		next.keyNames[k.ID] = k.Name
		e := &clientKeyEntry{key: k}
		if prev, ok := old.clientKeys[h]; ok {
			e.lastUsed.Store(prev.lastUsed.Load())
		}
		next.clientKeys[h] = e
	}
	for _, k := range cfg.Keys {
		if k.LastError == domain.KeyErrorUndecryptable && !c.undecrypted[k.ID] {
			c.undecrypted[k.ID] = true
			c.log.Error("provider key disabled: its secret does not decrypt with AIROUTER_MASTER_KEY", "key_id", k.ID, "provider_id", k.ProviderID, "fingerprint", k.Fingerprint)
		}
	}
	// Usable providers only go to the router: a provider whose client could
	// not be built has no routes.
	provs := make([]domain.Provider, 0, len(cfg.Providers))
	for _, p := range cfg.Providers {
		if _, ok := next.providers[p.ID]; ok {
			provs = append(provs, p)
		}
	}
	for _, err := range c.router.Update(routing.Config{Providers: provs, Keys: cfg.Keys, Models: cfg.Models}) {
		c.log.Warn("model configuration", "err", err)
	}
	for _, h := range cfg.Health {
		c.applyHealth(h)
	}
	cfg.Health = nil
	c.cfg = cfg
	c.snap.Store(next)
	c.onEnabled(enabledKeys)
	for id, p := range old.providers {
		if n, ok := next.providers[id]; !ok || n.client != p.client {
			p.client.Close()
		}
	}
}

// applyHealth gives the router a health result newer than the last one
// seen for its provider or key; it needs c.mu.
func (c *configuration) applyHealth(h domain.Health) {
	hk := healthKey{h.ProviderID, h.KeyID}
	if seen, ok := c.healthSeen[hk]; ok && !h.CheckedAt.After(seen) {
		return
	}
	c.healthSeen[hk] = h.CheckedAt
	c.router.ApplyHealth(h)
}

// closeClients closes every provider client of the current snapshot; the
// last step of a shutdown.
func (c *configuration) closeClients() {
	for _, p := range c.snap.Load().providers {
		p.client.Close()
	}
}

func sameProvider(a, b domain.Provider) bool {
	if a.Name != b.Name || a.Kind != b.Kind || a.BaseURL != b.BaseURL || a.Enabled != b.Enabled || a.Timeouts != b.Timeouts || len(a.Headers) != len(b.Headers) {
		return false
	}
	for k, v := range a.Headers {
		if b.Headers[k] != v {
			return false
		}
	}
	return true
}
