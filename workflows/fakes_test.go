package workflows

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// fakeStore implements the store ports in memory, with compare-and-swap on
// key versions like the real stores, and records what was done to it.
type fakeStore struct {
	mu        sync.Mutex
	nextID    int64
	providers map[int64]domain.Provider
	keys      map[int64]domain.ProviderKey
	checks    []domain.HealthCheck
	health    map[[2]int64]domain.Health
	rotations map[string]domain.Rotation
	saves     []domain.Rotation // every SaveRotation, in order
	sets      []statusSet       // every successful SetKeyStatus, in order
	// beforeSet, when set, runs (without the lock) before each
	// SetKeyStatus; tests use it to make concurrent changes.
	beforeSet func(id int64, to domain.KeyStatus)
}

type statusSet struct {
	ID       int64
	Expected int64
	To       domain.KeyStatus
}

var (
	_ ports.ProviderStore = (*fakeStore)(nil)
	_ ports.KeyStore      = (*fakeStore)(nil)
	_ ports.HealthStore   = (*fakeStore)(nil)
	_ ports.RotationStore = (*fakeStore)(nil)
)

func newFakeStore() *fakeStore {
	return &fakeStore{providers: map[int64]domain.Provider{}, keys: map[int64]domain.ProviderKey{},
		health: map[[2]int64]domain.Health{}, rotations: map[string]domain.Rotation{}}
}

func notFound(what string, id any) error {
	return domain.Errorf(domain.CodeNotFound, "%s %v not found", what, id)
}

func (s *fakeStore) addProvider(p domain.Provider) domain.Provider {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	p.ID = s.nextID
	if p.Kind == "" {
		p.Kind = domain.KindOpenAI
	}
	s.providers[p.ID] = p
	return p
}

func (s *fakeStore) addKey(providerID int64, secret string, status domain.KeyStatus) domain.ProviderKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	k := domain.ProviderKey{ID: s.nextID, ProviderID: providerID, Secret: secret, Status: status, Version: 1, Weight: 1,
		Last4: secret[max(0, len(secret)-4):], Fingerprint: "fp" + secret}
	s.keys[k.ID] = k
	return withoutSecret(k)
}

func withoutSecret(k domain.ProviderKey) domain.ProviderKey {
	k.Secret = ""
	return k
}

func (s *fakeStore) key(id int64) domain.ProviderKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[id]
}

func (s *fakeStore) setsFor(id int64, to domain.KeyStatus) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.sets {
		if c.ID == id && c.To == to {
			n++
		}
	}
	return n
}

func (s *fakeStore) recorded() []domain.HealthCheck {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.checks)
}

func (s *fakeStore) current(providerID, keyID int64) (domain.Health, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.health[[2]int64{providerID, keyID}]
	return h, ok
}

func (s *fakeStore) savedSteps(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.saves {
		if r.ID == id && (len(out) == 0 || out[len(out)-1] != r.Step) {
			out = append(out, r.Step)
		}
	}
	return out
}

// ProviderStore.

func (s *fakeStore) CreateProvider(_ context.Context, p domain.Provider) (domain.Provider, error) {
	return s.addProvider(p), nil
}

func (s *fakeStore) GetProvider(_ context.Context, id int64) (domain.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.providers[id]
	if !ok {
		return p, notFound("provider", id)
	}
	return p, nil
}

func (s *fakeStore) GetProviderByName(_ context.Context, name string) (domain.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.providers {
		if p.Name == name {
			return p, nil
		}
	}
	return domain.Provider{}, notFound("provider", name)
}

func (s *fakeStore) ListProviders(context.Context) ([]domain.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.Provider
	for _, p := range s.providers {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b domain.Provider) int { return int(a.ID - b.ID) })
	return out, nil
}

func (s *fakeStore) UpdateProvider(_ context.Context, id int64, fn func(*domain.Provider) error) (domain.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.providers[id]
	if !ok {
		return p, notFound("provider", id)
	}
	if err := fn(&p); err != nil {
		return p, err
	}
	s.providers[id] = p
	return p, nil
}

