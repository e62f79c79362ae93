// Package gateway holds the request pipeline of AI Router: authenticate,
// resolve the model from the in-memory configuration, plan the attempts (core
// routing), call upstream with failover, respond, and record statistics and
// the request log asynchronously. It performs no I/O of its own; everything
// goes through ports.
package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/limits"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
)

// Options configures a Service. Every port is required except Orchestrator.
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

// Service runs the request pipeline. Create it with New, then Start it.
type Service struct {
	o        Options
	log      *slog.Logger
	router   *routing.Router
	budget   *routing.Budget
	snap     atomic.Pointer[snapshot]
	reloadMu sync.Mutex
	rec      *recorder
	touch    *toucher
	limiter  *limits.Limiter // nil without Options.Leases
	idPrefix string
	idSeq    atomic.Uint64

	healthSeen   map[healthKey]time.Time // guarded by reloadMu
	undecrypted  map[int64]bool          // guarded by reloadMu
	recoveryMu   sync.Mutex
	recoveryLast map[int64]time.Time
	bg           sync.WaitGroup // the request-log writer and the toucher

	// Background tasks the request path starts (key invalidation, recovery
	// probes); Shutdown waits for them and cancels taskCtx at its deadline.
	taskMu      sync.Mutex
	tasksClosed bool // guarded by taskMu: Shutdown started, no new tasks
	tasks       sync.WaitGroup
	taskCtx     context.Context
	taskCancel  context.CancelFunc
	closeOnce   sync.Once
	// open holds the open streams of each client key (ID → *streamSet),
	// so that a reload that finds a key disabled or deleted ends them.
	open sync.Map

	limiterStop context.CancelFunc // stops limiter.Run; set by Start
}

// streamSet is the open streams of one client key. Its lock is taken at a
// stream's start and end only, and contended only by the same key's streams.
type streamSet struct {
	mu   sync.Mutex
	m    map[*Stream]struct{}
	dead bool // dropped from Service.open; a new stream takes a new set
}

// errKeyRevoked is what a client sees when its key is disabled or deleted
// while its stream is open.
var errKeyRevoked = &domain.Error{Code: domain.CodeUnauthorized, Msg: "The API key used for this stream was disabled or deleted; the stream was ended."}

// trackStream registers an open stream of its client key, then ends it at
// once if the key was revoked meanwhile: a reload stores its snapshot before
// it ends the streams it finds, so every stream is seen by one or the other.
func (s *Service) trackStream(st *Stream, client *domain.ClientKey) {
	if client == nil || len(client.Hash) != sha256.Size {
		return
	}
	var set *streamSet
	for {
		v, ok := s.open.Load(client.ID)
		if !ok {
			v, _ = s.open.LoadOrStore(client.ID, &streamSet{m: map[*Stream]struct{}{}})
		}
		set = v.(*streamSet)
		set.mu.Lock()
		if !set.dead {
			set.m[st] = struct{}{}
			set.mu.Unlock()
			break
		}
		set.mu.Unlock() // dropped by a reload: take the new one
	}
	st.set = set
	var h [sha256.Size]byte
	copy(h[:], client.Hash)
	if e, ok := s.snap.Load().clientKeys[h]; !ok || !e.key.Enabled || e.key.ID != client.ID {
		st.revoke()
	}
}

// revokeStreams ends the open streams of client keys not in enabled, and
// drops their sets so that deleted keys leave nothing behind.
func (s *Service) revokeStreams(enabled map[int64]bool) {
	s.open.Range(func(k, v any) bool {
		if enabled[k.(int64)] {
			return true
		}
		set := v.(*streamSet)
		set.mu.Lock()
		for st := range set.m {
			st.revoke()
		}
		set.dead = true
		s.open.Delete(k)
		set.mu.Unlock()
		return true
	})
}

type healthKey struct{ provider, key int64 }

// snapshot is the immutable configuration the request path reads.
type snapshot struct {
	providers  map[int64]*providerEntry
	clientKeys map[[sha256.Size]byte]*clientKeyEntry
	keyNames   map[int64]string // client key id → name, for metric labels
}

type providerEntry struct {
	p      domain.Provider
	client ports.ProviderClient
}

