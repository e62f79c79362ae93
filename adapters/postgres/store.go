// Package postgres implements the store ports over PostgreSQL with pgx v5.
// Every query comes from the sqlc-generated package sqlcgen; its types and
// pgtype never leave this package.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/airouter/airouter/adapters/postgres/sqlcgen"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// Store implements every store port and the change feed.
type Store struct {
	pool *pgxpool.Pool
	q    *sqlcgen.Queries
	box  ports.SecretBox

	// Listen's reconnect backoff.
	minBackoff, maxBackoff time.Duration
}

var (
	_ ports.ProviderStore   = (*Store)(nil)
	_ ports.KeyStore        = (*Store)(nil)
	_ ports.ModelStore      = (*Store)(nil)
	_ ports.ClientKeyStore  = (*Store)(nil)
	_ ports.ConfigLoader    = (*Store)(nil)
	_ ports.HealthStore     = (*Store)(nil)
	_ ports.RequestLogStore = (*Store)(nil)
	_ ports.RotationStore   = (*Store)(nil)
	_ ports.ChangeFeed      = (*Store)(nil)
)

// New returns a Store over pool that seals provider keys with box.
func New(pool *pgxpool.Pool, box ports.SecretBox) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres: New: nil pool")
	}
	if box == nil {
		return nil, errors.New("postgres: New: nil secret box")
	}
	return &Store{pool: pool, q: sqlcgen.New(pool), box: box,
		minBackoff: 100 * time.Millisecond, maxBackoff: 15 * time.Second}, nil
}

