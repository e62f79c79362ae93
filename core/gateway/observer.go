package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
)

// requestMetrics is what the observer reports to metrics.
type requestMetrics interface {
	RequestDone(m ports.RequestMetric)
}

// observer is told of every finished request, successful or not, and
// records it: metrics, one access-log line and the request log (queued for
// the recorder, which writes it in batches). It decides nothing about the
// request; the status of a failure is the one the front door answers with
// (Options.StatusOf).
type observer struct {
	clock    ports.Clock
	metrics  requestMetrics
	log      *slog.Logger
	queue    func(e domain.RequestLog) // the recorder's add
	keyName  func(id int64) string     // client key names from the configuration
	statusOf func(error) int
}

// entry starts the request-log entry of a call.
func entry(c *Call, res *Result, a routing.Attempt, stream bool) domain.RequestLog {
	e := domain.RequestLog{
		Time:      c.Start,
		RequestID: c.RequestID,
		Model:     c.Req.Model,
		Provider:  res.Provider,
		Attempts:  res.Attempts,
		Stream:    stream,
	}
	if c.Client != nil {
		e.ClientKeyID = c.Client.ID
	}
	e.Strategy = res.strategy
	if a.Route != nil {
		e.ProviderID = a.Route.Provider().ID
		e.Provider = a.Route.Provider().Name
		e.RouteID = a.Route.ID()
		e.KeyID = a.Key.ID()
	}
	return e
}

// failed records a request that ended with err.
func (o *observer) failed(e *domain.RequestLog, err error) {
	e.Status = o.statusOf(err)
	var ue *domain.UpstreamError
	if errors.As(err, &ue) {
		e.ErrorClass = string(ue.Class)
	} else {
		e.ErrorClass = string(domain.ErrorCode(err))
	}
	e.ErrorMessage = truncate(domain.ErrorMessage(err), 500)
	o.done(e)
}

// truncate cuts s to at most n bytes on a rune boundary: a message cut in
// the middle of a character is not valid UTF-8.
func truncate(s string, n int) string { return domain.TruncateText(s, n) }

// done records a finished request whose Status is set.
func (o *observer) done(e *domain.RequestLog) {
	e.Latency = o.clock.Now().Sub(e.Time)
	// Metric labels come from the configuration only: an unknown model
	// name a client sent must not create a new time series. (Only requests
	// whose model resolved carry a strategy.)
	metricModel := e.Model
	if e.Strategy == "" {
		metricModel = "unknown"
	}
	o.metrics.RequestDone(ports.RequestMetric{
		Model: metricModel, Provider: e.Provider, Status: e.Status, Stream: e.Stream, Latency: e.Latency, TTFT: e.TTFT,
		PromptTokens: e.PromptTokens, CompletionTokens: e.CompletionTokens, Cost: e.Cost,
		ClientKey: o.keyName(e.ClientKeyID),
	})
	o.queue(*e)
	// One access-log line per request; LogAttrs avoids boxing every value.
	attrs := [...]slog.Attr{
		slog.String("request_id", e.RequestID), slog.String("model", e.Model), slog.String("provider", e.Provider),
		slog.Int("status", e.Status), slog.Int("attempts", e.Attempts), slog.Bool("stream", e.Stream),
		slog.Int64("latency_ms", e.Latency.Milliseconds()), slog.Int("prompt_tokens", e.PromptTokens),
		slog.Int("completion_tokens", e.CompletionTokens), slog.String("class", e.ErrorClass), slog.String("err", e.ErrorMessage),
	}
	if e.Status >= 500 || e.Status == 429 {
		o.log.LogAttrs(context.Background(), slog.LevelWarn, "request failed", attrs[:]...)
	} else if e.ErrorClass != "" {
		o.log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs[:]...)
	} else {
		o.log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs[:9]...)
	}
}

// rejected records a request refused before it reached the pipeline (bad
// credentials, an unreadable or invalid body) with the status it got.
func (o *observer) rejected(requestID string, start time.Time, client *domain.ClientKey, status int, err error) {
	e := domain.RequestLog{Time: start, RequestID: requestID}
	if client == nil {
		// Unauthenticated: counted in metrics and the access log only, so
		// that anonymous traffic cannot fill the request log.
		e.Status = status
		e.Latency = o.clock.Now().Sub(start)
		o.metrics.RequestDone(ports.RequestMetric{Model: "unknown", Status: e.Status, Latency: e.Latency})
		o.log.Info("request", "request_id", requestID, "status", e.Status, "err", truncate(domain.ErrorMessage(err), 200))
		return
	}
	e.ClientKeyID = client.ID
	e.ErrorClass = string(domain.ErrorCode(err))
	e.ErrorMessage = truncate(domain.ErrorMessage(err), 500)
	e.Status = status
	o.done(&e)
}