type clientKeyEntry struct {
	key      domain.ClientKey
	lastUsed atomic.Int64 // unix nanoseconds, flushed by the toucher
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
	s := &Service{
		o:            o,
		log:          o.Logger,
		healthSeen:   map[healthKey]time.Time{},
		undecrypted:  map[int64]bool{},
		recoveryLast: map[int64]time.Time{},
	}
	ro := o.Routing
	if ro.Now == nil {
		ro.Now = o.Clock.Now
	}
	ro.OnEvent = s.onRoutingEvent
	s.router = routing.New(ro)
	s.budget = routing.NewBudget(o.RetryBudget, o.RetryMinPerSec, o.Clock.Now)
	s.rec = newRecorder(o.Logs, o.Metrics, o.Logger, o.LogQueueSize, o.LogBatchSize, o.LogFlushInterval)
	s.touch = &toucher{store: o.ClientKeys, log: o.Logger, svc: s, stop: s.rec.stop}
	s.taskCtx, s.taskCancel = context.WithCancel(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	s.idPrefix = "req_" + hex.EncodeToString(b[:])
	if o.Leases != nil {
		l, err := limits.New(limits.Options{Store: o.Leases, Replica: s.idPrefix, Now: o.Clock.Now, Logger: o.Logger, TTL: o.LeaseTTL})
		if err != nil {
			return nil, err
		}
		s.limiter = l
	}
	s.snap.Store(&snapshot{providers: map[int64]*providerEntry{}, clientKeys: map[[32]byte]*clientKeyEntry{}})
	return s, nil
}

// Router exposes the routing state for the statistics and health APIs.
func (s *Service) Router() *routing.Router { return s.router }

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
	for _, p := range s.snap.Load().providers {
		p.client.Close()
	}
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

// Reload reads the whole configuration and swaps it in atomically. Provider
// clients whose configuration did not change are kept with their
// connection pools.
func (s *Service) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg, err := s.o.Loader.LoadConfig(ctx)
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	old := s.snap.Load()
	next := &snapshot{
		providers:  make(map[int64]*providerEntry, len(cfg.Providers)),
		clientKeys: make(map[[32]byte]*clientKeyEntry, len(cfg.ClientKeys)),
		keyNames:   make(map[int64]string, len(cfg.ClientKeys)),
	}
	for _, p := range cfg.Providers {
		if prev, ok := old.providers[p.ID]; ok && sameProvider(prev.p, p) {
			next.providers[p.ID] = &providerEntry{p: p, client: prev.client}
			continue
		}
		client, err := s.o.Providers.NewClient(p)
		if err != nil {
			s.log.Error("provider cannot be used", "provider", p.Name, "err", err)
			continue
		}
		next.providers[p.ID] = &providerEntry{p: p, client: client}
	}
	enabledKeys := make(map[int64]bool, len(cfg.ClientKeys))
	for _, k := range cfg.ClientKeys {
		if len(k.Hash) != sha256.Size {
			continue
		}
		if k.Enabled {
			enabledKeys[k.ID] = true
		}
		var h [32]byte
		copy(h[:], k.Hash)
		next.keyNames[k.ID] = k.Name
		e := &clientKeyEntry{key: k}
		if prev, ok := old.clientKeys[h]; ok {
			e.lastUsed.Store(prev.lastUsed.Load())
		}
		next.clientKeys[h] = e
	}
	for _, k := range cfg.Keys {
		if k.LastError == domain.KeyErrorUndecryptable && !s.undecrypted[k.ID] {
			s.undecrypted[k.ID] = true
			s.log.Error("provider key disabled: its secret does not decrypt with AIROUTER_MASTER_KEY", "key_id", k.ID, "provider_id", k.ProviderID, "fingerprint", k.Fingerprint)
		}
	}
	// Usable providers only go to the router: a provider whose client could
	// not be built has no routes.
	provs := make([]domain.Provider, 0, len(cfg.Providers))
	for _, p := range cfg.Providers {
		if _, ok := next.providers[p.ID]; ok {
			provs = append(provs, p)
		}
	}
	for _, err := range s.router.Update(routing.Config{Providers: provs, Keys: cfg.Keys, Models: cfg.Models, Health: cfg.Health}) {
		s.log.Warn("model configuration", "err", err)
	}
	for _, h := range cfg.Health {
		hk := healthKey{h.ProviderID, h.KeyID}
		if seen, ok := s.healthSeen[hk]; ok && !h.CheckedAt.After(seen) {
			continue
		}
		s.healthSeen[hk] = h.CheckedAt
		s.router.ApplyHealth(h)
	}
	s.snap.Store(next)
	s.revokeStreams(enabledKeys)
	for id, p := range old.providers {
		if n, ok := next.providers[id]; !ok || n.client != p.client {
			p.client.Close()
		}
	}
	return nil
}