// Open connects a pool to url (maxConns <= 0 keeps pgx's default) and checks
// that the server answers.
func Open(ctx context.Context, url string, maxConns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors may echo the URL, password included.
		return nil, errors.New("postgres: the database URL is not a valid PostgreSQL connection URL")
	}
	if maxConns > 0 {
		if maxConns > math.MaxInt32 {
			maxConns = math.MaxInt32
		}
		cfg.MaxConns = int32(maxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return pool, nil
}

// inTx runs fn in one transaction and commits it; a failed commit is
// returned.
func (s *Store) inTx(ctx context.Context, opts pgx.TxOptions, fn func(q *sqlcgen.Queries) error) (err error) {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer func() {
		if err != nil {
			// The transaction failed already; the rollback's own error adds
			// nothing (the connection is discarded if it cannot roll back).
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = tx.Rollback(rctx)
			cancel()
		}
	}()
	if err = fn(s.q.WithTx(tx)); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

var (
	readWrite = pgx.TxOptions{}
	// snapshot reads several tables consistently.
	snapshot = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
)

// ref names the row a foreign key points at, for error messages.
type ref struct {
	field string
	id    int64
}

// constraint says what a violated constraint means to the caller.
type constraint struct {
	field string
	msg   string // for foreign keys: the referenced entity
}

var constraints = map[string]constraint{
	"responses_id_check":       {"id", "must start with resp_"},
	"providers_name_key":       {"name", "is already used by another provider"},
	"providers_name_check":     {"name", "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"},
	"providers_kind_check":     {"kind", "must be one of openai, anthropic, volcengine, openai_compatible"},
	"providers_timeouts_check": {"timeouts", "must not be negative"},
	"providers_headers_check":  {"headers", "must be a JSON object"},

	"provider_keys_fingerprint_key":  {"secret", "this key is already registered for the provider"},
	"provider_keys_status_check":     {"status", "must be one of active, standby, draining, retired, invalid, disabled"},
	"provider_keys_weight_check":     {"weight", "must not be negative"},
	"provider_keys_secret_check":     {"status", "a retired key has no secret and cannot take another status"},
	"provider_keys_provider_id_fkey": {"provider_id", "provider"},

	"models_name_key":              {"name", "is already used by another model"},
	"models_name_check":            {"name", "must be 1 to 256 characters"},
	"models_strategy_check":        {"strategy", "must be empty or one of auto, specified_provider, fallback, weighted_round_robin, least_connections, response_time, cost_optimized, hybrid"},
	"models_strategy_config_check": {"strategy_config", "must be a JSON object"},
	"models_limits_check":          {"context_window", "context_window and default_max_tokens must not be negative"},
	"models_capabilities_check":    {"capabilities", "must be a non-empty list of chat, embeddings, images"},

	"model_routes_target_key":           {"upstream_model", "the model already has a route to this provider and upstream model"},
	"model_routes_upstream_model_check": {"upstream_model", "must be 1 to 256 characters"},
	"model_routes_weight_check":         {"weight", "must not be negative"},
	"model_routes_price_check":          {"input_price", "prices must not be negative"},
	"model_routes_cached_price_check":   {"cached_input_price", "prices must not be negative"},
	"client_keys_rpm_check":             {"rpm", "must not be negative"},
	"client_keys_tpm_check":             {"tpm", "must not be negative"},
	"client_keys_budget_check":          {"budget.usd", "must not be negative"},
	"client_keys_budget_period_check":   {"budget.period", "must be one of daily, monthly, total"},
	"model_routes_model_id_fkey":        {"model_id", "model"},
	"model_routes_provider_id_fkey":     {"provider_id", "provider"},

	"provider_health_provider_id_fkey": {"provider_id", "provider"},
	"provider_health_status_check":     {"status", "must be one of healthy, degraded, unhealthy, unknown"},
	"key_health_key_id_fkey":           {"key_id", "key"},
	"key_health_provider_id_fkey":      {"provider_id", "provider"},
	"key_health_status_check":          {"status", "must be one of healthy, degraded, unhealthy, unknown"},
	"health_checks_provider_id_fkey":   {"provider_id", "provider"},
	"health_checks_status_check":       {"status", "must be one of healthy, degraded, unhealthy, unknown"},

	"client_keys_name_key":    {"name", "is already used by another client key"},
	"client_keys_token_key":   {"hash", "this token is already registered"},
	"client_keys_token_check": {"hash", "must be a SHA-256 digest (32 bytes)"},

	"key_rotations_provider_id_fkey": {"provider_id", "provider"},
	"key_rotations_status_check":     {"status", "must be one of running, completed, failed, canceled"},
	"master_key_check_single":        {"id", "there is only one master key check"},

	"limit_counters_kind_check":                         {"kind", "must be one of budget, rpm, tpm"},
	"limit_counters_client_key_id_fkey":                 {"client_key_id", "client key"},
	"limit_leases_client_key_id_kind_window_start_fkey": {"client_key_id", "limit counter"},
}

// dbError maps a pgx error to a *domain.Error where the caller can act on
// it: no rows → not found (entity id), unique violations → conflict,
// check and foreign-key violations → invalid. Other errors are wrapped with
// op. Values are never copied from the server's message, so no secret can
// leak through it.
func dbError(err error, op, entity string, id any, refs ...ref) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(entity, id)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		c, known := constraints[pe.ConstraintName]
		switch pe.Code {
		case "23505": // unique_violation
			if known {
				return &domain.Error{Code: domain.CodeConflict, Field: c.field, Msg: c.msg}
			}
			return &domain.Error{Code: domain.CodeConflict, Msg: entity + " already exists"}
		case "23514": // check_violation
			if known {
				return &domain.Error{Code: domain.CodeInvalid, Field: c.field, Msg: c.msg}
			}
			return &domain.Error{Code: domain.CodeInvalid, Msg: "invalid " + entity}
		case "23503": // foreign_key_violation
			if known {
				for _, r := range refs {
					if r.field == c.field {
						return domain.FieldError(c.field, "%s %d does not exist", c.msg, r.id)
					}
				}
				return domain.FieldError(c.field, "%s does not exist", c.msg)
			}
			return &domain.Error{Code: domain.CodeInvalid, Msg: "a referenced row does not exist"}
		case "23502": // not_null_violation
			return domain.FieldError(pe.ColumnName, "is required")
		case "22001", "22003": // string too long, numeric out of range
			return domain.FieldError(pe.ColumnName, "is out of range")
		}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

func notFound(entity string, id any) *domain.Error {
	if s, ok := id.(string); ok {
		return domain.Errorf(domain.CodeNotFound, "%s %q not found", entity, s)
	}
	return domain.Errorf(domain.CodeNotFound, "%s %v not found", entity, id)
}

// int32Field converts v for an integer column, rejecting what does not fit.
func int32Field(field string, v int) (int32, error) {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, domain.FieldError(field, "is out of range")
	}
	return int32(v), nil
}

// msField converts a duration to whole milliseconds for an integer column.
func msField(field string, d time.Duration) (int32, error) {
	ms := d.Milliseconds()
	if ms < math.MinInt32 || ms > math.MaxInt32 {
		return 0, domain.FieldError(field, "is out of range (at most 24 days)")
	}
	return int32(ms), nil
}

func ms(v int32) time.Duration { return time.Duration(v) * time.Millisecond }

func optID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func derefID(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
