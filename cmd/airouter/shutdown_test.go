package main

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airouter/airouter/adapters/httpapi"
	"github.com/airouter/airouter/adapters/postgres"
	"github.com/airouter/airouter/adapters/providers"
	"github.com/airouter/airouter/adapters/secretbox"
	"github.com/airouter/airouter/core/domain"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/core/testkit"
	"github.com/airouter/airouter/ports"
)

// blinkingLogs is PostgreSQL with a connection that fails the first
// failFirst inserts, as during a failover of the database.
type blinkingLogs struct {
	ports.RequestLogStore
	calls     atomic.Int64
	failFirst int64
}

func (b *blinkingLogs) InsertRequestLogs(ctx context.Context, e []domain.RequestLog) error {
	if b.calls.Add(1) <= b.failFirst {
		return errors.New("postgres: insert request logs: conn closed")
	}
	return b.RequestLogStore.InsertRequestLogs(ctx, e)
}

// TestRegressionShutdownFlushesQueuedEntriesToPostgres: the service holds
// queued entries when it is stopped while the database blinks for about two
// seconds. The final flush used to give up after three tries (600 ms) and
// drop everything; it now retries until the shutdown deadline, and every
// entry is in PostgreSQL when Close returns.
func TestRegressionShutdownFlushesQueuedEntriesToPostgres(t *testing.T) {
	t.Parallel()
	db := freshDatabase(t)
	ctx := t.Context()
	if err := postgres.Migrate(ctx, db, "up"); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, db, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	store, err := postgres.New(pool, box)
	if err != nil {
		t.Fatal(err)
	}
	logs := &blinkingLogs{RequestLogStore: store, failFirst: 4}
	out := &testkit.Buffer{}
	svc, err := gateway.New(gateway.Options{
		Loader: store, Providers: providers.NewFactory(), Keys: store, Logs: logs, ClientKeys: store,
		Metrics: ports.NopMetrics{}, Logger: slog.New(slog.NewTextHandler(out, nil)), Clock: ports.SystemClock{}, StatusOf: httpapi.StatusOf,
		LogBatchSize: 1024, LogFlushInterval: time.Hour, // nothing is written before the shutdown
	})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	if err := svc.Start(sctx); err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 250
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				svc.Reject("req-"+strconv.Itoa(w)+"-"+strconv.Itoa(i), time.Now(), &domain.ClientKey{ID: 7}, 400,
					domain.FieldError("model", "is required"))
			}
		}()
	}
	wg.Wait()
	cancel()
	svc.Close()
	if got := queryInt(t, db, "SELECT count(*) FROM request_log WHERE client_key_id = 7"); got != writers*each {
		t.Fatalf("PostgreSQL holds %d of %d entries after shutdown\n%s", got, writers*each, out.String())
	}
	if s := out.String(); strings.Contains(s, "dropped") && !strings.Contains(s, "dropped_at_shutdown=0") {
		t.Fatalf("entries reported dropped:\n%s", s)
	}
}
