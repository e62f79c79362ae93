package memory

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// ---- ProviderStore

// CreateProvider stores p with a new ID.
func (s *Store) CreateProvider(_ context.Context, p domain.Provider) (domain.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p = copyProvider(p)
	if err := s.checkProvider(&p, 0); err != nil {
		return domain.Provider{}, err
	}
	p.ID = s.nextID()
	p.CreatedAt = now()
	p.UpdatedAt = p.CreatedAt
	s.providers[p.ID] = p
	s.notify("provider")
	return copyProvider(p), nil
}

// GetProvider returns one provider.
func (s *Store) GetProvider(_ context.Context, id int64) (domain.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.providers[id]
	if !ok {
		return domain.Provider{}, notFound("provider", id)
	}
	return copyProvider(p), nil
}

// GetProviderByName returns the provider with that name.
func (s *Store) GetProviderByName(_ context.Context, name string) (domain.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.providers {
		if p.Name == name {
			return copyProvider(p), nil
		}
	}
	return domain.Provider{}, notFound("provider", name)
}

// ListProviders returns every provider, by name.
func (s *Store) ListProviders(_ context.Context) ([]domain.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listProviders(), nil
}

func (s *Store) listProviders() []domain.Provider {
	out := make([]domain.Provider, 0, len(s.providers))
	for _, p := range s.providers {
		out = append(out, copyProvider(p))
	}
	slices.SortFunc(out, func(a, b domain.Provider) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// UpdateProvider lets fn change a provider under the store's lock.
func (s *Store) UpdateProvider(_ context.Context, id int64, fn func(*domain.Provider) error) (domain.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.providers[id]
	if !ok {
		return domain.Provider{}, notFound("provider", id)
	}
	p := copyProvider(cur)
	if err := fn(&p); err != nil {
		return domain.Provider{}, err
	}
	p = copyProvider(p)
	p.ID, p.CreatedAt, p.UpdatedAt = id, cur.CreatedAt, now()
	if err := s.checkProvider(&p, id); err != nil {
		return domain.Provider{}, err
	}
	s.providers[id] = p
	s.notify("provider")
	return copyProvider(p), nil
}

// DeleteProvider deletes a provider with its keys, routes, health, checks
// and rotations.
func (s *Store) DeleteProvider(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.providers[id]; !ok {
		return notFound("provider", id)
	}
	delete(s.providers, id)
	for kid, k := range s.keys {
		if k.key.ProviderID == id {
			delete(s.keys, kid)
		}
	}
	for rid, r := range s.routes {
		if r.ProviderID == id {
			delete(s.routes, rid)
		}
	}
	delete(s.providerHealth, id)
	for kid, h := range s.keyHealth {
		if h.ProviderID == id {
			delete(s.keyHealth, kid)
		}
	}
	s.checks = slices.DeleteFunc(s.checks, func(c checkRec) bool { return c.c.ProviderID == id })
	for rid, r := range s.rotations {
		if r.ProviderID == id {
			delete(s.rotations, rid)
		}
	}
	s.notify("provider", "key", "route", "health")
	return nil
}

// ---- KeyStore

// fingerprint is the PostgreSQL adapter's: "sha256:" and the first 12 hex
// digits of the secret's SHA-256.
func fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])[:12]
}

// last4 returns the last four characters of a secret, or "" for secrets
// shorter than eight characters.
func last4(secret string) string {
	r := []rune(secret)
	if len(r) < 8 {
		return ""
	}
	return string(r[len(r)-4:])
}

