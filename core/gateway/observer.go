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
	var e domain.RequestLog
	fillEntry(&e, c, res, a, stream)
	return e
}

// fillEntry sets *e to the entry of c (see entry).
func fillEntry(e *domain.RequestLog, c *Call, res *Result, a routing.Attempt, stream bool) {
	*e = domain.RequestLog{
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

// done records a finished request whose Status is set. Each of its three
// records is made by a function of its own, so that their temporaries (the
// metric, the queued copy of the entry, the log line's attributes) are
// never on the stack together: done runs at the bottom of a request's
// stack, and a stack that stays within its first size is not copied into a
// larger one that every open stream then holds.
func (o *observer) done(e *domain.RequestLog) {
	e.Latency = o.clock.Now().Sub(e.Time)
	o.count(e)
	o.queue(*e)
	o.access(e)
}

// count reports the request's metrics.
//
//go:noinline
func (o *observer) count(e *domain.RequestLog) {
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
}

// access writes the request's access-log line; LogAttrs avoids boxing
// every value.
//
//go:noinline
func (o *observer) access(e *domain.RequestLog) {
	level, msg, n := slog.LevelInfo, "request", 9
	if e.Status >= 500 || e.Status == 429 {
		level, msg, n = slog.LevelWarn, "request failed", 11
	} else if e.ErrorClass != "" {
		n = 11
	}
	var attrs [11]slog.Attr
	attrs[0] = slog.String("request_id", e.RequestID)
	attrs[1] = slog.String("model", e.Model)
	attrs[2] = slog.String("provider", e.Provider)
	attrs[3] = slog.Int("status", e.Status)
	attrs[4] = slog.Int("attempts", e.Attempts)
	attrs[5] = slog.Bool("stream", e.Stream)
	attrs[6] = slog.Int64("latency_ms", e.Latency.Milliseconds())
	attrs[7] = slog.Int("prompt_tokens", e.PromptTokens)
	attrs[8] = slog.Int("completion_tokens", e.CompletionTokens)
	attrs[9] = slog.String("class", e.ErrorClass)
	attrs[10] = slog.String("err", e.ErrorMessage)
	o.log.LogAttrs(context.Background(), level, msg, attrs[:n]...)
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
