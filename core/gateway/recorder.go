package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// recorder writes the request log asynchronously, in batches. The request
// path only appends to a slice under a short mutex — no channel send, so no
// goroutine is woken per request; the writer wakes every interval, or early
// when a batch is full. When the buffer is full or the database cannot be
// written after retries, entries are dropped and counted, never waited for.
type recorder struct {
	store    ports.RequestLogStore
	metrics  ports.Metrics
	log      *slog.Logger
	size     int
	batch    int
	interval time.Duration

	mu      sync.Mutex
	pending []domain.RequestLog
	full    chan struct{} // a batch is ready
}

func newRecorder(store ports.RequestLogStore, m ports.Metrics, log *slog.Logger, size, batch int, interval time.Duration) *recorder {
	return &recorder{store: store, metrics: m, log: log, size: size, batch: batch, interval: interval,
		pending: make([]domain.RequestLog, 0, batch), full: make(chan struct{}, 1)}
}

func (r *recorder) add(e domain.RequestLog) {
	r.mu.Lock()
	if len(r.pending) >= r.size {
		r.mu.Unlock()
		r.metrics.RequestLogDropped(1)
		return
	}
	r.pending = append(r.pending, e)
	n := len(r.pending)
	r.mu.Unlock()
	if n == r.batch {
		select {
		case r.full <- struct{}{}:
		default:
		}
	}
}

// take swaps out what is pending.
func (r *recorder) take(spare []domain.RequestLog) []domain.RequestLog {
	r.mu.Lock()
	out := r.pending
	r.pending = spare[:0]
	r.mu.Unlock()
	return out
}

// run flushes until ctx ends, then drains what is left with a deadline.
func (r *recorder) run(ctx context.Context) {
	spare := make([]domain.RequestLog, 0, r.batch)
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	write := func(ctx context.Context) {
		got := r.take(spare)
		for i := 0; i < len(got); i += r.batch {
			r.flush(ctx, got[i:min(i+r.batch, len(got))])
		}
		clear(got)
		spare = got[:0]
	}
	for {
		select {
		case <-r.full:
			write(context.Background())
		case <-tick.C:
			write(context.Background())
		case <-ctx.Done():
			// Drain within one deadline, so that an absent database cannot
			// hold up the shutdown; what is left is counted as dropped.
			dctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
			write(dctx)
			cancel()
			return
		}
	}
}

// drainTimeout bounds the final flush at shutdown.
const drainTimeout = 5 * time.Second

func (r *recorder) flush(ctx context.Context, buf []domain.RequestLog) []domain.RequestLog {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			err = ctx.Err()
			break
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = r.store.InsertRequestLogs(wctx, buf)
		cancel()
		if err == nil {
			return buf[:0]
		}
	}
	r.metrics.RequestLogDropped(len(buf))
	r.log.Error("request log entries dropped: the database did not accept them", "entries", len(buf), "err", err)
	return buf[:0]
}

// toucher records when client keys were last used, every few seconds, in
// one statement.
type toucher struct {
	store ports.ClientKeyStore
	log   *slog.Logger
	svc   *Service
	sent  map[int64]int64
}

func (t *toucher) run(ctx context.Context) {
	t.sent = map[int64]int64{}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			t.flush(context.Background())
		case <-ctx.Done():
			t.flush(context.Background())
			return
		}
	}
}

func (t *toucher) flush(ctx context.Context) {
	used := map[int64]time.Time{}
	for _, e := range t.svc.snap.Load().clientKeys {
		ns := e.lastUsed.Load()
		if ns == 0 || t.sent[e.key.ID] == ns {
			continue
		}
		used[e.key.ID] = time.Unix(0, ns)
	}
	if len(used) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := t.store.TouchClientKeys(wctx, used); err != nil {
		t.log.Warn("cannot record client key use", "err", err)
		return
	}
	for id, ts := range used {
		t.sent[id] = ts.UnixNano()
	}
}
