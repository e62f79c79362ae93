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
	"github.com/airouter/airouter/ports"
)

// ListenerApplicationName names the listener's connection in
// pg_stat_activity.
const ListenerApplicationName = "airouter-listen"

// change is a JSON payload naming a change and its id, as
// pg_notify('airouter_config', '{"kind":"model","id":9}') sends it. The
// migration's triggers send the bare table name instead.
type change struct {
	Kind string `json:"kind"`
	ID   int64  `json:"id,omitempty"`
}

// tableKinds maps the triggers' table names to change kinds.
var tableKinds = map[string]string{
	"providers":       "provider",
	"provider_keys":   "key",
	"models":          "model",
	"model_routes":    "route",
	"client_keys":     "client_key",
	"provider_health": "health",
	"key_health":      "health",
}

func parseChange(payload string) ports.Change {
	if strings.HasPrefix(payload, "{") {
		var c change
		if err := json.Unmarshal([]byte(payload), &c); err == nil && c.Kind != "" {
			return ports.Change{Kind: c.Kind, ID: c.ID}
		}
	}
	if k, ok := tableKinds[payload]; ok {
		return ports.Change{Kind: k}
	}
	return ports.Change{Kind: payload}
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
		fn(ports.Change{Kind: "resync"})
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
