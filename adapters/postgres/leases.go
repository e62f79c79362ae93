package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/airouter/airouter/adapters/postgres/sqlcgen"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

var _ ports.LeaseStore = (*Store)(nil)

// SyncLease settles and refills one replica's lease on a limit counter in
// one statement (the airouter_lease_sync function of migration 000003).
func (s *Store) SyncLease(ctx context.Context, r ports.LeaseRequest) (ports.LeaseGrant, error) {
	out, err := s.q.SyncLease(ctx, sqlcgen.SyncLeaseParams{
		ClientKeyID: r.ClientKeyID, Kind: string(r.Kind), WindowStart: r.Window.UTC(), Cap: r.Cap,
		Replica: r.Replica, Used: r.Used, Delta: r.Delta, TtlMs: r.TTL.Milliseconds(),
	})
	if err != nil {
		return ports.LeaseGrant{}, dbError(err, "sync lease", "client key", r.ClientKeyID)
	}
	if len(out) != 3 {
		return ports.LeaseGrant{}, fmt.Errorf("sync lease: unexpected result %v", out)
	}
	return ports.LeaseGrant{Granted: out[0], Free: out[1], Held: out[2]}, nil
}

// LimitCounter returns a counter's spent and reserved amounts (for tests and
// the admin API); zeros when the counter does not exist yet.
func (s *Store) LimitCounter(ctx context.Context, clientKeyID int64, kind ports.LimitKind, window time.Time) (spent, reserved float64, err error) {
	row, err := s.q.GetLimitCounter(ctx, sqlcgen.GetLimitCounterParams{ClientKeyID: clientKeyID, Kind: string(kind), WindowStart: window.UTC()})
	if err != nil {
		if e := dbError(err, "limit counter", "limit counter", clientKeyID); domain.ErrorCode(e) == domain.CodeNotFound {
			return 0, 0, nil
		}
		return 0, 0, dbError(err, "limit counter", "limit counter", clientKeyID)
	}
	return row.Spent, row.Reserved, nil
}

// PruneLimitCounters deletes the counters (and leases) of limit windows that
// ended long before now: minute windows after an hour, daily and monthly
// budget windows 62 days after they started; total budgets are kept.
func (s *Store) PruneLimitCounters(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.q.PruneLimitCounters(ctx, now.UTC())
	if err != nil {
		return 0, dbError(err, "prune limit counters", "limit counter", nil)
	}
	return n, nil
}