func sameProvider(a, b domain.Provider) bool {
	if a.Name != b.Name || a.Kind != b.Kind || a.BaseURL != b.BaseURL || a.Enabled != b.Enabled || a.Timeouts != b.Timeouts || len(a.Headers) != len(b.Headers) {
		return false
	}
	for k, v := range a.Headers {
		if b.Headers[k] != v {
			return false
		}
	}
	return true
}

// Authenticate finds the client key of a bearer token.
func (s *Service) Authenticate(token string) (*domain.ClientKey, error) {
	if token == "" {
		return nil, &domain.Error{Code: domain.CodeUnauthorized, Msg: "You didn't provide an API key. Provide it in the Authorization header as 'Bearer YOUR_KEY'."}
	}
	h := sha256.Sum256([]byte(token))
	e, ok := s.snap.Load().clientKeys[h]
	if !ok || subtle.ConstantTimeCompare(h[:], e.key.Hash) != 1 || !e.key.Enabled {
		return nil, &domain.Error{Code: domain.CodeUnauthorized, Msg: "Incorrect API key provided."}
	}
	if e.key.Expired(s.o.Clock.Now()) {
		return nil, &domain.Error{Code: domain.CodeUnauthorized, Msg: "This API key has expired."}
	}
	e.lastUsed.Store(s.o.Clock.Now().UnixNano())
	return &e.key, nil
}

// NewRequestID returns a unique request id.
func (s *Service) NewRequestID() string {
	n := s.idSeq.Add(1)
	var b [40]byte
	out := append(b[:0], s.idPrefix...)
	out = append(out, '_')
	out = appendHex(out, n)
	return string(out)
}

