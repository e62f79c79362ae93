// Package pgtest gives each test a fresh PostgreSQL database on the server
// of TEST_DATABASE_URL (or DATABASE_URL), dropped when the test ends. It is
// the one test-database helper of the module: the postgres adapter's tests,
// the workflows' activity tests and the end-to-end tests in cmd use it.
//
// Migrated databases are copied from a template database migrated once per
// set of migration files (its name carries their hash), so that a copy
// takes a fraction of a second. pgtest does not import adapters/postgres
// (whose own tests use it): callers pass the migration function.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/airouter/airouter/sql/migrations"
)

// MigrateFunc applies migrations to the database at url ("up" or "down");
// postgres.Migrate is one.
type MigrateFunc func(ctx context.Context, url, direction string) error

// ServerURL returns the server to create test databases on, read through
// getenv (os.Getenv in tests: only cmd and tests read the environment).
// Without one it skips the test under -short and fails it otherwise.
func ServerURL(t testing.TB, getenv func(string) string) string {
	t.Helper()
	u := getenv("TEST_DATABASE_URL")
	if u == "" {
		u = getenv("DATABASE_URL")
	}
	if u == "" {
		if testing.Short() {
			t.Skip("PostgreSQL is not configured (TEST_DATABASE_URL); skipped under -short")
		}
		t.Fatal("PostgreSQL is required: run `make test`, or set TEST_DATABASE_URL to a server where this role may CREATE DATABASE")
	}
	return u
}

// Empty creates an empty database and returns its URL; it is dropped when
// the test ends.
func Empty(t testing.TB, getenv func(string) string) string {
	t.Helper()
	return fresh(t, ServerURL(t, getenv), "")
}

// Migrated creates a database with the current schema (applied by migrate
// to a template database, once per server and set of migrations) and
// returns its URL; it is dropped when the test ends.
func Migrated(t testing.TB, getenv func(string) string, migrate MigrateFunc) string {
	t.Helper()
	base := ServerURL(t, getenv)
	tpl.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		tpl.name, tpl.err = buildTemplate(ctx, base, migrate)
	})
	if tpl.err != nil {
		t.Fatalf("preparing the template database: %v", tpl.err)
	}
	return fresh(t, base, tpl.name)
}

func fresh(t testing.TB, base, template string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	u, drop, err := create(ctx, base, template)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return u
}

// create creates a database named airouter_t_<random> on the server of
// base, copied from template ("" for an empty one), and returns its URL
// and a function that drops it.
func create(ctx context.Context, base, template string) (dbURL string, drop func() error, err error) {
	if template == "" {
		template = "template0"
	}
	name := "airouter_t_" + strings.ToLower(rand.Text()[:12])
	dbURL, err = withDatabase(base, name)
	if err != nil {
		return "", nil, err
	}
	if err := exec(ctx, base, "CREATE DATABASE "+name+" TEMPLATE "+template); err != nil {
		return "", nil, fmt.Errorf("create test database: %w", err)
	}
	drop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec(ctx, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return dbURL, drop, nil
}

// withDatabase returns base pointing at another database.
func withDatabase(base, db string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("pgtest: TEST_DATABASE_URL must be a postgres:// URL")
	}
	u.Path = "/" + db
	return u.String(), nil
}

func exec(ctx context.Context, base, sql string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connect to TEST_DATABASE_URL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

var tpl struct {
	once sync.Once
	name string
	err  error
}

// templateName names the template database after the migrations' content.
func templateName() (string, error) {
	h := sha256.New()
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return "", err
	}
	slices.Sort(names)
	for _, n := range names {
		b, err := fs.ReadFile(migrations.FS, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return "airouter_tpl_" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// buildTemplate builds the template database unless it exists. Test
// binaries running at the same time serialize on an advisory lock; the
// template is built under another name and renamed when complete, so a
// half-built one is never used.
func buildTemplate(ctx context.Context, base string, migrate MigrateFunc) (string, error) {
	name, err := templateName()
	if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("connect to TEST_DATABASE_URL: %w", err)
	}
	defer conn.Close(context.Background())
	const lockKey = 0x61697274706c // "airtpl"
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(lockKey)); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", int64(lockKey)) //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+building+" TEMPLATE template0"); err != nil {
		return "", err
	}
	u, err := withDatabase(base, building)
	if err != nil {
		return "", err
	}
	if err := migrate(ctx, u, "up"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return "", err
	}
	return name, nil
}
