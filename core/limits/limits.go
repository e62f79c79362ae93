// Package limits enforces client keys' rate limits and budgets across
// replicas without a database round trip per request. Each replica holds a
// lease (a slice) of every limit counter it uses, granted atomically by a
// ports.LeaseStore, and spends it locally; it settles what it spent and
// refills in one statement when the slice runs out (one refill in flight
// per key), renews the lease in the background and returns leftovers on
// Close. A replica that dies stops renewing, and its slice returns to the
// counter after the lease TTL.
package limits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// Counter indexes.
const (
	cBudget = iota
	cRPM
	cTPM
	nCounters
)

var kinds = [nCounters]ports.LimitKind{ports.LimitBudget, ports.LimitRPM, ports.LimitTPM}

// Options configures a Limiter.
type Options struct {
	Store   ports.LeaseStore
	Replica string // unique per process
	Now     func() time.Time
	Logger  *slog.Logger
	// TTL is how long a lease lives without renewal; default 30s. A
	// crashed replica's slices return after it.
	TTL time.Duration
	// Slices is how many slices a counter is cut into: a refill asks for
	// cap/Slices (at least what the request needs); default 20.
	Slices int
}

// Limiter enforces the limits of client keys.
type Limiter struct {
	o    Options
	keys sync.Map // int64 → *keyState
}

// New checks the options and returns a Limiter.
func New(o Options) (*Limiter, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("limits: Store is required")
	case o.Replica == "":
		return nil, errors.New("limits: Replica is required")
	case o.Now == nil:
		return nil, errors.New("limits: Now is required")
	case o.Logger == nil:
		return nil, errors.New("limits: Logger is required")
	}
	if o.TTL <= 0 {
		o.TTL = 30 * time.Second
	}
	if o.Slices <= 0 {
		o.Slices = 20
	}
	return &Limiter{o: o}, nil
}

// keyState is one key's local view of its counters. mu is held during a
// refill, so a key has at most one refill in flight; other keys are not
// affected.
type keyState struct {
	mu sync.Mutex
	c  [nCounters]counter
}

type counter struct {
	window   time.Time // start of the window the lease is for
	cap      float64
	held     float64   // the lease as of the last sync
	inflight float64   // reserved by requests not settled yet (part of held)
	used     float64   // settled since the last sync (part of held; reported next sync)
	free     float64   // what nobody held at the last sync
	deadline time.Time // the lease may be spent until then
	lastUse  time.Time // the last reservation (an idle lease is returned)
}

func (c *counter) avail() float64 { return c.held - c.inflight - c.used }

// Status is what the client is told about its limits (the x-ratelimit
// headers). Zero limits are not shown.
type Status struct {
	LimitRequests, RemainingRequests int64
	ResetRequests                    time.Duration
	LimitTokens, RemainingTokens     int64
	ResetTokens                      time.Duration
	// RetryAfter is set when the request was refused.
	RetryAfter time.Duration
}

// Reservation is what a request holds until it settles.
type Reservation struct {
	key     int64
	ks      *keyState
	amounts [nCounters]float64
	windows [nCounters]time.Time
}

// Need is what one request reserves: its worst-case tokens and cost.
type Need struct {
	Tokens float64
	Cost   float64
}

// Exceeded is the error of a refused request (CodeRateLimited).
func exceeded(what string) error {
	return &domain.Error{Code: domain.CodeRateLimited, Msg: what}
}

func minute(t time.Time) time.Time { return t.UTC().Truncate(time.Minute) }

// windowOf returns a counter's current window start, reset and cap for k.
func windowOf(i int, k *domain.ClientKey, now time.Time) (start time.Time, reset time.Duration, cap float64) {
	switch i {
	case cBudget:
		start = k.Budget.Period.Start(now)
		if end := k.Budget.Period.End(now); !end.IsZero() {
			reset = end.Sub(now)
		}
		return start, reset, k.Budget.USD
	case cRPM:
		start = minute(now)
		return start, start.Add(time.Minute).Sub(now), float64(k.RPM)
	default:
		start = minute(now)
		return start, start.Add(time.Minute).Sub(now), float64(k.TPM)
	}
}

func active(i int, k *domain.ClientKey) bool {
	switch i {
	case cBudget:
		return k.Budget.USD > 0
	case cRPM:
		return k.RPM > 0
	default:
		return k.TPM > 0
	}
}

