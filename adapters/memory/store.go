// Package memory implements the store ports in memory, for tests of the
// core. It follows the PostgreSQL adapter's semantics: the same error codes
// and fields for constraint violations, compare-and-swap on key versions,
// cascading deletes, secrets sealed with the SecretBox, and a change
// notification for every configuration write.
package memory

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// Store implements every store port and the change feed.
type Store struct {
	box ports.SecretBox

	mu             sync.Mutex
	seq            int64 // ids for every table, like independent sequences would give
	providers      map[int64]domain.Provider
	keys           map[int64]*keyRec
	models         map[int64]domain.Model // without routes
	routes         map[int64]domain.Route
	providerHealth map[int64]domain.Health
	keyHealth      map[int64]domain.Health
	checks         []checkRec
	clientKeys     map[int64]domain.ClientKey
	logs           []domain.RequestLog
	rotations      map[string]domain.Rotation

	feed feed
}

type keyRec struct {
	key        domain.ProviderKey // without secret
	ciphertext []byte             // nil once retired
}

type checkRec struct {
	id int64
	c  domain.HealthCheck
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

// New returns an empty Store that seals provider keys with box.
func New(box ports.SecretBox) (*Store, error) {
	if box == nil {
		return nil, errors.New("memory: New: nil secret box")
	}
	return &Store{
		box:            box,
		providers:      map[int64]domain.Provider{},
		keys:           map[int64]*keyRec{},
		models:         map[int64]domain.Model{},
		routes:         map[int64]domain.Route{},
		providerHealth: map[int64]domain.Health{},
		keyHealth:      map[int64]domain.Health{},
		clientKeys:     map[int64]domain.ClientKey{},
		rotations:      map[string]domain.Rotation{},
		feed:           feed{listeners: map[*listener]struct{}{}},
	}, nil
}

func (s *Store) nextID() int64 {
	s.seq++
	return s.seq
}

// now has PostgreSQL's precision.
func now() time.Time { return time.Now().Truncate(time.Microsecond) }

func trunc(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

func truncPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := trunc(*t)
	return &v
}

func notFound(entity string, id any) *domain.Error {
	if s, ok := id.(string); ok {
		return domain.Errorf(domain.CodeNotFound, "%s %q not found", entity, s)
	}
	return domain.Errorf(domain.CodeNotFound, "%s %v not found", entity, id)
}

func conflict(field, msg string) *domain.Error {
	return &domain.Error{Code: domain.CodeConflict, Field: field, Msg: msg}
}

func invalid(field, msg string) *domain.Error {
	return &domain.Error{Code: domain.CodeInvalid, Field: field, Msg: msg}
}

func missing(field, entity string, id int64) *domain.Error {
	return domain.FieldError(field, "%s %d does not exist", entity, id)
}

// The messages of the PostgreSQL adapter's constraint table.
const (
	msgNegative     = "must not be negative"
	msgHealthStatus = "must be one of healthy, degraded, unhealthy, unknown"
)

func int32Field(field string, v int) error {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return domain.FieldError(field, "is out of range")
	}
	return nil
}

