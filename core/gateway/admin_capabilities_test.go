package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/ports"
)

// capStore is a small in-memory model store and provider finder for the
// capability rules of the Models use case: providers "oai" (openai, id 1)
// and "claude" (anthropic, id 2); models and routes are kept as written.
// DeleteModel, ListModels and the like are not needed and stay nil.
type capStore struct {
	ports.ModelStore
	mu     sync.Mutex
	models map[int64]domain.Model
	routes map[int64]domain.Route
	nextID int64
}

var capProviders = []domain.Provider{
	{ID: 1, Name: "oai", Kind: domain.KindOpenAI, Enabled: true},
	{ID: 2, Name: "claude", Kind: domain.KindAnthropic, Enabled: true},
}

func newCapStore() *capStore {
	return &capStore{models: map[int64]domain.Model{}, routes: map[int64]domain.Route{}}
}

func (s *capStore) GetProvider(_ context.Context, id int64) (domain.Provider, error) {
	for _, p := range capProviders {
		if p.ID == id {
			return p, nil
		}
	}
	return domain.Provider{}, domain.Errorf(domain.CodeNotFound, "provider %d not found", id)
}

func (s *capStore) GetProviderByName(_ context.Context, name string) (domain.Provider, error) {
	for _, p := range capProviders {
		if p.Name == name {
			return p, nil
		}
	}
	return domain.Provider{}, domain.Errorf(domain.CodeNotFound, "provider %q not found", name)
}

// withRoutesLocked returns m with its routes.
func (s *capStore) withRoutesLocked(m domain.Model) domain.Model {
	m.Routes = []domain.Route{}
	for _, r := range s.routes {
		if r.ModelID == m.ID {
			m.Routes = append(m.Routes, r)
		}
	}
	m.Capabilities = slices.Clone(m.Capabilities)
	return m
}

func (s *capStore) CreateModel(_ context.Context, m domain.Model) (domain.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	m.ID = s.nextID
	for _, r := range m.Routes {
		s.nextID++
		r.ID, r.ModelID = s.nextID, m.ID
		s.routes[r.ID] = r
	}
	m.Routes = nil
	s.models[m.ID] = m
	return s.withRoutesLocked(m), nil
}

func (s *capStore) GetModel(_ context.Context, id int64) (domain.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.models[id]
	if !ok {
		return m, domain.Errorf(domain.CodeNotFound, "model %d not found", id)
	}
	return s.withRoutesLocked(m), nil
}

func (s *capStore) GetModelByName(_ context.Context, name string) (domain.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.models {
		if m.Name == name {
			return s.withRoutesLocked(m), nil
		}
	}
	return domain.Model{}, domain.Errorf(domain.CodeNotFound, "model %q not found", name)
}

func (s *capStore) UpdateModel(_ context.Context, id int64, fn func(*domain.Model) error) (domain.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.models[id]
	if !ok {
		return cur, domain.Errorf(domain.CodeNotFound, "model %d not found", id)
	}
	m := s.withRoutesLocked(cur)
	if err := fn(&m); err != nil {
		return domain.Model{}, err
	}
	m.Routes = nil
	s.models[id] = m
	return s.withRoutesLocked(m), nil
}

func (s *capStore) CreateRoute(_ context.Context, r domain.Route) (domain.Route, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	r.ID = s.nextID
	s.routes[r.ID] = r
	return r, nil
}

func (s *capStore) GetRoute(_ context.Context, id int64) (domain.Route, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.routes[id]
	if !ok {
		return r, domain.Errorf(domain.CodeNotFound, "route %d not found", id)
	}
	return r, nil
}

func (s *capStore) UpdateRoute(_ context.Context, id int64, fn func(*domain.Route) error) (domain.Route, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.routes[id]
	if !ok {
		return r, domain.Errorf(domain.CodeNotFound, "route %d not found", id)
	}
	if err := fn(&r); err != nil {
		return domain.Route{}, err
	}
	s.routes[id] = r
	return r, nil
}

func wantInvalid(t *testing.T, what string, err error, field, msg string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeInvalid || de.Field != field || !strings.Contains(de.Msg, msg) {
		t.Errorf("%s: %v, want invalid %s mentioning %q", what, err, field, msg)
	}
}