// Reserve takes what one request needs from the key's local leases,
// refilling a lease from the store when it does not suffice. A key without
// limits returns a nil reservation at no cost. A refused request gets a
// CodeRateLimited error and a Status with RetryAfter.
func (l *Limiter) Reserve(ctx context.Context, k *domain.ClientKey, n Need) (*Reservation, Status, error) {
	if !k.Limited() {
		return nil, Status{}, nil
	}
	ks := l.state(k.ID)
	now := l.o.Now()
	need := [nCounters]float64{n.Cost, 1, n.Tokens}
	if !k.Budget.HardStop {
		need[cBudget] = 0 // tracked, not enforced
	}
	r := &Reservation{key: k.ID, ks: ks}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	var st Status
	for i := 0; i < nCounters; i++ {
		if !active(i, k) {
			continue
		}
		c := &ks.c[i]
		win, reset, cap := windowOf(i, k, now)
		if !c.window.Equal(win) {
			l.rollover(ctx, k.ID, i, c, win)
		}
		c.cap = cap
		if need[i] > 0 && (c.avail() < need[i] || !now.Before(c.deadline)) {
			if err := l.refill(ctx, k.ID, i, c, need[i], now); err != nil {
				r.release()
				return nil, st, err
			}
		}
		if need[i] > c.avail()+1e-12 {
			r.release()
			st = l.status(k, ks, now)
			st.RetryAfter = reset
			if i == cBudget {
				return nil, st, exceeded(fmt.Sprintf("This key's %s budget of $%g is used up.", k.Budget.Period, k.Budget.USD))
			}
			if i == cRPM {
				return nil, st, exceeded(fmt.Sprintf("Rate limit reached for requests: limit %d per minute.", k.RPM))
			}
			return nil, st, exceeded(fmt.Sprintf("Rate limit reached for tokens: limit %d per minute, this request needs up to %d.", k.TPM, int64(n.Tokens)))
		}
		c.inflight += need[i]
		c.lastUse = now
		r.amounts[i] = need[i]
		r.windows[i] = win // also when need is 0: what is used is still counted
	}
	return r, l.status(k, ks, now), nil
}

// release gives back what a refused request had reserved. ks.mu is held.
func (r *Reservation) release() {
	for i, a := range r.amounts {
		r.ks.c[i].inflight -= a
		r.amounts[i] = 0
	}
}

// Settle replaces the reservation by what the request really used. A nil
// reservation (a key without limits) is a no-op.
func (l *Limiter) Settle(r *Reservation, tokens, cost float64) {
	if r == nil {
		return
	}
	used := [nCounters]float64{cost, 1, tokens}
	var late [nCounters]counter // usage of windows that closed meanwhile
	r.ks.mu.Lock()
	for i := range r.windows {
		c := &r.ks.c[i]
		w := r.windows[i]
		if w.IsZero() {
			continue // not limited
		}
		if !c.window.Equal(w) {
			// The window rolled over while the request ran (its lease
			// went back with the in-flight part): report the usage to
			// the old window directly, so it is counted there.
			if used[i] > 0 {
				late[i] = counter{window: w, cap: c.cap, used: used[i]}
			}
			continue
		}
		c.inflight -= r.amounts[i]
		c.used += used[i]
	}
	r.ks.mu.Unlock()
	for i := range late {
		if late[i].used > 0 {
			c := late[i]
			go func() { _ = l.sync(context.Background(), r.key, i, &c, 0, l.o.Now()) }()
		}
	}
}

// Reserved is what r set aside: its worst-case tokens and cost. A nil
// reservation reserved nothing.
func (r *Reservation) Reserved() (tokens, cost float64) {
	if r == nil {
		return 0, 0
	}
	return r.amounts[cTPM], r.amounts[cBudget]
}

func (l *Limiter) state(id int64) *keyState {
	if v, ok := l.keys.Load(id); ok {
		return v.(*keyState)
	}
	v, _ := l.keys.LoadOrStore(id, &keyState{})
	return v.(*keyState)
}

// refill settles what was used and asks for at least need more. ks.mu is
// held: one refill per key at a time.
func (l *Limiter) refill(ctx context.Context, key int64, i int, c *counter, need float64, now time.Time) error {
	want := need - c.avail()
	if slice := c.cap / float64(l.o.Slices); want < slice {
		want = slice
	}
	if want < 0 {
		want = 0
	}
	return l.sync(ctx, key, i, c, want, now)
}

