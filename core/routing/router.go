package routing

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// Router holds the current configuration snapshot and the live state of
// routes and keys. It is safe for concurrent use.
type Router struct {
	o       Options
	tau     float64 // EWMA decay in nanoseconds
	bucketW int64   // window bucket width in nanoseconds

	snap atomic.Pointer[snapshot]

	mu             sync.Mutex // serialises Update and ApplyHealth; guards the maps
	routeStates    map[int64]*routeState
	keyStates      map[int64]*keyState
	providerStates map[int64]*providerState
	modelStates    map[int64]*modelState
}

// Config is the configuration a Router routes by.
type Config struct {
	Providers []domain.Provider
	// Keys of the providers; Secret is set for the usable ones.
	Keys []domain.ProviderKey
	// Models with their Routes.
	Models []domain.Model
	// Health is the last known health of providers and keys.
	Health []domain.Health
}

// ModelInfo describes a model that can serve now.
type ModelInfo struct {
	Name      string
	Created   time.Time
	Providers []string // names of the providers of its usable routes, sorted
	// Capabilities is what the model declares and one of its usable
	// routes' providers can serve (domain.KindServes), in declared order.
	Capabilities []domain.Capability
}

type snapshot struct {
	models       map[string]*Model
	sortedModels []*Model // enabled, by name
	providers    map[int64]*provider
	keys         map[int64]*Key
	routes       []*Route // every route of every model
	byProvider   map[int64][]*Route
}

type provider struct {
	d         domain.Provider
	st        *providerState
	keys      []*Key // usable by config: active by ID, then draining by ID
	activeSeq []*Key // one cycle of smooth WRR over the active keys
	drainSeq  []*Key // the same over the draining keys
	keyless   *Key   // set for openai_compatible providers without keys
}

// Model is a model of the current snapshot. It is immutable; its Plan reads
// live state.
type Model struct {
	d        domain.Model
	r        *Router
	st       *modelState
	strategy domain.Strategy
	cfg      strategyConfig
	routes   []*Route // routes that can serve by config, by ID
	provs    []string // names of the providers of its enabled routes
}

// Route is a route of the current snapshot with its provider. Its accessors
// return shared values that callers must not modify.
type Route struct {
	d  domain.Route
	p  *provider
	m  *Model
	st *routeState
}

// Key is a provider key of the current snapshot, or the keyless key (ID 0)
// of an openai_compatible provider without keys.
type Key struct {
	d      domain.ProviderKey
	p      *provider
	st     *keyState
	weight int64
	expiry int64 // unix nanos; 0: none
}

// New returns a Router with an empty configuration.
func New(o Options) *Router {
	o = o.withDefaults()
	r := &Router{
		o:              o,
		tau:            float64(o.EWMADecay),
		bucketW:        max(int64(o.SuccessWindow)/windowBuckets, 1),
		routeStates:    map[int64]*routeState{},
		keyStates:      map[int64]*keyState{},
		providerStates: map[int64]*providerState{},
		modelStates:    map[int64]*modelState{},
	}
	r.snap.Store(&snapshot{
		models:     map[string]*Model{},
		providers:  map[int64]*provider{},
		keys:       map[int64]*Key{},
		byProvider: map[int64][]*Route{},
	})
	return r
}

func (r *Router) now() int64 { return r.o.Now().UnixNano() }

func (r *Router) emit(evs []Event) {
	if r.o.OnEvent == nil {
		return
	}
	for _, e := range evs {
		r.o.OnEvent(e)
	}
}

// Update atomically replaces the configuration. Live statistics, ejections
// and key state are kept per ID (see the package documentation). A model
// whose strategy is unknown or whose strategy config does not validate is
// routed with auto or with the strategy's defaults, and reported in the
// returned list, one error per bad model (wrapping a *domain.Error); the
// update itself never fails.
func (r *Router) Update(c Config) []error {
	r.mu.Lock()
	evs, errs := r.update(c)
	r.mu.Unlock()
	r.emit(evs)
	return errs
}

