package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/limits"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
)

// Options configures a Service. Every port is required except Orchestrator
// and Leases.
type Options struct {
	Loader       ports.ConfigLoader
	Providers    ports.ProviderFactory
	Keys         ports.KeyStore
	Logs         ports.RequestLogStore
	ClientKeys   ports.ClientKeyStore
	Orchestrator ports.Orchestrator // nil: no recovery workflows are started
	Metrics      ports.Metrics
	Logger       *slog.Logger
	Clock        ports.Clock
	// StatusOf is the HTTP status the front door answers a failed request
	// with (adapters/httpapi.StatusOf); the request log and the metrics
	// record it. The core itself maps no error to a status.
	StatusOf func(error) int
	// Leases is the shared ledger of client keys' rate limits and budgets;
	// nil: those limits are not enforced (allowlists and expiry still are).
	Leases   ports.LeaseStore
	LeaseTTL time.Duration // default 30s: a crashed replica's slices return after it

	Routing        routing.Options // OnEvent is set by the Service
	MaxRetries     int             // further attempts after the first (LOAD_BALANCING_MAX_RETRIES)
	RequestTimeout time.Duration   // deadline over all attempts; default 10 minutes
	BackoffBase    time.Duration   // default 20ms
	BackoffMax     time.Duration   // default 1s
	RetryBudget    float64         // retries per request over a window; default 0.2
	RetryMinPerSec int             // retries always allowed per second; default 5

	LogQueueSize     int           // request-log entries buffered in memory; default 16384
	LogBatchSize     int           // entries per insert; default 512
	LogFlushInterval time.Duration // default 250ms
}

// Service is the gateway's front: it builds the use cases from the ports,
// starts and stops their background work, and offers their methods to the
// HTTP adapter. Create it with New, then Start it.
type Service struct {
	log     *slog.Logger
	router  *routing.Router
	config  *configuration
	auth    *authenticator
	ids     *requestIDs
	chat    *chat
	obs     *observer
	health  *keyHealth
	rec     *recorder
	touch   *toucher
	limiter *limits.Limiter // nil without Options.Leases

	bg sync.WaitGroup // the request-log writer, the toucher and the limiter

	// Background tasks the request path starts (key invalidation, recovery
	// probes); Shutdown waits for them and cancels taskCtx at its deadline.
	taskMu      sync.Mutex
	tasksClosed bool // guarded by taskMu: Shutdown started, no new tasks
	tasks       sync.WaitGroup
	taskCtx     context.Context
	taskCancel  context.CancelFunc
	closeOnce   sync.Once

	limiterStop context.CancelFunc // stops limiter.Run; set by Start
}

