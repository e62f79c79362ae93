package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/airouter/airouter/adapters/postgres/pgtest"
	"github.com/airouter/airouter/adapters/secretbox"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
	"github.com/airouter/airouter/ports/portstest"
	"github.com/airouter/airouter/sql/migrations"
)

// migratedDB is a fresh database with the schema.
func migratedDB(t *testing.T) string {
	t.Helper()
	return pgtest.Migrated(t, os.Getenv, Migrate)
}

func newBox(t testing.TB) *secretbox.Box {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func openPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := Open(t.Context(), url, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func newStore(t testing.TB, pool *pgxpool.Pool, box ports.SecretBox) *Store {
	t.Helper()
	s, err := New(pool, box)
	if err != nil {
		t.Fatal(err)
	}
	s.minBackoff, s.maxBackoff = 20*time.Millisecond, 200*time.Millisecond
	return s
}

func copyCiphertext(t *testing.T, pool *pgxpool.Pool, from, to int64) {
	t.Helper()
	tag, err := pool.Exec(t.Context(),
		"UPDATE provider_keys SET secret_ciphertext = (SELECT secret_ciphertext FROM provider_keys WHERE id = $1) WHERE id = $2", from, to)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("copy ciphertext: %v (%d rows)", err, tag.RowsAffected())
	}
}

func TestStores(t *testing.T) {
	pgtest.ServerURL(t, os.Getenv)
	portstest.TestStores(t, func(t *testing.T) portstest.Stores {
		pool := openPool(t, migratedDB(t))
		s := newStore(t, pool, newBox(t))
		return portstest.Stores{
			Providers: s, Keys: s, Models: s, ClientKeys: s, Config: s, Health: s, RequestLogs: s, Rotations: s, Feed: s, Leases: s,
			Publish:        func(ctx context.Context, c ports.Change) error { return publish(ctx, s, c) },
			CopyCiphertext: func(t *testing.T, from, to int64) { copyCiphertext(t, pool, from, to) },
		}
	})
}

// publish notifies every listener of a change as an operator's pg_notify
// would, with the change's id in a JSON payload.
func publish(ctx context.Context, s *Store, c ports.Change) error {
	b, err := json.Marshal(change{Kind: string(c.Kind), ID: c.ID, Provider: c.ProviderID})
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, "SELECT pg_notify('airouter_config', $1::text)", string(b))
	return err
}

func TestNewRejectsNil(t *testing.T) {
	t.Parallel()
	if _, err := New(nil, newBox(t)); err == nil {
		t.Fatal("New accepted a nil pool")
	}
	pool, err := pgxpool.New(t.Context(), "postgres://127.0.0.1:1/x")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := New(pool, nil); err == nil {
		t.Fatal("New accepted a nil secret box")
	}
}

func TestOpenHidesPassword(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, u := range []string{"postgres://u:hunter2pw@127.0.0.1:1/x?sslmode=disable", "postgres://u:hunter2pw@[bad"} {
		_, err := Open(ctx, u, 1)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", u)
		}
		if strings.Contains(err.Error(), "hunter2pw") {
			t.Fatalf("Open's error reveals the password: %v", err)
		}
	}
}

func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	u := pgtest.Empty(t, os.Getenv)
	ctx := t.Context()
	version := func(want uint) {
		t.Helper()
		v, dirty, err := MigrationVersion(u)
		if err != nil || dirty || v != want {
			t.Fatalf("MigrationVersion = %d, dirty %v, %v; want %d, clean", v, dirty, err, want)
		}
	}
	hasTables := func(want bool) {
		t.Helper()
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN
			('providers', 'provider_keys', 'models', 'model_routes', 'provider_health', 'key_health', 'health_checks',
			 'client_keys', 'request_log', 'key_rotations')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if (n == 10) != want || (n != 0 && !want) {
			t.Fatalf("%d of the 10 tables exist; want all: %v", n, want)
		}
	}
	latest := uint(0)
	ups, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil || len(ups) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	latest = uint(len(ups))
	version(0)
	if err := Migrate(ctx, u, "down"); err != nil {
		t.Fatalf("down with nothing applied: %v", err)
	}
	if err := Migrate(ctx, u, "up"); err != nil {
		t.Fatal(err)
	}
	version(latest)
	hasTables(true)
	if err := Migrate(ctx, u, "up"); err != nil {
		t.Fatalf("up with nothing to do: %v", err)
	}
	// down rolls back one step at a time.
	for v := latest; v > 0; v-- {
		if err := Migrate(ctx, u, "down"); err != nil {
			t.Fatal(err)
		}
		version(v - 1)
	}
	hasTables(false)
	if err := Migrate(ctx, u, "up"); err != nil {
		t.Fatal(err)
	}
	version(latest)
	hasTables(true)
	if err := Migrate(ctx, u, "sideways"); err == nil {
		t.Fatal("Migrate accepted direction sideways")
	}
	if err := Migrate(ctx, "mysql://x", "up"); err == nil {
		t.Fatal("Migrate accepted a non-PostgreSQL URL")
	}
}