func (r *Router) update(c Config) ([]Event, []error) {
	var errs []error
	s := &snapshot{
		models:     make(map[string]*Model, len(c.Models)),
		providers:  make(map[int64]*provider, len(c.Providers)),
		keys:       make(map[int64]*Key, len(c.Keys)),
		byProvider: map[int64][]*Route{},
	}
	pstates := make(map[int64]*providerState, len(c.Providers))
	for _, dp := range c.Providers {
		ps := r.providerStates[dp.ID]
		if ps == nil {
			ps = &providerState{}
		}
		pstates[dp.ID] = ps
		s.providers[dp.ID] = &provider{d: dp, st: ps}
	}

	keys := slices.Clone(c.Keys)
	slices.SortFunc(keys, func(a, b domain.ProviderKey) int {
		return cmp.Or(cmp.Compare(a.ProviderID, b.ProviderID), cmp.Compare(keyRank(a.Status), keyRank(b.Status)), cmp.Compare(a.ID, b.ID))
	})
	kstates := make(map[int64]*keyState, len(keys))
	hasKeys := map[int64]bool{}
	for _, dk := range keys {
		ks := r.keyStates[dk.ID]
		if ks == nil || ks.providerID != dk.ProviderID {
			ks = &keyState{providerID: dk.ProviderID, version: dk.Version}
		} else if ks.version != dk.Version {
			ks.version = dk.Version
			ks.invalid.Store(false)
		}
		kstates[dk.ID] = ks
		p := s.providers[dk.ProviderID]
		k := &Key{d: dk, p: p, st: ks, weight: max(int64(dk.Weight), 1)}
		if dk.ExpiresAt != nil {
			k.expiry = dk.ExpiresAt.UnixNano()
		}
		s.keys[dk.ID] = k
		hasKeys[dk.ProviderID] = true
		if p != nil && k.d.Usable() {
			p.keys = append(p.keys, k)
		}
	}
	for _, p := range s.providers {
		n := 0
		for n < len(p.keys) && p.keys[n].d.Status == domain.KeyActive {
			n++
		}
		p.activeSeq, p.drainSeq = smoothSequence(p.keys[:n]), smoothSequence(p.keys[n:])
		if p.d.Kind == domain.KindOpenAICompatible && !hasKeys[p.d.ID] {
			p.keyless = &Key{d: domain.ProviderKey{ProviderID: p.d.ID, Status: domain.KeyActive, Weight: 1}, p: p, st: &p.st.keyless, weight: 1}
		}
	}

	rstates := map[int64]*routeState{}
	mstates := make(map[int64]*modelState, len(c.Models))
	for _, dm := range c.Models {
		ms := r.modelStates[dm.ID]
		if ms == nil {
			ms = &modelState{}
		}
		mstates[dm.ID] = ms
		m := &Model{d: dm, r: r, st: ms}
		m.d.Routes = slices.Clone(dm.Routes)
		slices.SortFunc(m.d.Routes, func(a, b domain.Route) int { return cmp.Compare(a.ID, b.ID) })
		m.strategy = dm.Strategy
		if m.strategy == "" {
			m.strategy = r.o.DefaultStrategy
		}
		if !m.strategy.Valid() {
			errs = append(errs, fmt.Errorf("model %q: %w", dm.Name,
				domain.FieldError("strategy", "unknown strategy %q; using %s", dm.Strategy, r.o.DefaultStrategy)))
			m.strategy = r.o.DefaultStrategy
		}
		cfg, err := parseStrategyConfig(m.strategy, dm.StrategyConfig)
		if err != nil {
			errs = append(errs, fmt.Errorf("model %q: %w", dm.Name, err))
			cfg = defaultStrategyConfig()
		}
		m.cfg = cfg
		for i := range m.d.Routes {
			dr := &m.d.Routes[i]
			rs := r.routeStates[dr.ID]
			if rs == nil || rs.modelID != dm.ID {
				rs = &routeState{modelID: dm.ID}
			}
			rstates[dr.ID] = rs
			p := s.providers[dr.ProviderID]
			rt := &Route{d: *dr, p: p, m: m, st: rs}
			s.routes = append(s.routes, rt)
			if p == nil {
				continue
			}
			s.byProvider[p.d.ID] = append(s.byProvider[p.d.ID], rt)
			if !dr.Enabled {
				continue
			}
			if !slices.Contains(m.provs, p.d.Name) {
				m.provs = append(m.provs, p.d.Name)
			}
			if p.d.Enabled && (len(p.keys) > 0 || p.keyless != nil) {
				m.routes = append(m.routes, rt)
			}
		}
		if dm.Enabled {
			if _, dup := s.models[dm.Name]; !dup {
				s.models[dm.Name] = m
				s.sortedModels = append(s.sortedModels, m)
			}
		}
	}
	slices.SortFunc(s.sortedModels, func(a, b *Model) int { return cmp.Compare(a.d.Name, b.d.Name) })

	r.routeStates, r.keyStates, r.providerStates, r.modelStates = rstates, kstates, pstates, mstates
	var evs []Event
	for _, h := range c.Health {
		evs = r.applyHealth(s, h, false, evs)
	}
	r.snap.Store(s)
	return evs, errs
}