// AddKey seals k.Secret bound to the new key's row and stores the key.
func (s *Store) AddKey(_ context.Context, k domain.ProviderKey) (domain.ProviderKey, error) {
	if k.Secret == "" {
		return domain.ProviderKey{}, domain.FieldError("secret", "is required")
	}
	if k.Status == "" {
		k.Status = domain.KeyActive
	}
	if k.Fingerprint == "" {
		k.Fingerprint = fingerprint(k.Secret)
	}
	if k.Last4 == "" {
		k.Last4 = last4(k.Secret)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := int32Field("weight", k.Weight); err != nil {
		return domain.ProviderKey{}, err
	}
	id := s.nextID()
	ct, err := s.box.Seal([]byte(k.Secret), keyAD(k.ProviderID, id))
	if err != nil {
		return domain.ProviderKey{}, err
	}
	k = copyKey(k)
	if err := checkKey(&k, true); err != nil {
		return domain.ProviderKey{}, err
	}
	for _, o := range s.keys {
		if o.key.ProviderID == k.ProviderID && o.key.Fingerprint == k.Fingerprint {
			return domain.ProviderKey{}, conflict("secret", "this key is already registered for the provider")
		}
	}
	if _, ok := s.providers[k.ProviderID]; !ok {
		return domain.ProviderKey{}, missing("provider_id", "provider", k.ProviderID)
	}
	k.ID, k.Version, k.CreatedAt, k.RotatedAt, k.LastError = id, 1, now(), nil, ""
	k.ExpiresAt = truncPtr(k.ExpiresAt)
	s.keys[id] = &keyRec{key: k, ciphertext: ct}
	s.notify("key")
	return copyKey(k), nil
}

// GetKey returns a key without its secret.
func (s *Store) GetKey(_ context.Context, id int64) (domain.ProviderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return domain.ProviderKey{}, notFound("key", id)
	}
	return copyKey(k.key), nil
}

// ListKeys returns a provider's keys without secrets, by id.
func (s *Store) ListKeys(_ context.Context, providerID int64) ([]domain.ProviderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.providers[providerID]; !ok {
		return nil, notFound("provider", providerID)
	}
	out := []domain.ProviderKey{}
	for _, k := range s.keys {
		if k.key.ProviderID == providerID {
			out = append(out, copyKey(k.key))
		}
	}
	slices.SortFunc(out, func(a, b domain.ProviderKey) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// KeySecret opens one key's secret; a key whose secret does not open is
// marked invalid.
func (s *Store) KeySecret(_ context.Context, id int64) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return "", notFound("key", id)
	}
	if k.ciphertext == nil {
		return "", domain.Errorf(domain.CodeConflict, "key %d is %s and has no secret", id, k.key.Status)
	}
	secret, ok := s.open(k)
	if !ok {
		return "", domain.Errorf(domain.CodeConflict, "key %d: %s", id, domain.KeyErrorUndecryptable)
	}
	return secret, nil
}

// open decrypts a key's secret, marking the key invalid when it does not
// open. The caller holds the lock.
func (s *Store) open(k *keyRec) (string, bool) {
	pt, err := s.box.Open(k.ciphertext, keyAD(k.key.ProviderID, k.key.ID))
	if err == nil && len(pt) > 0 {
		return string(pt), true
	}
	if k.key.Status != domain.KeyInvalid || k.key.LastError != domain.KeyErrorUndecryptable {
		k.key.Status, k.key.LastError = domain.KeyInvalid, domain.KeyErrorUndecryptable
		k.key.Version++
		s.notify("key")
	}
	return "", false
}

// SetKeyStatus changes a key's status if its version is expectedVersion.
func (s *Store) SetKeyStatus(_ context.Context, id, expectedVersion int64, status domain.KeyStatus, lastError string) (domain.ProviderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return domain.ProviderKey{}, notFound("key", id)
	}
	if k.key.Version != expectedVersion {
		return domain.ProviderKey{}, domain.Errorf(domain.CodeConflict,
			"key %d was changed concurrently: version is %d, expected %d", id, k.key.Version, expectedVersion)
	}
	next := k.key
	next.Status, next.LastError = status, lastError
	next.Version++
	ct := k.ciphertext
	if status == domain.KeyRetired {
		ct = nil
	}
	if err := checkKey(&next, ct != nil); err != nil {
		return domain.ProviderKey{}, err
	}
	if (status == domain.KeyActive || status == domain.KeyDraining || status == domain.KeyRetired) && k.key.Status != status {
		t := now()
		next.RotatedAt = &t
	}
	k.key, k.ciphertext = next, ct
	s.notify("key")
	return copyKey(next), nil
}

