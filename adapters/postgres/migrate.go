package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // the pgx5:// driver
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/airouter/airouter/sql/migrations"
)

// migrateURL turns a postgres:// URL into the pgx/v5 driver's pgx5:// one.
func migrateURL(url string) (string, error) {
	for _, scheme := range []string{"postgres://", "postgresql://", "pgx5://"} {
		if strings.HasPrefix(url, scheme) {
			return "pgx5://" + strings.TrimPrefix(url, scheme), nil
		}
	}
	return "", errors.New("postgres: the database URL must start with postgres:// or postgresql://")
}

func newMigrate(url string) (*migrate.Migrate, error) {
	u, err := migrateURL(url)
	if err != nil {
		return nil, err
	}
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, u)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	return m, nil
}

// Migrate applies every pending migration ("up") or rolls back the latest
// one ("down"). Nothing to do is success. When ctx ends, it stops after the
// running migration.
func Migrate(ctx context.Context, url string, direction string) (err error) {
	if direction != "up" && direction != "down" {
		return fmt.Errorf("postgres: migrate: direction must be up or down, not %q", direction)
	}
	m, err := newMigrate(url)
	if err != nil {
		return err
	}
	defer func() {
		srcErr, dbErr := m.Close()
		if err == nil {
			err = errors.Join(srcErr, dbErr)
		}
	}()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			m.GracefulStop <- true
		case <-done:
		}
	}()
	if direction == "up" {
		err = m.Up()
	} else {
		err = m.Steps(-1)
	}
	switch {
	case errors.Is(err, migrate.ErrNoChange), errors.Is(err, os.ErrNotExist) && direction == "down":
		err = nil
	case err != nil:
		err = fmt.Errorf("postgres: migrate %s: %w", direction, err)
	}
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("postgres: migrate %s: %w", direction, ctx.Err())
	}
	return err
}

// MigrationVersion returns the applied schema version (0 when none) and
// whether a failed migration left it dirty.
func MigrationVersion(url string) (version uint, dirty bool, err error) {
	m, err := newMigrate(url)
	if err != nil {
		return 0, false, err
	}
	defer func() {
		srcErr, dbErr := m.Close()
		if err == nil {
			err = errors.Join(srcErr, dbErr)
		}
	}()
	version, dirty, err = m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("postgres: migration version: %w", err)
	}
	return version, dirty, nil
}