func appendHex(b []byte, n uint64) []byte {
	const digits = "0123456789abcdef"
	var tmp [16]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = digits[n&15]
		n >>= 4
		if n == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// Call is one client request.
type Call struct {
	Req       *domain.ChatRequest
	Client    *domain.ClientKey
	Provider  string // from X-Provider; overrides the body's provider field
	RequestID string
	Start     time.Time

	capMaxTokens int // set by admit: the completion bound reserved for a request that set none
}

// Result says how a request was served.
type Result struct {
	RequestID string
	Model     string
	Provider  string
	Attempts  int
	// Limits is the client key's rate-limit state for the x-ratelimit
	// headers (zero for keys without limits).
	Limits limits.Status

	strategy domain.Strategy // of the resolved model; "" when it was not found
	finish   func()
}

// Finish records a successful non-streaming request (statistics, metrics,
// request log, the access-log line). Complete leaves it to the caller, to be
// called once the response is sent, so that none of it delays the client.
// Safe to call more than once and on failed requests (a no-op).
func (r *Result) Finish() {
	if r != nil && r.finish != nil {
		f := r.finish
		r.finish = nil
		f()
	}
}

// ModelNotFound is the error for an unknown or disabled model.
func ModelNotFound(name string) error {
	return &domain.Error{Code: domain.CodeNotFound, Field: "model", Msg: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", name)}
}

// attemptFunc makes one upstream attempt. It returns the outcome to record
// (for streams the recording happens when the stream ends: done false).
type attemptFunc func(ctx context.Context, pe *providerEntry, t ports.Target, a routing.Attempt, ticket routing.Ticket, attemptStart time.Time) (done bool, err error)

// run plans the call and makes attempts until one succeeds, a failure is not
// retryable, the plan or retry budget runs out, or the deadline passes.
func (s *Service) run(ctx context.Context, c *Call, res *Result, fn attemptFunc) (routing.Attempt, error) {
	snap := s.snap.Load()
	model, ok := s.router.Model(c.Req.Model)
	if !ok {
		return routing.Attempt{}, ModelNotFound(c.Req.Model)
	}
	dm := model.Domain()
	res.strategy = model.Strategy()
	provider := c.Provider
	if provider == "" {
		provider = c.Req.Provider
	}
	var buf [11]routing.Attempt
	n := s.o.MaxRetries + 1
	if n > len(buf) {
		n = len(buf)
	}
	plan, err := model.Plan(routing.PlanRequest{Provider: provider, PromptTokens: c.Req.EstimatedPromptTokens(), MaxTokens: c.Req.MaxTokens}, buf[:0:n])
	if err != nil {
		return routing.Attempt{}, err
	}
	s.budget.OnRequest()
	var lastErr error
	var last routing.Attempt // the last attempt made; returned for the log
	authFailures := 0
	cooling := false // an attempt was skipped because its key cools down
	for i, a := range plan {
		// Never spend an upstream call on a key that is cooling down (a
		// 429, an unconfirmed 401/403) or invalid, not even as the last
		// attempt: with nothing else left the client gets a 429 with
		// Retry-After below.
		if ok, until := s.router.KeyReady(a); !ok {
			cooling = cooling || !until.IsZero()
			continue
		}
		if res.Attempts > 0 {
			// Skip attempts whose route went bad earlier in this plan
			// while an alternative remains.
			if i < len(plan)-1 && !s.router.Usable(a) {
				continue
			}
			if !s.budget.TryRetry() {
				break
			}
			wait := routing.Backoff(res.Attempts, s.o.BackoffBase, s.o.BackoffMax, nil)
			if dl, ok := ctx.Deadline(); ok && s.o.Clock.Now().Add(wait).After(dl) {
				break
			}
			if wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return last, canceledError(ctx, lastErr)
				case <-t.C:
				}
			}
			s.o.Metrics.Retried(c.Req.Model)
		}
		if ctx.Err() != nil {
			return last, canceledError(ctx, lastErr)
		}
		pe := snap.providers[a.Route.Provider().ID]
		if pe == nil {
			continue
		}
		res.Attempts++
		last = a
		res.Provider = pe.p.Name
		t := ports.Target{Model: a.Route.Domain().UpstreamModel, Key: a.Key.Secret(), DefaultMaxTokens: dm.DefaultMaxTokens, CapMaxTokens: c.capMaxTokens}
		start := s.o.Clock.Now()
		ticket := s.router.Begin(a)
		done, err := fn(ctx, pe, t, a, ticket, start)
		if err == nil {
			return a, nil
		}
		if done {
			ticket.End(routing.Outcome{Err: err, Latency: s.o.Clock.Now().Sub(start)})
		}
		var ue *domain.UpstreamError
		if errors.As(err, &ue) {
			ue.Provider = pe.p.Name
			s.o.Metrics.AttemptFailed(pe.p.Name, string(ue.Class))
			s.log.Debug("upstream attempt failed", "request_id", c.RequestID, "provider", pe.p.Name, "attempt", res.Attempts, "class", ue.Class, "status", ue.Status, "err", ue.Error())
			if ue.Class == domain.ClassCanceled {
				return a, err
			}
			lastErr = err
			if !ue.Class.Retryable() {
				return a, err
			}
			if ue.Class == domain.ClassAuth {
				// A refusal does not cascade over a provider's keys: one
				// more key is tried, a second refusal is returned.
				if authFailures++; authFailures >= 2 {
					return a, err
				}
			}
			continue
		}
		// Not an upstream error: a translation error (the request cannot be
		// expressed for this provider) or an internal one; do not retry.
		return a, err
	}
	if lastErr == nil && cooling {
		// Every planned key cools down: answer 429 with the earliest time
		// one frees up instead of calling a cooling key.
		var wait time.Duration
		if at := model.KeysFree(); !at.IsZero() {
			wait = max(at.Sub(s.o.Clock.Now()), time.Second)
		}
		lastErr = &domain.UpstreamError{Class: domain.ClassRateLimited, Status: 429, RetryAfter: wait,
			Message: "every key of model " + c.Req.Model + " is cooling down after upstream rate limits or refusals; retry after " + wait.Round(time.Second).String()}
	}
	if lastErr == nil {
		lastErr = &domain.Error{Code: domain.CodeUnavailable, Msg: "no upstream could be tried for model " + c.Req.Model}
	}
	return last, lastErr
}

func canceledError(ctx context.Context, last error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if last != nil {
			return last
		}
		return &domain.UpstreamError{Class: domain.ClassRetryable, Timeout: true, Message: "the request's deadline passed before an upstream answered"}
	}
	return &domain.UpstreamError{Class: domain.ClassCanceled, Message: "the client closed the request", Err: ctx.Err()}
}