func msField(field string, d time.Duration) (time.Duration, error) {
	ms := d.Milliseconds()
	if ms < math.MinInt32 || ms > math.MaxInt32 {
		return 0, domain.FieldError(field, "is out of range (at most 24 days)")
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func optCopy(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := *t
	return &v
}

// ---- providers

// checkProvider normalizes p as the database would store it and applies its
// constraints (checks, then uniqueness), as PostgreSQL reports them.
func (s *Store) checkProvider(p *domain.Provider, self int64) error {
	var err error
	t := &p.Timeouts
	for _, d := range []*time.Duration{&t.Connect, &t.FirstByte, &t.Idle, &t.Total} {
		if *d, err = msField("timeouts", *d); err != nil {
			return err
		}
	}
	if !p.Kind.Valid() {
		return invalid("kind", "must be one of openai, anthropic, volcengine, openai_compatible")
	}
	if !domain.ValidProviderName(p.Name) {
		return invalid("name", "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if t.Connect < 0 || t.FirstByte < 0 || t.Idle < 0 || t.Total < 0 {
		return invalid("timeouts", msgNegative)
	}
	for id, o := range s.providers {
		if id != self && o.Name == p.Name {
			return conflict("name", "is already used by another provider")
		}
	}
	return nil
}

func copyProvider(p domain.Provider) domain.Provider {
	if len(p.Headers) == 0 {
		p.Headers = nil
	} else {
		h := make(map[string]string, len(p.Headers))
		for k, v := range p.Headers {
			h[k] = v
		}
		p.Headers = h
	}
	return p
}

// ---- keys

func keyAD(providerID, keyID int64) []byte {
	return []byte("airouter:provider_key:" + strconv.FormatInt(providerID, 10) + ":" + strconv.FormatInt(keyID, 10))
}

func checkKey(k *domain.ProviderKey, hasSecret bool) error {
	if err := int32Field("weight", k.Weight); err != nil {
		return err
	}
	if !hasSecret && k.Status != domain.KeyRetired {
		return invalid("status", "a retired key has no secret and cannot take another status")
	}
	if !k.Status.Valid() {
		return invalid("status", "must be one of active, standby, draining, retired, invalid, disabled")
	}
	if k.Weight < 0 {
		return invalid("weight", msgNegative)
	}
	return nil
}

func copyKey(k domain.ProviderKey) domain.ProviderKey {
	k.Secret = ""
	k.RotatedAt = optCopy(k.RotatedAt)
	k.ExpiresAt = optCopy(k.ExpiresAt)
	return k
}

// ---- models and routes

func strategyConfig(raw json.RawMessage) (json.RawMessage, error) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid(b) || b[0] != '{' {
		return nil, domain.FieldError("strategy_config", "must be a JSON object")
	}
	return slices.Clone(json.RawMessage(b)), nil
}

func (s *Store) checkModel(m *domain.Model, self int64) error {
	var err error
	if m.StrategyConfig, err = strategyConfig(m.StrategyConfig); err != nil {
		return err
	}
	if err := int32Field("context_window", m.ContextWindow); err != nil {
		return err
	}
	if err := int32Field("default_max_tokens", m.DefaultMaxTokens); err != nil {
		return err
	}
	if m.ContextWindow < 0 || m.DefaultMaxTokens < 0 {
		return invalid("context_window", "context_window and default_max_tokens must not be negative")
	}
	if n := utf8.RuneCountInString(m.Name); n < 1 || n > 256 {
		return invalid("name", "must be 1 to 256 characters")
	}
	if m.Strategy != "" && !m.Strategy.Valid() {
		return invalid("strategy", "must be empty or one of auto, specified_provider, fallback, weighted_round_robin, least_connections, response_time, cost_optimized, hybrid")
	}
	for id, o := range s.models {
		if id != self && o.Name == m.Name {
			return conflict("name", "is already used by another model")
		}
	}
	return nil
}

func (s *Store) checkRoute(r *domain.Route, self int64) error {
	if err := int32Field("weight", r.Weight); err != nil {
		return err
	}
	if err := int32Field("priority", r.Priority); err != nil {
		return err
	}
	if r.InputPrice < 0 || r.OutputPrice < 0 || r.CachedInputPrice < 0 {
		return invalid("input_price", "prices must not be negative")
	}
	if n := utf8.RuneCountInString(r.UpstreamModel); n < 1 || n > 256 {
		return invalid("upstream_model", "must be 1 to 256 characters")
	}
	if r.Weight < 0 {
		return invalid("weight", msgNegative)
	}
	for id, o := range s.routes {
		if id != self && o.ModelID == r.ModelID && o.ProviderID == r.ProviderID && o.UpstreamModel == r.UpstreamModel {
			return conflict("upstream_model", "the model already has a route to this provider and upstream model")
		}
	}
	if _, ok := s.models[r.ModelID]; !ok {
		return missing("model_id", "model", r.ModelID)
	}
	if _, ok := s.providers[r.ProviderID]; !ok {
		return missing("provider_id", "provider", r.ProviderID)
	}
	return nil
}

func copyModel(m domain.Model) domain.Model {
	m.StrategyConfig = slices.Clone(m.StrategyConfig)
	m.Routes = nil
	return m
}

// routesOf returns a model's routes by priority, then id.
func (s *Store) routesOf(modelID int64) []domain.Route {
	out := []domain.Route{}
	for _, r := range s.routes {
		if r.ModelID == modelID {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b domain.Route) int {
		if a.Priority != b.Priority {
			return cmp.Compare(a.Priority, b.Priority)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

func (s *Store) modelWithRoutes(m domain.Model) domain.Model {
	m = copyModel(m)
	m.Routes = s.routesOf(m.ID)
	return m
}

func validHealth(st domain.HealthStatus) bool {
	switch st {
	case domain.HealthHealthy, domain.HealthDegraded, domain.HealthUnhealthy, domain.HealthUnknown:
		return true
	}
	return false
}

// DefaultLimit and MaxLimit bound list queries, as in the PostgreSQL adapter.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}
