package httpapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/core/routing"
)

// HealthDTO is the health of a provider or key.
type HealthDTO struct {
	Status              string     `json:"status" enum:"healthy,degraded,unhealthy,unknown"`
	CheckedAt           *time.Time `json:"checked_at,omitempty"`
	LatencyMS           int64      `json:"latency_ms"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastError           string     `json:"last_error,omitempty"`
}

func healthDTO(h domain.Health) HealthDTO {
	out := HealthDTO{Status: string(h.Status), CheckedAt: optTime(h.CheckedAt), LatencyMS: h.Latency.Milliseconds(),
		ConsecutiveFailures: h.ConsecutiveFailures, LastError: h.LastError}
	if out.Status == "" {
		out.Status = string(domain.HealthUnknown)
	}
	return out
}

// KeyHealthDTO is a key's health.
type KeyHealthDTO struct {
	KeyID       int64     `json:"key_id"`
	Fingerprint string    `json:"fingerprint"`
	Last4       string    `json:"last4"`
	KeyStatus   string    `json:"key_status"`
	Health      HealthDTO `json:"health"`
}

// LiveRouteDTO is a route's in-memory state on this replica.
type LiveRouteDTO struct {
	RouteID             int64      `json:"route_id"`
	Model               string     `json:"model"`
	Provider            string     `json:"provider"`
	UpstreamModel       string     `json:"upstream_model"`
	Health              string     `json:"health"`
	InFlight            int64      `json:"in_flight"`
	EWMALatencyMS       float64    `json:"ewma_latency_ms"`
	EWMATTFTMS          float64    `json:"ewma_ttft_ms"`
	SuccessRate         float64    `json:"success_rate"`
	WindowRequests      int64      `json:"window_requests"`
	ConsecutiveFailures int64      `json:"consecutive_failures"`
	Requests            int64      `json:"requests"`
	Failures            int64      `json:"failures"`
	PromptTokens        int64      `json:"prompt_tokens"`
	CompletionTokens    int64      `json:"completion_tokens"`
	Cost                float64    `json:"cost"`
	EjectedUntil        *time.Time `json:"ejected_until,omitempty"`
	Ejections           int64      `json:"ejections"`
}

func liveRouteDTO(s routing.RouteStats) LiveRouteDTO {
	return LiveRouteDTO{RouteID: s.RouteID, Model: s.Model, Provider: s.Provider, UpstreamModel: s.UpstreamModel, Health: string(s.Health),
		InFlight: s.InFlight, EWMALatencyMS: msf(s.EWMALatency), EWMATTFTMS: msf(s.EWMATTFT), SuccessRate: s.SuccessRate,
		WindowRequests: s.WindowRequests, ConsecutiveFailures: s.ConsecutiveFailures, Requests: s.Requests, Failures: s.Failures,
		PromptTokens: s.PromptTokens, CompletionTokens: s.CompletionTokens, Cost: s.Cost, EjectedUntil: optTime(s.EjectedUntil), Ejections: s.Ejections}
}

// LiveKeyDTO is a key's in-memory state on this replica.
type LiveKeyDTO struct {
	KeyID               int64      `json:"key_id"`
	Provider            string     `json:"provider"`
	Status              string     `json:"status"`
	Health              string     `json:"health"`
	InFlight            int64      `json:"in_flight"`
	EWMALatencyMS       float64    `json:"ewma_latency_ms"`
	SuccessRate         float64    `json:"success_rate"`
	ConsecutiveFailures int64      `json:"consecutive_failures"`
	Requests            int64      `json:"requests"`
	Failures            int64      `json:"failures"`
	Invalid             bool       `json:"invalid"`
	CooldownUntil       *time.Time `json:"cooldown_until,omitempty"`
	RateLimits          int64      `json:"rate_limits"`
}

func liveKeyDTO(k routing.KeyStats) LiveKeyDTO {
	return LiveKeyDTO{KeyID: k.KeyID, Provider: k.Provider, Status: string(k.Status), Health: string(k.Health), InFlight: k.InFlight,
		EWMALatencyMS: msf(k.EWMALatency), SuccessRate: k.SuccessRate, ConsecutiveFailures: k.ConsecutiveFailures,
		Requests: k.Requests, Failures: k.Failures, Invalid: k.Invalid, CooldownUntil: optTime(k.CooldownUntil), RateLimits: k.RateLimits}
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// CheckDTO is one recorded probe.
type CheckDTO struct {
	KeyID     int64     `json:"key_id,omitempty"`
	Status    string    `json:"status"`
	LatencyMS int64     `json:"latency_ms"`
	Error     string    `json:"error,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

// ProviderHealthDTO is a provider's health with its keys, live routes and
// recent checks.
type ProviderHealthDTO struct {
	ProviderID int64          `json:"provider_id"`
	Provider   string         `json:"provider"`
	Kind       string         `json:"kind"`
	Enabled    bool           `json:"enabled"`
	Health     HealthDTO      `json:"health"`
	Keys       []KeyHealthDTO `json:"keys"`
	Routes     []LiveRouteDTO `json:"routes"`
	Recent     []CheckDTO     `json:"recent_checks"`
}

func providerHealthDTO(p gateway.ProviderHealth) ProviderHealthDTO {
	out := ProviderHealthDTO{ProviderID: p.Provider.ID, Provider: p.Provider.Name, Kind: string(p.Provider.Kind), Enabled: p.Provider.Enabled,
		Health: healthDTO(p.Health), Keys: []KeyHealthDTO{}, Routes: []LiveRouteDTO{}, Recent: []CheckDTO{}}
	for _, k := range p.Keys {
		out.Keys = append(out.Keys, KeyHealthDTO{KeyID: k.Key.ID, Fingerprint: k.Key.Fingerprint, Last4: k.Key.Last4, KeyStatus: string(k.Key.Status), Health: healthDTO(k.Health)})
	}
	out.Routes = dtos(p.Routes, liveRouteDTO)
	for _, c := range p.Recent {
		out.Recent = append(out.Recent, CheckDTO{KeyID: c.KeyID, Status: string(c.Status), LatencyMS: c.Latency.Milliseconds(), Error: c.Error, CheckedAt: c.CheckedAt})
	}
	return out
}

// StatsRowDTO is aggregated statistics of a model or route.
type StatsRowDTO struct {
	Model            string  `json:"model"`
	RouteID          int64   `json:"route_id,omitempty"`
	Provider         string  `json:"provider,omitempty"`
	ClientKeyID      int64   `json:"client_key_id,omitempty" doc:"With group_by=client_key; 0 for unauthenticated requests"`
	ClientKey        string  `json:"client_key,omitempty" doc:"With group_by=client_key: the key's name (empty once deleted)"`
	Requests         int64   `json:"requests"`
	Errors           int64   `json:"errors"`
	SuccessRate      float64 `json:"success_rate"`
	LatencyP50MS     float64 `json:"latency_p50_ms"`
	LatencyP95MS     float64 `json:"latency_p95_ms"`
	LatencyP99MS     float64 `json:"latency_p99_ms"`
	TTFTP50MS        float64 `json:"ttft_p50_ms"`
	TTFTP95MS        float64 `json:"ttft_p95_ms"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	Cost             float64 `json:"cost"`
}

func statsRowDTO(r domain.StatsRow) StatsRowDTO {
	return StatsRowDTO{Model: r.Model, RouteID: r.RouteID, Provider: r.Provider, Requests: r.Requests,
		Errors: r.Errors, SuccessRate: r.SuccessRate, LatencyP50MS: msf(r.LatencyP50), LatencyP95MS: msf(r.LatencyP95),
		LatencyP99MS: msf(r.LatencyP99), TTFTP50MS: msf(r.TTFTP50), TTFTP95MS: msf(r.TTFTP95), PromptTokens: r.PromptTokens,
		CompletionTokens: r.CompletionTokens, Cost: r.Cost}
}

// RequestLogDTO is one request-log entry.
type RequestLogDTO struct {
	Time             time.Time `json:"time"`
	RequestID        string    `json:"request_id"`
	ClientKeyID      int64     `json:"client_key_id,omitempty"`
	Model            string    `json:"model"`
	Provider         string    `json:"provider,omitempty"`
	ProviderID       int64     `json:"provider_id,omitempty"`
	KeyID            int64     `json:"key_id,omitempty"`
	RouteID          int64     `json:"route_id,omitempty"`
	Strategy         string    `json:"strategy,omitempty"`
	Attempts         int       `json:"attempts"`
	Stream           bool      `json:"stream"`
	Status           int       `json:"status"`
	ErrorClass       string    `json:"error_class,omitempty"`
	ErrorMessage     string    `json:"error_message,omitempty"`
	LatencyMS        float64   `json:"latency_ms"`
	TTFTMS           float64   `json:"ttft_ms,omitempty"`
	PromptTokens     int       `json:"prompt_tokens"`
	CompletionTokens int       `json:"completion_tokens"`
	Cost             float64   `json:"cost"`
}

func requestLogDTO(e domain.RequestLog) RequestLogDTO {
	return RequestLogDTO{Time: e.Time, RequestID: e.RequestID, ClientKeyID: e.ClientKeyID, Model: e.Model,
		Provider: e.Provider, ProviderID: e.ProviderID, KeyID: e.KeyID, RouteID: e.RouteID, Strategy: string(e.Strategy), Attempts: e.Attempts,
		Stream: e.Stream, Status: e.Status, ErrorClass: e.ErrorClass, ErrorMessage: e.ErrorMessage, LatencyMS: msf(e.Latency),
		TTFTMS: msf(e.TTFT), PromptTokens: e.PromptTokens, CompletionTokens: e.CompletionTokens, Cost: e.Cost}
}

type timeRange struct {
	From string `query:"from" doc:"Start (RFC 3339); default 24 hours before to" example:"2026-11-26T00:00:00Z"`
	To   string `query:"to" doc:"End, exclusive (RFC 3339); default now"`
}

func (t timeRange) parse(now time.Time) (time.Time, time.Time, error) {
	to := now.Add(time.Minute)
	if t.To != "" {
		v, err := time.Parse(time.RFC3339Nano, t.To)
		if err != nil {
			return time.Time{}, time.Time{}, domain.FieldError("to", "must be an RFC 3339 time such as 2026-11-26T12:00:00Z")
		}
		to = v
	}
	from := to.Add(-24 * time.Hour)
	if t.From != "" {
		v, err := time.Parse(time.RFC3339Nano, t.From)
		if err != nil {
			return time.Time{}, time.Time{}, domain.FieldError("from", "must be an RFC 3339 time such as 2026-11-26T00:00:00Z")
		}
		from = v
	}
	return from, to, nil
}

func encodeCursor(t time.Time, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixNano(), 10) + ":" + strconv.FormatInt(id, 10)))
}

func decodeCursor(s string) (time.Time, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, 0, err
	}
	ts, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return time.Time{}, 0, fmt.Errorf("bad cursor")
	}
	ns, err1 := strconv.ParseInt(ts, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, 0, fmt.Errorf("bad cursor")
	}
	return time.Unix(0, ns).UTC(), n, nil
}

func (h *adminHandlers) registerObservability(api huma.API) {
	huma.Register(api, op("listHealth", http.MethodGet, "/health", "Health of every provider and key", "Observability"),
		func(ctx context.Context, in *struct {
			Recent int `query:"recent" minimum:"0" maximum:"100" default:"5" doc:"Recent checks per provider"`
		}) (*struct {
			Body ProviderHealthList
		}, error) {
			hs, err := h.a.Health(ctx, "", in.Recent)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &struct{ Body ProviderHealthList }{Body: ProviderHealthList{Data: dtos(hs, providerHealthDTO)}}, nil
		})

	huma.Register(api, op("getProviderHealth", http.MethodGet, "/providers/{provider}/health", "Health of a provider, its keys and recent checks", "Observability", http.StatusNotFound),
		func(ctx context.Context, in *struct {
			ProviderPath
			Recent int `query:"recent" minimum:"0" maximum:"500" default:"20"`
		}) (*struct{ Body ProviderHealthDTO }, error) {
			hs, err := h.a.Health(ctx, in.Provider, in.Recent)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			return &struct{ Body ProviderHealthDTO }{Body: providerHealthDTO(hs[0])}, nil
		})

	huma.Register(api, op("getStats", http.MethodGet, "/stats", "Statistics per model or per route over a time range", "Observability"),
		func(ctx context.Context, in *struct {
			timeRange
			GroupBy string `query:"group_by" enum:"model,route,client_key" default:"model"`
		}) (*struct {
			Body StatsReport
		}, error) {
			from, to, err := in.parse(time.Now())
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			out := &struct {
				Body StatsReport
			}{}
			out.Body.From, out.Body.To = from, to
			if in.GroupBy == "client_key" {
				rows, err := h.a.ClientKeyStats(ctx, from, to)
				if err != nil {
					return nil, h.problem(ctx, err)
				}
				out.Body.Rows = clientKeyStatsRows(rows)
				return out, nil
			}
			rows, err := h.a.Stats(ctx, from, to, in.GroupBy == "route")
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			out.Body.Rows = dtos(rows, statsRowDTO)
			return out, nil
		})

	huma.Register(api, op("getLiveStats", http.MethodGet, "/stats/live", "In-memory statistics of every route and key on this replica", "Observability"),
		func(ctx context.Context, _ *struct{}) (*struct {
			Body LiveStats
		}, error) {
			rs, ks := h.a.LiveStats()
			out := &struct {
				Body LiveStats
			}{}
			out.Body.Routes, out.Body.Keys = dtos(rs, liveRouteDTO), dtos(ks, liveKeyDTO)
			return out, nil
		})

	huma.Register(api, op("listRequestLogs", http.MethodGet, "/requests", "Page through the request log, newest first", "Observability"),
		func(ctx context.Context, in *struct {
			timeRange
			Model    string `query:"model"`
			Provider string `query:"provider"`
			Status   int    `query:"status" doc:"HTTP status returned to the client"`
			Failed   string `query:"failed" enum:"true,false," doc:"Only failed (status >= 400) or only successful requests"`
			Limit    int    `query:"limit" minimum:"1" maximum:"1000" default:"50"`
			Cursor   string `query:"cursor" doc:"next_cursor of the previous page"`
		}) (*struct {
			Body RequestLogPage
		}, error) {
			from, to, err := in.parse(time.Now())
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			f := domain.RequestLogFilter{From: from, To: to, Model: in.Model, Provider: in.Provider, Status: in.Status, Limit: in.Limit}
			if in.Failed != "" {
				v := in.Failed == "true"
				f.Failed = &v
			}
			if in.Cursor != "" {
				t, id, err := decodeCursor(in.Cursor)
				if err != nil {
					return nil, h.problem(ctx, domain.FieldError("cursor", "is not a cursor this API returned"))
				}
				f.BeforeTime, f.BeforeID = &t, id
			}
			entries, err := h.a.RequestLogs(ctx, f)
			if err != nil {
				return nil, h.problem(ctx, err)
			}
			out := &struct {
				Body RequestLogPage
			}{}
			out.Body.Data = dtos(entries, requestLogDTO)
			if len(entries) == f.Limit && f.Limit > 0 {
				last := entries[len(entries)-1]
				out.Body.NextCursor = encodeCursor(last.Time, last.ID)
			}
			return out, nil
		})
}