// Complete serves a non-streaming request. On success the caller must call
// Result.Finish once the response is sent.
func (s *Service) Complete(ctx context.Context, c *Call) (*domain.ChatResponse, *Result, error) {
	s.o.Metrics.InFlight(1)
	defer s.o.Metrics.InFlight(-1)
	ctx, cancel := context.WithTimeout(ctx, s.o.RequestTimeout)
	defer cancel()
	res := &Result{RequestID: c.RequestID, Model: c.Req.Model}
	lease, err := s.admit(ctx, c, res)
	if err != nil {
		entry := s.logEntry(c, res, routing.Attempt{}, false)
		s.finishError(&entry, err)
		return nil, res, err
	}
	var resp *domain.ChatResponse
	var cost float64
	a, err := s.run(ctx, c, res, func(ctx context.Context, pe *providerEntry, t ports.Target, a routing.Attempt, ticket routing.Ticket, start time.Time) (bool, error) {
		r, err := pe.client.Chat(ctx, t, c.Req)
		if err != nil {
			return true, err
		}
		var pt, ct int
		if r.Usage != nil {
			pt, ct = r.Usage.PromptTokens, r.Usage.CompletionTokens
		}
		cost = a.Route.Domain().UsageCost(r.Usage)
		ticket.End(routing.Outcome{Latency: s.o.Clock.Now().Sub(start), PromptTokens: pt, CompletionTokens: ct, Cost: cost})
		resp = r
		return true, nil
	})
	entry := s.logEntry(c, res, a, false)
	if err != nil {
		s.settle(lease, nil, nil)
		s.finishError(&entry, err)
		return nil, res, err
	}
	s.settle(lease, a.Route, resp.Usage)
	entry.Status = 200
	if resp.Usage != nil {
		entry.PromptTokens, entry.CompletionTokens = resp.Usage.PromptTokens, resp.Usage.CompletionTokens
	}
	entry.Cost = cost
	res.finish = func() { s.finish(&entry) }
	return resp, res, nil
}

func (s *Service) logEntry(c *Call, res *Result, a routing.Attempt, stream bool) domain.RequestLog {
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

// StatusOf returns the HTTP status a failed request gets.
func StatusOf(err error) int {
	var ue *domain.UpstreamError
	if errors.As(err, &ue) {
		switch {
		case ue.Class == domain.ClassCanceled:
			return 499
		case ue.Class == domain.ClassRequest && (ue.Status == 401 || ue.Status == 403 || ue.Status == 407):
			// The request's content was refused (a moderation flag sent
			// as 403): the client's credentials with the router are fine,
			// so it must not look like an auth failure.
			return 400
		case ue.Class == domain.ClassRequest && ue.Status >= 400 && ue.Status < 500:
			return ue.Status
		case ue.Class == domain.ClassRequest:
			return 400
		case ue.Class == domain.ClassRateLimited:
			return 429
		case ue.Timeout:
			return 504
		case ue.Status == 503 || ue.Status == 529:
			return 503
		case ue.Class == domain.ClassAuth:
			return 502
		default:
			return 502
		}
	}
	switch domain.ErrorCode(err) {
	case domain.CodeInvalid:
		return 400
	case domain.CodeUnauthorized:
		return 401
	case domain.CodeForbidden:
		return 403
	case domain.CodeNotFound:
		return 404
	case domain.CodeConflict:
		return 409
	case domain.CodeRateLimited:
		return 429
	case domain.CodeUnavailable:
		return 503
	case domain.CodeTimeout:
		return 504
	case domain.CodeUpstream:
		return 502
	}
	return 500
}

func (s *Service) finishError(e *domain.RequestLog, err error) {
	e.Status = StatusOf(err)
	var ue *domain.UpstreamError
	if errors.As(err, &ue) {
		e.ErrorClass = string(ue.Class)
	} else {
		e.ErrorClass = string(domain.ErrorCode(err))
	}
	e.ErrorMessage = truncate(domain.ErrorMessage(err), 500)
	s.finish(e)
}

// truncate cuts s to at most n bytes on a rune boundary: a message cut in
// the middle of a character is not valid UTF-8.
func truncate(s string, n int) string { return domain.TruncateText(s, n) }

func (s *Service) finish(e *domain.RequestLog) {
	e.Latency = s.o.Clock.Now().Sub(e.Time)
	// Metric labels come from the configuration only: an unknown model
	// name a client sent must not create a new time series. (Only requests
	// whose model resolved carry a strategy.)
	metricModel := e.Model
	if e.Strategy == "" {
		metricModel = "unknown"
	}
	s.o.Metrics.RequestDone(ports.RequestMetric{
		Model: metricModel, Provider: e.Provider, Status: e.Status, Stream: e.Stream, Latency: e.Latency, TTFT: e.TTFT,
		PromptTokens: e.PromptTokens, CompletionTokens: e.CompletionTokens, Cost: e.Cost,
		ClientKey: s.snap.Load().keyNames[e.ClientKeyID],
	})
	s.rec.add(*e)
	// One access-log line per request; LogAttrs avoids boxing every value.
	attrs := [...]slog.Attr{
		slog.String("request_id", e.RequestID), slog.String("model", e.Model), slog.String("provider", e.Provider),
		slog.Int("status", e.Status), slog.Int("attempts", e.Attempts), slog.Bool("stream", e.Stream),
		slog.Int64("latency_ms", e.Latency.Milliseconds()), slog.Int("prompt_tokens", e.PromptTokens),
		slog.Int("completion_tokens", e.CompletionTokens), slog.String("class", e.ErrorClass), slog.String("err", e.ErrorMessage),
	}
	if e.Status >= 500 || e.Status == 429 {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "request failed", attrs[:]...)
	} else if e.ErrorClass != "" {
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs[:]...)
	} else {
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs[:9]...)
	}
}

