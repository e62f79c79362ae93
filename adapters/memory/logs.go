package memory

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/airouter/airouter/core/domain"
)

// ---- HealthStore

// RecordChecks stores probe results and updates current health, counting
// consecutive "unhealthy" results; all or none.
func (s *Store) RecordChecks(_ context.Context, checks []domain.HealthCheck) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now()
	normalized := make([]domain.HealthCheck, 0, len(checks))
	for _, c := range checks {
		var err error
		if c.Latency, err = msField("latency", c.Latency); err != nil {
			return err
		}
		if c.CheckedAt.IsZero() {
			c.CheckedAt = t
		}
		c.CheckedAt = trunc(c.CheckedAt)
		if !validHealth(c.Status) {
			return invalid("status", msgHealthStatus)
		}
		if _, ok := s.providers[c.ProviderID]; !ok {
			return missing("provider_id", "provider", c.ProviderID)
		}
		if _, ok := s.keys[c.KeyID]; c.KeyID != 0 && !ok {
			return missing("key_id", "key", c.KeyID)
		}
		normalized = append(normalized, c)
	}
	for _, c := range normalized {
		s.checks = append(s.checks, checkRec{id: s.nextID(), c: c})
		h := domain.Health{ProviderID: c.ProviderID, KeyID: c.KeyID, Status: c.Status, CheckedAt: c.CheckedAt,
			Latency: c.Latency, LastError: c.Error}
		cur, ok := s.providerHealth[c.ProviderID]
		if c.KeyID != 0 {
			cur, ok = s.keyHealth[c.KeyID]
		}
		if c.Status == domain.HealthUnhealthy {
			h.ConsecutiveFailures = 1
			if ok {
				h.ConsecutiveFailures = cur.ConsecutiveFailures + 1
			}
		}
		if c.KeyID == 0 {
			s.providerHealth[c.ProviderID] = h
		} else {
			if ok {
				h.ProviderID = cur.ProviderID // the upsert keeps the row's provider
			}
			s.keyHealth[c.KeyID] = h
		}
	}
	if len(normalized) > 0 {
		s.notify("health")
	}
	return nil
}

// SetHealth overwrites the current health of a provider (KeyID 0) or key.
func (s *Store) SetHealth(_ context.Context, h domain.Health) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if h.Latency, err = msField("latency", h.Latency); err != nil {
		return err
	}
	if err := int32Field("consecutive_failures", h.ConsecutiveFailures); err != nil {
		return err
	}
	if h.CheckedAt.IsZero() {
		h.CheckedAt = now()
	}
	h.CheckedAt = trunc(h.CheckedAt)
	if !validHealth(h.Status) {
		return invalid("status", msgHealthStatus)
	}
	if h.KeyID == 0 {
		if _, ok := s.providers[h.ProviderID]; !ok {
			return missing("provider_id", "provider", h.ProviderID)
		}
		s.providerHealth[h.ProviderID] = h
	} else {
		if _, ok := s.keys[h.KeyID]; !ok {
			return missing("key_id", "key", h.KeyID)
		}
		if cur, ok := s.keyHealth[h.KeyID]; ok {
			h.ProviderID = cur.ProviderID
		} else if _, ok := s.providers[h.ProviderID]; !ok {
			return missing("provider_id", "provider", h.ProviderID)
		}
		s.keyHealth[h.KeyID] = h
	}
	s.notify("health")
	return nil
}

// ListHealth returns provider rows by provider, then key rows by provider
// and key.
func (s *Store) ListHealth(_ context.Context) ([]domain.Health, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listHealth(), nil
}

func (s *Store) listHealth() []domain.Health {
	ph := make([]domain.Health, 0, len(s.providerHealth))
	for _, h := range s.providerHealth {
		ph = append(ph, h)
	}
	slices.SortFunc(ph, func(a, b domain.Health) int { return cmp.Compare(a.ProviderID, b.ProviderID) })
	kh := make([]domain.Health, 0, len(s.keyHealth))
	for _, h := range s.keyHealth {
		kh = append(kh, h)
	}
	slices.SortFunc(kh, func(a, b domain.Health) int {
		if c := cmp.Compare(a.ProviderID, b.ProviderID); c != 0 {
			return c
		}
		return cmp.Compare(a.KeyID, b.KeyID)
	})
	return append(ph, kh...)
}

