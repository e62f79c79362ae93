package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/airouter/airouter/adapters/postgres/sqlcgen"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/ports"
)

// ListenerApplicationName names the listener's connection in
// pg_stat_activity.
const ListenerApplicationName = "airouter-listen"

// change is a notification's JSON payload, as the triggers of migration
// 000004 send it (see there), e.g. {"kind":"key","id":7,"provider":2}.
type change struct {
	Kind     string `json:"kind"`
	ID       int64  `json:"id"`
	Provider int64  `json:"provider"`
	// Health rows carry their values.
	Key       int64     `json:"key"`
	Deleted   bool      `json:"deleted"`
	Status    string    `json:"status"`
	CheckedAt time.Time `json:"checked_at"`
	LatencyMs int64     `json:"latency_ms"`
	Failures  int       `json:"failures"`
	Error     string    `json:"error"`
}

// parseChange reads a payload. Anything it does not understand (an older
// schema's bare table name, an operator's hand-made notification) asks for
// a resync, which is always correct.
func parseChange(payload string) ports.Change {
	var c change
	if !strings.HasPrefix(payload, "{") || json.Unmarshal([]byte(payload), &c) != nil {
		return ports.Change{Kind: ports.ChangeResync}
	}
	switch k := ports.ChangeKind(c.Kind); k {
	case ports.ChangeProvider, ports.ChangeModel, ports.ChangeClientKey:
		if c.ID > 0 {
			return ports.Change{Kind: k, ID: c.ID}
		}
	case ports.ChangeKey:
		if c.ID > 0 && c.Provider > 0 {
			return ports.Change{Kind: k, ID: c.ID, ProviderID: c.Provider}
		}
	case ports.ChangeHealth:
		if c.Provider <= 0 {
			break
		}
		ch := ports.Change{Kind: k, ID: c.Key, ProviderID: c.Provider}
		if !c.Deleted {
			ch.Health = &domain.Health{
				ProviderID: c.Provider, KeyID: c.Key, Status: domain.HealthStatus(c.Status), CheckedAt: c.CheckedAt,
				Latency: ms(int32(min(c.LatencyMs, 1<<31-1))), ConsecutiveFailures: c.Failures, LastError: c.Error,
			}
		}
		return ch
	}
	return ports.Change{Kind: ports.ChangeResync}
}

// Listen LISTENs on a dedicated connection (outside the pool) and calls fn,
// from this goroutine, for every change until ctx ends; it then returns nil.
// When the connection fails, or cannot be made, it retries with exponential
// backoff. Each time it starts listening, the first time included, it calls
// fn with Kind "resync", since changes may have been made while it was not
// listening (a caller that loaded before Listen began would miss them).
func (s *Store) Listen(ctx context.Context, fn func(ports.Change)) error {
	if fn == nil {
		return errors.New("postgres: Listen: nil callback")
	}
	backoff := s.minBackoff
	missed := true
	for {
		established, _ := s.listenOnce(ctx, fn, missed)
		if ctx.Err() != nil {
			return nil
		}
		if established {
			backoff = s.minBackoff
		}
		missed = true
		wait := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, s.maxBackoff)
	}
}

// listenPing is how long the listener waits for a notification before it
// checks that its connection is alive.
const listenPing = 30 * time.Second

// listenOnce connects, LISTENs and delivers notifications until the
// connection fails or ctx ends. established reports whether LISTEN ran.
func (s *Store) listenOnce(ctx context.Context, fn func(ports.Change), resync bool) (established bool, err error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = ListenerApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx) // the connection is done with either way
	}()
	if err := sqlcgen.New(conn).ListenConfigChanges(ctx); err != nil {
		return false, err
	}
	if resync {
		fn(ports.Change{Kind: ports.ChangeResync})
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, listenPing)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			fn(parseChange(n.Payload))
		case ctx.Err() != nil:
			return true, ctx.Err()
		case wctx.Err() != nil:
			// Quiet for a while: make sure the connection still works.
			if err := conn.Ping(ctx); err != nil {
				return true, err
			}
		default:
			return true, err
		}
	}
}
