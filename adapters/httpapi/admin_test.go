package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
)

// The admin API's handlers over the real use cases and small fakes of the
// use cases' consumer ports: no PostgreSQL, so they run under -short.

const testAdminToken = "test-admin-token-0123456789"

// fakeStore is the part of the stores the tested operations call; the
// embedded interfaces are nil, so anything else panics.
type fakeStore struct {
	ports.ModelStore
	mu        sync.Mutex
	providers []domain.Provider
	keys      []domain.ProviderKey
	clients   []domain.ClientKey
	reloads   int
	applied   []ports.Change
}

func (f *fakeStore) Apply(_ context.Context, changes ...ports.Change) error {
	f.mu.Lock()
	f.reloads++
	f.applied = append(f.applied, changes...)
	f.mu.Unlock()
	return nil
}

func (f *fakeStore) CreateProvider(_ context.Context, p domain.Provider) (domain.Provider, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, q := range f.providers {
		if q.Name == p.Name {
			return domain.Provider{}, &domain.Error{Code: domain.CodeConflict, Field: "name", Msg: "a provider with this name exists"}
		}
	}
	p.ID = int64(len(f.providers) + 1)
	f.providers = append(f.providers, p)
	return p, nil
}

func (f *fakeStore) GetProvider(_ context.Context, id int64) (domain.Provider, error) {
	return f.findProvider(func(p domain.Provider) bool { return p.ID == id }, fmt.Sprintf("provider %d not found", id))
}

func (f *fakeStore) GetProviderByName(_ context.Context, name string) (domain.Provider, error) {
	return f.findProvider(func(p domain.Provider) bool { return p.Name == name }, fmt.Sprintf("provider %q not found", name))
}

// findProvider is the first provider matching, or a not_found error saying
// notFound.
func (f *fakeStore) findProvider(match func(domain.Provider) bool, notFound string) (domain.Provider, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.providers {
		if match(p) {
			return p, nil
		}
	}
	return domain.Provider{}, domain.Errorf(domain.CodeNotFound, "%s", notFound)
}

func (f *fakeStore) ListProviders(context.Context) ([]domain.Provider, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.providers), nil
}

func (f *fakeStore) UpdateProvider(context.Context, int64, func(*domain.Provider) error) (domain.Provider, error) {
	panic("not called by these tests")
}

func (f *fakeStore) DeleteProvider(context.Context, int64) error { panic("not called by these tests") }

func (f *fakeStore) AddKey(_ context.Context, k domain.ProviderKey) (domain.ProviderKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k.ID, k.Secret, k.Last4 = int64(len(f.keys)+1), "", k.Secret[len(k.Secret)-4:]
	f.keys = append(f.keys, k)
	return k, nil
}

func (f *fakeStore) ListKeys(ctx context.Context, providerID int64) ([]domain.ProviderKey, error) {
	return f.ListKeysOf(ctx, []int64{providerID})
}

func (f *fakeStore) ListKeysOf(_ context.Context, ids []int64) ([]domain.ProviderKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []domain.ProviderKey
	for _, k := range f.keys {
		if slices.Contains(ids, k.ProviderID) {
			out = append(out, k)
		}
	}
	return out, nil
}

func (f *fakeStore) GetKey(context.Context, int64) (domain.ProviderKey, error) {
	panic("not called by these tests")
}

func (f *fakeStore) SetKeyStatus(context.Context, int64, int64, domain.KeyStatus, string) (domain.ProviderKey, error) {
	panic("not called by these tests")
}

func (f *fakeStore) UpdateKey(context.Context, int64, func(*domain.ProviderKey) error) (domain.ProviderKey, error) {
	panic("not called by these tests")
}

func (f *fakeStore) DeleteKey(context.Context, int64) error { panic("not called by these tests") }

func (f *fakeStore) GetRotation(context.Context, string) (domain.Rotation, error) {
	panic("not called by these tests")
}

func (f *fakeStore) ListRotations(context.Context, int64, int) ([]domain.Rotation, error) {
	panic("not called by these tests")
}

func (f *fakeStore) CreateClientKey(_ context.Context, k domain.ClientKey) (domain.ClientKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k.ID = int64(len(f.clients) + 1)
	f.clients = append(f.clients, k)
	return k, nil
}

func (f *fakeStore) ListClientKeys(context.Context) ([]domain.ClientKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.clients), nil
}

func (f *fakeStore) SetClientKeyEnabled(_ context.Context, id int64, _ bool) (domain.ClientKey, error) {
	return domain.ClientKey{}, domain.Errorf(domain.CodeNotFound, "client key %d not found", id)
}

