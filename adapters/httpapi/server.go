// Package httpapi serves AI Router over HTTP with huma on chi: the
// OpenAI-compatible API under /v1, the admin API under /api/v1 (RFC 9457
// problems), health and metrics endpoints, and one OpenAPI document for both
// APIs at /openapi.json (3.1) and /openapi-3.0.json, with docs at /docs.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/chi/v5"

	"github.com/airouter/airouter/core/gateway"
)

// Options configures the handler. Gateway, Admin, AdminToken and Logger are
// required.
type Options struct {
	Gateway      *gateway.Service
	Admin        *gateway.Admin
	AdminToken   string
	Logger       *slog.Logger
	Version      string
	MaxBodyBytes int64         // default 32 MiB
	WriteTimeout time.Duration // per write of a stream; default 60s
	// BodyTimeout bounds the time a /v1 request body may take to arrive;
	// default 30s.
	BodyTimeout time.Duration
	// MaxInFlight bounds the /v1 requests served at once, streams
	// included; the excess gets 503 with Retry-After. Default 2048.
	MaxInFlight int
	// OnShed is called for every request refused by MaxInFlight (a metric).
	OnShed  func()
	Metrics http.Handler // served at /metrics when set
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// Ready reports whether dependencies are reachable, by name (postgres,
	// temporal); a non-nil error for a required one fails /readyz.
	Ready func(ctx context.Context) map[string]error
	// Required lists the names in Ready that /readyz requires; others are
	// reported but do not fail readiness.
	Required []string
	// Responses stores the responses of POST /v1/responses (store: true);
	// nil turns storage off. ResponsesRetention is how long they are kept
	// (0: until deleted).
	Responses          ResponseStore
	ResponsesRetention time.Duration
}

// New builds the HTTP handler and the API (for the OpenAPI document).
func New(o Options) (http.Handler, huma.API, error) {
	if o.Gateway == nil || o.Admin == nil || o.Logger == nil {
		return nil, nil, errors.New("httpapi: Gateway, Admin and Logger are required")
	}
	if len(o.AdminToken) < 16 {
		return nil, nil, errors.New("httpapi: the admin token must be at least 16 characters; the admin API does not run open")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 32 << 20
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 60 * time.Second
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = 30 * time.Second
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 2048
	}
	if o.OnShed == nil {
		o.OnShed = func() {}
	}
	r := chi.NewRouter()
	r.Use(recoverer(o.Logger))
	api := NewAPI(r, o.Version)
	register(r, api, o)
	return r, api, nil
}

// Document returns the OpenAPI document of both APIs without serving them,
// for `airouter openapi` and client generation.
func Document(version string) huma.API {
	r := chi.NewRouter()
	api := NewAPI(r, version)
	register(r, api, Options{})
	return api
}

func register(r chi.Router, api huma.API, o Options) {
	registerOpenAI(r, api, o)

	registerAdmin(api, o.Admin, o.AdminToken, o.Logger)

	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", readyz(o))
	if o.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", metricsAuth(o.MetricsToken, o.Metrics))
	}
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/v1/") {
			writeOpenAIErrorStatus(w, http.StatusNotFound, "invalid_request_error", "unknown_url", "",
				"Invalid URL ("+req.Method+" "+req.URL.Path+")")
			return
		}
		writeProblem(w, http.StatusNotFound, "no route for "+req.Method+" "+req.URL.Path)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/v1/") {
			writeOpenAIErrorStatus(w, http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", "",
				"Method "+req.Method+" is not allowed for "+req.URL.Path)
			return
		}
		writeProblem(w, http.StatusMethodNotAllowed, "method "+req.Method+" not allowed for "+req.URL.Path)
	})
}

