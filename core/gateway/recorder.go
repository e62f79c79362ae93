package gateway

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// recorder writes the request log asynchronously, in batches. The request
// path only appends to a slice under a short mutex — no channel send, so no
// goroutine is woken per request; the writer wakes every interval, or early
// when a batch is full. Each batch is one COPY. When the buffer is full, the
// database cannot be written after retries, or a row is refused for its
// content, entries are dropped and counted, never waited for; a refused row
// costs only itself: the batch is split until the row is alone.
//
// At shutdown the writer flushes everything queued, retrying until the
// shutdown's deadline; entries that arrive after the final flush are dropped
// and counted.
type recorder struct {
	store    ports.RequestLogStore
	metrics  ports.Metrics
	log      *slog.Logger
	size     int
	batch    int
	interval time.Duration

	mu      sync.Mutex
	pending []domain.RequestLog
	closed  bool          // the final flush is done: add drops
	full    chan struct{} // a batch is ready

	stopOnce sync.Once
	stop     chan struct{}   // closed by shutdown
	drainCtx context.Context // bounds the final flush; set before stop is closed
	done     chan struct{}   // closed when run returns

	dropped atomic.Int64 // since start
	// The final flush's outcome, written by run before done is closed.
	drained, drainDropped int
}

func newRecorder(store ports.RequestLogStore, m ports.Metrics, log *slog.Logger, size, batch int, interval time.Duration) *recorder {
	return &recorder{store: store, metrics: m, log: log, size: size, batch: batch, interval: interval,
		pending: make([]domain.RequestLog, 0, batch), full: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
}

func (r *recorder) add(e domain.RequestLog) {
	r.mu.Lock()
	if r.closed || len(r.pending) >= r.size {
		r.mu.Unlock()
		r.drop(1)
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

func (r *recorder) drop(n int) {
	r.dropped.Add(int64(n))
	r.metrics.RequestLogDropped(n)
}

// take swaps out what is pending; closing marks the recorder closed in the
// same critical section, so that nothing can be added after the last take.
func (r *recorder) take(spare []domain.RequestLog, closing bool) []domain.RequestLog {
	r.mu.Lock()
	out := r.pending
	r.pending = spare[:0]
	if closing {
		r.closed = true
	}
	r.mu.Unlock()
	return out
}

// shutdown asks run to flush what is queued within ctx and return.
func (r *recorder) shutdown(ctx context.Context) {
	r.stopOnce.Do(func() {
		r.drainCtx = ctx
		close(r.stop)
	})
}

// run flushes until ctx ends or shutdown is called, then drains what is left.
func (r *recorder) run(ctx context.Context) {
	defer close(r.done)
	spare := make([]domain.RequestLog, 0, r.batch)
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	write := func() {
		got := r.take(spare, false)
		for i := 0; i < len(got); i += r.batch {
			r.flush(context.Background(), got[i:min(i+r.batch, len(got))], false)
		}
		clear(got)
		spare = got[:0]
	}
	for {
		select {
		case <-r.full:
			write()
		case <-tick.C:
			write()
		case <-ctx.Done():
			// Without a shutdown deadline, drain within a default one, so
			// that an absent database cannot hold up the exit.
			dctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
			r.drain(dctx, spare)
			cancel()
			return
		case <-r.stop:
			r.drain(r.drainCtx, spare)
			return
		}
	}
}

// drainTimeout bounds the final flush when the writer's context ends without
// a shutdown deadline.
const drainTimeout = 5 * time.Second

// drain writes what is pending, and what arrives meanwhile, until nothing is
// left or ctx ends; then it closes the recorder. Transient failures are
// retried until ctx ends.
func (r *recorder) drain(ctx context.Context, spare []domain.RequestLog) {
	for {
		last := ctx.Err() != nil
		if !last {
			r.mu.Lock()
			last = len(r.pending) == 0
			r.mu.Unlock()
		}
		got := r.take(spare, last)
		for i := 0; i < len(got); i += r.batch {
			b := got[i:min(i+r.batch, len(got))]
			d := r.flush(ctx, b, true)
			r.drained += len(b) - d
			r.drainDropped += d
		}
		clear(got)
		spare = got[:0]
		if last {
			return
		}
	}
}

// flush writes a batch and returns how many of its entries were dropped,
// which it counts and logs (one line per batch; at shutdown, once the
// deadline has passed, the shutdown's summary line says it). Transient
// errors are retried 3 times, or until ctx ends when persist is set.
func (r *recorder) flush(ctx context.Context, buf []domain.RequestLog, persist bool) int {
	var ids []string
	dropped, err := r.write(ctx, buf, persist, &ids)
	if dropped > 0 {
		r.drop(dropped)
		if persist && ctx.Err() != nil {
			return dropped
		}
		r.log.Error("request log entries dropped: the database did not accept them",
			"entries", dropped, "batch", len(buf), "request_ids", ids, "err", err)
	}
	return dropped
}

// write stores buf with one insert; when a row is refused for its content
// (CodeInvalid: nothing was written) it splits buf in halves and writes each,
// so that only refused rows are lost. It returns how many entries were not
// written and the last error, and notes the request ids of the first few.
func (r *recorder) write(ctx context.Context, buf []domain.RequestLog, persist bool, ids *[]string) (int, error) {
	err := r.insert(ctx, buf, persist)
	if err == nil {
		return 0, nil
	}
	if len(buf) > 1 && domain.ErrorCode(err) == domain.CodeInvalid && ctx.Err() == nil {
		h := len(buf) / 2
		d1, err1 := r.write(ctx, buf[:h], persist, ids)
		d2, err2 := r.write(ctx, buf[h:], persist, ids)
		if err2 == nil {
			err2 = err1
		}
		return d1 + d2, err2
	}
	for i := 0; i < len(buf) && len(*ids) < 5; i++ {
		*ids = append(*ids, buf[i].RequestID)
	}
	return len(buf), err
}

// insert makes one insert of buf, retrying errors that are not about a row.
func (r *recorder) insert(ctx context.Context, buf []domain.RequestLog, persist bool) error {
	var err error
	for attempt := 0; persist || attempt < 3; attempt++ {
		if attempt > 0 {
			wait := time.Duration(min(attempt, 5)) * 200 * time.Millisecond
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			if err == nil {
				err = ctx.Err()
			}
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = r.store.InsertRequestLogs(wctx, buf)
		cancel()
		if err == nil || domain.ErrorCode(err) == domain.CodeInvalid {
			return err
		}
	}
	return err
}

// toucher records when client keys were last used, every few seconds, in
// one statement.
type toucher struct {
	store ports.ClientKeyStore
	log   *slog.Logger
	snap  func() *snapshot
	stop  <-chan struct{} // closed at shutdown
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
		case <-t.stop:
			t.flush(context.Background())
			return
		}
	}
}

func (t *toucher) flush(ctx context.Context) {
	used := map[int64]time.Time{}
	for _, e := range t.snap().clientKeys {
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
