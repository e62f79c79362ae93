package workflows

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/airouter/airouter/adapters/postgres"
	"github.com/airouter/airouter/adapters/postgres/pgtest"
	"github.com/airouter/airouter/adapters/secretbox"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// pgStore is the real PostgreSQL store over a fresh database (the activity
// tests exercise persistence against PostgreSQL, never a copy of its
// rules). It records what the code under test did to it: every successful
// SetKeyStatus and every SaveRotation, in order. Tests arrange and inspect
// data through base, behind the recorder's back.
type pgStore struct {
	*postgres.Store
	base  *postgres.Store
	pool  *pgxpool.Pool
	t     *testing.T
	mu    sync.Mutex
	saves []domain.Rotation // every SaveRotation, in order
	sets  []statusSet       // every successful SetKeyStatus, in order
}

type statusSet struct {
	ID       int64
	Expected int64
	To       domain.KeyStatus
}

var (
	_ ports.ProviderStore = (*pgStore)(nil)
	_ ports.KeyStore      = (*pgStore)(nil)
	_ ports.HealthStore   = (*pgStore)(nil)
	_ ports.RotationStore = (*pgStore)(nil)
)

func newPGStore(t *testing.T) *pgStore {
	t.Helper()
	pool, err := postgres.Open(t.Context(), pgtest.Migrated(t, os.Getenv, postgres.Migrate), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := postgres.New(pool, box)
	if err != nil {
		t.Fatal(err)
	}
	return &pgStore{Store: st, base: st, pool: pool, t: t}
}

func (s *pgStore) ctx() context.Context { return context.Background() }

func (s *pgStore) addProvider(p domain.Provider) domain.Provider {
	s.t.Helper()
	if p.Kind == "" {
		p.Kind = domain.KindOpenAI
	}
	p, err := s.base.CreateProvider(s.ctx(), p)
	if err != nil {
		s.t.Fatalf("create provider: %v", err)
	}
	return p
}

func (s *pgStore) addKey(providerID int64, secret string, status domain.KeyStatus) domain.ProviderKey {
	s.t.Helper()
	k, err := s.base.AddKey(s.ctx(), domain.ProviderKey{ProviderID: providerID, Secret: secret, Status: status, Weight: 1})
	if err != nil {
		s.t.Fatalf("add key: %v", err)
	}
	return k
}

// key returns a key with its secret ("" when it has none, as once retired).
func (s *pgStore) key(id int64) domain.ProviderKey {
	s.t.Helper()
	k, err := s.base.GetKey(s.ctx(), id)
	if err != nil {
		s.t.Fatalf("get key %d: %v", id, err)
	}
	if secret, err := s.base.KeySecret(s.ctx(), id); err == nil {
		k.Secret = secret
	} else if domain.ErrorCode(err) != domain.CodeConflict {
		s.t.Fatalf("key %d's secret: %v", id, err)
	}
	return k
}

func (s *pgStore) setsFor(id int64, to domain.KeyStatus) int {
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

// checkCount is the number of health checks stored.
func (s *pgStore) checkCount() int {
	s.t.Helper()
	var n int
	if err := s.pool.QueryRow(s.ctx(), "SELECT count(*) FROM health_checks").Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

func (s *pgStore) current(providerID, keyID int64) (domain.Health, bool) {
	s.t.Helper()
	hs, err := s.base.ListHealth(s.ctx())
	if err != nil {
		s.t.Fatal(err)
	}
	for _, h := range hs {
		if h.ProviderID == providerID && h.KeyID == keyID {
			return h, true
		}
	}
	return domain.Health{}, false
}

func (s *pgStore) savedSteps(id string) []string {
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

// forceStatus changes a key as an operator would, bumping its version.
func (s *pgStore) forceStatus(id int64, status domain.KeyStatus) {
	s.t.Helper()
	k, err := s.base.GetKey(s.ctx(), id)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.base.SetKeyStatus(s.ctx(), id, k.Version, status, k.LastError); err != nil {
		s.t.Fatalf("force key %d to %s: %v", id, status, err)
	}
}

// SetKeyStatus records every successful compare-and-swap.
func (s *pgStore) SetKeyStatus(ctx context.Context, id, expectedVersion int64, status domain.KeyStatus, lastError string) (domain.ProviderKey, error) {
	k, err := s.base.SetKeyStatus(ctx, id, expectedVersion, status, lastError)
	if err == nil {
		s.mu.Lock()
		s.sets = append(s.sets, statusSet{ID: id, Expected: expectedVersion, To: status})
		s.mu.Unlock()
	}
	return k, err
}

// SaveRotation records every save.
func (s *pgStore) SaveRotation(ctx context.Context, r domain.Rotation) (domain.Rotation, error) {
	out, err := s.base.SaveRotation(ctx, r)
	s.mu.Lock()
	s.saves = append(s.saves, r)
	s.mu.Unlock()
	return out, err
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

// failProbe makes the probes of key fail with an upstream error of
// status; every other key passes.
func (f *fakeFactory) failProbe(key string, status int) {
	f.setProbe(func(_ context.Context, _ domain.Provider, k string) error {
		if k == key {
			return upstreamErr(status)
		}
		return nil
	})
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

// fixture is a PostgreSQL store with one provider, a factory and the activities over
// them.
type fixture struct {
	store *pgStore
	fac   *fakeFactory
	acts  *Activities
	prov  domain.Provider
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := newPGStore(t)
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
