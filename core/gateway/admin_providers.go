package gateway

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// KeyReplacer is what Providers needs of the key store to replace a
// provider's keys when its base URL or kind changes.
type KeyReplacer interface {
	AddKey(ctx context.Context, k domain.ProviderKey) (domain.ProviderKey, error)
	ListKeys(ctx context.Context, providerID int64) ([]domain.ProviderKey, error)
	DeleteKey(ctx context.Context, id int64) error
}

// ScheduleSyncer keeps a provider's health-check schedule in line with the
// provider (ports.Orchestrator).
type ScheduleSyncer interface {
	SyncHealthSchedule(ctx context.Context, p domain.Provider, deleted bool) error
}

// Providers is the use case of the provider aggregate: create, list,
// change (with its keys when they would be sent elsewhere) and delete.
type Providers struct {
	store       ports.ProviderStore
	keys        KeyReplacer
	models      ModelLister
	schedules   ScheduleSyncer // may be nil
	log         *slog.Logger
	denyPrivate bool
	lookup      func(ctx context.Context, host string) ([]netip.Addr, error)
	applier
}

// ProvidersDeps are the dependencies of Providers; Schedules and LookupHost
// may be nil.
type ProvidersDeps struct {
	Store     ports.ProviderStore
	Keys      KeyReplacer
	Models    ModelLister // a change of kind is checked against the models routed to the provider
	Reloader  Reloader
	Schedules ScheduleSyncer
	Logger    *slog.Logger
	// DenyPrivateUpstreams refuses provider base URLs whose host resolves to
	// a non-public address (domain.NonPublicAddr); UPSTREAM_ALLOW_PRIVATE=false.
	DenyPrivateUpstreams bool
	// LookupHost resolves a host name; default net.DefaultResolver.
	LookupHost func(ctx context.Context, host string) ([]netip.Addr, error)
}

// NewProviders checks the dependencies and returns the use case.
func NewProviders(d ProvidersDeps) (*Providers, error) {
	if d.Store == nil || d.Keys == nil || d.Models == nil {
		return nil, errors.New("gateway: NewProviders needs a Store, Keys and Models")
	}
	ap, err := newApplier(d.Reloader, d.Logger)
	if err != nil {
		return nil, err
	}
	lookup := d.LookupHost
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	return &Providers{store: d.Store, keys: d.Keys, models: d.Models, schedules: d.Schedules, log: d.Logger,
		denyPrivate: d.DenyPrivateUpstreams, lookup: lookup, applier: ap}, nil
}

// ModelLister lists models with their routes, for the check of a change of
// a provider's kind.
type ModelLister interface {
	ListModels(ctx context.Context) ([]domain.Model, error)
}