// Stream serves a streaming request. On success the returned stream's first
// chunk has already arrived from the upstream, so the caller can still send
// an error status if Stream fails. The caller must Close the stream.
func (s *Service) Stream(ctx context.Context, c *Call) (*Stream, *Result, error) {
	s.o.Metrics.InFlight(1)
	ctx, cancel := context.WithTimeout(ctx, s.o.RequestTimeout)
	res := &Result{RequestID: c.RequestID, Model: c.Req.Model}
	lease, err := s.admit(ctx, c, res)
	if err != nil {
		entry := s.logEntry(c, res, routing.Attempt{}, true)
		s.finishError(&entry, err)
		cancel()
		s.o.Metrics.InFlight(-1)
		return nil, res, err
	}
	var st *Stream
	a, err := s.run(ctx, c, res, func(ctx context.Context, pe *providerEntry, t ports.Target, a routing.Attempt, ticket routing.Ticket, start time.Time) (bool, error) {
		up, err := pe.client.ChatStream(ctx, t, c.Req)
		if err != nil {
			return true, err
		}
		first, err := up.Next()
		if err != nil {
			up.Close()
			if err == io.EOF {
				err = &domain.UpstreamError{Class: domain.ClassRetryable, Message: "the upstream ended the stream without any data"}
			}
			return true, err
		}
		st = &Stream{svc: s, up: up, first: first, ticket: ticket, attemptStart: start, route: a.Route, includeUsage: c.Req.IncludeUsage, cancel: cancel}
		return false, nil
	})
	if err != nil {
		s.settle(lease, nil, nil)
		entry := s.logEntry(c, res, a, true)
		s.finishError(&entry, err)
		cancel()
		s.o.Metrics.InFlight(-1)
		return nil, res, err
	}
	st.entry = s.logEntry(c, res, a, true)
	st.lease = lease
	if st.first.HasContent() {
		st.markFirstToken()
	}
	s.trackStream(st, c.Client)
	return st, res, nil
}

// Stream is a streaming response in progress.
type Stream struct {
	svc          *Service
	up           ports.ChatStream
	first        *domain.ChatChunk
	ticket       routing.Ticket
	attemptStart time.Time
	route        *routing.Route
	includeUsage bool
	cancel       context.CancelFunc
	entry        domain.RequestLog
	ttftAttempt  time.Duration
	usage        *domain.Usage
	ended        bool
	lease        *limits.Reservation
	set          *streamSet  // where trackStream registered it
	revoked      atomic.Bool // its client key was disabled or deleted
}

// revoke ends the stream because its client key was revoked: the upstream
// read fails at once and Next reports errKeyRevoked.
func (st *Stream) revoke() {
	st.revoked.Store(true)
	st.cancel()
}

func (st *Stream) markFirstToken() {
	if st.entry.TTFT == 0 {
		now := st.svc.o.Clock.Now()
		st.entry.TTFT = now.Sub(st.entry.Time)
		st.ttftAttempt = now.Sub(st.attemptStart)
	}
}

