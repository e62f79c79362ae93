package memory

import (
	"context"
	"sync"
	"time"

	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// Leases is an in-memory ports.LeaseStore with the semantics of the
// PostgreSQL one (for tests of a single process).
type Leases struct {
	mu       sync.Mutex
	now      func() time.Time
	counters map[leaseCounterKey]*leaseCounter
}

var _ ports.LeaseStore = (*Leases)(nil)

type leaseCounterKey struct {
	key    int64
	kind   ports.LimitKind
	window int64
}

type leaseCounter struct {
	spent, reserved float64
	leases          map[string]*lease
}

type lease struct {
	amount  float64
	expires time.Time
}

// NewLeases returns an empty ledger; now tells lease expiry (nil: time.Now).
func NewLeases(now func() time.Time) *Leases {
	if now == nil {
		now = time.Now
	}
	return &Leases{now: now, counters: map[leaseCounterKey]*leaseCounter{}}
}

// SyncLease settles and refills one replica's lease.
func (l *Leases) SyncLease(_ context.Context, r ports.LeaseRequest) (ports.LeaseGrant, error) {
	if r.ClientKeyID <= 0 || r.Replica == "" {
		return ports.LeaseGrant{}, domain.Errorf(domain.CodeInvalid, "lease: client key and replica are required")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := leaseCounterKey{r.ClientKeyID, r.Kind, r.Window.UnixNano()}
	c := l.counters[k]
	if c == nil {
		c = &leaseCounter{leases: map[string]*lease{}}
		l.counters[k] = c
	}
	for id, ls := range c.leases {
		if id != r.Replica && ls.expires.Before(now) {
			c.reserved -= ls.amount
			delete(c.leases, id)
		}
	}
	mine := c.leases[r.Replica]
	var held float64
	if mine != nil {
		held = mine.amount
	}
	used := max(r.Used, 0)
	c.spent += used
	c.reserved = max(c.reserved-min(used, held), 0)
	held = max(held-used, 0)
	var granted float64
	if r.Delta >= 0 {
		granted = min(r.Delta, max(r.Cap-c.spent-c.reserved, 0))
	} else {
		granted = -min(-r.Delta, held)
	}
	c.reserved = max(c.reserved+granted, 0)
	held += granted
	if held > 0 {
		c.leases[r.Replica] = &lease{amount: held, expires: now.Add(r.TTL)}
	} else {
		delete(c.leases, r.Replica)
	}
	return ports.LeaseGrant{Granted: granted, Free: max(r.Cap-c.spent-c.reserved, 0), Held: held}, nil
}
