package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
)

// Admin holds the configuration use cases behind the admin API. Every change
// is validated, written, applied to this replica at once (Reload) and to the
// others through the database's change feed.
type Admin struct {
	providers    ports.ProviderStore
	keys         ports.KeyStore
	models       ports.ModelStore
	clientKeys   ports.ClientKeyStore
	health       ports.HealthStore
	logs         ports.RequestLogStore
	rotations    ports.RotationStore
	orchestrator ports.Orchestrator // may be nil
	svc          *Service
	log          *slog.Logger
	denyPrivate  bool
	lookup       func(ctx context.Context, host string) ([]netip.Addr, error)
}

// AdminDeps are the Admin's dependencies; only Orchestrator may be nil.
type AdminDeps struct {
	Providers    ports.ProviderStore
	Keys         ports.KeyStore
	Models       ports.ModelStore
	ClientKeys   ports.ClientKeyStore
	Health       ports.HealthStore
	Logs         ports.RequestLogStore
	Rotations    ports.RotationStore
	Orchestrator ports.Orchestrator
	Service      *Service
	Logger       *slog.Logger
	// DenyPrivateUpstreams refuses provider base URLs whose host resolves to
	// a non-public address (domain.NonPublicAddr); UPSTREAM_ALLOW_PRIVATE=false.
	DenyPrivateUpstreams bool
	// LookupHost resolves a host name; default net.DefaultResolver.
	LookupHost func(ctx context.Context, host string) ([]netip.Addr, error)
}

// NewAdmin checks the dependencies and returns an Admin.
func NewAdmin(d AdminDeps) (*Admin, error) {
	if d.Providers == nil || d.Keys == nil || d.Models == nil || d.ClientKeys == nil || d.Health == nil ||
		d.Logs == nil || d.Rotations == nil || d.Service == nil || d.Logger == nil {
		return nil, errors.New("gateway: NewAdmin needs every dependency but Orchestrator")
	}
	lookup := d.LookupHost
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	return &Admin{providers: d.Providers, keys: d.Keys, models: d.Models, clientKeys: d.ClientKeys, health: d.Health,
		logs: d.Logs, rotations: d.Rotations, orchestrator: d.Orchestrator, svc: d.Service, log: d.Logger,
		denyPrivate: d.DenyPrivateUpstreams, lookup: lookup}, nil
}