// TestConstraintsMapped checks that the error table names real constraints
// and covers every unique, check and foreign-key constraint of the schema.
func TestConstraintsMapped(t *testing.T) {
	t.Parallel()
	pool := openPool(t, migratedDB(t))
	rows, err := pool.Query(t.Context(), `SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
		WHERE n.nspname = 'public' AND contype IN ('u', 'c', 'f')`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, ok := constraints[n]; !ok {
			t.Errorf("constraint %s is not in the error table", n)
		}
	}
	for n := range constraints {
		if !slices.Contains(names, n) {
			t.Errorf("the error table names %s, which the schema does not have", n)
		}
	}
}

func TestFeedAcrossStores(t *testing.T) {
	t.Parallel()
	u := migratedDB(t)
	box := newBox(t)
	a := newStore(t, openPool(t, u), box)
	b := newStore(t, openPool(t, u), box)

	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan ports.Change, 100)
	done := make(chan error, 1)
	go func() { done <- a.Listen(ctx, func(c ports.Change) { got <- c }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Listen: %v", err)
		}
	}()

	await := func(what string, match func(ports.Change) bool, publish func()) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		publish()
		for {
			select {
			case c := <-got:
				if match(c) {
					return
				}
			case <-tick.C:
				publish()
			case <-deadline:
				t.Fatalf("store a never saw %s", what)
			}
		}
	}
	// A replica's Publish reaches another replica's listener.
	await("b's publication", func(c ports.Change) bool { return c == ports.Change{Kind: "model", ID: 9} }, func() {
		if err := publish(t.Context(), b, ports.Change{Kind: "model", ID: 9}); err != nil {
			t.Fatal(err)
		}
	})
	// So does any write, through the triggers.
	p, err := b.CreateProvider(t.Context(), domain.Provider{Name: "p", Kind: domain.KindOpenAI, BaseURL: "x"})
	if err != nil {
		t.Fatal(err)
	}
	await("b's provider", func(c ports.Change) bool { return c.Kind == "provider" }, func() {})
	if _, err := b.AddKey(t.Context(), domain.ProviderKey{ProviderID: p.ID, Secret: "sk-feed-000000000"}); err != nil {
		t.Fatal(err)
	}
	await("b's key", func(c ports.Change) bool { return c.Kind == "key" }, func() {})

	// When the listener's connection dies, it reconnects and asks for a
	// resync.
	if _, err := b.pool.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, ListenerApplicationName); err != nil {
		t.Fatal(err)
	}
	await("a resync", func(c ports.Change) bool { return c.Kind == "resync" }, func() {})
	await("a publication after the reconnect", func(c ports.Change) bool { return c == ports.Change{Kind: "client_key", ID: 1} }, func() {
		if err := publish(t.Context(), b, ports.Change{Kind: "client_key", ID: 1}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestListenWaitsForDatabase(t *testing.T) {
	t.Parallel()
	// A pool whose server is down: Listen keeps retrying until ctx ends.
	pool, err := pgxpool.New(t.Context(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := newStore(t, pool, newBox(t))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	called := false
	if err := s.Listen(ctx, func(ports.Change) { called = true }); err != nil {
		t.Fatalf("Listen returned %v, want nil when its context ends", err)
	}
	if called {
		t.Fatal("Listen called fn without a connection")
	}
}

func TestWrongMasterKeyInvalidatesKeys(t *testing.T) {
	t.Parallel()
	pool := openPool(t, migratedDB(t))
	a := newStore(t, pool, newBox(t))
	other := newStore(t, pool, newBox(t)) // another master key
	ctx := t.Context()
	p, err := a.CreateProvider(ctx, domain.Provider{Name: "p", Kind: domain.KindOpenAI, BaseURL: "x"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := a.AddKey(ctx, domain.ProviderKey{ProviderID: p.ID, Secret: "sk-master-0000000000"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := other.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Keys) != 1 || cfg.Keys[0].Secret != "" || cfg.Keys[0].Status != domain.KeyInvalid || cfg.Keys[0].Version != k.Version+1 {
		t.Fatalf("config under the wrong master key: %+v", cfg.Keys)
	}
	got, err := a.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.KeyInvalid || got.LastError != domain.KeyErrorUndecryptable {
		t.Fatalf("stored key: %+v", got)
	}
}

// storeWithProvider is a store on a fresh database holding one provider "p".
func storeWithProvider(t *testing.T) (*pgxpool.Pool, *Store, domain.Provider) {
	t.Helper()
	pool := openPool(t, migratedDB(t))
	s := newStore(t, pool, newBox(t))
	p, err := s.CreateProvider(t.Context(), domain.Provider{Name: "p", Kind: domain.KindOpenAI, BaseURL: "x"})
	if err != nil {
		t.Fatal(err)
	}
	return pool, s, p
}

func TestLostTransactionIsReturned(t *testing.T) {
	t.Parallel()
	pool, s, p := storeWithProvider(t)
	ctx := t.Context()
	// The connection dies while fn runs: the update must fail, not be
	// reported as done.
	_, err := s.UpdateProvider(ctx, p.ID, func(q *domain.Provider) error {
		q.Name = "renamed"
		_, err := pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'`)
		return err
	})
	if err == nil {
		t.Fatal("UpdateProvider succeeded although its transaction was lost")
	}
	var de *domain.Error
	if errors.As(err, &de) {
		t.Fatalf("a lost transaction reported as %v (%s)", err, de.Code)
	}
	got, err := s.GetProvider(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "p" {
		t.Fatalf("the lost update was applied: %+v", got)
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	_, s, p := storeWithProvider(t)
	ctx := t.Context()
	now := time.Now()
	if err := s.InsertRequestLogs(ctx, []domain.RequestLog{
		{Time: now.Add(-48 * time.Hour), Model: "m", Status: 200},
		{Time: now.Add(-47 * time.Hour), Model: "m", Status: 200},
		{Time: now, Model: "m", Status: 200},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordChecks(ctx, []domain.HealthCheck{
		{ProviderID: p.ID, Status: domain.HealthHealthy, CheckedAt: now.Add(-48 * time.Hour)},
		{ProviderID: p.ID, Status: domain.HealthHealthy, CheckedAt: now},
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneRequestLogs(ctx, now.Add(-24*time.Hour)); err != nil || n != 2 {
		t.Fatalf("PruneRequestLogs = %d, %v; want 2", n, err)
	}
	if n, err := s.PruneHealthChecks(ctx, now.Add(-24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("PruneHealthChecks = %d, %v; want 1", n, err)
	}
	logs, err := s.ListRequestLogs(ctx, domain.RequestLogFilter{From: now.Add(-72 * time.Hour)})
	if err != nil || len(logs) != 1 {
		t.Fatalf("after pruning: %d entries, %v", len(logs), err)
	}
}

// TestPruneLimitCounters: ended minute and budget windows go, the current
// ones and total budgets stay (counters would otherwise grow by two rows per
// limited key and minute).
func TestPruneLimitCounters(t *testing.T) {
	t.Parallel()
	pool := openPool(t, migratedDB(t))
	s := newStore(t, pool, newBox(t))
	ctx := t.Context()
	sum := sha256.Sum256([]byte("tok-pruned"))
	k, err := s.CreateClientKey(ctx, domain.ClientKey{Name: "pruned", Hash: sum[:], Prefix: "p", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Minute)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	sync := func(kind ports.LimitKind, w time.Time) {
		t.Helper()
		if _, err := s.SyncLease(ctx, ports.LeaseRequest{ClientKeyID: k.ID, Kind: kind, Window: w, Cap: 10, Replica: "r", Delta: 1, TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	sync(ports.LimitRPM, now)                      // current minute: kept
	sync(ports.LimitRPM, now.Add(-2*time.Hour))    // ended: pruned
	sync(ports.LimitTPM, now.Add(-3*time.Hour))    // ended: pruned
	sync(ports.LimitBudget, day)                   // today: kept
	sync(ports.LimitBudget, day.AddDate(0, -3, 0)) // ended: pruned
	sync(ports.LimitBudget, time.Unix(0, 0).UTC()) // total: kept
	if n, err := s.PruneLimitCounters(ctx, now); err != nil || n != 3 {
		t.Fatalf("PruneLimitCounters = %d, %v; want 3", n, err)
	}
	for _, c := range []struct {
		kind ports.LimitKind
		w    time.Time
	}{{ports.LimitRPM, now}, {ports.LimitBudget, day}, {ports.LimitBudget, time.Unix(0, 0).UTC()}} {
		if _, reserved, err := s.LimitCounter(ctx, k.ID, c.kind, c.w); err != nil || reserved != 1 {
			t.Fatalf("%s counter at %v after pruning: reserved %v, %v", c.kind, c.w, reserved, err)
		}
	}
}