// New checks the options and builds a Service.
func New(o Options) (*Service, error) {
	switch {
	case o.Loader == nil:
		return nil, errors.New("gateway: Loader is required")
	case o.Providers == nil:
		return nil, errors.New("gateway: Providers is required")
	case o.Keys == nil:
		return nil, errors.New("gateway: Keys is required")
	case o.Logs == nil:
		return nil, errors.New("gateway: Logs is required")
	case o.ClientKeys == nil:
		return nil, errors.New("gateway: ClientKeys is required")
	case o.Metrics == nil:
		return nil, errors.New("gateway: Metrics is required")
	case o.Logger == nil:
		return nil, errors.New("gateway: Logger is required")
	case o.Clock == nil:
		return nil, errors.New("gateway: Clock is required")
	case o.StatusOf == nil:
		return nil, errors.New("gateway: StatusOf is required")
	case o.MaxRetries < 0:
		return nil, errors.New("gateway: MaxRetries must not be negative")
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Minute
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 20 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = time.Second
	}
	if o.RetryBudget <= 0 {
		o.RetryBudget = 0.2
	}
	if o.RetryMinPerSec <= 0 {
		o.RetryMinPerSec = 5
	}
	if o.LogQueueSize <= 0 {
		o.LogQueueSize = 16384
	}
	if o.LogBatchSize <= 0 {
		o.LogBatchSize = 512
	}
	if o.LogFlushInterval <= 0 {
		o.LogFlushInterval = 250 * time.Millisecond
	}
	s := &Service{log: o.Logger, ids: newRequestIDs()}
	s.taskCtx, s.taskCancel = context.WithCancel(context.Background())

	s.health = &keyHealth{keys: o.Keys, goTask: s.goTask, log: o.Logger, clock: o.Clock, recoveryLast: map[int64]time.Time{}}
	if o.Orchestrator != nil {
		s.health.orchestrator = o.Orchestrator
	}
	ro := o.Routing
	if ro.Now == nil {
		ro.Now = o.Clock.Now
	}
	ro.OnEvent = s.health.onRoutingEvent
	s.router = routing.New(ro)
	s.health.router = s.router

	streams := &openStreams{}
	s.config = newConfiguration(o.Loader, o.Providers, s.router, o.Metrics, o.Logger, streams.revoke)
	snap := s.config.current
	streams.snap, s.health.snap = snap, snap
	s.auth = &authenticator{snap: snap, clock: o.Clock}

	s.rec = newRecorder(o.Logs, o.Metrics, o.Logger, o.LogQueueSize, o.LogBatchSize, o.LogFlushInterval)
	s.touch = &toucher{store: o.ClientKeys, log: o.Logger, snap: snap, stop: s.rec.stop}
	s.obs = &observer{clock: o.Clock, metrics: o.Metrics, log: o.Logger, queue: s.rec.add, statusOf: o.StatusOf,
		keyName: func(id int64) string { return snap().keyNames[id] }}

	if o.Leases != nil {
		l, err := limits.New(limits.Options{Store: o.Leases, Replica: s.ids.prefix, Now: o.Clock.Now, Logger: o.Logger, TTL: o.LeaseTTL})
		if err != nil {
			return nil, err
		}
		s.limiter = l
	}
	loop := &attemptLoop{snap: snap, router: s.router, budget: routing.NewBudget(o.RetryBudget, o.RetryMinPerSec, o.Clock.Now),
		metrics: o.Metrics, log: o.Logger, clock: o.Clock, maxRetries: o.MaxRetries, backoffBase: o.BackoffBase, backoffMax: o.BackoffMax}
	s.chat = &chat{loop: loop, admit: &admission{limiter: s.limiter, models: s.router}, obs: s.obs, streams: streams,
		clock: o.Clock, flight: o.Metrics, timeout: o.RequestTimeout}
	return s, nil
}

// Router exposes the routing state for the statistics and health APIs.
func (s *Service) Router() *routing.Router { return s.router }

// Reload reads the whole configuration and swaps it in atomically (see
// configuration.Reload).
func (s *Service) Reload(ctx context.Context) error { return s.config.Reload(ctx) }

// Apply applies configuration changes by their kind and id, loading only
// the parts they name (see configuration.Apply); a resync reloads all.
func (s *Service) Apply(ctx context.Context, changes ...ports.Change) error {
	return s.config.Apply(ctx, changes...)
}

// Authenticate finds the client key of a bearer token.
func (s *Service) Authenticate(token string) (*domain.ClientKey, error) {
	return s.auth.Authenticate(token)
}

// NewRequestID returns a unique request id.
func (s *Service) NewRequestID() string { return s.ids.next() }

// Complete serves a non-streaming chat request. On success the caller must
// call Result.Finish once the response is sent.
func (s *Service) Complete(ctx context.Context, c *Call) (*domain.ChatResponse, *Result, error) {
	return s.chat.Complete(ctx, c)
}

// Stream serves a streaming chat request. On success the returned stream's
// first chunk has already arrived from the upstream, so the caller can still
// send an error status if Stream fails. The caller must Close the stream.
func (s *Service) Stream(ctx context.Context, c *Call) (*Stream, *Result, error) {
	return s.chat.Stream(ctx, c)
}

// CallNative serves a non-streaming request of a front door with its own
// wire format (see NativeCall). On success the caller must call
// Result.Finish once the response is sent.
func (s *Service) CallNative(ctx context.Context, c *NativeCall) (Served, *Result, error) {
	return s.chat.CallNative(ctx, c)
}

// StreamNative serves a streaming NativeCall; see Stream. The caller must
// Close the stream it returns.
func (s *Service) StreamNative(ctx context.Context, c *NativeCall) (Streamed, *Result, error) {
	return s.chat.StreamNative(ctx, c)
}