func (f *fakeStore) UpdateClientKey(context.Context, int64, func(*domain.ClientKey) error) (domain.ClientKey, error) {
	panic("not called by these tests")
}

func (f *fakeStore) DeleteClientKey(_ context.Context, id int64) error {
	return domain.Errorf(domain.CodeNotFound, "client key %d not found", id)
}

func (f *fakeStore) StatsByClientKey(context.Context, time.Time, time.Time) ([]domain.ClientKeyStats, error) {
	return nil, nil
}

func (f *fakeStore) ListHealth(context.Context) ([]domain.Health, error) {
	return []domain.Health{{ProviderID: 1, Status: domain.HealthHealthy}}, nil
}

func (f *fakeStore) RecentChecksOf(context.Context, []int64, int) ([]domain.HealthCheck, error) {
	return nil, nil
}

func (f *fakeStore) Stats(context.Context, time.Time, time.Time, bool) ([]domain.StatsRow, error) {
	return nil, nil
}

func (f *fakeStore) ListRequestLogs(context.Context, domain.RequestLogFilter) ([]domain.RequestLog, error) {
	return nil, nil
}

func (f *fakeStore) RouteStats() []routing.RouteStats { return nil }
func (f *fakeStore) KeyStats() []routing.KeyStats     { return nil }

func newAdminServer(t *testing.T) (*httptest.Server, *fakeStore) {
	t.Helper()
	f := &fakeStore{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ps, err := gateway.NewProviders(gateway.ProvidersDeps{Store: f, Keys: f, Models: f, Reloader: f, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := gateway.NewProviderKeys(f, f, f, nil, f, log)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := gateway.NewModels(f, f, f, log)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := gateway.NewClientKeys(f, f, f, log)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := gateway.NewObservability(f, f, f, f, f)
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	registerAdmin(NewAPI(r, "test"), &gateway.Admin{Providers: ps, ProviderKeys: ks, Models: ms, ClientKeys: cs, Observability: obs}, testAdminToken, log)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, f
}

type problemBody struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func call(t *testing.T, srv *httptest.Server, token, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func problemOf(t *testing.T, h http.Header, b []byte) problemBody {
	t.Helper()
	if ct := h.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json (RFC 9457); body %s", ct, b)
	}
	var p problemBody
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("problem %s: %v", b, err)
	}
	return p
}

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	srv, _ := newAdminServer(t)
	for _, tok := range []string{"", "wrong-token-wrong-token", strings.ToUpper(testAdminToken)} {
		status, h, b := call(t, srv, tok, http.MethodGet, "/api/v1/providers", "")
		if status != http.StatusUnauthorized {
			t.Fatalf("token %q: status %d, want 401; body %s", tok, status, b)
		}
		if h.Get("WWW-Authenticate") == "" {
			t.Errorf("token %q: no WWW-Authenticate header", tok)
		}
		if p := problemOf(t, h, b); p.Status != http.StatusUnauthorized {
			t.Errorf("token %q: problem status %d", tok, p.Status)
		}
	}
	if status, _, b := call(t, srv, testAdminToken, http.MethodGet, "/api/v1/providers", ""); status != http.StatusOK {
		t.Fatalf("with the admin token: status %d; body %s", status, b)
	}
}

func TestAdminProblemsNameTheField(t *testing.T) {
	t.Parallel()
	srv, f := newAdminServer(t)
	cases := []struct {
		name, method, path, body, location string
	}{
		{"provider name", http.MethodPost, "/api/v1/providers", `{"name":"-bad","kind":"openai"}`, "body.name"},
		{"provider base URL", http.MethodPost, "/api/v1/providers", `{"name":"a","kind":"openai","base_url":"ftp://x"}`, "body.base_url"},
		{"provider header", http.MethodPost, "/api/v1/providers", `{"name":"a","kind":"openai","headers":{"Authorization":"x"}}`, "body.headers.Authorization"},
		{"provider timeout", http.MethodPost, "/api/v1/providers", `{"name":"a","kind":"openai","timeouts":{"total_ms":90000000}}`, "body.timeouts.total_ms"},
		{"client key rpm", http.MethodPost, "/api/v1/client-keys", `{"name":"app","rpm":-1}`, "body.rpm"},
		{"client key allow", http.MethodPost, "/api/v1/client-keys", `{"name":"app","allow":["a*b"]}`, "body.allow[0]"},
	}
	for _, c := range cases {
		status, h, b := call(t, srv, testAdminToken, c.method, c.path, c.body)
		if status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422; body %s", c.name, status, b)
			continue
		}
		p := problemOf(t, h, b)
		if len(p.Errors) == 0 || !slices.ContainsFunc(p.Errors, func(e struct {
			Location string `json:"location"`
			Message  string `json:"message"`
		}) bool {
			return e.Location == c.location
		}) {
			t.Errorf("%s: problem %s does not name %s", c.name, b, c.location)
		}
	}
	if f.reloads != 0 {
		t.Errorf("refused writes reloaded the configuration %d times", f.reloads)
	}
}