// Next returns the next chunk to send, io.EOF at a clean end, or the error
// that ended the stream. Usage chunks are dropped when the client did not ask
// for them (the router asks upstream for usage either way).
func (st *Stream) Next() (*domain.ChatChunk, error) {
	for {
		var ch *domain.ChatChunk
		if st.first != nil {
			ch, st.first = st.first, nil
		} else {
			if st.ended {
				return nil, io.EOF
			}
			var err error
			ch, err = st.up.Next()
			if err == nil && st.revoked.Load() {
				err = errKeyRevoked // a chunk that was already read is not sent
			}
			if err != nil {
				if st.revoked.Load() {
					// Neither the route nor the upstream is to blame.
					st.end(&domain.UpstreamError{Class: domain.ClassCanceled, Message: "the client key was revoked during the stream"})
					return nil, errKeyRevoked
				}
				st.end(err)
				return nil, err
			}
			if ch.HasContent() {
				st.markFirstToken()
			}
		}
		if ch.Usage != nil {
			st.usage = ch.Usage
			if !st.includeUsage && len(ch.Choices) == 0 {
				continue
			}
		}
		return ch, nil
	}
}

// Ready reports whether Next will return without waiting for the upstream,
// when the provider adapter can tell. A writer flushes only when it is not,
// so chunks that arrived together leave together.
func (st *Stream) Ready() bool {
	if st.first != nil || st.ended {
		return true
	}
	if r, ok := st.up.(interface{ Ready() bool }); ok {
		return r.Ready()
	}
	return false
}

// Close ends the stream; a stream closed before its end counts as canceled
// by the client.
func (st *Stream) Close() {
	if !st.ended {
		st.end(&domain.UpstreamError{Class: domain.ClassCanceled, Message: "the client closed the stream"})
	}
	st.up.Close()
	st.cancel()
	if st.set != nil {
		st.set.mu.Lock()
		delete(st.set.m, st)
		st.set.mu.Unlock()
	}
}

func (st *Stream) end(err error) {
	if st.ended {
		return
	}
	st.ended = true
	s := st.svc
	defer s.o.Metrics.InFlight(-1)
	var pt, ct int
	if st.usage != nil {
		pt, ct = st.usage.PromptTokens, st.usage.CompletionTokens
	}
	cost := st.route.Domain().UsageCost(st.usage)
	s.settle(st.lease, st.route, st.usage)
	out := routing.Outcome{Latency: s.o.Clock.Now().Sub(st.attemptStart), TTFT: st.ttftAttempt, PromptTokens: pt, CompletionTokens: ct, Cost: cost}
	e := st.entry
	e.PromptTokens, e.CompletionTokens, e.Cost = pt, ct, cost
	if err == io.EOF {
		st.ticket.End(out)
		e.Status = 200
		s.finish(&e)
		return
	}
	// A client that went away is an attempt only (ClassCanceled): the
	// router neither credits nor blames the route for it.
	out.Err = err
	st.ticket.End(out)
	// The status line went out as 200; the log records what the client saw
	// at the end: the stream broke.
	s.finishError(&e, err)
}

// Reject records a request refused before it reached the pipeline (bad
// credentials, an unreadable or invalid body) with the status it got, so
// that metrics, the access log and the request log count it like any other.
func (s *Service) Reject(requestID string, start time.Time, client *domain.ClientKey, status int, err error) {
	e := domain.RequestLog{Time: start, RequestID: requestID}
	if client == nil {
		// Unauthenticated: counted in metrics and the access log only, so
		// that anonymous traffic cannot fill the request log.
		e.Status = status
		e.Latency = s.o.Clock.Now().Sub(start)
		s.o.Metrics.RequestDone(ports.RequestMetric{Model: "unknown", Status: e.Status, Latency: e.Latency})
		s.log.Info("request", "request_id", requestID, "status", e.Status, "err", truncate(domain.ErrorMessage(err), 200))
		return
	}
	e.ClientKeyID = client.ID
	e.ErrorClass = string(domain.ErrorCode(err))
	e.ErrorMessage = truncate(domain.ErrorMessage(err), 500)
	e.Status = status
	s.finish(&e)
}

// ListModels returns the models a client may use: enabled ones with at least
// one healthy route.
func (s *Service) ListModels() []routing.ModelInfo { return s.router.ListModels() }

