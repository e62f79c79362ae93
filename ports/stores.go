package ports

import (
	"context"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// Stores return *domain.Error with CodeNotFound for missing rows, CodeConflict
// for unique-constraint and compare-and-swap failures and CodeInvalid for
// other constraint violations.

// ProviderStore keeps providers.
type ProviderStore interface {
	CreateProvider(ctx context.Context, p domain.Provider) (domain.Provider, error)
	GetProvider(ctx context.Context, id int64) (domain.Provider, error)
	GetProviderByName(ctx context.Context, name string) (domain.Provider, error)
	ListProviders(ctx context.Context) ([]domain.Provider, error)
	// UpdateProvider reads, changes and writes one provider in a transaction.
	UpdateProvider(ctx context.Context, id int64, fn func(*domain.Provider) error) (domain.Provider, error)
	// DeleteProvider deletes a provider with its keys, health and routes.
	DeleteProvider(ctx context.Context, id int64) error
}

// KeyStore keeps provider keys. Secrets are sealed with a SecretBox the
// implementation holds; the associated data is the key's row identity.
type KeyStore interface {
	// AddKey stores k (k.Secret is the plaintext) and returns it without the
	// secret.
	AddKey(ctx context.Context, k domain.ProviderKey) (domain.ProviderKey, error)
	GetKey(ctx context.Context, id int64) (domain.ProviderKey, error)
	// ListKeys returns a provider's keys without secrets.
	ListKeys(ctx context.Context, providerID int64) ([]domain.ProviderKey, error)
	// KeySecret decrypts one key's secret. A key whose secret cannot be
	// opened is marked invalid and an error is returned; never an empty key.
	KeySecret(ctx context.Context, id int64) (string, error)
	// SetKeyStatus changes a key's status if its version is still
	// expectedVersion (compare-and-swap); it bumps the version and returns the
	// new row. Retiring a key wipes its secret. A version mismatch is a
	// CodeConflict error.
	SetKeyStatus(ctx context.Context, id, expectedVersion int64, status domain.KeyStatus, lastError string) (domain.ProviderKey, error)
	// UpdateKey changes name, weight and expiry (not the status) in a
	// transaction, bumping the version.
	UpdateKey(ctx context.Context, id int64, fn func(*domain.ProviderKey) error) (domain.ProviderKey, error)
	DeleteKey(ctx context.Context, id int64) error
	// ListExpiringKeys returns usable keys whose expiry is before t.
	ListExpiringKeys(ctx context.Context, before time.Time) ([]domain.ProviderKey, error)
}

// ModelStore keeps models and their routes.
type ModelStore interface {
	CreateModel(ctx context.Context, m domain.Model) (domain.Model, error)
	GetModel(ctx context.Context, id int64) (domain.Model, error)
	GetModelByName(ctx context.Context, name string) (domain.Model, error)
	ListModels(ctx context.Context) ([]domain.Model, error)
	UpdateModel(ctx context.Context, id int64, fn func(*domain.Model) error) (domain.Model, error)
	DeleteModel(ctx context.Context, id int64) error

	CreateRoute(ctx context.Context, r domain.Route) (domain.Route, error)
	GetRoute(ctx context.Context, id int64) (domain.Route, error)
	ListRoutes(ctx context.Context, modelID int64) ([]domain.Route, error)
	UpdateRoute(ctx context.Context, id int64, fn func(*domain.Route) error) (domain.Route, error)
	DeleteRoute(ctx context.Context, id int64) error
}

// ClientKeyStore keeps the router's own API keys (SHA-256 digests only).
type ClientKeyStore interface {
	CreateClientKey(ctx context.Context, k domain.ClientKey) (domain.ClientKey, error)
	ListClientKeys(ctx context.Context) ([]domain.ClientKey, error)
	SetClientKeyEnabled(ctx context.Context, id int64, enabled bool) (domain.ClientKey, error)
	// UpdateClientKey changes name, limits and metadata (not the token or
	// enabled) in a transaction.
	UpdateClientKey(ctx context.Context, id int64, fn func(*domain.ClientKey) error) (domain.ClientKey, error)
	DeleteClientKey(ctx context.Context, id int64) error
	// TouchClientKeys records last use, in one statement for many keys.
	TouchClientKeys(ctx context.Context, used map[int64]time.Time) error
}

// Config is everything the request path needs, loaded at once.
type Config struct {
	Providers  []domain.Provider
	Keys       []domain.ProviderKey // usable secrets decrypted; others without secret
	Models     []domain.Model       // with routes
	ClientKeys []domain.ClientKey
	Health     []domain.Health
}

// ConfigLoader loads a consistent snapshot of the configuration, or one part
// of it, so that a replica can apply one change without rereading the rest.
type ConfigLoader interface {
	LoadConfig(ctx context.Context) (Config, error)
	// LoadProvider reads one provider and its keys (secrets opened as in
	// LoadConfig); found is false when it no longer exists.
	LoadProvider(ctx context.Context, id int64) (pc ProviderConfig, found bool, err error)
	// LoadModel reads one model with its routes.
	LoadModel(ctx context.Context, id int64) (m domain.Model, found bool, err error)
	// LoadClientKey reads one client key.
	LoadClientKey(ctx context.Context, id int64) (k domain.ClientKey, found bool, err error)
}

// ProviderConfig is one provider with its keys.
type ProviderConfig struct {
	Provider domain.Provider
	Keys     []domain.ProviderKey
}

// HealthStore keeps current health and recent checks.
type HealthStore interface {
	// RecordChecks stores probe results and updates current health
	// (consecutive failures included).
	RecordChecks(ctx context.Context, checks []domain.HealthCheck) error
	// SetHealth overwrites the current health of a provider or key.
	SetHealth(ctx context.Context, h domain.Health) error
	ListHealth(ctx context.Context) ([]domain.Health, error)
	RecentChecks(ctx context.Context, providerID int64, limit int) ([]domain.HealthCheck, error)
}

// RequestLogStore keeps the request log and answers statistics queries.
type RequestLogStore interface {
	// InsertRequestLogs writes a batch in one round trip, all or nothing.
	// Text is stored cleaned (domain.RequestLog.CleanText). An error with
	// CodeInvalid means a row was refused for its content (the caller may
	// split the batch to find it); any other error may be transient.
	InsertRequestLogs(ctx context.Context, entries []domain.RequestLog) error
	ListRequestLogs(ctx context.Context, f domain.RequestLogFilter) ([]domain.RequestLog, error)
	// Stats aggregates the log between from and to, per model (byRoute
	// false) or per route (byRoute true).
	Stats(ctx context.Context, from, to time.Time, byRoute bool) ([]domain.StatsRow, error)
	// StatsByClientKey aggregates the log between from and to per client key.
	StatsByClientKey(ctx context.Context, from, to time.Time) ([]domain.ClientKeyStats, error)
}

// Change says what part of the configuration changed.
type Change struct {
	Kind ChangeKind
	// ID is the provider, key, model or client key that changed.
	ID int64
	// ProviderID is the key's provider (ChangeKey) or the health's
	// (ChangeHealth).
	ProviderID int64
	// Health is the current health as written (ChangeHealth; KeyID 0 for
	// the provider's own), or nil when the row was deleted.
	Health *domain.Health
}

// ChangeKind names what a Change is about.
type ChangeKind string

// The kinds of change. A route's change is its model's. ChangeResync means
// changes may have been missed: reread everything.
const (
	ChangeProvider  ChangeKind = "provider"
	ChangeKey       ChangeKind = "key"
	ChangeModel     ChangeKind = "model"
	ChangeClientKey ChangeKind = "client_key"
	ChangeHealth    ChangeKind = "health"
	ChangeResync    ChangeKind = "resync"
)

// ChangeFeed tells every replica about configuration changes; the stores'
// writes publish them (in PostgreSQL, through triggers).
type ChangeFeed interface {
	// Listen calls fn for every change published by any replica until ctx
	// ends; it reconnects on failure and calls fn with ChangeResync each
	// time it starts listening, since changes may have been missed.
	Listen(ctx context.Context, fn func(Change)) error
}

// Orchestrator starts and inspects durable work (Temporal). The request path
// never waits on it; calls are made in the background or from the admin API.
type Orchestrator interface {
	// SyncHealthSchedule creates, updates or (for disabled or deleted
	// providers) deletes the provider's health-check schedule.
	SyncHealthSchedule(ctx context.Context, p domain.Provider, deleted bool) error
	// StartRecovery starts the provider's recovery probe unless one runs.
	StartRecovery(ctx context.Context, providerID int64) error
	// StartRotation starts rotating from oldKeyID (0: every active key) to
	// newKeyID, which is stored as standby.
	StartRotation(ctx context.Context, providerID, newKeyID, oldKeyID int64) (domain.Rotation, error)
	RotationStatus(ctx context.Context, id string) (domain.Rotation, error)
	CancelRotation(ctx context.Context, id string) error
	// Ready reports whether the orchestrator is reachable.
	Ready(ctx context.Context) error
}

// RotationStore keeps the progress of key rotations as the rotation workflow
// reports it, for the admin API.
type RotationStore interface {
	SaveRotation(ctx context.Context, r domain.Rotation) (domain.Rotation, error)
	GetRotation(ctx context.Context, id string) (domain.Rotation, error)
	ListRotations(ctx context.Context, providerID int64, limit int) ([]domain.Rotation, error)
}

// LimitKind names what a limit counter counts.
type LimitKind string

const (
	LimitBudget LimitKind = "budget" // USD per budget period
	LimitRPM    LimitKind = "rpm"    // requests per minute
	LimitTPM    LimitKind = "tpm"    // tokens per minute
)

// LeaseRequest settles a replica's use of its lease on one counter (a client
// key's limit in one window) and asks for more or returns some.
type LeaseRequest struct {
	ClientKeyID int64
	Kind        LimitKind
	Window      time.Time // UTC start of the window
	Cap         float64   // the limit for the window
	Replica     string    // the asking replica's id
	Used        float64   // spent out of the held lease since the last sync
	Delta       float64   // > 0: grant up to this much more; < 0: return this much
	TTL         time.Duration
}

// LeaseGrant is the answer to a LeaseRequest.
type LeaseGrant struct {
	Granted float64 // added to the replica's lease (negative: returned)
	Free    float64 // what nobody holds after the grant
	Held    float64 // the replica's lease now
}

// LeaseStore is the shared ledger of client-key limits. Every sync is one
// atomic statement: concurrent replicas can never be granted more than the
// cap, and a lease that is not renewed within its TTL returns to the
// counter.
type LeaseStore interface {
	SyncLease(ctx context.Context, r LeaseRequest) (LeaseGrant, error)
}

// StoredResponse is a stored Responses API response (POST /v1/responses
// with store: true). Input and Response are JSON as the HTTP adapter's codec
// writes them (the full input items; the response object with its output
// items); the store does not look inside.
type StoredResponse struct {
	ID                 string
	Owner              int64 // the client key that created it; 0 without keys
	Model              string
	PreviousResponseID string // "" when none
	Input, Response    []byte
	CreatedAt          time.Time
	ExpiresAt          *time.Time // nil: kept until deleted
}
