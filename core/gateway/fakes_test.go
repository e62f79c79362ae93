package gateway_test

// Consumer-side fakes of the ports the Service calls. They hold only what
// the use cases under test use; persistence itself is tested against
// PostgreSQL (adapters/postgres, ports/portstest).

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
)

// fakeStore is the configuration a test builds directly, served the way the
// Service reads it: ports.ConfigLoader (the whole configuration and its
// partial loads), the key-status writes of key health (GetKey,
// SetKeyStatus) and the toucher's TouchClientKeys. The embedded interfaces
// are nil: a call to any other method panics, telling that the Service
// started to need it.
type fakeStore struct {
	ports.KeyStore
	ports.ClientKeyStore

	mu     sync.Mutex
	cfg    ports.Config // keys keep their secret whatever their status
	nextID int64
	touch  map[int64]time.Time
}

var (
	_ ports.ConfigLoader   = (*fakeStore)(nil)
	_ ports.KeyStore       = (*fakeStore)(nil)
	_ ports.ClientKeyStore = (*fakeStore)(nil)
)

func newFakeStore() *fakeStore { return &fakeStore{touch: map[int64]time.Time{}} }

func (s *fakeStore) id() int64 { s.nextID++; return s.nextID }

// usable returns k as LoadConfig hands it out: the secret only for a key
// the router may use.
func usable(k domain.ProviderKey) domain.ProviderKey {
	if k.Status != domain.KeyActive && k.Status != domain.KeyDraining {
		k.Secret = ""
	}
	return k
}

func copyModel(m domain.Model) domain.Model {
	m.Routes = slices.Clone(m.Routes)
	return m
}

func (s *fakeStore) LoadConfig(context.Context) (ports.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := ports.Config{Providers: slices.Clone(s.cfg.Providers), ClientKeys: slices.Clone(s.cfg.ClientKeys), Health: slices.Clone(s.cfg.Health)}
	for _, k := range s.cfg.Keys {
		if k.Status != domain.KeyRetired {
			cfg.Keys = append(cfg.Keys, usable(k))
		}
	}
	for _, m := range s.cfg.Models {
		cfg.Models = append(cfg.Models, copyModel(m))
	}
	return cfg, nil
}

func (s *fakeStore) LoadProvider(_ context.Context, id int64) (ports.ProviderConfig, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.cfg.Providers {
		if p.ID == id {
			pc := ports.ProviderConfig{Provider: p}
			for _, k := range s.cfg.Keys {
				if k.ProviderID == id && k.Status != domain.KeyRetired {
					pc.Keys = append(pc.Keys, usable(k))
				}
			}
			return pc, true, nil
		}
	}
	return ports.ProviderConfig{}, false, nil
}

func (s *fakeStore) LoadModel(_ context.Context, id int64) (domain.Model, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.cfg.Models {
		if m.ID == id {
			return copyModel(m), true, nil
		}
	}
	return domain.Model{}, false, nil
}

func (s *fakeStore) LoadClientKey(_ context.Context, id int64) (domain.ClientKey, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.cfg.ClientKeys {
		if k.ID == id {
			return k, true, nil
		}
	}
	return domain.ClientKey{}, false, nil
}

// GetKey returns a key without its secret.
func (s *fakeStore) GetKey(_ context.Context, id int64) (domain.ProviderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.cfg.Keys {
		if k.ID == id {
			k.Secret = ""
			return k, nil
		}
	}
	return domain.ProviderKey{}, domain.Errorf(domain.CodeNotFound, "key %d not found", id)
}

// SetKeyStatus is a compare-and-swap on the key's version, as the port
// requires.
func (s *fakeStore) SetKeyStatus(_ context.Context, id, expectedVersion int64, status domain.KeyStatus, lastError string) (domain.ProviderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.cfg.Keys {
		k := &s.cfg.Keys[i]
		if k.ID != id {
			continue
		}
		if k.Version != expectedVersion {
			return domain.ProviderKey{}, domain.Errorf(domain.CodeConflict, "key %d changed", id)
		}
		k.Status, k.LastError = status, lastError
		k.Version++
		if status == domain.KeyRetired {
			k.Secret = ""
		}
		out := *k
		out.Secret = ""
		return out, nil
	}
	return domain.ProviderKey{}, domain.Errorf(domain.CodeNotFound, "key %d not found", id)
}

func (s *fakeStore) TouchClientKeys(_ context.Context, used map[int64]time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, at := range used {
		s.touch[id] = at
	}
	return nil
}

// addProvider adds an enabled OpenAI provider (validated as the admin API
// would) with an active key per secret.
func (s *fakeStore) addProvider(t *testing.T, name string, secrets ...string) (domain.Provider, []domain.ProviderKey) {
	t.Helper()
	p := domain.Provider{Name: name, Kind: domain.KindOpenAI, Enabled: true}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p.ID = s.id()
	s.cfg.Providers = append(s.cfg.Providers, p)
	return p, s.addKeysLocked(t, p.ID, secrets)
}

func (s *fakeStore) addKeysLocked(t *testing.T, providerID int64, secrets []string) []domain.ProviderKey {
	t.Helper()
	var keys []domain.ProviderKey
	for _, secret := range secrets {
		k := domain.ProviderKey{ProviderID: providerID, Secret: secret, Weight: domain.DefaultKeyWeight, Status: domain.KeyActive, Version: 1}
		if err := k.ValidateNew(); err != nil {
			t.Fatal(err)
		}
		k.ID = s.id()
		k.Last4 = k.Secret[len(k.Secret)-4:]
		s.cfg.Keys = append(s.cfg.Keys, k)
		keys = append(keys, k)
	}
	return keys
}