func (s *Service) onRoutingEvent(ev routing.Event) {
	switch ev.Kind {
	case routing.EventKeyAuthFailed:
		s.log.Warn("provider key refused by the upstream; probing it before marking it invalid", "provider_id", ev.ProviderID, "key_id", ev.KeyID, "until", ev.Until, "reason", ev.Reason)
		pid, kid, reason, status := ev.ProviderID, ev.KeyID, ev.Reason, ev.Status
		if !s.goTask(func(ctx context.Context) { s.confirmKey(ctx, pid, kid, status, reason) }) {
			s.log.Warn("shutting down: the refused key is not probed; its cooldown keeps it out", "key_id", kid)
		}
	case routing.EventKeyInvalidated:
		// Stored by confirmKey, in the same task (so Shutdown waits for it).
		s.log.Warn("provider key refusal confirmed by a probe; marking it invalid", "provider_id", ev.ProviderID, "key_id", ev.KeyID, "reason", ev.Reason)
	case routing.EventRouteEjected:
		s.log.Warn("route ejected by outlier detection", "provider_id", ev.ProviderID, "route_id", ev.RouteID, "until", ev.Until, "reason", ev.Reason)
		s.startRecovery(ev.ProviderID)
	case routing.EventRouteReturned:
		s.log.Info("route returned to service", "provider_id", ev.ProviderID, "route_id", ev.RouteID)
	case routing.EventKeyRateLimited:
		s.log.Debug("provider key cooling down after 429", "provider_id", ev.ProviderID, "key_id", ev.KeyID, "until", ev.Until)
	}
}

// confirmKey probes a key an attempt saw refused (401/403), off the request
// path: a refusal of the probe too (401/403) confirms it and the key is
// invalidated and stored invalid; a successful probe returns the key at
// once after a 401 (after a 403 — permission, billing, a model the key may
// not use — a model listing proves nothing, so it sits out its cooldown);
// any other outcome (network error, 5xx) leaves it to its short cooldown,
// never invalid.
func (s *Service) confirmKey(ctx context.Context, providerID, keyID int64, status int, reason string) {
	pe := s.snap.Load().providers[providerID]
	k, ok := s.router.Key(keyID)
	if pe == nil || !ok {
		return
	}
	err := pe.client.Probe(ctx, ports.Target{Key: k.Secret()})
	var ue *domain.UpstreamError
	switch {
	case err == nil && status == 401:
		s.log.Info("provider key passed its probe after a refusal; back in rotation", "provider_id", providerID, "key_id", keyID)
		s.router.ClearKeySuspicion(keyID)
	case err == nil:
		// A 403 (permission, billing, a model the key may not use) is not
		// disproved by a probe that lists models: the key sits out its
		// cooldown instead of being returned at once and refused again.
		s.log.Info("provider key passed its probe after a 403; it stays out until its cooldown ends", "provider_id", providerID, "key_id", keyID, "status", status)
	case errors.As(err, &ue) && ue.Class == domain.ClassAuth && (ue.Status == 401 || ue.Status == 403):
		reason += "; probe: " + truncate(ue.Error(), 200)
		s.router.InvalidateKey(keyID, reason)
		s.invalidateKey(ctx, keyID, reason)
	default:
		s.log.Warn("provider key probe after a refusal was inconclusive; the key stays out until its cooldown ends", "provider_id", providerID, "key_id", keyID, "err", err)
	}
}

func (s *Service) invalidateKey(ctx context.Context, id int64, reason string) {
	for i := 0; i < 3; i++ {
		k, err := s.o.Keys.GetKey(ctx, id)
		if err != nil {
			s.log.Warn("cannot read key to invalidate it", "key_id", id, "err", err)
			return
		}
		if k.Status != domain.KeyActive && k.Status != domain.KeyDraining {
			return
		}
		_, err = s.o.Keys.SetKeyStatus(ctx, id, k.Version, domain.KeyInvalid, "upstream refused the key: "+truncate(reason, 200))
		if err == nil || domain.ErrorCode(err) != domain.CodeConflict {
			if err != nil {
				s.log.Warn("cannot mark key invalid", "key_id", id, "err", err)
			}
			return
		}
	}
}

func (s *Service) startRecovery(providerID int64) {
	if s.o.Orchestrator == nil {
		return
	}
	now := s.o.Clock.Now()
	s.recoveryMu.Lock()
	if last, ok := s.recoveryLast[providerID]; ok && now.Sub(last) < 10*time.Second {
		s.recoveryMu.Unlock()
		return
	}
	s.recoveryLast[providerID] = now
	s.recoveryMu.Unlock()
	s.goTask(func(ctx context.Context) {
		if err := s.o.Orchestrator.StartRecovery(ctx, providerID); err != nil {
			s.log.Warn("cannot start the recovery probe", "provider_id", providerID, "err", err)
		}
	})
}
