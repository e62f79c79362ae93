package postgres

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/airouter/airouter/adapters/postgres/sqlcgen"
	"github.com/airouter/airouter/core/domain"
)

// InsertRequestLogs writes a batch with COPY, in one round trip. A zero Time
// means now. Text columns are made storable here (RequestLog.CleanText:
// valid UTF-8, no NUL, bounded, cut on rune boundaries), so that no row is
// refused for its text: one refused row fails the whole COPY. If a row is
// still refused, the error has CodeInvalid and nothing of the batch was
// written.
func (s *Store) InsertRequestLogs(ctx context.Context, entries []domain.RequestLog) error {
	if len(entries) == 0 {
		return nil
	}
	now := time.Now()
	rows := make([]sqlcgen.InsertRequestLogsParams, 0, len(entries))
	for _, e := range entries {
		e.CleanText()
		ts := e.Time
		if ts.IsZero() {
			ts = now
		}
		rows = append(rows, sqlcgen.InsertRequestLogsParams{
			Ts: ts, RequestID: e.RequestID, ClientKeyID: optID(e.ClientKeyID), Model: e.Model,
			ProviderID: optID(e.ProviderID), Provider: e.Provider, KeyID: optID(e.KeyID), RouteID: optID(e.RouteID),
			Strategy: string(e.Strategy), Attempts: clamp32(e.Attempts), Stream: e.Stream, Status: clamp32(e.Status),
			ErrorClass: e.ErrorClass, ErrorMessage: e.ErrorMessage,
			LatencyUs: e.Latency.Microseconds(), TtftUs: e.TTFT.Microseconds(),
			PromptTokens: clamp32(e.PromptTokens), CompletionTokens: clamp32(e.CompletionTokens), Cost: e.Cost,
		})
	}
	if _, err := s.q.InsertRequestLogs(ctx, rows); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && rowRefused(pe.Code) {
			return &domain.Error{Code: domain.CodeInvalid, Msg: "a request-log row was refused: " + pe.Message + " (SQLSTATE " + pe.Code + ")"}
		}
		return dbError(err, "insert request logs", "request log", nil)
	}
	return nil
}

// rowRefused reports whether an error code is about the data of a row (data
// exception, integrity constraint, program limit such as the index row size)
// rather than about the database or the connection.
func rowRefused(code string) bool {
	return len(code) == 5 && (code[:2] == "22" || code[:2] == "23" || code[:2] == "54")
}

// clamp32 keeps a measurement in an integer column: the log never rejects a
// batch over one odd value.
func clamp32(v int) int32 {
	switch {
	case v > math.MaxInt32:
		return math.MaxInt32
	case v < math.MinInt32:
		return math.MinInt32
	}
	return int32(v)
}

// logRange applies the defaults of a time range: to defaults to a minute
// from now, from to a day before to.
func logRange(from, to time.Time) (time.Time, time.Time) {
	if to.IsZero() {
		to = time.Now().Add(time.Minute)
	}
	if from.IsZero() {
		from = to.Add(-24 * time.Hour)
	}
	return from, to
}

// ListRequestLogs returns entries newest first, filtered, one page at a
// time: pass the last entry's (Time, ID) as BeforeTime/BeforeID for the next.
func (s *Store) ListRequestLogs(ctx context.Context, f domain.RequestLogFilter) ([]domain.RequestLog, error) {
	from, to := logRange(f.From, f.To)
	p := sqlcgen.ListRequestLogsParams{FromTs: from, ToTs: to, Failed: f.Failed, BeforeTs: f.BeforeTime,
		BeforeID: f.BeforeID, Lim: int32(clampLimit(f.Limit))}
	if f.Model != "" {
		p.Model = &f.Model
	}
	if f.Provider != "" {
		p.Provider = &f.Provider
	}
	if f.Status != 0 {
		st := clamp32(f.Status)
		p.Status = &st
	}
	rows, err := s.q.ListRequestLogs(ctx, p)
	if err != nil {
		return nil, dbError(err, "list request logs", "request log", nil)
	}
	out := make([]domain.RequestLog, 0, len(rows))
	for _, r := range rows {
		out = append(out, domain.RequestLog{
			ID: r.ID, Time: r.Ts, RequestID: r.RequestID, ClientKeyID: derefID(r.ClientKeyID), Model: r.Model,
			ProviderID: derefID(r.ProviderID), Provider: r.Provider, KeyID: derefID(r.KeyID), RouteID: derefID(r.RouteID),
			Strategy: domain.Strategy(r.Strategy), Attempts: int(r.Attempts), Stream: r.Stream, Status: int(r.Status),
			ErrorClass: r.ErrorClass, ErrorMessage: r.ErrorMessage,
			Latency: time.Duration(r.LatencyUs) * time.Microsecond, TTFT: time.Duration(r.TtftUs) * time.Microsecond,
			PromptTokens: int(r.PromptTokens), CompletionTokens: int(r.CompletionTokens), Cost: r.Cost,
		})
	}
	return out, nil
}

// us converts a percentile in microseconds to a duration.
func us(v float64) time.Duration { return time.Duration(math.Round(v * float64(time.Microsecond))) }

func successRate(requests, errors int64) float64 {
	if requests == 0 {
		return 0
	}
	return float64(requests-errors) / float64(requests)
}

// Stats aggregates the log in [from, to) per model or per route (model,
// route and provider). Zero bounds take ListRequestLogs' defaults.
// Percentiles interpolate (percentile_cont); TTFT percentiles count only
// entries that have one.
func (s *Store) Stats(ctx context.Context, from, to time.Time, byRoute bool) ([]domain.StatsRow, error) {
	from, to = logRange(from, to)
	rows, err := s.q.Stats(ctx, sqlcgen.StatsParams{FromTs: from, ToTs: to, ByRoute: byRoute})
	if err != nil {
		return nil, dbError(err, "stats", "request log", nil)
	}
	out := make([]domain.StatsRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, domain.StatsRow{
			Model: r.Model, RouteID: r.RouteID, Provider: r.Provider,
			Requests: r.Requests, Errors: r.Errors, SuccessRate: successRate(r.Requests, r.Errors),
			LatencyP50: us(r.LatencyP50), LatencyP95: us(r.LatencyP95), LatencyP99: us(r.LatencyP99),
			TTFTP50: us(r.TtftP50), TTFTP95: us(r.TtftP95),
			PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens, Cost: r.Cost,
		})
	}
	return out, nil
}

// PruneRequestLogs deletes entries older than before and returns how many.
func (s *Store) PruneRequestLogs(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.q.PruneRequestLogs(ctx, before)
	if err != nil {
		return 0, dbError(err, "prune request logs", "request log", nil)
	}
	return n, nil
}

// StatsByClientKey aggregates the request log per client key.
func (s *Store) StatsByClientKey(ctx context.Context, from, to time.Time) ([]domain.ClientKeyStats, error) {
	from, to = logRange(from, to)
	rows, err := s.q.StatsByClientKey(ctx, sqlcgen.StatsByClientKeyParams{FromTs: from, ToTs: to})
	if err != nil {
		return nil, dbError(err, "stats", "request log", nil)
	}
	out := make([]domain.ClientKeyStats, 0, len(rows))
	for _, r := range rows {
		out = append(out, domain.ClientKeyStats{
			ClientKeyID: r.ClientKeyID, ClientKey: r.ClientKey, Requests: r.Requests, Errors: r.Errors,
			LatencyP50: us(r.LatencyP50), LatencyP95: us(r.LatencyP95), LatencyP99: us(r.LatencyP99),
			PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens, Cost: r.Cost,
		})
	}
	return out, nil
}