func TestAdminStatuses(t *testing.T) {
	t.Parallel()
	srv, f := newAdminServer(t)
	status, _, b := call(t, srv, testAdminToken, http.MethodPost, "/api/v1/providers", `{"name":"a","kind":"openai"}`)
	if status != http.StatusCreated {
		t.Fatalf("create provider: status %d; body %s", status, b)
	}
	var p ProviderDTO
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Name != "a" || p.BaseURL != domain.KindOpenAI.DefaultBaseURL() {
		t.Errorf("created %+v, want the name and the kind's default base URL", p)
	}
	if f.reloads != 1 || len(f.applied) != 1 || f.applied[0] != (ports.Change{Kind: ports.ChangeProvider, ID: p.ID}) {
		t.Errorf("a write applied %d times (%+v), want once, naming provider %d", f.reloads, f.applied, p.ID)
	}

	status, h, b := call(t, srv, testAdminToken, http.MethodPost, "/api/v1/providers", `{"name":"a","kind":"openai"}`)
	if status != http.StatusConflict {
		t.Fatalf("duplicate provider: status %d, want 409; body %s", status, b)
	}
	if pb := problemOf(t, h, b); len(pb.Errors) != 1 || pb.Errors[0].Location != "body.name" {
		t.Errorf("conflict problem %s does not name body.name", b)
	}

	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/api/v1/providers/nope", ""},
		{http.MethodGet, "/api/v1/providers/99/keys", ""},
		{http.MethodPost, "/api/v1/providers/nope/keys", `{"secret":"sk-0123456789"}`},
		{http.MethodDelete, "/api/v1/client-keys/7", ""},
	} {
		status, h, b := call(t, srv, testAdminToken, c.method, c.path, c.body)
		if status != http.StatusNotFound {
			t.Errorf("%s %s: status %d, want 404; body %s", c.method, c.path, status, b)
			continue
		}
		problemOf(t, h, b)
	}

	status, h, b = call(t, srv, testAdminToken, http.MethodPost, "/api/v1/providers/a/keys", `{"secret":"short"}`)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("short secret: status %d, want 422; body %s", status, b)
	}
	if pb := problemOf(t, h, b); len(pb.Errors) != 1 || pb.Errors[0].Location != "body.secret" {
		t.Errorf("problem %s does not name body.secret", b)
	}

	status, _, b = call(t, srv, testAdminToken, http.MethodPost, "/api/v1/providers/a/rotations", `{"secret":"sk-0123456789"}`)
	if status != http.StatusServiceUnavailable {
		t.Errorf("rotation without Temporal: status %d, want 503; body %s", status, b)
	}

	if status, _, b = call(t, srv, testAdminToken, http.MethodPost, "/api/v1/providers/a/keys", `{"secret":"sk-0123456789"}`); status != http.StatusCreated {
		t.Fatalf("add key: status %d; body %s", status, b)
	}
	status, _, b = call(t, srv, testAdminToken, http.MethodGet, "/api/v1/health", "")
	if status != http.StatusOK {
		t.Fatalf("health: status %d; body %s", status, b)
	}
	if !strings.Contains(string(b), `"healthy"`) || !strings.Contains(string(b), `"key_id":1`) {
		t.Errorf("health %s lacks the provider's health or its key", b)
	}
}

func TestAdminStatusOfEveryCode(t *testing.T) {
	t.Parallel()
	want := map[domain.Code]int{
		domain.CodeInvalid: 422, domain.CodeNotFound: 404, domain.CodeConflict: 409, domain.CodeUnauthorized: 401,
		domain.CodeForbidden: 403, domain.CodeUnavailable: 503, domain.CodeRateLimited: 429, domain.CodeTimeout: 504,
		domain.CodeUpstream: 502, domain.CodeInternal: 0, "": 0,
	}
	for code, status := range want {
		if got := adminStatus(code); got != status {
			t.Errorf("adminStatus(%q) = %d, want %d", code, got, status)
		}
	}
}