func (s *fakeStore) DeleteProvider(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.providers[id]; !ok {
		return notFound("provider", id)
	}
	delete(s.providers, id)
	return nil
}

// KeyStore.

func (s *fakeStore) AddKey(_ context.Context, k domain.ProviderKey) (domain.ProviderKey, error) {
	return s.addKey(k.ProviderID, k.Secret, k.Status), nil
}

func (s *fakeStore) GetKey(_ context.Context, id int64) (domain.ProviderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return k, notFound("key", id)
	}
	return withoutSecret(k), nil
}

func (s *fakeStore) ListKeys(_ context.Context, providerID int64) ([]domain.ProviderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.ProviderKey
	for _, k := range s.keys {
		if k.ProviderID == providerID {
			out = append(out, withoutSecret(k))
		}
	}
	slices.SortFunc(out, func(a, b domain.ProviderKey) int { return int(a.ID - b.ID) })
	return out, nil
}

func (s *fakeStore) KeySecret(_ context.Context, id int64) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return "", notFound("key", id)
	}
	if k.Secret == "" {
		return "", domain.Errorf(domain.CodeInvalid, "key %d has no secret", id)
	}
	return k.Secret, nil
}

func (s *fakeStore) SetKeyStatus(_ context.Context, id, expectedVersion int64, status domain.KeyStatus, lastError string) (domain.ProviderKey, error) {
	if s.beforeSet != nil {
		s.beforeSet(id, status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return k, notFound("key", id)
	}
	if k.Version != expectedVersion {
		return domain.ProviderKey{}, domain.Errorf(domain.CodeConflict, "key %d was changed concurrently: version is %d, expected %d", id, k.Version, expectedVersion)
	}
	k.Status, k.LastError = status, lastError
	k.Version++
	if status == domain.KeyRetired {
		k.Secret = ""
	}
	s.keys[id] = k
	s.sets = append(s.sets, statusSet{ID: id, Expected: expectedVersion, To: status})
	return withoutSecret(k), nil
}

// forceStatus changes a key as an operator would, bumping its version.
func (s *fakeStore) forceStatus(id int64, status domain.KeyStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[id]
	k.Status = status
	k.Version++
	s.keys[id] = k
}

func (s *fakeStore) UpdateKey(_ context.Context, id int64, fn func(*domain.ProviderKey) error) (domain.ProviderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return k, notFound("key", id)
	}
	if err := fn(&k); err != nil {
		return k, err
	}
	k.Version++
	s.keys[id] = k
	return withoutSecret(k), nil
}

func (s *fakeStore) DeleteKey(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, id)
	return nil
}

func (s *fakeStore) ListExpiringKeys(_ context.Context, before time.Time) ([]domain.ProviderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.ProviderKey
	for _, k := range s.keys {
		if (k.Status == domain.KeyActive || k.Status == domain.KeyDraining) && k.ExpiresAt != nil && k.ExpiresAt.Before(before) {
			out = append(out, withoutSecret(k))
		}
	}
	slices.SortFunc(out, func(a, b domain.ProviderKey) int { return a.ExpiresAt.Compare(*b.ExpiresAt) })
	return out, nil
}

// HealthStore.

func (s *fakeStore) RecordChecks(_ context.Context, checks []domain.HealthCheck) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range checks {
		s.checks = append(s.checks, c)
		k := [2]int64{c.ProviderID, c.KeyID}
		h := s.health[k]
		fails := 0
		if c.Status == domain.HealthUnhealthy {
			fails = h.ConsecutiveFailures + 1
		}
		s.health[k] = domain.Health{ProviderID: c.ProviderID, KeyID: c.KeyID, Status: c.Status, CheckedAt: c.CheckedAt,
			Latency: c.Latency, ConsecutiveFailures: fails, LastError: c.Error}
	}
	return nil
}

func (s *fakeStore) SetHealth(_ context.Context, h domain.Health) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.health[[2]int64{h.ProviderID, h.KeyID}] = h
	return nil
}

