package main

// The serve command's background loops: applying configuration changes and
// hourly housekeeping.

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/airouter/airouter/adapters/postgres"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/ports"
)

// listenForChanges applies the changes any replica makes to the
// configuration, by kind and id (gateway.Service.Apply). Changes are
// gathered for 50 ms, so a burst is applied with one rebuild; a failed
// apply is followed by a full reload a second later.
func listenForChanges(ctx context.Context, feed ports.ChangeFeed, svc *gateway.Service, log *slog.Logger) {
	var (
		mu      sync.Mutex
		pending []ports.Change
		failed  bool
	)
	kick := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			}
			time.Sleep(50 * time.Millisecond) // gather a burst
			mu.Lock()
			batch := pending
			pending = nil
			if failed {
				batch = append(batch, ports.Change{Kind: ports.ChangeResync})
				failed = false
			}
			mu.Unlock()
			if len(batch) == 0 {
				continue
			}
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := svc.Apply(actx, batch...); err != nil && ctx.Err() == nil {
				log.Warn("applying a configuration change failed; reloading everything in a second", "err", err)
				mu.Lock()
				failed = true
				mu.Unlock()
				time.AfterFunc(time.Second, func() {
					select {
					case kick <- struct{}{}:
					default:
					}
				})
			}
			cancel()
		}
	}()
	for {
		err := feed.Listen(ctx, func(c ports.Change) {
			mu.Lock()
			pending = append(pending, c)
			mu.Unlock()
			select {
			case kick <- struct{}{}:
			default:
			}
		})
		if ctx.Err() != nil {
			return
		}
		log.Warn("configuration change feed stopped; restarting", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// housekeeping deletes request-log entries and health checks past their
// retention, client-key limit counters of long-ended windows and expired
// stored responses, hourly.
func housekeeping(ctx context.Context, store *postgres.Store, cfg config, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if cfg.LogRetention > 0 {
			before := time.Now().Add(-cfg.LogRetention)
			if n, err := store.PruneRequestLogs(ctx, before); err != nil && ctx.Err() == nil {
				log.Warn("request-log pruning failed", "err", err)
			} else if n > 0 {
				log.Info("pruned request log", "entries", n)
			}
		}
		if _, err := store.PruneHealthChecks(ctx, time.Now().Add(-7*24*time.Hour)); err != nil && ctx.Err() == nil {
			log.Warn("health-check pruning failed", "err", err)
		}
		if _, err := store.PruneLimitCounters(ctx, time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("limit-counter pruning failed", "err", err)
		}
		// Stored responses carry their expiry (RESPONSES_RETENTION at
		// write time); reads already ignore expired ones.
		if n, err := store.PruneResponses(ctx, time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("stored-response pruning failed", "err", err)
		} else if n > 0 {
			log.Info("pruned stored responses", "responses", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