// provider returns the provider called name.
func (s *fakeStore) provider(t *testing.T, name string) domain.Provider {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.cfg.Providers {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no provider %q", name)
	return domain.Provider{}
}

// updateProvider changes a provider through fn and, when secrets are given,
// replaces its keys with them.
func (s *fakeStore) updateProvider(t *testing.T, name string, fn func(*domain.Provider), secrets ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.cfg.Providers, func(p domain.Provider) bool { return p.Name == name })
	if i < 0 {
		t.Fatalf("no provider %q", name)
	}
	p := &s.cfg.Providers[i]
	fn(p)
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(secrets) > 0 {
		s.cfg.Keys = slices.DeleteFunc(s.cfg.Keys, func(k domain.ProviderKey) bool { return k.ProviderID == p.ID })
		s.addKeysLocked(t, p.ID, secrets)
	}
}

// keys returns a provider's keys without secrets.
func (s *fakeStore) keys(t *testing.T, provider string) []domain.ProviderKey {
	t.Helper()
	id := s.provider(t, provider).ID
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.ProviderKey
	for _, k := range s.cfg.Keys {
		if k.ProviderID == id {
			k.Secret = ""
			out = append(out, k)
		}
	}
	return out
}

// addModel adds an enabled model with one route of weight 1 per provider,
// in priority order, validated as the admin API would.
func (s *fakeStore) addModel(t *testing.T, name string, strategy domain.Strategy, providers ...string) domain.Model {
	t.Helper()
	m := domain.Model{Name: name, Strategy: strategy, Enabled: true}
	if err := m.Validate(routing.ValidateStrategyConfig); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(providers))
	for i, p := range providers {
		ids[i] = s.provider(t, p).ID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m.ID = s.id()
	for i, p := range providers {
		r := domain.Route{ModelID: m.ID, ProviderID: ids[i], UpstreamModel: "up-" + p, Weight: 1, Priority: i, Enabled: true}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		r.ID = s.id()
		m.Routes = append(m.Routes, r)
	}
	s.cfg.Models = append(s.cfg.Models, m)
	return m
}

// addClientKey adds an enabled client key and returns it with its token.
func (s *fakeStore) addClientKey(t *testing.T, name string) (domain.ClientKey, string) {
	t.Helper()
	tok, err := gateway.NewClientToken()
	if err != nil {
		t.Fatal(err)
	}
	k := gateway.ClientKeyFor(name, tok)
	if err := k.Validate(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k.ID = s.id()
	s.cfg.ClientKeys = append(s.cfg.ClientKeys, k)
	return k, tok
}

func (s *fakeStore) setClientKeyEnabled(t *testing.T, id int64, enabled bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.cfg.ClientKeys, func(k domain.ClientKey) bool { return k.ID == id })
	if i < 0 {
		t.Fatalf("no client key %d", id)
	}
	s.cfg.ClientKeys[i].Enabled = enabled
}

// logSink is the request log the recorder writes to: it keeps every entry,
// cleaned as a store stores it.
type logSink struct {
	ports.RequestLogStore // nil: the Service only inserts

	mu      sync.Mutex
	entries []domain.RequestLog
}

var _ ports.RequestLogStore = (*logSink)(nil)

func (l *logSink) InsertRequestLogs(_ context.Context, entries []domain.RequestLog) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range entries {
		e.CleanText()
		l.entries = append(l.entries, e)
	}
	return nil
}

// stored returns the entries for model ("": all).
func (l *logSink) stored(model string) []domain.RequestLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []domain.RequestLog
	for _, e := range l.entries {
		if model == "" || e.Model == model {
			out = append(out, e)
		}
	}
	return out
}

// fakeLeases is the lease ledger of a single replica: a grant never takes
// the counter past its cap, what the replica spent stays spent in its
// window, and what it returns is free again.
type fakeLeases struct {
	mu       sync.Mutex
	counters map[leaseKey]*leaseCounter
}

type leaseKey struct {
	key    int64
	kind   ports.LimitKind
	window int64
}

type leaseCounter struct{ spent, held float64 }

var _ ports.LeaseStore = (*fakeLeases)(nil)

func newFakeLeases() *fakeLeases { return &fakeLeases{counters: map[leaseKey]*leaseCounter{}} }

func (l *fakeLeases) SyncLease(_ context.Context, r ports.LeaseRequest) (ports.LeaseGrant, error) {
	if r.ClientKeyID <= 0 || r.Replica == "" {
		return ports.LeaseGrant{}, domain.Errorf(domain.CodeInvalid, "lease: client key and replica are required")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := leaseKey{r.ClientKeyID, r.Kind, r.Window.UnixNano()}
	c := l.counters[k]
	if c == nil {
		c = &leaseCounter{}
		l.counters[k] = c
	}
	used := max(r.Used, 0)
	c.spent += used
	c.held = max(c.held-used, 0)
	var granted float64
	if r.Delta >= 0 {
		granted = min(r.Delta, max(r.Cap-c.spent-c.held, 0))
	} else {
		granted = -min(-r.Delta, c.held)
	}
	c.held += granted
	return ports.LeaseGrant{Granted: granted, Free: max(r.Cap-c.spent-c.held, 0), Held: c.held}, nil
}
