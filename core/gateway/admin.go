package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strconv"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// The admin API's use cases, one per aggregate, each in its own file and
// each depending only on the store methods it calls (interfaces declared
// here, by their consumer, and satisfied by adapters/postgres.Store):
//
//	Providers      admin_providers.go   providers, their base URL and schedules
//	ProviderKeys   admin_keys.go        provider keys and key rotations
//	Models         admin_models.go      models and their routes
//	ClientKeys     admin_clientkeys.go  the router's own API keys
//	Observability  admin_observability.go health, statistics, request log
//
// Every change is validated by the domain type's own method, written,
// applied to this replica at once (Reloader) and to the others through the
// database's change feed.

// Admin bundles the admin use cases for the HTTP adapter; their methods are
// promoted.
type Admin struct {
	*Providers
	*ProviderKeys
	*Models
	*ClientKeys
	*Observability
}

// Reloader applies a stored change to this replica (Service.Apply).
type Reloader interface {
	Apply(ctx context.Context, changes ...ports.Change) error
}

// ProviderFinder resolves providers, for use cases that take a provider
// reference.
type ProviderFinder interface {
	GetProvider(ctx context.Context, id int64) (domain.Provider, error)
	GetProviderByName(ctx context.Context, name string) (domain.Provider, error)
}

// AdminDeps are the dependencies of every admin use case, for NewAdmin;
// only Orchestrator and LookupHost may be nil.
type AdminDeps struct {
	Providers    ports.ProviderStore
	Keys         AdminKeyStore
	Models       ports.ModelStore
	ClientKeys   ClientKeyEditor
	Health       HealthReader
	Logs         ports.RequestLogStore
	Rotations    RotationReader
	Orchestrator ports.Orchestrator
	Service      *Service
	Logger       *slog.Logger
	// DenyPrivateUpstreams refuses provider base URLs whose host resolves to
	// a non-public address (domain.NonPublicAddr); UPSTREAM_ALLOW_PRIVATE=false.
	DenyPrivateUpstreams bool
	// LookupHost resolves a host name; default net.DefaultResolver.
	LookupHost func(ctx context.Context, host string) ([]netip.Addr, error)
}

// AdminKeyStore is every key method the admin use cases call.
type AdminKeyStore interface {
	KeyEditor
	KeysLister
}

// NewAdmin builds every admin use case from one set of dependencies.
func NewAdmin(d AdminDeps) (*Admin, error) {
	if d.Providers == nil || d.Keys == nil || d.Models == nil || d.ClientKeys == nil || d.Health == nil ||
		d.Logs == nil || d.Rotations == nil || d.Service == nil || d.Logger == nil {
		return nil, errors.New("gateway: NewAdmin needs every dependency but Orchestrator")
	}
	var sched ScheduleSyncer
	var rot RotationRunner
	if d.Orchestrator != nil {
		sched, rot = d.Orchestrator, d.Orchestrator
	}
	ps, err := NewProviders(ProvidersDeps{Store: d.Providers, Keys: d.Keys, Models: d.Models, Reloader: d.Service, Schedules: sched,
		Logger: d.Logger, DenyPrivateUpstreams: d.DenyPrivateUpstreams, LookupHost: d.LookupHost})
	if err != nil {
		return nil, err
	}
	ks, err := NewProviderKeys(d.Providers, d.Keys, d.Rotations, rot, d.Service, d.Logger)
	if err != nil {
		return nil, err
	}
	ms, err := NewModels(d.Models, d.Providers, d.Service, d.Logger)
	if err != nil {
		return nil, err
	}
	cs, err := NewClientKeys(d.ClientKeys, d.Logs, d.Service, d.Logger)
	if err != nil {
		return nil, err
	}
	obs, err := NewObservability(d.Providers, d.Keys, d.Health, d.Logs, d.Service.Router())
	if err != nil {
		return nil, err
	}
	return &Admin{Providers: ps, ProviderKeys: ks, Models: ms, ClientKeys: cs, Observability: obs}, nil
}

// findProvider resolves a provider by numeric id, else by name (names may
// be numeric too).
func findProvider(ctx context.Context, f ProviderFinder, ref string) (domain.Provider, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		if p, err := f.GetProvider(ctx, id); err == nil || domain.ErrorCode(err) != domain.CodeNotFound {
			return p, err
		}
	}
	return f.GetProviderByName(ctx, ref)
}

// applier reloads this replica's snapshot after a change. A failed reload
// is logged, not returned: the change is stored and the change feed
// reloads again.
type applier struct {
	r   Reloader
	log *slog.Logger
}

// applied applies the change to this replica at once, so the admin call's
// answer holds for the next request here; the change feed's echo of it then
// finds nothing new and installs nothing.
func (a applier) applied(ctx context.Context, ch ports.Change) {
	if err := a.r.Apply(ctx, ch); err != nil {
		a.log.Error("configuration changed but could not be reloaded", "err", err)
	}
}

// changed names a changed part of the configuration.
func changed(kind ports.ChangeKind, id int64) ports.Change { return ports.Change{Kind: kind, ID: id} }

func newApplier(r Reloader, log *slog.Logger) (applier, error) {
	if r == nil || log == nil {
		return applier{}, errors.New("gateway: admin use cases need a Reloader and a Logger")
	}
	return applier{r, log}, nil
}