func keyRank(s domain.KeyStatus) int {
	if s == domain.KeyActive {
		return 0
	}
	return 1
}

// Model returns the enabled model named name in the current snapshot,
// without locking.
func (r *Router) Model(name string) (*Model, bool) {
	m, ok := r.snap.Load().models[name]
	return m, ok
}

// ListModels returns the enabled models that have a usable route now, sorted
// by name, with what they can serve through those routes; a model none of
// whose usable routes can serve what it declares is left out. A route is
// usable here when it can serve by config, is not ejected, its provider is
// not unhealthy and one of its keys is neither invalid nor expired (a
// cooling key counts); unknown health counts as usable.
func (r *Router) ListModels() []ModelInfo {
	s := r.snap.Load()
	now := r.now()
	out := make([]ModelInfo, 0, len(s.sortedModels))
	for _, m := range s.sortedModels {
		declared := m.d.Capabilities
		if len(declared) == 0 {
			declared = []domain.Capability{domain.CapChat}
		}
		var provs []string
		var caps []domain.Capability
		for _, rt := range m.routes {
			if !rt.listable(now) {
				continue
			}
			if !slices.Contains(provs, rt.p.d.Name) {
				provs = append(provs, rt.p.d.Name)
			}
			for _, c := range declared {
				if !slices.Contains(caps, c) && domain.KindServes(rt.p.d.Kind, c) {
					caps = append(caps, c)
				}
			}
		}
		if len(provs) == 0 || len(caps) == 0 {
			continue
		}
		slices.Sort(provs)
		// In declared order.
		caps = slices.DeleteFunc(slices.Clone(declared), func(c domain.Capability) bool { return !slices.Contains(caps, c) })
		out = append(out, ModelInfo{Name: m.d.Name, Created: m.d.CreatedAt, Providers: provs, Capabilities: caps})
	}
	return out
}

// Strategy returns the strategy the model is routed by.
func (m *Model) Strategy() domain.Strategy { return m.strategy }

// Domain returns the model's configuration (read-only).
func (m *Model) Domain() *domain.Model { return &m.d }

// Name returns the model's public name.
func (m *Model) Name() string { return m.d.Name }

// ID returns the route's ID.
func (rt *Route) ID() int64 { return rt.d.ID }

// Domain returns the route's configuration (read-only).
func (rt *Route) Domain() *domain.Route { return &rt.d }

// Provider returns the route's provider (read-only).
func (rt *Route) Provider() *domain.Provider { return &rt.p.d }

// ProviderName returns the name of the route's provider.
func (rt *Route) ProviderName() string { return rt.p.d.Name }

// UpstreamModel returns the provider's model name for this route.
func (rt *Route) UpstreamModel() string { return rt.d.UpstreamModel }

// Model returns the model the route belongs to.
func (rt *Route) Model() *Model { return rt.m }

// ID returns the key's ID; 0 for a keyless key.
func (k *Key) ID() int64 { return k.d.ID }

// Secret returns the key's plaintext; "" for a keyless key.
func (k *Key) Secret() string { return k.d.Secret }

// Domain returns the key's configuration (read-only).
func (k *Key) Domain() *domain.ProviderKey { return &k.d }

// Keyless reports whether this is the keyless key of a provider without
// keys.
func (k *Key) Keyless() bool { return k.d.ID == 0 }