func (l *Limiter) sync(ctx context.Context, key int64, i int, c *counter, delta float64, now time.Time) error {
	// Detached from the caller's cancellation (a client that goes away
	// mid-refill must not leave a committed sync unacknowledged, which would
	// report its spend twice) but bounded: ks.mu is held across the call, so
	// a hung database connection must not hang the key's requests.
	d := min(l.o.TTL/3, 5*time.Second)
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(d, time.Millisecond))
	defer cancel()
	g, err := l.o.Store.SyncLease(ctx, ports.LeaseRequest{
		ClientKeyID: key, Kind: kinds[i], Window: c.window, Cap: c.cap, Replica: l.o.Replica,
		Used: c.used, Delta: delta, TTL: l.o.TTL,
	})
	if err != nil {
		if code := domain.ErrorCode(err); code == domain.CodeInvalid || code == domain.CodeNotFound {
			// The key was deleted (its counters went with it): forget the
			// lease rather than retry it at every flush.
			*c = counter{}
			return &domain.Error{Code: domain.CodeUnauthorized, Msg: "Incorrect API key provided."}
		}
		l.o.Logger.Warn("cannot sync a client key's limit lease", "client_key_id", key, "kind", kinds[i], "err", err)
		return &domain.Error{Code: domain.CodeUnavailable, Msg: "the key's limits cannot be checked right now"}
	}
	c.used = 0
	c.held = g.Held
	c.free = g.Free
	// Spend the lease only while the store surely still holds it: the TTL
	// counts from the store's clock after the request was sent.
	c.deadline = now.Add(l.o.TTL * 4 / 5)
	return nil
}

// rollover starts a new window: what the old one used is reported and its
// leftovers returned in the background.
func (l *Limiter) rollover(ctx context.Context, key int64, i int, c *counter, win time.Time) {
	if !c.window.IsZero() && (c.used > 0 || c.held > 0) {
		old := *c
		go func() { _ = l.sync(ctx, key, i, &old, -(old.held - old.used), l.o.Now()) }() // sync detaches and bounds itself
	}
	*c = counter{window: win}
}

// status builds the headers' values from the local view: what nobody held
// at the last sync plus what this replica has left.
func (l *Limiter) status(k *domain.ClientKey, ks *keyState, now time.Time) Status {
	var st Status
	if k.RPM > 0 {
		c := &ks.c[cRPM]
		st.LimitRequests = int64(k.RPM)
		st.RemainingRequests = max(int64(c.free+c.avail()), 0)
		st.ResetRequests = minute(now).Add(time.Minute).Sub(now)
	}
	if k.TPM > 0 {
		c := &ks.c[cTPM]
		st.LimitTokens = k.TPM
		st.RemainingTokens = max(int64(c.free+c.avail()), 0)
		st.ResetTokens = minute(now).Add(time.Minute).Sub(now)
	}
	return st
}

// Run renews this replica's leases and reports what they spent every
// TTL/3 until ctx ends, then returns every leftover.
func (l *Limiter) Run(ctx context.Context) {
	t := time.NewTicker(l.o.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// The owner returns the leftovers with Close, bounded by its
			// own shutdown deadline.
			return
		case <-t.C:
			l.Flush(ctx)
		}
	}
}

// Flush reports what every lease spent and renews it; a lease nobody
// reserved from for a TTL (an idle key, a window that ended) is returned
// instead, so other replicas can use it and nothing is renewed forever.
func (l *Limiter) Flush(ctx context.Context) {
	now := l.o.Now()
	l.syncAll(ctx, now, func(c *counter) float64 {
		if c.inflight <= 0 && now.Sub(c.lastUse) > l.o.TTL {
			return -max(c.avail(), 0)
		}
		return 0
	})
}

// Close reports what was spent and returns what is not reserved, so other
// replicas can use it at once.
func (l *Limiter) Close(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	l.syncAll(ctx, l.o.Now(), func(c *counter) float64 { return -max(c.avail(), 0) })
}

// syncAll syncs every lease that holds or spent something, asking delta(c)
// of each.
func (l *Limiter) syncAll(ctx context.Context, now time.Time, delta func(*counter) float64) {
	l.keys.Range(func(k, v any) bool {
		ks := v.(*keyState)
		ks.mu.Lock()
		for i := range ks.c {
			c := &ks.c[i]
			if !c.window.IsZero() && (c.used > 0 || c.held > 0) {
				_ = l.sync(ctx, k.(int64), i, c, delta(c), now)
			}
		}
		ks.mu.Unlock()
		return true
	})
}