// ServesNatively reports whether any enabled route of the model has a
// provider that serves op natively.
func (s *Service) ServesNatively(model string, op ports.Operation) bool {
	return s.chat.ServesNatively(model, op)
}

// Reject records a request refused before it reached the pipeline (bad
// credentials, an unreadable or invalid body) with the status it got, so
// that metrics, the access log and the request log count it like any other.
func (s *Service) Reject(requestID string, start time.Time, client *domain.ClientKey, status int, err error) {
	s.obs.rejected(requestID, start, client, status, err)
}

// ListModels returns the models a client may use: enabled ones with at least
// one healthy route.
func (s *Service) ListModels() []routing.ModelInfo { return s.router.ListModels() }

// Start loads the configuration and starts the background writers. It fails
// when the first load fails. The writers run until ctx ends or Shutdown is
// called; either way they flush what they hold before they stop.
func (s *Service) Start(ctx context.Context) error {
	if err := s.Reload(ctx); err != nil {
		return err
	}
	s.bg.Add(2)
	go func() { defer s.bg.Done(); s.rec.run(ctx) }()
	go func() { defer s.bg.Done(); s.touch.run(ctx) }()
	if s.limiter != nil {
		lctx, stop := context.WithCancel(ctx)
		s.limiterStop = stop
		s.bg.Add(1)
		go func() { defer s.bg.Done(); s.limiter.Run(lctx) }()
	}
	return nil
}

// Shutdown stops the background writers and waits, bounded by ctx, for them
// and for the background tasks requests started (key invalidation, recovery
// probes). The request log's final flush writes every queued entry,
// retrying transient database errors until ctx ends; what could not be
// written by then is dropped, counted (Metrics.RequestLogDropped) and
// reported in one log line. Entries recorded after the flush are dropped and
// counted the same way. Then the provider clients are closed. Give ctx a
// deadline; only the first call does anything.
func (s *Service) Shutdown(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() { err = s.shutdown(ctx) })
	return err
}

func (s *Service) shutdown(ctx context.Context) error {
	s.rec.shutdown(ctx)
	if s.limiter != nil {
		// Report what the leases spent and return their leftovers, so the
		// other replicas can use them at once.
		if s.limiterStop != nil {
			s.limiterStop()
		}
		s.limiter.Close(ctx)
	}
	s.taskMu.Lock()
	s.tasksClosed = true
	s.taskMu.Unlock()
	done := make(chan struct{})
	go func() {
		s.tasks.Wait()
		s.bg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		// The writers bound themselves by ctx; the tasks stop when their
		// context is canceled.
		s.taskCancel()
		select {
		case <-done:
		case <-time.After(time.Second):
			err = errors.New("gateway: background work still running after the shutdown deadline")
		}
	}
	s.taskCancel()
	select {
	case <-s.rec.done:
		attrs := []any{"flushed", s.rec.drained, "dropped_at_shutdown", s.rec.drainDropped, "dropped_since_start", s.rec.dropped.Load()}
		if s.rec.drainDropped > 0 {
			s.log.Warn("request log closed: entries were dropped at shutdown", attrs...)
		} else {
			s.log.Info("request log closed", attrs...)
		}
	default:
		s.log.Warn("request log closed without its final flush", "dropped_since_start", s.rec.dropped.Load())
	}
	s.config.closeClients()
	return err
}

// Close is Shutdown with a deadline of 5 seconds.
func (s *Service) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		s.log.Warn("shutdown", "err", err)
	}
}

// goTask runs f in the background with a bounded context, unless Shutdown
// has started; Shutdown waits for it.
func (s *Service) goTask(f func(ctx context.Context)) bool {
	s.taskMu.Lock()
	if s.tasksClosed {
		s.taskMu.Unlock()
		return false
	}
	s.tasks.Add(1)
	s.taskMu.Unlock()
	go func() {
		defer s.tasks.Done()
		ctx, cancel := context.WithTimeout(s.taskCtx, 10*time.Second)
		defer cancel()
		f(ctx)
	}()
	return true
}