// RecentChecks returns a provider's latest checks, newest first; limit
// defaults to 50 and is capped at 1000.
func (s *Store) RecentChecks(_ context.Context, providerID int64, limit int) ([]domain.HealthCheck, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var recs []checkRec
	for _, c := range s.checks {
		if c.c.ProviderID == providerID {
			recs = append(recs, c)
		}
	}
	if len(recs) == 0 {
		if _, ok := s.providers[providerID]; !ok {
			return nil, notFound("provider", providerID)
		}
	}
	slices.SortFunc(recs, func(a, b checkRec) int {
		if c := b.c.CheckedAt.Compare(a.c.CheckedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	out := []domain.HealthCheck{}
	for _, r := range recs[:min(len(recs), clampLimit(limit))] {
		out = append(out, r.c)
	}
	return out, nil
}

// PruneHealthChecks deletes checks older than before and returns how many.
func (s *Store) PruneHealthChecks(_ context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.checks)
	s.checks = slices.DeleteFunc(s.checks, func(c checkRec) bool { return c.c.CheckedAt.Before(before) })
	return int64(n - len(s.checks)), nil
}

// ---- RequestLogStore

func clamp32(v int) int {
	return max(math.MinInt32, min(math.MaxInt32, v))
}

// InsertRequestLogs appends a batch; a zero Time means now.
func (s *Store) InsertRequestLogs(_ context.Context, entries []domain.RequestLog) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now()
	for _, e := range entries {
		if e.Time.IsZero() {
			e.Time = t
		}
		e.Time = trunc(e.Time)
		e.CleanText() // as PostgreSQL must
		e.ID = s.nextID()
		e.Latency = e.Latency.Truncate(time.Microsecond)
		e.TTFT = e.TTFT.Truncate(time.Microsecond)
		e.Attempts, e.Status = clamp32(e.Attempts), clamp32(e.Status)
		e.PromptTokens, e.CompletionTokens = clamp32(e.PromptTokens), clamp32(e.CompletionTokens)
		s.logs = append(s.logs, e)
	}
	return nil
}

func logRange(from, to time.Time) (time.Time, time.Time) {
	if to.IsZero() {
		to = time.Now().Add(time.Minute)
	}
	if from.IsZero() {
		from = to.Add(-24 * time.Hour)
	}
	return from, to
}

// ListRequestLogs returns entries newest first (time, then id), filtered,
// one page at a time.
func (s *Store) ListRequestLogs(_ context.Context, f domain.RequestLogFilter) ([]domain.RequestLog, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, to := logRange(f.From, f.To)
	var out []domain.RequestLog
	for _, e := range s.logs {
		switch {
		case e.Time.Before(from) || !e.Time.Before(to):
		case f.Model != "" && e.Model != f.Model:
		case f.Provider != "" && e.Provider != f.Provider:
		case f.Status != 0 && e.Status != f.Status:
		case f.Failed != nil && (e.Status >= 400) != *f.Failed:
		case f.BeforeTime != nil && !(e.Time.Before(*f.BeforeTime) || e.Time.Equal(*f.BeforeTime) && e.ID < f.BeforeID):
		default:
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b domain.RequestLog) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if out == nil {
		out = []domain.RequestLog{}
	}
	return out[:min(len(out), clampLimit(f.Limit))], nil
}

// percentileCont is PostgreSQL's percentile_cont over sorted values.
func percentileCont(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := p * float64(len(sorted)-1)
	lo := math.Floor(pos)
	hi := math.Ceil(pos)
	first, second := sorted[int(lo)], sorted[int(hi)]
	if lo == hi {
		return first
	}
	return first + (second-first)*(pos-lo)
}

func us(v float64) time.Duration { return time.Duration(math.Round(v * float64(time.Microsecond))) }

type statsKey struct {
	model    string
	routeID  int64
	provider string
}

// Stats aggregates the log in [from, to) per model or per route.
func (s *Store) Stats(_ context.Context, from, to time.Time, byRoute bool) ([]domain.StatsRow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, to = logRange(from, to)
	groups := map[statsKey][]domain.RequestLog{}
	for _, e := range s.logs {
		if e.Time.Before(from) || !e.Time.Before(to) {
			continue
		}
		k := statsKey{model: e.Model}
		if byRoute {
			k.routeID, k.provider = e.RouteID, e.Provider
		}
		groups[k] = append(groups[k], e)
	}
	out := make([]domain.StatsRow, 0, len(groups))
	for k, es := range groups {
		row := domain.StatsRow{Model: k.model, RouteID: k.routeID, Provider: k.provider, Requests: int64(len(es))}
		var lat, ttft []float64
		for _, e := range es {
			if e.Status >= 400 {
				row.Errors++
			}
			lat = append(lat, float64(e.Latency.Microseconds()))
			if e.TTFT.Microseconds() > 0 {
				ttft = append(ttft, float64(e.TTFT.Microseconds()))
			}
			row.PromptTokens += int64(e.PromptTokens)
			row.CompletionTokens += int64(e.CompletionTokens)
			row.Cost += e.Cost
		}
		slices.Sort(lat)
		slices.Sort(ttft)
		row.SuccessRate = float64(row.Requests-row.Errors) / float64(row.Requests)
		row.LatencyP50, row.LatencyP95, row.LatencyP99 = us(percentileCont(lat, .5)), us(percentileCont(lat, .95)), us(percentileCont(lat, .99))
		row.TTFTP50, row.TTFTP95 = us(percentileCont(ttft, .5)), us(percentileCont(ttft, .95))
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b domain.StatsRow) int {
		if c := cmp.Compare(a.Model, b.Model); c != 0 {
			return c
		}
		if c := cmp.Compare(a.RouteID, b.RouteID); c != 0 {
			return c
		}
		return cmp.Compare(a.Provider, b.Provider)
	})
	return out, nil
}

// PruneRequestLogs deletes entries older than before and returns how many.
func (s *Store) PruneRequestLogs(_ context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.logs)
	s.logs = slices.DeleteFunc(s.logs, func(e domain.RequestLog) bool { return e.Time.Before(before) })
	return int64(n - len(s.logs)), nil
}