func (s *fakeStore) ListHealth(context.Context) ([]domain.Health, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.Health
	for _, h := range s.health {
		out = append(out, h)
	}
	return out, nil
}

func (s *fakeStore) RecentChecks(_ context.Context, providerID int64, limit int) ([]domain.HealthCheck, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.HealthCheck
	for i := len(s.checks) - 1; i >= 0 && len(out) < limit; i-- {
		if s.checks[i].ProviderID == providerID {
			out = append(out, s.checks[i])
		}
	}
	return out, nil
}

// RotationStore.

func (s *fakeStore) SaveRotation(_ context.Context, r domain.Rotation) (domain.Rotation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.rotations[r.ID]; ok {
		r.StartedAt = old.StartedAt
		if r.OldKeyID == 0 {
			r.OldKeyID = old.OldKeyID
		}
	}
	s.rotations[r.ID] = r
	s.saves = append(s.saves, r)
	return r, nil
}

func (s *fakeStore) GetRotation(_ context.Context, id string) (domain.Rotation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rotations[id]
	if !ok {
		return r, notFound("rotation", id)
	}
	return r, nil
}

func (s *fakeStore) ListRotations(_ context.Context, providerID int64, limit int) ([]domain.Rotation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.Rotation
	for _, r := range s.rotations {
		if r.ProviderID == providerID {
			out = append(out, r)
		}
	}
	return out, nil
}

// fakeFactory builds clients whose Probe calls probe; by default every
// probe succeeds at once.
type fakeFactory struct {
	mu     sync.Mutex
	probe  func(ctx context.Context, p domain.Provider, key string) error
	probes map[string]int // by key ("" for keyless)
}

var _ ports.ProviderFactory = (*fakeFactory)(nil)

func (f *fakeFactory) setProbe(fn func(ctx context.Context, p domain.Provider, key string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probe = fn
}

func (f *fakeFactory) probeCount(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.probes[key]
}

func (f *fakeFactory) NewClient(p domain.Provider) (ports.ProviderClient, error) {
	return &fakeClient{f: f, p: p}, nil
}

type fakeClient struct {
	f *fakeFactory
	p domain.Provider
}

func (c *fakeClient) Chat(context.Context, ports.Target, *domain.ChatRequest) (*domain.ChatResponse, error) {
	panic("not used")
}

func (c *fakeClient) ChatStream(context.Context, ports.Target, *domain.ChatRequest) (ports.ChatStream, error) {
	panic("not used")
}

func (c *fakeClient) Probe(ctx context.Context, t ports.Target) error {
	c.f.mu.Lock()
	if c.f.probes == nil {
		c.f.probes = map[string]int{}
	}
	c.f.probes[t.Key]++
	fn := c.f.probe
	c.f.mu.Unlock()
	if fn == nil {
		return nil
	}
	return fn(ctx, c.p, t.Key)
}

func (c *fakeClient) Close() {}

func upstreamErr(status int) error {
	return &domain.UpstreamError{Class: domain.ClassifyStatus(status), Status: status, Message: "fake upstream says no"}
}

// fixture is a store with one provider, a factory and the activities over
// them.
type fixture struct {
	store *fakeStore
	fac   *fakeFactory
	acts  *Activities
	prov  domain.Provider
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := newFakeStore()
	f := &fakeFactory{}
	p := s.addProvider(domain.Provider{Name: "acme", Kind: domain.KindOpenAI, BaseURL: "http://upstream.invalid", Enabled: true})
	a, err := NewActivities(Config{HostPort: "x:1", TaskQueue: "q", HealthInterval: 30 * time.Second, DegradedThreshold: time.Second,
		ProbeTimeout: 2 * time.Second, RotationGrace: 10 * time.Minute, Logger: testLogger()},
		Deps{Providers: s, Keys: s, Health: s, Rotations: s, Factory: f, Clock: ports.SystemClock{}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: s, fac: f, acts: a, prov: p}
}

func testLogger() *slog.Logger {
	if os.Getenv("WORKFLOWS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