// TestModelCapabilities: the Models use case validates capabilities and
// refuses any combination of a model's capabilities and a route's provider
// that the provider's kind cannot serve, whichever side changes, naming the
// field, before anything is stored or reloaded.
func TestModelCapabilities(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newCapStore()
	reloads := &countingReloader{}
	models, err := gateway.NewModels(store, store, reloads, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	embed := []domain.Capability{domain.CapEmbeddings}
	route := func(provider int64) domain.Route {
		return domain.Route{ProviderID: provider, UpstreamModel: "u", Weight: 1, Enabled: true}
	}

	// Create: unknown or repeated capabilities; an embeddings model with an
	// Anthropic route.
	_, err = models.CreateModel(ctx, domain.Model{Name: "x", Capabilities: []domain.Capability{"audio"}})
	wantInvalid(t, "unknown capability", err, "capabilities", `"audio"`)
	_, err = models.CreateModel(ctx, domain.Model{Name: "x", Capabilities: []domain.Capability{domain.CapImages, domain.CapImages}})
	wantInvalid(t, "repeated capability", err, "capabilities", "twice")
	_, err = models.CreateModel(ctx, domain.Model{Name: "x", Capabilities: embed, Routes: []domain.Route{route(1), route(2)}})
	wantInvalid(t, "embeddings over anthropic", err, "capabilities", `provider "claude" (anthropic) cannot serve`)
	if n := reloads.n.Load(); n != 0 || len(store.models) != 0 {
		t.Fatalf("refused creates stored %d models and reloaded %d times", len(store.models), n)
	}

	// An embeddings model over OpenAI is fine; a chat model over Anthropic too.
	emb, err := models.CreateModel(ctx, domain.Model{Name: "emb", Capabilities: embed, Routes: []domain.Route{route(1)}})
	if err != nil {
		t.Fatalf("embeddings over openai: %v", err)
	}
	chat, err := models.CreateModel(ctx, domain.Model{Name: "chat", Routes: []domain.Route{route(1), route(2)}})
	if err != nil {
		t.Fatalf("chat over openai and anthropic: %v", err)
	}

	// Add a route: from Anthropic to the embeddings model is refused.
	_, err = models.CreateRoute(ctx, "emb", "claude", route(0))
	wantInvalid(t, "anthropic route to embeddings", err, "provider", `model "emb" serves embeddings`)
	if _, err := models.CreateRoute(ctx, "chat", "claude", domain.Route{UpstreamModel: "u2", Weight: 1}); err != nil {
		t.Errorf("anthropic route to chat: %v", err)
	}

	// Update: the chat model, routed to Anthropic, cannot start serving
	// images; a change that leaves capabilities alone is not checked.
	_, err = models.UpdateModel(ctx, "chat", func(m *domain.Model) error {
		m.Capabilities = []domain.Capability{domain.CapChat, domain.CapImages}
		return nil
	})
	wantInvalid(t, "images over anthropic", err, "capabilities", "images")
	if m, _ := store.GetModel(ctx, chat.ID); len(m.Capabilities) != 0 {
		t.Errorf("a refused update stored capabilities %v", m.Capabilities)
	}
	if _, err := models.UpdateModel(ctx, "emb", func(m *domain.Model) error {
		m.Capabilities = []domain.Capability{domain.CapEmbeddings, domain.CapImages, domain.CapChat}
		return nil
	}); err != nil {
		t.Errorf("openai-routed model to all capabilities: %v", err)
	}
	_, err = models.UpdateModel(ctx, "emb", func(m *domain.Model) error {
		m.Capabilities = []domain.Capability{domain.CapChat, "video"}
		return nil
	})
	wantInvalid(t, "unknown capability on update", err, "capabilities", `"video"`)

	// Update a route: moving the embeddings model's route to Anthropic is
	// refused; changing its weight is not.
	rid := emb.Routes[0].ID
	_, err = models.UpdateRoute(ctx, "emb", rid, func(r *domain.Route) error { r.ProviderID = 2; return nil })
	wantInvalid(t, "route moved to anthropic", err, "provider", `provider "claude" (anthropic)`)
	if r, _ := store.GetRoute(ctx, rid); r.ProviderID != 1 {
		t.Errorf("a refused route update moved it to provider %d", r.ProviderID)
	}
	if _, err := models.UpdateRoute(ctx, "emb", rid, func(r *domain.Route) error { r.Weight = 5; return nil }); err != nil {
		t.Errorf("weight change: %v", err)
	}
}