// UpdateKey lets fn change a key's name, weight and expiry, and bumps its
// version.
func (s *Store) UpdateKey(_ context.Context, id int64, fn func(*domain.ProviderKey) error) (domain.ProviderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return domain.ProviderKey{}, notFound("key", id)
	}
	changed := copyKey(k.key)
	if err := fn(&changed); err != nil {
		return domain.ProviderKey{}, err
	}
	next := k.key
	next.Name, next.Weight, next.ExpiresAt = changed.Name, changed.Weight, truncPtr(changed.ExpiresAt)
	next.Version++
	if err := checkKey(&next, k.ciphertext != nil); err != nil {
		return domain.ProviderKey{}, err
	}
	k.key = next
	s.notify("key")
	return copyKey(next), nil
}

// DeleteKey deletes a key and its health.
func (s *Store) DeleteKey(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[id]; !ok {
		return notFound("key", id)
	}
	delete(s.keys, id)
	delete(s.keyHealth, id)
	s.notify("key", "health")
	return nil
}

// ListExpiringKeys returns active and draining keys that expire before t,
// soonest first.
func (s *Store) ListExpiringKeys(_ context.Context, before time.Time) ([]domain.ProviderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []domain.ProviderKey{}
	for _, k := range s.keys {
		st := k.key.Status
		if (st == domain.KeyActive || st == domain.KeyDraining) && k.key.ExpiresAt != nil && k.key.ExpiresAt.Before(before) {
			out = append(out, copyKey(k.key))
		}
	}
	slices.SortFunc(out, func(a, b domain.ProviderKey) int {
		if c := a.ExpiresAt.Compare(*b.ExpiresAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// CopyCiphertext copies one key's sealed secret onto another key, as an
// attacker with write access to the table might: for tests that the
// associated data binds a ciphertext to its row.
func (s *Store) CopyCiphertext(fromKeyID, toKeyID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, ok := s.keys[fromKeyID]
	if !ok {
		return notFound("key", fromKeyID)
	}
	to, ok := s.keys[toKeyID]
	if !ok {
		return notFound("key", toKeyID)
	}
	to.ciphertext = slices.Clone(from.ciphertext)
	return nil
}

// ---- ModelStore

// CreateModel stores m and its routes (whose ModelID is set), all or none.
func (s *Store) CreateModel(_ context.Context, m domain.Model) (domain.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	routes := m.Routes
	m = copyModel(m)
	if err := s.checkModel(&m, 0); err != nil {
		return domain.Model{}, err
	}
	m.ID = s.nextID()
	m.CreatedAt = now()
	m.UpdatedAt = m.CreatedAt
	s.models[m.ID] = m
	var created []int64
	for _, r := range routes {
		r.ModelID = m.ID
		out, err := s.createRoute(r)
		if err != nil {
			delete(s.models, m.ID)
			for _, id := range created {
				delete(s.routes, id)
			}
			return domain.Model{}, err
		}
		created = append(created, out.ID)
	}
	s.notify("model", "route")
	return s.modelWithRoutes(m), nil
}

// GetModel returns a model with its routes.
func (s *Store) GetModel(_ context.Context, id int64) (domain.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.models[id]
	if !ok {
		return domain.Model{}, notFound("model", id)
	}
	return s.modelWithRoutes(m), nil
}

// GetModelByName returns the model with that name, with its routes.
func (s *Store) GetModelByName(_ context.Context, name string) (domain.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.models {
		if m.Name == name {
			return s.modelWithRoutes(m), nil
		}
	}
	return domain.Model{}, notFound("model", name)
}

// ListModels returns every model with its routes, by name.
func (s *Store) ListModels(_ context.Context) ([]domain.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listModels(), nil
}

func (s *Store) listModels() []domain.Model {
	out := make([]domain.Model, 0, len(s.models))
	for _, m := range s.models {
		out = append(out, s.modelWithRoutes(m))
	}
	slices.SortFunc(out, func(a, b domain.Model) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// UpdateModel lets fn change a model (not its routes).
func (s *Store) UpdateModel(_ context.Context, id int64, fn func(*domain.Model) error) (domain.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.models[id]
	if !ok {
		return domain.Model{}, notFound("model", id)
	}
	m := s.modelWithRoutes(cur)
	if err := fn(&m); err != nil {
		return domain.Model{}, err
	}
	m = copyModel(m)
	m.ID, m.CreatedAt, m.UpdatedAt = id, cur.CreatedAt, now()
	if err := s.checkModel(&m, id); err != nil {
		return domain.Model{}, err
	}
	s.models[id] = m
	s.notify("model")
	return s.modelWithRoutes(m), nil
}

// DeleteModel deletes a model and its routes.
func (s *Store) DeleteModel(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.models[id]; !ok {
		return notFound("model", id)
	}
	delete(s.models, id)
	for rid, r := range s.routes {
		if r.ModelID == id {
			delete(s.routes, rid)
		}
	}
	s.notify("model", "route")
	return nil
}

func (s *Store) createRoute(r domain.Route) (domain.Route, error) {
	if err := s.checkRoute(&r, 0); err != nil {
		return domain.Route{}, err
	}
	r.ID = s.nextID()
	r.CreatedAt = now()
	r.UpdatedAt = r.CreatedAt
	s.routes[r.ID] = r
	return r, nil
}

// CreateRoute stores a route.
func (s *Store) CreateRoute(_ context.Context, r domain.Route) (domain.Route, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.createRoute(r)
	if err != nil {
		return domain.Route{}, err
	}
	s.notify("route")
	return out, nil
}

// GetRoute returns one route.
func (s *Store) GetRoute(_ context.Context, id int64) (domain.Route, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.routes[id]
	if !ok {
		return domain.Route{}, notFound("route", id)
	}
	return r, nil
}

// ListRoutes returns a model's routes by priority, then id.
func (s *Store) ListRoutes(_ context.Context, modelID int64) ([]domain.Route, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.models[modelID]; !ok {
		return nil, notFound("model", modelID)
	}
	return s.routesOf(modelID), nil
}

// UpdateRoute lets fn change a route; it cannot move to another model.
func (s *Store) UpdateRoute(_ context.Context, id int64, fn func(*domain.Route) error) (domain.Route, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.routes[id]
	if !ok {
		return domain.Route{}, notFound("route", id)
	}
	r := cur
	if err := fn(&r); err != nil {
		return domain.Route{}, err
	}
	r.ID, r.ModelID, r.CreatedAt, r.UpdatedAt = id, cur.ModelID, cur.CreatedAt, now()
	if err := s.checkRoute(&r, id); err != nil {
		return domain.Route{}, err
	}
	s.routes[id] = r
	s.notify("route")
	return r, nil
}

// DeleteRoute deletes a route.
func (s *Store) DeleteRoute(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.routes[id]; !ok {
		return notFound("route", id)
	}
	delete(s.routes, id)
	s.notify("route")
	return nil
}

// ---- ClientKeyStore

func copyClientKey(k domain.ClientKey) domain.ClientKey {
	k.Hash = slices.Clone(k.Hash)
	k.LastUsedAt = optCopy(k.LastUsedAt)
	k.ExpiresAt = optCopy(k.ExpiresAt)
	k.Allow = nonNil(slices.Clone(k.Allow))
	k.Tags = nonNil(slices.Clone(k.Tags))
	return k
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func checkLimits(k *domain.ClientKey) error {
	switch {
	case k.RPM < 0:
		return invalid("rpm", "must not be negative")
	case k.TPM < 0:
		return invalid("tpm", "must not be negative")
	case k.Budget.USD < 0:
		return invalid("budget.usd", "must not be negative")
	case k.Budget.Period != "" && !k.Budget.Period.Valid():
		return invalid("budget.period", "must be one of daily, monthly, total")
	}
	return nil
}

// UpdateClientKey changes a client key's name, limits and metadata.
func (s *Store) UpdateClientKey(_ context.Context, id int64, fn func(*domain.ClientKey) error) (domain.ClientKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.clientKeys[id]
	if !ok {
		return domain.ClientKey{}, notFound("client key", id)
	}
	k := copyClientKey(old)
	if err := fn(&k); err != nil {
		return domain.ClientKey{}, err
	}
	if err := checkLimits(&k); err != nil {
		return domain.ClientKey{}, err
	}
	for oid, o := range s.clientKeys {
		if oid != id && o.Name == k.Name {
			return domain.ClientKey{}, conflict("name", "is already used by another client key")
		}
	}
	// Only name, limits and metadata change.
	next := old
	next.Name, next.Limits, next.Owner, next.Tags = k.Name, k.Limits, k.Owner, k.Tags
	next = copyClientKey(next)
	s.clientKeys[id] = next
	s.notify("client_key")
	return copyClientKey(next), nil
}

// CreateClientKey stores a client key.
func (s *Store) CreateClientKey(_ context.Context, k domain.ClientKey) (domain.ClientKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(k.Hash) != sha256.Size {
		return domain.ClientKey{}, invalid("hash", "must be a SHA-256 digest (32 bytes)")
	}
	if err := checkLimits(&k); err != nil {
		return domain.ClientKey{}, err
	}
	for _, o := range s.clientKeys {
		if o.Name == k.Name {
			return domain.ClientKey{}, conflict("name", "is already used by another client key")
		}
	}
	for _, o := range s.clientKeys {
		if string(o.Hash) == string(k.Hash) {
			return domain.ClientKey{}, conflict("hash", "this token is already registered")
		}
	}
	k = copyClientKey(k)
	k.ID, k.CreatedAt, k.LastUsedAt = s.nextID(), now(), nil
	s.clientKeys[k.ID] = k
	s.notify("client_key")
	return copyClientKey(k), nil
}

// ListClientKeys returns every client key, by id.
func (s *Store) ListClientKeys(_ context.Context) ([]domain.ClientKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listClientKeys(), nil
}

func (s *Store) listClientKeys() []domain.ClientKey {
	out := make([]domain.ClientKey, 0, len(s.clientKeys))
	for _, k := range s.clientKeys {
		out = append(out, copyClientKey(k))
	}
	slices.SortFunc(out, func(a, b domain.ClientKey) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// SetClientKeyEnabled enables or disables a client key.
func (s *Store) SetClientKeyEnabled(_ context.Context, id int64, enabled bool) (domain.ClientKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.clientKeys[id]
	if !ok {
		return domain.ClientKey{}, notFound("client key", id)
	}
	k.Enabled = enabled
	s.clientKeys[id] = k
	s.notify("client_key")
	return copyClientKey(k), nil
}

// DeleteClientKey deletes a client key.
func (s *Store) DeleteClientKey(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clientKeys[id]; !ok {
		return notFound("client key", id)
	}
	delete(s.clientKeys, id)
	s.notify("client_key")
	return nil
}

// TouchClientKeys records last use; a time never moves back and unknown
// ids are ignored. It does not notify (last use does not change routing).
func (s *Store) TouchClientKeys(_ context.Context, used map[int64]time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range used {
		k, ok := s.clientKeys[id]
		if !ok {
			continue
		}
		t = trunc(t)
		if k.LastUsedAt == nil || t.After(*k.LastUsedAt) {
			k.LastUsedAt = &t
			s.clientKeys[id] = k
		}
	}
	return nil
}

// ---- ConfigLoader

// LoadConfig returns a consistent snapshot: active and draining keys come
// with their secrets (a key whose secret does not open is marked invalid
// and returned without secret); retired keys are left out.
func (s *Store) LoadConfig(_ context.Context) (ports.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := ports.Config{
		Providers:  s.listProviders(),
		Keys:       []domain.ProviderKey{},
		Models:     s.listModels(),
		ClientKeys: s.listClientKeys(),
		Health:     s.listHealth(),
	}
	ids := make([]int64, 0, len(s.keys))
	for id, k := range s.keys {
		if k.key.Status != domain.KeyRetired {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b int64) int {
		ka, kb := s.keys[a].key, s.keys[b].key
		if c := cmp.Compare(ka.ProviderID, kb.ProviderID); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, id := range ids {
		rec := s.keys[id]
		k := copyKey(rec.key)
		if k.Status == domain.KeyActive || k.Status == domain.KeyDraining {
			if secret, ok := s.open(rec); ok {
				k.Secret = secret
			} else {
				k = copyKey(rec.key)
			}
		}
		cfg.Keys = append(cfg.Keys, k)
	}
	return cfg, nil
}