// checkRoutedModels refuses, naming kind, a provider p (its kind changed)
// that a model routed to it declares a capability p's kind cannot serve
// for (an embeddings model cannot be routed to an Anthropic provider).
func (a *Providers) checkRoutedModels(ctx context.Context, p domain.Provider) error {
	models, err := a.models.ListModels(ctx)
	if err != nil {
		return err
	}
	for _, m := range models {
		for _, r := range m.Routes {
			if r.ProviderID == p.ID {
				if err := m.ValidateProvider("kind", p); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

// checkUpstream refuses a base URL whose host is or resolves to a
// non-public address when private upstreams are denied. The dialer checks
// again at every connection (DNS may change); this check gives the clear
// error at configuration time.
func (a *Providers) checkUpstream(ctx context.Context, baseURL string) error {
	if !a.denyPrivate {
		return nil
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return domain.FieldError("base_url", "must be an absolute http or https URL")
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, perr := netip.ParseAddr(host); perr == nil {
		addrs = []netip.Addr{ip}
	} else {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err = a.lookup(lctx, host)
		cancel()
		if err != nil || len(addrs) == 0 {
			return domain.FieldError("base_url", "host %q does not resolve, so it cannot be checked against UPSTREAM_ALLOW_PRIVATE=false", host)
		}
	}
	for _, ip := range addrs {
		if domain.NonPublicAddr(ip) {
			return domain.FieldError("base_url", "host %q resolves to the non-public address %s, refused by UPSTREAM_ALLOW_PRIVATE=false", host, ip)
		}
	}
	return nil
}

// syncSchedule tells the orchestrator about a provider change in the
// background: the admin API does not wait on Temporal.
func (a *Providers) syncSchedule(p domain.Provider, deleted bool) {
	if a.schedules == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := a.schedules.SyncHealthSchedule(ctx, p, deleted); err != nil {
			a.log.Warn("health schedule not updated; the worker re-syncs schedules when it starts", "provider", p.Name, "err", err)
		}
	}()
}

// ProviderRef resolves a provider by numeric id, else by name (names may be
// numeric too).
func (a *Providers) ProviderRef(ctx context.Context, ref string) (domain.Provider, error) {
	return findProvider(ctx, a.store, ref)
}

// CreateProvider validates and stores a provider.
func (a *Providers) CreateProvider(ctx context.Context, p domain.Provider) (domain.Provider, error) {
	if err := p.Validate(); err != nil {
		return domain.Provider{}, err
	}
	if err := a.checkUpstream(ctx, p.BaseURL); err != nil {
		return domain.Provider{}, err
	}
	out, err := a.store.CreateProvider(ctx, p)
	if err != nil {
		return out, err
	}
	a.applied(ctx, changed(ports.ChangeProvider, out.ID))
	a.syncSchedule(out, false)
	return out, nil
}

// ListProviders lists providers.
func (a *Providers) ListProviders(ctx context.Context) ([]domain.Provider, error) {
	return a.store.ListProviders(ctx)
}

// UpdateProvider changes a provider through fn and validates the result.
//
// A change of base_url or kind changes where the provider's keys are sent,
// so whoever makes it must know the keys: when the provider has keys, the
// change is refused (naming the field) unless newKeys re-supplies them.
// newKeys, when given, replace every stored key: the old ones are deleted
// before the change is stored and the new ones added after it, so a stored
// key is never sent to a place it was not given for (a failure in between
// leaves the provider without keys, never with old keys at a new place).
func (a *Providers) UpdateProvider(ctx context.Context, ref string, fn func(*domain.Provider) error, newKeys []NewKey) (domain.Provider, error) {
	cur, err := a.ProviderRef(ctx, ref)
	if err != nil {
		return cur, err
	}
	// Apply fn to a copy first: the rule needs the outcome before anything
	// is written.
	want := cur
	want.Headers = maps.Clone(cur.Headers)
	if err := fn(&want); err != nil {
		return cur, err
	}
	if err := want.Validate(); err != nil {
		return cur, err
	}
	if want.Kind != cur.Kind {
		if err := a.checkRoutedModels(ctx, want); err != nil {
			return cur, err
		}
	}
	if want.BaseURL != cur.BaseURL {
		if err := a.checkUpstream(ctx, want.BaseURL); err != nil {
			return cur, err
		}
	}
	keys := make([]domain.ProviderKey, 0, len(newKeys))
	for i, nk := range newKeys {
		k, err := nk.key()
		if err != nil {
			return cur, domain.IndexedFieldError("keys", i, err)
		}
		k.ProviderID = cur.ID
		keys = append(keys, k)
	}
	moved := want.BaseURL != cur.BaseURL || want.Kind != cur.Kind
	var old []domain.ProviderKey
	if moved || len(keys) > 0 {
		if old, err = a.keys.ListKeys(ctx, cur.ID); err != nil {
			return cur, err
		}
	}
	if moved && len(old) > 0 && len(keys) == 0 {
		field := "base_url"
		if want.BaseURL == cur.BaseURL {
			field = "kind"
		}
		return cur, domain.FieldError(field, "changes where this provider's %d stored keys are sent; re-supply the keys in the same call (keys: [{\"secret\": ...}]), which replaces the stored ones, or delete the stored keys first", len(old))
	}
	for _, k := range old {
		if len(keys) == 0 {
			break
		}
		if err := a.keys.DeleteKey(ctx, k.ID); err != nil && domain.ErrorCode(err) != domain.CodeNotFound {
			return cur, err
		}
	}
	out, err := a.store.UpdateProvider(ctx, cur.ID, func(p *domain.Provider) error {
		if p.BaseURL != cur.BaseURL || p.Kind != cur.Kind {
			return &domain.Error{Code: domain.CodeConflict, Field: "base_url", Msg: "the provider's base_url or kind changed concurrently; retry"}
		}
		if err := fn(p); err != nil {
			return err
		}
		return p.Validate()
	})
	if err != nil {
		if len(keys) > 0 && len(old) > 0 {
			a.applied(ctx, changed(ports.ChangeProvider, cur.ID)) // the old keys are gone
		}
		return out, err
	}
	for _, k := range keys {
		if _, err := a.keys.AddKey(ctx, k); err != nil {
			a.applied(ctx, changed(ports.ChangeProvider, cur.ID))
			return out, err
		}
	}
	a.applied(ctx, changed(ports.ChangeProvider, cur.ID))
	a.syncSchedule(out, false)
	return out, nil
}

// DeleteProvider deletes a provider with its keys and routes.
func (a *Providers) DeleteProvider(ctx context.Context, ref string) error {
	cur, err := a.ProviderRef(ctx, ref)
	if err != nil {
		return err
	}
	if err := a.store.DeleteProvider(ctx, cur.ID); err != nil {
		return err
	}
	a.applied(ctx, changed(ports.ChangeProvider, cur.ID))
	a.syncSchedule(cur, true)
	return nil
}