// checkUpstream refuses a base URL whose host is or resolves to a
// non-public address when private upstreams are denied. The dialer checks
// again at every connection (DNS may change); this check gives the clear
// error at configuration time.
func (a *Admin) checkUpstream(ctx context.Context, baseURL string) error {
	if !a.denyPrivate {
		return nil
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return domain.FieldError("base_url", "must be an absolute http or https URL")
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, perr := netip.ParseAddr(host); perr == nil {
		addrs = []netip.Addr{ip}
	} else {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err = a.lookup(lctx, host)
		cancel()
		if err != nil || len(addrs) == 0 {
			return domain.FieldError("base_url", "host %q does not resolve, so it cannot be checked against UPSTREAM_ALLOW_PRIVATE=false", host)
		}
	}
	for _, ip := range addrs {
		if domain.NonPublicAddr(ip) {
			return domain.FieldError("base_url", "host %q resolves to the non-public address %s, refused by UPSTREAM_ALLOW_PRIVATE=false", host, ip)
		}
	}
	return nil
}

// applied reloads this replica's snapshot after a change. A failed reload is
// logged, not returned: the change is stored and the change feed reloads
// again.
func (a *Admin) applied(ctx context.Context) {
	if err := a.svc.Reload(ctx); err != nil {
		a.log.Error("configuration changed but could not be reloaded", "err", err)
	}
}

// syncSchedule tells the orchestrator about a provider change in the
// background: the admin API does not wait on Temporal.
func (a *Admin) syncSchedule(p domain.Provider, deleted bool) {
	if a.orchestrator == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := a.orchestrator.SyncHealthSchedule(ctx, p, deleted); err != nil {
			a.log.Warn("health schedule not updated; the worker re-syncs schedules when it starts", "provider", p.Name, "err", err)
		}
	}()
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

var headerNameRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// ValidateProvider checks a provider and fills its defaults.
func ValidateProvider(p *domain.Provider) error {
	p.Name = strings.TrimSpace(p.Name)
	if !nameRe.MatchString(p.Name) {
		return domain.FieldError("name", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if !p.Kind.Valid() {
		return domain.FieldError("kind", "%q is not one of openai, anthropic, volcengine, openai_compatible", p.Kind)
	}
	if p.BaseURL == "" {
		p.BaseURL = p.Kind.DefaultBaseURL()
		if p.BaseURL == "" {
			return domain.FieldError("base_url", "is required for openai_compatible providers")
		}
	}
	u, err := url.Parse(p.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return domain.FieldError("base_url", "must be an absolute http or https URL")
	}
	if u.User != nil {
		return domain.FieldError("base_url", "must not contain credentials; add them as provider keys")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return domain.FieldError("base_url", "must not have a query or fragment")
	}
	p.BaseURL = strings.TrimRight(p.BaseURL, "/")
	for name, d := range map[string]time.Duration{"timeouts.connect_ms": p.Timeouts.Connect, "timeouts.first_byte_ms": p.Timeouts.FirstByte, "timeouts.idle_ms": p.Timeouts.Idle, "timeouts.total_ms": p.Timeouts.Total} {
		if d < 0 {
			return domain.FieldError(name, "must not be negative")
		}
		if d > 24*time.Hour {
			return domain.FieldError(name, "must be at most 24 hours")
		}
	}
	for k, v := range p.Headers {
		if !headerNameRe.MatchString(k) {
			return domain.FieldError("headers."+k, "is not a valid header name")
		}
		if domain.ForbiddenHeader(k) {
			return domain.FieldError("headers."+k, "cannot be set as an extra header; API keys are added as provider keys")
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return domain.FieldError("headers."+k, "must not contain line breaks")
		}
	}
	return nil
}

// ProviderRef resolves a provider by numeric id, else by name (names may be
// numeric too).
func (a *Admin) ProviderRef(ctx context.Context, ref string) (domain.Provider, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		if p, err := a.providers.GetProvider(ctx, id); err == nil || domain.ErrorCode(err) != domain.CodeNotFound {
			return p, err
		}
	}
	return a.providers.GetProviderByName(ctx, ref)
}

// CreateProvider validates and stores a provider.
func (a *Admin) CreateProvider(ctx context.Context, p domain.Provider) (domain.Provider, error) {
	if err := ValidateProvider(&p); err != nil {
		return domain.Provider{}, err
	}
	if err := a.checkUpstream(ctx, p.BaseURL); err != nil {
		return domain.Provider{}, err
	}
	out, err := a.providers.CreateProvider(ctx, p)
	if err != nil {
		return out, err
	}
	a.applied(ctx)
	a.syncSchedule(out, false)
	return out, nil
}

// ListProviders lists providers.
func (a *Admin) ListProviders(ctx context.Context) ([]domain.Provider, error) {
	return a.providers.ListProviders(ctx)
}

// UpdateProvider changes a provider through fn and validates the result.
//
// A change of base_url or kind changes where the provider's keys are sent,
// so whoever makes it must know the keys: when the provider has keys, the
// change is refused (naming the field) unless newKeys re-supplies them.
// newKeys, when given, replace every stored key: the old ones are deleted
// before the change is stored and the new ones added after it, so a stored
// key is never sent to a place it was not given for (a failure in between
// leaves the provider without keys, never with old keys at a new place).
func (a *Admin) UpdateProvider(ctx context.Context, ref string, fn func(*domain.Provider) error, newKeys []NewKey) (domain.Provider, error) {
	cur, err := a.ProviderRef(ctx, ref)
	if err != nil {
		return cur, err
	}
	// Apply fn to a copy first: the rule needs the outcome before anything
	// is written.
	want := cur
	want.Headers = maps.Clone(cur.Headers)
	if err := fn(&want); err != nil {
		return cur, err
	}
	if err := ValidateProvider(&want); err != nil {
		return cur, err
	}
	if want.BaseURL != cur.BaseURL {
		if err := a.checkUpstream(ctx, want.BaseURL); err != nil {
			return cur, err
		}
	}
	keys := make([]domain.ProviderKey, 0, len(newKeys))
	for i, nk := range newKeys {
		k, err := validateNewKey(nk)
		if err != nil {
			var de *domain.Error
			if errors.As(err, &de) {
				return cur, domain.FieldError("keys["+strconv.Itoa(i)+"]."+de.Field, "%s", de.Msg)
			}
			return cur, err
		}
		k.ProviderID = cur.ID
		keys = append(keys, k)
	}
	moved := want.BaseURL != cur.BaseURL || want.Kind != cur.Kind
	var old []domain.ProviderKey
	if moved || len(keys) > 0 {
		if old, err = a.keys.ListKeys(ctx, cur.ID); err != nil {
			return cur, err
		}
	}
	if moved && len(old) > 0 && len(keys) == 0 {
		field := "base_url"
		if want.BaseURL == cur.BaseURL {
			field = "kind"
		}
		return cur, domain.FieldError(field, "changes where this provider's %d stored keys are sent; re-supply the keys in the same call (keys: [{\"secret\": ...}]), which replaces the stored ones, or delete the stored keys first", len(old))
	}
	for _, k := range old {
		if len(keys) == 0 {
			break
		}
		if err := a.keys.DeleteKey(ctx, k.ID); err != nil && domain.ErrorCode(err) != domain.CodeNotFound {
			return cur, err
		}
	}
	out, err := a.providers.UpdateProvider(ctx, cur.ID, func(p *domain.Provider) error {
		if p.BaseURL != cur.BaseURL || p.Kind != cur.Kind {
			return &domain.Error{Code: domain.CodeConflict, Field: "base_url", Msg: "the provider's base_url or kind changed concurrently; retry"}
		}
		if err := fn(p); err != nil {
			return err
		}
		return ValidateProvider(p)
	})
	if err != nil {
		if len(keys) > 0 && len(old) > 0 {
			a.applied(ctx) // the old keys are gone
		}
		return out, err
	}
	for _, k := range keys {
		if _, err := a.keys.AddKey(ctx, k); err != nil {
			a.applied(ctx)
			return out, err
		}
	}
	a.applied(ctx)
	a.syncSchedule(out, false)
	return out, nil
}

// DeleteProvider deletes a provider with its keys and routes.
func (a *Admin) DeleteProvider(ctx context.Context, ref string) error {
	cur, err := a.ProviderRef(ctx, ref)
	if err != nil {
		return err
	}
	if err := a.providers.DeleteProvider(ctx, cur.ID); err != nil {
		return err
	}
	a.applied(ctx)
	a.syncSchedule(cur, true)
	return nil
}

// NewKey is a key to add.
type NewKey struct {
	Name      string
	Secret    string
	Weight    *int
	ExpiresAt *time.Time
	Standby   bool
}

func validateNewKey(k NewKey) (domain.ProviderKey, error) {
	secret := strings.TrimSpace(k.Secret)
	if secret == "" {
		return domain.ProviderKey{}, domain.FieldError("secret", "is required")
	}
	if len(secret) < 8 || len(secret) > 4096 || strings.ContainsAny(secret, " \t\r\n") {
		return domain.ProviderKey{}, domain.FieldError("secret", "must be 8 to 4096 characters without white space")
	}
	w := 1
	if k.Weight != nil {
		w = *k.Weight
	}
	if w < 0 || w > 1000 {
		return domain.ProviderKey{}, domain.FieldError("weight", "must be between 0 and 1000")
	}
	if len(k.Name) > 128 {
		return domain.ProviderKey{}, domain.FieldError("name", "must be at most 128 characters")
	}
	status := domain.KeyActive
	if k.Standby {
		status = domain.KeyStandby
	}
	return domain.ProviderKey{Name: k.Name, Secret: secret, Weight: w, ExpiresAt: k.ExpiresAt, Status: status}, nil
}

// AddKey stores a new key for a provider. The secret is sealed by the store
// and never returned.
func (a *Admin) AddKey(ctx context.Context, ref string, in NewKey) (domain.ProviderKey, error) {
	p, err := a.ProviderRef(ctx, ref)
	if err != nil {
		return domain.ProviderKey{}, err
	}
	k, err := validateNewKey(in)
	if err != nil {
		return k, err
	}
	k.ProviderID = p.ID
	out, err := a.keys.AddKey(ctx, k)
	if err != nil {
		return out, err
	}
	a.applied(ctx)
	return out, nil
}

// ListKeys lists a provider's keys (without secrets).
func (a *Admin) ListKeys(ctx context.Context, ref string) ([]domain.ProviderKey, error) {
	p, err := a.ProviderRef(ctx, ref)
	if err != nil {
		return nil, err
	}
	return a.keys.ListKeys(ctx, p.ID)
}

func (a *Admin) providerKey(ctx context.Context, ref string, keyID int64) (domain.ProviderKey, error) {
	p, err := a.ProviderRef(ctx, ref)
	if err != nil {
		return domain.ProviderKey{}, err
	}
	k, err := a.keys.GetKey(ctx, keyID)
	if err != nil {
		return k, err
	}
	if k.ProviderID != p.ID {
		return domain.ProviderKey{}, domain.Errorf(domain.CodeNotFound, "key %d not found for provider %s", keyID, p.Name)
	}
	return k, nil
}

// SetKeyEnabled switches a key between active and disabled. Retired keys
// cannot be enabled again; invalid keys can (after the operator fixed the
// account).
func (a *Admin) SetKeyEnabled(ctx context.Context, ref string, keyID int64, enabled bool) (domain.ProviderKey, error) {
	k, err := a.providerKey(ctx, ref, keyID)
	if err != nil {
		return k, err
	}
	target := domain.KeyDisabled
	if enabled {
		target = domain.KeyActive
		if k.Status == domain.KeyRetired {
			return k, domain.Errorf(domain.CodeConflict, "key %d is retired and its secret wiped; add a new key", keyID)
		}
	}
	if k.Status == target {
		return k, nil
	}
	out, err := a.keys.SetKeyStatus(ctx, k.ID, k.Version, target, "")
	if err != nil {
		return out, err
	}
	a.applied(ctx)
	return out, nil
}

// UpdateKey changes a key's name, weight or expiry.
func (a *Admin) UpdateKey(ctx context.Context, ref string, keyID int64, name *string, weight *int, expiresAt *time.Time) (domain.ProviderKey, error) {
	if _, err := a.providerKey(ctx, ref, keyID); err != nil {
		return domain.ProviderKey{}, err
	}
	out, err := a.keys.UpdateKey(ctx, keyID, func(k *domain.ProviderKey) error {
		if name != nil {
			if len(*name) > 128 {
				return domain.FieldError("name", "must be at most 128 characters")
			}
			k.Name = *name
		}
		if weight != nil {
			if *weight < 0 || *weight > 1000 {
				return domain.FieldError("weight", "must be between 0 and 1000")
			}
			k.Weight = *weight
		}
		if expiresAt != nil {
			k.ExpiresAt = expiresAt
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	a.applied(ctx)
	return out, nil
}

// DeleteKey deletes a key.
func (a *Admin) DeleteKey(ctx context.Context, ref string, keyID int64) error {
	if _, err := a.providerKey(ctx, ref, keyID); err != nil {
		return err
	}
	if err := a.keys.DeleteKey(ctx, keyID); err != nil {
		return err
	}
	a.applied(ctx)
	return nil
}

// StartRotation stores the new secret as a standby key, then starts the
// durable rotation workflow with the key's id only.
func (a *Admin) StartRotation(ctx context.Context, ref string, in NewKey, oldKeyID int64) (domain.Rotation, domain.ProviderKey, error) {
	if a.orchestrator == nil {
		return domain.Rotation{}, domain.ProviderKey{}, domain.Errorf(domain.CodeUnavailable, "key rotation needs Temporal, which is not configured")
	}
	if err := a.orchestrator.Ready(ctx); err != nil {
		return domain.Rotation{}, domain.ProviderKey{}, domain.Errorf(domain.CodeUnavailable, "key rotation needs Temporal, which is not reachable now; retry later")
	}
	p, err := a.ProviderRef(ctx, ref)
	if err != nil {
		return domain.Rotation{}, domain.ProviderKey{}, err
	}
	if oldKeyID != 0 {
		old, err := a.providerKey(ctx, ref, oldKeyID)
		if err != nil {
			return domain.Rotation{}, domain.ProviderKey{}, domain.FieldError("old_key_id", "%s", err.Error())
		}
		if old.Status != domain.KeyActive && old.Status != domain.KeyDraining {
			return domain.Rotation{}, domain.ProviderKey{}, domain.FieldError("old_key_id", "key %d is %s, not active", old.ID, old.Status)
		}
	}
	in.Standby = true
	k, err := validateNewKey(in)
	if err != nil {
		return domain.Rotation{}, domain.ProviderKey{}, err
	}
	k.ProviderID = p.ID
	nk, err := a.keys.AddKey(ctx, k)
	if err != nil {
		return domain.Rotation{}, nk, err
	}
	rot, err := a.orchestrator.StartRotation(ctx, p.ID, nk.ID, oldKeyID)
	if err != nil {
		// Leave no orphan standby key behind.
		if derr := a.keys.DeleteKey(context.WithoutCancel(ctx), nk.ID); derr != nil {
			a.log.Warn("cannot remove the standby key of a rotation that did not start", "key_id", nk.ID, "err", derr)
		}
		return rot, nk, err
	}
	a.applied(ctx)
	return rot, nk, nil
}

// Rotation returns a rotation's state, live from the workflow when possible.
func (a *Admin) Rotation(ctx context.Context, id string) (domain.Rotation, error) {
	if a.orchestrator != nil {
		if r, err := a.orchestrator.RotationStatus(ctx, id); err == nil {
			return r, nil
		}
	}
	return a.rotations.GetRotation(ctx, id)
}

// ListRotations lists a provider's recent rotations.
func (a *Admin) ListRotations(ctx context.Context, ref string) ([]domain.Rotation, error) {
	p, err := a.ProviderRef(ctx, ref)
	if err != nil {
		return nil, err
	}
	return a.rotations.ListRotations(ctx, p.ID, 50)
}

// CancelRotation signals a rotation to stop and roll back.
func (a *Admin) CancelRotation(ctx context.Context, id string) error {
	if a.orchestrator == nil {
		return domain.Errorf(domain.CodeUnavailable, "key rotation needs Temporal, which is not configured")
	}
	return a.orchestrator.CancelRotation(ctx, id)
}

// ValidateModel checks a model and normalises its strategy config.
func ValidateModel(m *domain.Model) error {
	m.Name = strings.TrimSpace(m.Name)
	if err := domain.ValidateModelName("name", m.Name); err != nil {
		return err
	}
	if m.Strategy != "" && !m.Strategy.Valid() {
		names := make([]string, len(domain.Strategies))
		for i, s := range domain.Strategies {
			names[i] = string(s)
		}
		return domain.FieldError("strategy", "%q is not one of %s", m.Strategy, strings.Join(names, ", "))
	}
	if len(m.StrategyConfig) == 0 || string(m.StrategyConfig) == "null" {
		m.StrategyConfig = json.RawMessage("{}")
	}
	strategy := m.Strategy
	if strategy == "" {
		strategy = domain.StrategyAuto
	}
	if err := routing.ValidateStrategyConfig(strategy, m.StrategyConfig); err != nil {
		return err
	}
	if m.ContextWindow < 0 {
		return domain.FieldError("context_window", "must not be negative")
	}
	if m.DefaultMaxTokens < 0 {
		return domain.FieldError("default_max_tokens", "must not be negative")
	}
	return nil
}

// ModelRef resolves a model by numeric id or by name.
func (a *Admin) ModelRef(ctx context.Context, ref string) (domain.Model, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		if m, err := a.models.GetModel(ctx, id); err == nil || domain.ErrorCode(err) != domain.CodeNotFound {
			return m, err
		}
	}
	return a.models.GetModelByName(ctx, ref)
}

// CreateModel validates and stores a model.
func (a *Admin) CreateModel(ctx context.Context, m domain.Model) (domain.Model, error) {
	if err := ValidateModel(&m); err != nil {
		return m, err
	}
	out, err := a.models.CreateModel(ctx, m)
	if err != nil {
		return out, err
	}
	a.applied(ctx)
	return out, nil
}

// ListModels lists models with their routes.
func (a *Admin) ListModels(ctx context.Context) ([]domain.Model, error) {
	return a.models.ListModels(ctx)
}

// UpdateModel changes a model through fn and validates the result.
func (a *Admin) UpdateModel(ctx context.Context, ref string, fn func(*domain.Model) error) (domain.Model, error) {
	cur, err := a.ModelRef(ctx, ref)
	if err != nil {
		return cur, err
	}
	out, err := a.models.UpdateModel(ctx, cur.ID, func(m *domain.Model) error {
		if err := fn(m); err != nil {
			return err
		}
		return ValidateModel(m)
	})
	if err != nil {
		return out, err
	}
	a.applied(ctx)
	return out, nil
}

// DeleteModel deletes a model and its routes.
func (a *Admin) DeleteModel(ctx context.Context, ref string) error {
	cur, err := a.ModelRef(ctx, ref)
	if err != nil {
		return err
	}
	if err := a.models.DeleteModel(ctx, cur.ID); err != nil {
		return err
	}
	a.applied(ctx)
	return nil
}

// ValidateRoute checks a route.
func ValidateRoute(r *domain.Route) error {
	r.UpstreamModel = strings.TrimSpace(r.UpstreamModel)
	switch {
	case r.ProviderID <= 0:
		return domain.FieldError("provider", "is required")
	case r.UpstreamModel == "" || len(r.UpstreamModel) > 256:
		return domain.FieldError("upstream_model", "must be 1-256 characters")
	case r.Weight < 0 || r.Weight > 1000000:
		return domain.FieldError("weight", "must be between 0 and 1000000")
	case r.InputPrice < 0:
		return domain.FieldError("input_price", "must not be negative")
	case r.OutputPrice < 0:
		return domain.FieldError("output_price", "must not be negative")
	case r.CachedInputPrice < 0:
		return domain.FieldError("cached_input_price", "must not be negative")
	}
	return nil
}

// CreateRoute adds a route to a model; the provider is given by id or name.
func (a *Admin) CreateRoute(ctx context.Context, modelRef, providerRef string, r domain.Route) (domain.Route, error) {
	m, err := a.ModelRef(ctx, modelRef)
	if err != nil {
		return r, err
	}
	p, err := a.ProviderRef(ctx, providerRef)
	if err != nil {
		if domain.ErrorCode(err) == domain.CodeNotFound {
			return r, domain.FieldError("provider", "provider %q does not exist", providerRef)
		}
		return r, err
	}
	r.ModelID, r.ProviderID = m.ID, p.ID
	if err := ValidateRoute(&r); err != nil {
		return r, err
	}
	out, err := a.models.CreateRoute(ctx, r)
	if err != nil {
		return out, err
	}
	a.applied(ctx)
	return out, nil
}

// ListRoutes lists a model's routes.
func (a *Admin) ListRoutes(ctx context.Context, modelRef string) ([]domain.Route, error) {
	m, err := a.ModelRef(ctx, modelRef)
	if err != nil {
		return nil, err
	}
	return a.models.ListRoutes(ctx, m.ID)
}

func (a *Admin) modelRoute(ctx context.Context, modelRef string, routeID int64) (domain.Route, error) {
	m, err := a.ModelRef(ctx, modelRef)
	if err != nil {
		return domain.Route{}, err
	}
	r, err := a.models.GetRoute(ctx, routeID)
	if err != nil {
		return r, err
	}
	if r.ModelID != m.ID {
		return domain.Route{}, domain.Errorf(domain.CodeNotFound, "route %d not found for model %s", routeID, m.Name)
	}
	return r, nil
}

// UpdateRoute changes a route through fn and validates the result.
func (a *Admin) UpdateRoute(ctx context.Context, modelRef string, routeID int64, fn func(*domain.Route) error) (domain.Route, error) {
	if _, err := a.modelRoute(ctx, modelRef, routeID); err != nil {
		return domain.Route{}, err
	}
	out, err := a.models.UpdateRoute(ctx, routeID, func(r *domain.Route) error {
		if err := fn(r); err != nil {
			return err
		}
		return ValidateRoute(r)
	})
	if err != nil {
		return out, err
	}
	a.applied(ctx)
	return out, nil
}

// DeleteRoute deletes a route.
func (a *Admin) DeleteRoute(ctx context.Context, modelRef string, routeID int64) error {
	if _, err := a.modelRoute(ctx, modelRef, routeID); err != nil {
		return err
	}
	if err := a.models.DeleteRoute(ctx, routeID); err != nil {
		return err
	}
	a.applied(ctx)
	return nil
}

// ClientKeyPrefix starts every client token.
const ClientKeyPrefix = "sk-ar-"

// NewClientToken returns a fresh random client token.
func NewClientToken() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return ClientKeyPrefix + hex.EncodeToString(b[:]), nil
}

// CreateClientKey creates a client key and returns its token, the only time
// it is ever shown.
func (a *Admin) CreateClientKey(ctx context.Context, name string) (domain.ClientKey, string, error) {
	return a.CreateLimitedClientKey(ctx, domain.ClientKey{Name: name})
}

// CreateLimitedClientKey creates a client key with spec's name, limits and
// metadata and returns its token, the only time it is ever shown.
func (a *Admin) CreateLimitedClientKey(ctx context.Context, spec domain.ClientKey) (domain.ClientKey, string, error) {
	spec.Name = strings.TrimSpace(spec.Name)
	if err := spec.Validate(); err != nil {
		return domain.ClientKey{}, "", err
	}
	token, err := NewClientToken()
	if err != nil {
		return domain.ClientKey{}, "", err
	}
	k := ClientKeyFor(spec.Name, token)
	k.Limits, k.Owner, k.Tags = spec.Limits, spec.Owner, spec.Tags
	out, err := a.clientKeys.CreateClientKey(ctx, k)
	if err != nil {
		return out, "", err
	}
	a.applied(ctx)
	return out, token, nil
}

// ClientKeyFor is the stored form of a token: its SHA-256 and a short
// prefix to recognise it by.
func ClientKeyFor(name, token string) domain.ClientKey {
	h := sha256.Sum256([]byte(token))
	return domain.ClientKey{Name: name, Hash: h[:], Prefix: token[:min(len(token), len(ClientKeyPrefix)+4)], Enabled: true}
}

// ListClientKeys lists client keys (digests are not returned by the API).
func (a *Admin) ListClientKeys(ctx context.Context) ([]domain.ClientKey, error) {
	return a.clientKeys.ListClientKeys(ctx)
}

// SetClientKeyEnabled revokes or restores a client key.
func (a *Admin) SetClientKeyEnabled(ctx context.Context, id int64, enabled bool) (domain.ClientKey, error) {
	out, err := a.clientKeys.SetClientKeyEnabled(ctx, id, enabled)
	if err != nil {
		return out, err
	}
	a.applied(ctx)
	return out, nil
}

// UpdateClientKey changes a client key's name, limits and metadata; fn
// edits the stored key, which is validated afterwards.
func (a *Admin) UpdateClientKey(ctx context.Context, id int64, fn func(*domain.ClientKey) error) (domain.ClientKey, error) {
	out, err := a.clientKeys.UpdateClientKey(ctx, id, func(k *domain.ClientKey) error {
		if err := fn(k); err != nil {
			return err
		}
		k.Name = strings.TrimSpace(k.Name)
		return k.Validate()
	})
	if err != nil {
		return out, err
	}
	a.applied(ctx)
	return out, nil
}

// ClientKeyStats aggregates the request log per client key.
func (a *Admin) ClientKeyStats(ctx context.Context, from, to time.Time) ([]domain.ClientKeyStats, error) {
	return a.logs.StatsByClientKey(ctx, from, to)
}

// DeleteClientKey deletes a client key.
func (a *Admin) DeleteClientKey(ctx context.Context, id int64) error {
	if err := a.clientKeys.DeleteClientKey(ctx, id); err != nil {
		return err
	}
	a.applied(ctx)
	return nil
}

// ProviderHealth is a provider's current health with its keys'.
type ProviderHealth struct {
	Provider domain.Provider
	Health   domain.Health
	Keys     []KeyHealth
	Routes   []routing.RouteStats
	Recent   []domain.HealthCheck
}

// KeyHealth is a key's current health.
type KeyHealth struct {
	Key    domain.ProviderKey
	Health domain.Health
}

// Health reports the health of every provider, or of one when ref is set,
// with its recent checks.
func (a *Admin) Health(ctx context.Context, ref string, recent int) ([]ProviderHealth, error) {
	var provs []domain.Provider
	if ref != "" {
		p, err := a.ProviderRef(ctx, ref)
		if err != nil {
			return nil, err
		}
		provs = []domain.Provider{p}
	} else {
		var err error
		if provs, err = a.providers.ListProviders(ctx); err != nil {
			return nil, err
		}
	}
	hs, err := a.health.ListHealth(ctx)
	if err != nil {
		return nil, err
	}
	byKey := map[healthKey]domain.Health{}
	for _, h := range hs {
		byKey[healthKey{h.ProviderID, h.KeyID}] = h
	}
	live := a.svc.Router().RouteStats()
	out := make([]ProviderHealth, 0, len(provs))
	for _, p := range provs {
		ph := ProviderHealth{Provider: p, Health: healthOr(byKey, p.ID, 0)}
		keys, err := a.keys.ListKeys(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			ph.Keys = append(ph.Keys, KeyHealth{Key: k, Health: healthOr(byKey, p.ID, k.ID)})
		}
		for _, rs := range live {
			if rs.ProviderID == p.ID {
				ph.Routes = append(ph.Routes, rs)
			}
		}
		if recent > 0 {
			if ph.Recent, err = a.health.RecentChecks(ctx, p.ID, recent); err != nil {
				return nil, err
			}
		}
		out = append(out, ph)
	}
	return out, nil
}

func healthOr(m map[healthKey]domain.Health, provider, key int64) domain.Health {
	if h, ok := m[healthKey{provider, key}]; ok {
		return h
	}
	return domain.Health{ProviderID: provider, KeyID: key, Status: domain.HealthUnknown}
}

// Stats aggregates the request log over [from, to).
func (a *Admin) Stats(ctx context.Context, from, to time.Time, byRoute bool) ([]domain.StatsRow, error) {
	if !to.After(from) {
		return nil, domain.FieldError("to", "must be after from")
	}
	if to.Sub(from) > 366*24*time.Hour {
		return nil, domain.FieldError("from", "the range must be at most 366 days")
	}
	return a.logs.Stats(ctx, from, to, byRoute)
}

// LiveStats returns the in-memory statistics of every route and key.
func (a *Admin) LiveStats() ([]routing.RouteStats, []routing.KeyStats) {
	return a.svc.Router().RouteStats(), a.svc.Router().KeyStats()
}

// RequestLogs pages through the request log.
func (a *Admin) RequestLogs(ctx context.Context, f domain.RequestLogFilter) ([]domain.RequestLog, error) {
	if f.Limit < 0 || f.Limit > 1000 {
		return nil, domain.FieldError("limit", "must be between 1 and 1000")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return nil, domain.FieldError("to", "must be after from")
	}
	return a.logs.ListRequestLogs(ctx, f)
}