// ---- RotationStore

// SaveRotation inserts a rotation or updates its step, status, error and
// (when given) old key. An empty Step is "started", an empty Status
// "running".
func (s *Store) SaveRotation(_ context.Context, r domain.Rotation) (domain.Rotation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.ID == "" {
		return domain.Rotation{}, domain.FieldError("id", "is required")
	}
	if r.Step == "" {
		r.Step = "started"
	}
	if r.Status == "" {
		r.Status = "running"
	}
	switch r.Status {
	case "running", "completed", "failed", "canceled":
	default:
		return domain.Rotation{}, invalid("status", "must be one of running, completed, failed, canceled")
	}
	t := now()
	cur, ok := s.rotations[r.ID]
	if !ok {
		if _, ok := s.providers[r.ProviderID]; !ok {
			return domain.Rotation{}, missing("provider_id", "provider", r.ProviderID)
		}
		r.StartedAt, r.UpdatedAt = t, t
		s.rotations[r.ID] = r
		return r, nil
	}
	cur.Step, cur.Status, cur.Error, cur.UpdatedAt = r.Step, r.Status, r.Error, t
	if r.OldKeyID != 0 {
		cur.OldKeyID = r.OldKeyID
	}
	s.rotations[r.ID] = cur
	return cur, nil
}

// GetRotation returns one rotation.
func (s *Store) GetRotation(_ context.Context, id string) (domain.Rotation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rotations[id]
	if !ok {
		return domain.Rotation{}, notFound("rotation", id)
	}
	return r, nil
}

// ListRotations returns a provider's latest rotations, newest first.
func (s *Store) ListRotations(_ context.Context, providerID int64, limit int) ([]domain.Rotation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []domain.Rotation{}
	for _, r := range s.rotations {
		if r.ProviderID == providerID {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		if _, ok := s.providers[providerID]; !ok {
			return nil, notFound("provider", providerID)
		}
	}
	slices.SortFunc(out, func(a, b domain.Rotation) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out[:min(len(out), clampLimit(limit))], nil
}

// StatsByClientKey aggregates the log per client key.
func (s *Store) StatsByClientKey(_ context.Context, from, to time.Time) ([]domain.ClientKeyStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, to = logRange(from, to)
	groups := map[int64][]domain.RequestLog{}
	for _, e := range s.logs {
		if e.Time.Before(from) || !e.Time.Before(to) {
			continue
		}
		groups[e.ClientKeyID] = append(groups[e.ClientKeyID], e)
	}
	out := make([]domain.ClientKeyStats, 0, len(groups))
	for id, es := range groups {
		row := domain.ClientKeyStats{ClientKeyID: id, ClientKey: s.clientKeys[id].Name, Requests: int64(len(es))}
		var lat []float64
		for _, e := range es {
			if e.Status >= 400 {
				row.Errors++
			}
			lat = append(lat, float64(e.Latency.Microseconds()))
			row.PromptTokens += int64(e.PromptTokens)
			row.CompletionTokens += int64(e.CompletionTokens)
			row.Cost += e.Cost
		}
		slices.Sort(lat)
		row.LatencyP50, row.LatencyP95, row.LatencyP99 = us(percentileCont(lat, .5)), us(percentileCont(lat, .95)), us(percentileCont(lat, .99))
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b domain.ClientKeyStats) int { return cmp.Compare(a.ClientKeyID, b.ClientKeyID) })
	return out, nil
}

// RecentChecksOf returns up to limit latest checks of each given provider,
// by provider and newest first; unknown providers have none.
func (s *Store) RecentChecksOf(ctx context.Context, providerIDs []int64, limit int) ([]domain.HealthCheck, error) {
	out := []domain.HealthCheck{}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(providerIDs))) {
		cs, err := s.RecentChecks(ctx, id, limit)
		if err != nil && domain.ErrorCode(err) != domain.CodeNotFound {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// ListKeysOf returns the keys of the given providers, by provider and id;
// unknown providers have none.
func (s *Store) ListKeysOf(ctx context.Context, providerIDs []int64) ([]domain.ProviderKey, error) {
	out := []domain.ProviderKey{}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(providerIDs))) {
		ks, err := s.ListKeys(ctx, id)
		if err != nil && domain.ErrorCode(err) != domain.CodeNotFound {
			return nil, err
		}
		out = append(out, ks...)
	}
	return out, nil
}
