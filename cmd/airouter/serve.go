package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/airouter/airouter/adapters/httpapi"
	"github.com/airouter/airouter/adapters/metrics"
	"github.com/airouter/airouter/adapters/postgres"
	"github.com/airouter/airouter/adapters/providers"
	"github.com/airouter/airouter/adapters/secretbox"
	"github.com/airouter/airouter/core/gateway"
	"github.com/airouter/airouter/core/routing"
	"github.com/airouter/airouter/ports"
	"github.com/airouter/airouter/workflows"
)

func newLogger(debug bool, w io.Writer) *slog.Logger {
	if debug {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// deps are the adapters serve and worker share.
type deps struct {
	cfg   config
	log   *slog.Logger
	pool  *pgxpool.Pool
	store *postgres.Store
	box   ports.SecretBox
}

func openDeps(ctx context.Context, cfg config, log *slog.Logger) (*deps, error) {
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL (DATABASE_URL): %w", err)
	}
	if cfg.AutoMigrate {
		if err := postgres.Migrate(ctx, cfg.DatabaseURL, "up"); err != nil {
			pool.Close()
			return nil, fmt.Errorf("apply migrations (set DB_AUTO_MIGRATE=false to skip): %w", err)
		}
	}
	box, err := secretbox.New(cfg.MasterKey)
	if err != nil {
		pool.Close()
		return nil, err
	}
	store, err := postgres.New(pool, box)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if err := store.VerifyMasterKey(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return &deps{cfg: cfg, log: log, pool: pool, store: store, box: box}, nil
}

// openCommandDeps loads the configuration of a command that needs the
// database and the master key (worker, seed-demo), logs to stderr and opens
// the adapters; the caller closes d.pool.
func openCommandDeps(ctx context.Context, getenv func(string) string, stderr io.Writer) (*deps, error) {
	cfg, err := loadConfig(getenv, needs{database: true, masterKey: true})
	if err != nil {
		return nil, err
	}
	return openDeps(ctx, cfg, newLogger(cfg.Debug, stderr))
}

func workflowConfig(cfg config, log *slog.Logger) workflows.Config {
	return workflows.Config{
		HostPort:          cfg.TemporalAddress,
		Namespace:         cfg.TemporalNamespace,
		TaskQueue:         cfg.TemporalTaskQueue,
		HealthInterval:    cfg.HealthCheckInterval,
		DegradedThreshold: cfg.DegradedThreshold,
		RotationGrace:     cfg.RotationGrace,
		Logger:            log,
		IDPrefix:          idPrefix(cfg.TemporalTaskQueue),
	}
}

// idPrefix namespaces schedule and workflow IDs by task queue, so that
// deployments sharing a Temporal namespace do not touch each other's; the
// default queue keeps the plain IDs (health-<provider>, rotate-<p>-<k>).
func idPrefix(taskQueue string) string {
	if taskQueue == "airouter" {
		return ""
	}
	return taskQueue + "-"
}

func workflowDeps(d *deps) workflows.Deps {
	return workflows.Deps{Providers: d.store, Keys: d.store, Health: d.store, Rotations: d.store, Factory: providerFactory(d.cfg), Clock: ports.SystemClock{}, Models: d.store}
}

// providerFactory builds provider clients that refuse non-public upstream
// addresses at dial time unless UPSTREAM_ALLOW_PRIVATE is true.
func providerFactory(cfg config) ports.ProviderFactory {
	return providers.NewFactoryWith(providers.Options{DenyNonPublic: !cfg.AllowPrivate})
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	withWorker := fs.Bool("worker", false, "also run the Temporal worker in this process")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg, err := loadConfig(getenv, needs{database: true, admin: true, masterKey: true})
	if err != nil {
		return err
	}
	lw := newLogWriter(stderr, 100*time.Millisecond, 64<<10)
	defer lw.Close()
	log := newLogger(cfg.Debug, lw)
	d, err := openDeps(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.pool.Close()

	orch, err := workflows.NewOrchestrator(workflowConfig(cfg, log))
	if err != nil {
		return fmt.Errorf("temporal client: %w", err)
	}
	defer orch.Close()

	var svc *gateway.Service
	prom := metrics.New(func() []metrics.HealthGauge {
		if svc == nil {
			return nil
		}
		var out []metrics.HealthGauge
		for _, rs := range svc.Router().RouteStats() {
			state := string(rs.Health)
			if !rs.EjectedUntil.IsZero() {
				state = "ejected"
			}
			out = append(out, metrics.HealthGauge{Provider: rs.Provider, Route: strconv.FormatInt(rs.RouteID, 10), State: state})
		}
		return out
	})

	// Background work (request-log writer, change feed) outlives the
	// shutdown signal until the HTTP server has drained.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()

	svc, err = gateway.New(gateway.Options{
		Loader: d.store, Providers: providerFactory(cfg), Keys: d.store, Logs: d.store, ClientKeys: d.store,
		Orchestrator: orch, Metrics: prom, Logger: log, Clock: clockFrom(ctx), StatusOf: httpapi.StatusOf,
		Routing:        routing.Options{DefaultStrategy: cfg.Strategy},
		MaxRetries:     cfg.MaxRetries,
		RequestTimeout: cfg.RequestTimeout,
		Leases:         d.store, LeaseTTL: cfg.LeaseTTL,
	})
	if err != nil {
		return err
	}
	// Listen before the first load, so no change made in between is missed.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); listenForChanges(bg, d.store, svc, log) }()
	go func() { defer wg.Done(); housekeeping(bg, d.store, cfg, log) }()
	// The request-log writer runs until svc.Shutdown, which bounds its final
	// flush by the shutdown deadline; it does not stop with bg.
	if err := svc.Start(context.WithoutCancel(bg)); err != nil {
		stopBG()
		wg.Wait()
		return err
	}
	defer svc.Close() // on early returns; a no-op after svc.Shutdown
	admin, err := gateway.NewAdmin(gateway.AdminDeps{
		Providers: d.store, Keys: d.store, Models: d.store, ClientKeys: d.store, Health: d.store, Logs: d.store,
		Rotations: d.store, Orchestrator: orch, Service: svc, Logger: log,
		DenyPrivateUpstreams: !cfg.AllowPrivate,
	})
	if err != nil {
		return err
	}

	handler, _, err := httpapi.New(httpapi.Options{
		Gateway: svc, Admin: admin, AdminToken: cfg.AdminToken, Logger: log, Version: version,
		MaxBodyBytes: cfg.MaxBodyBytes, Metrics: prom.Handler(), MetricsToken: cfg.MetricsToken,
		BodyTimeout: cfg.BodyTimeout, MaxInFlight: cfg.MaxInFlight, OnShed: prom.Shed,
		Ready: func(ctx context.Context) map[string]error {
			return map[string]error{"postgres": d.pool.Ping(ctx), "temporal": orch.Ready(ctx)}
		},
		// Without Temporal the router still serves (passive health works):
		// /readyz reports it but stays ready.
		Required:  []string{"postgres"},
		Responses: d.store, ResponsesRetention: cfg.ResponsesRetention,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on HOST=%s PORT=%d: %w", cfg.Host, cfg.Port, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		// Requests are not canceled by the shutdown signal: Shutdown drains them.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	base := "http://" + displayAddr(ln.Addr())
	fmt.Fprintf(stdout, "airouter %s serving on %s\n", version, base)
	fmt.Fprintf(stdout, "  OpenAI API:   %s/v1\n  Admin API:    %s/api/v1\n  API docs:     %s/docs\n  OpenAPI:      %s/openapi.json\n  Metrics:      %s/metrics\n", base, base, base, base, base)
	if ui := getenv("TEMPORAL_UI_URL"); ui != "" {
		fmt.Fprintf(stdout, "  Temporal UI:  %s/namespaces/%s/schedules\n", ui, cfg.TemporalNamespace)
	}
	log.Info("serving", "addr", ln.Addr().String(), "strategy", cfg.Strategy, "max_retries", cfg.MaxRetries, "worker", *withWorker)
	if err := orch.Ready(ctx); err != nil {
		log.Warn("Temporal is not reachable: serving anyway with passive health only; scheduled checks, recovery probes and rotations resume when it is", "address", cfg.TemporalAddress, "err", err)
	}

	if cfg.PprofAddr != "" {
		go servePprof(ctx, cfg.PprofAddr, log)
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	workerDone := make(chan error, 1)
	if *withWorker {
		go func() {
			err := workflows.RunWorker(ctx, workflowConfig(cfg, log), workflowDeps(d))
			if err != nil && ctx.Err() == nil {
				// Serving goes on with passive health only; say so now.
				log.Error("the Temporal worker stopped; health schedules, recovery probes and rotations will not run in this process", "err", err)
			}
			workerDone <- err
		}()
	} else {
		close(workerDone)
	}

	select {
	case err := <-serveErr:
		stopBG()
		wg.Wait()
		svc.Close()
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests and streams", "timeout", cfg.ShutdownTimeout)
	// One deadline for the whole shutdown; the HTTP drain leaves a reserve
	// of it for the request log's final flush.
	deadline := time.Now().Add(cfg.ShutdownTimeout)
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	hctx, hcancel := context.WithDeadline(sctx, deadline.Add(-flushReserve(cfg.ShutdownTimeout)))
	defer hcancel()
	if err := srv.Shutdown(hctx); err != nil {
		log.Warn("shutdown timed out; closing remaining connections", "err", err)
		_ = srv.Close()
	}
	stopBG()
	wg.Wait()
	// Flush the request log (retrying until the deadline) and wait for the
	// key-invalidation and recovery tasks, before the pool and the Temporal
	// client close.
	if err := svc.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	if err := <-workerDone; err != nil {
		log.Warn("worker stopped with an error", "err", err)
	}
	log.Info("stopped")
	return nil
}

// flushReserve is the part of SHUTDOWN_TIMEOUT kept for the request log's
// final flush when in-flight requests take the rest: a fifth, at most 5 s.
func flushReserve(timeout time.Duration) time.Duration {
	return min(timeout/5, 5*time.Second)
}

func displayAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if ta.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", strconv.Itoa(ta.Port))
	}
	return ta.String()
}

func runWorker(ctx context.Context, args []string, getenv func(string) string, _ io.Writer, stderr io.Writer) error {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: airouter worker")
		return errUsage
	}
	d, err := openCommandDeps(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer d.pool.Close()
	cfg := d.cfg
	d.log.Info("worker starting", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace, "task_queue", cfg.TemporalTaskQueue)
	return workflows.RunWorker(ctx, workflowConfig(cfg, d.log), workflowDeps(d))
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 1 || (args[0] != "up" && args[0] != "down" && args[0] != "version") {
		fmt.Fprintln(stderr, "usage: airouter migrate up|down|version")
		return errUsage
	}
	cfg, err := loadConfig(getenv, needs{database: true})
	if err != nil {
		return err
	}
	switch args[0] {
	case "version":
		v, dirty, err := postgres.MigrationVersion(cfg.DatabaseURL)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "version %d (dirty: %t)\n", v, dirty)
		return nil
	default:
		if err := postgres.Migrate(ctx, cfg.DatabaseURL, args[0]); err != nil {
			return err
		}
		v, _, err := postgres.MigrationVersion(cfg.DatabaseURL)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "migrated %s: schema version %d\n", args[0], v)
		return nil
	}
}

func runOpenAPI(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	v30 := fs.Bool("3.0", false, "print the OpenAPI 3.0 downgrade")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	api := httpapi.Document(version)
	var b []byte
	var err error
	if *v30 {
		b, err = api.OpenAPI().Downgrade()
	} else {
		b, err = api.OpenAPI().MarshalJSON()
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(append(b, '\n'))
	return err
}

// servePprof serves Go's profiles on their own listener, never on the API's.
func servePprof(ctx context.Context, addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Info("pprof listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("pprof listener failed", "err", err)
	}
}