// NewAPI creates the huma API with settings fit for OpenAI shapes: no
// $schema fields or Link headers in responses, and request bodies that
// accept unknown fields.
func NewAPI(r chi.Router, version string) huma.API {
	cfg := huma.DefaultConfig("AI Router", version)
	cfg.CreateHooks = nil // no $schema property and Link header
	cfg.Transformers = append(cfg.Transformers, redactErrorValues)
	cfg.Info.Description = "One OpenAI-compatible endpoint in front of many LLM providers (/v1), and the admin API that configures it (/api/v1)."
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"clientKey":  {Type: "http", Scheme: "bearer", Description: "A client key created with the admin API (sk-ar-...)."},
		"adminToken": {Type: "http", Scheme: "bearer", Description: "The ADMIN_TOKEN of the deployment."},
	}
	cfg.Tags = []*huma.Tag{
		{Name: "OpenAI", Description: "OpenAI-compatible API"},
		{Name: "Anthropic", Description: "Anthropic Messages API (translated to every provider)"},
		{Name: "Providers", Description: "Upstream LLM providers"},
		{Name: "Provider keys", Description: "API keys of providers, encrypted at rest"},
		{Name: "Models", Description: "Public models and their strategies"},
		{Name: "Routes", Description: "Model to provider routes"},
		{Name: "Client keys", Description: "The router's own API keys"},
		{Name: "Observability", Description: "Health, statistics and the request log"},
	}
	return humachi.New(r, cfg)
}

// redactErrorValues removes the offending values huma's validation errors
// carry: they may hold a secret (an unknown field next to a key, say). The
// location and message name the problem well enough.
func redactErrorValues(_ huma.Context, _ string, v any) (any, error) {
	if em, ok := v.(*huma.ErrorModel); ok {
		for _, d := range em.Errors {
			if d != nil {
				d.Value = nil
			}
		}
	}
	return v, nil
}

func adminAuth(api huma.API, want [32]byte) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		h := ctx.Header("Authorization")
		var tok string
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			tok = strings.TrimSpace(h[7:])
		}
		got := sha256.Sum256([]byte(tok))
		if tok == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="airouter-admin"`)
			_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, "a valid admin token is required (Authorization: Bearer <ADMIN_TOKEN>)")
			return
		}
		next(ctx)
	}
}

// limiter bounds the requests in flight with a buffered channel: a
// non-blocking send takes a slot, so the hot path takes no lock and
// allocates nothing, and the excess is refused at once rather than queued.
type limiter struct {
	slots  chan struct{}
	onShed func()
}

func newLimiter(n int, onShed func()) *limiter {
	return &limiter{slots: make(chan struct{}, n), onShed: onShed}
}

func (l *limiter) wrap(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case l.slots <- struct{}{}:
		default:
			l.onShed()
			w.Header().Set("Retry-After", "1")
			if strings.HasPrefix(r.URL.Path, "/v1/messages") {
				writeAnthropicStatus(w, http.StatusServiceUnavailable,
					"The server is handling as many requests as it is configured to (MAX_IN_FLIGHT); retry after a second.")
				return
			}
			writeOpenAIErrorStatus(w, http.StatusServiceUnavailable, "api_error", "server_overloaded", "",
				"The server is handling as many requests as it is configured to (MAX_IN_FLIGHT); retry after a second.")
			return
		}
		defer func() { <-l.slots }()
		next(w, r)
	}
}

// metricsAuth requires the bearer token when one is set; /metrics names
// providers and models.
func metricsAuth(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		var tok string
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			tok = strings.TrimSpace(h[7:])
		}
		got := sha256.Sum256([]byte(tok))
		if tok == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="airouter-metrics"`)
			writeProblem(w, http.StatusUnauthorized, "a valid metrics token is required (Authorization: Bearer <METRICS_TOKEN>)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func readyz(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out := map[string]any{}
		status := http.StatusOK
		if o.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
			defer cancel()
			checks := map[string]string{}
			for name, err := range o.Ready(ctx) {
				if err != nil {
					checks[name] = "unavailable: " + err.Error()
					for _, req := range o.Required {
						if req == name {
							status = http.StatusServiceUnavailable
						}
					}
				} else {
					checks[name] = "ok"
				}
			}
			out["checks"] = checks
		}
		if status == http.StatusOK {
			out["status"] = "ready"
		} else {
			out["status"] = "not ready"
		}
		writeJSON(w, status, out)
	}
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail})
	_, _ = w.Write(b)
}

func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.Error("panic in handler", "path", r.URL.Path, "panic", v)
					if strings.HasPrefix(r.URL.Path, "/v1/") {
						writeOpenAIErrorStatus(w, 500, "api_error", "internal_error", "", "The server had an error while processing your request.")
					} else {
						writeProblem(w, 500, "internal error")
					}
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}
