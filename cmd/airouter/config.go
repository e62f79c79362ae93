package main

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/airouter/airouter/adapters/secretbox"
	"github.com/airouter/airouter/core/domain"
)

// config is every setting of the process, read from the environment once, in
// run. Every value is validated; the first bad one stops the process with one
// line naming the variable and what it accepts.
type config struct {
	DatabaseURL         string
	Host                string
	Port                int
	Debug               bool
	Strategy            domain.Strategy
	HealthCheckInterval time.Duration
	MaxRetries          int
	TemporalAddress     string
	TemporalNamespace   string
	TemporalTaskQueue   string
	AdminToken          string
	MasterKey           []byte
	AutoMigrate         bool
	MaxBodyBytes        int64
	ShutdownTimeout     time.Duration
	DegradedThreshold   time.Duration
	RotationGrace       time.Duration
	LogRetention        time.Duration
	ResponsesRetention  time.Duration
	DBMaxConns          int
	PprofAddr           string
	RequestTimeout      time.Duration
	LeaseTTL            time.Duration
	BodyTimeout         time.Duration
	MaxInFlight         int
	MetricsToken        string
	AllowPrivate        bool
}

// envSpec documents one variable; the README's table is written from these.
type envSpec struct {
	name, def, help string
}

var envSpecs = []envSpec{
	{"DATABASE_URL", "", "PostgreSQL connection URL (postgres://user:pass@host:port/db?sslmode=...). Required."},
	{"HOST", "0.0.0.0", "Interface the HTTP server listens on."},
	{"PORT", "8080", "TCP port of the HTTP server (0 picks a free port)."},
	{"DEBUG", "false", "true: human-readable debug logs with upstream detail; false: JSON logs at info."},
	{"LOAD_BALANCING_STRATEGY", "auto", "Default strategy for models without one: auto, specified_provider, fallback, weighted_round_robin, least_connections, response_time, cost_optimized, hybrid."},
	{"LOAD_BALANCING_HEALTH_CHECK_INTERVAL", "30", "Seconds between scheduled health checks of each provider (Temporal schedules)."},
	{"LOAD_BALANCING_MAX_RETRIES", "3", "Further attempts after the first on other routes or keys (0-10)."},
	{"TEMPORAL_ADDRESS", "127.0.0.1:7233", "Temporal frontend host:port."},
	{"TEMPORAL_NAMESPACE", "default", "Temporal namespace."},
	{"TEMPORAL_TASK_QUEUE", "airouter", "Task queue of the worker's workflows and activities."},
	{"ADMIN_TOKEN", "", "Bearer token of the admin API (/api/v1): at least 16 characters and about 64 bits of entropy estimated from its characters (e.g. `openssl rand -hex 32`). Required by serve."},
	{"AIROUTER_MASTER_KEY", "", "32 random bytes, base64, that encrypt provider keys at rest (AES-256-GCM). Required by serve and worker."},
	{"DB_AUTO_MIGRATE", "true", "Apply pending migrations when serve or worker starts."},
	{"MAX_BODY_BYTES", "33554432", "Largest accepted request body in bytes (default 32 MiB)."},
	{"SHUTDOWN_TIMEOUT", "30", "Seconds SIGTERM waits, in all, for in-flight requests and streams to finish and the request log to be flushed (the last fifth, at most 5 s, is kept for the flush)."},
	{"CLIENT_KEY_LEASE_MS", "30000", "Lifetime of a replica's lease on a client key's limits; a crashed replica's share returns after it."},
	{"HEALTH_DEGRADED_THRESHOLD_MS", "3000", "A probe slower than this marks the provider or key degraded."},
	{"KEY_ROTATION_GRACE_PERIOD", "600", "Seconds an old key stays draining after a rotation before it is retired."},
	{"REQUEST_LOG_RETENTION_DAYS", "30", "Request-log entries older than this are deleted daily (0 keeps them)."},
	{"RESPONSES_RETENTION", "30", "Days a stored /v1/responses response (store: true) is kept for GET and previous_response_id; expired ones are deleted hourly (0 keeps them)."},
	{"DB_MAX_CONNS", "20", "Size of the PostgreSQL connection pool."},
	{"REQUEST_TIMEOUT", "600", "Seconds a client request may take over all its attempts, streams included (each attempt is also bounded by its provider's timeouts)."},
	{"REQUEST_BODY_TIMEOUT", "30", "Seconds a /v1 request body may take to arrive after its headers; slower clients get 408 and the connection is closed."},
	{"MAX_IN_FLIGHT", "2048", "Most /v1 requests served at once, streams included; the excess gets 503 with Retry-After (counted in airouter_requests_shed_total)."},
	{"METRICS_TOKEN", "", "When set, /metrics requires Authorization: Bearer <METRICS_TOKEN> (it names providers and models); open when empty."},
	{"UPSTREAM_ALLOW_PRIVATE", "true", "false: refuse provider base URLs that resolve to loopback, private, link-local (cloud metadata), CGNAT or unspecified addresses, at the admin API and when dialing."},
	{"PPROF_ADDR", "", "host:port of a separate listener serving Go's /debug/pprof profiles (off when empty; keep it on loopback)."},
}

type envError struct{ name, msg string }

func (e *envError) Error() string { return fmt.Sprintf("invalid %s: %s", e.name, e.msg) }

// loadConfig reads and validates the environment. need says which secrets the
// subcommand requires.
func loadConfig(getenv func(string) string, need needs) (config, error) {
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, s := range envSpecs {
			if s.name == name {
				return s.def
			}
		}
		return ""
	}
	var c config
	var err error

	c.DatabaseURL = get("DATABASE_URL")
	if c.DatabaseURL == "" {
		if need.database {
			return c, &envError{"DATABASE_URL", "is required: a PostgreSQL URL such as postgres://user:pass@localhost:5432/airouter?sslmode=disable"}
		}
	} else if u, perr := url.Parse(c.DatabaseURL); perr != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" && u.Query().Get("host") == "" {
		return c, &envError{"DATABASE_URL", "must be a postgres:// or postgresql:// URL with a host"}
	}
	c.Host = get("HOST")
	if c.Host != "" && c.Host != "localhost" && net.ParseIP(c.Host) == nil && strings.ContainsAny(c.Host, ":/ ") {
		return c, &envError{"HOST", "must be an IP address or host name"}
	}
	if c.Port, err = intVar(get, "PORT", 0, 65535); err != nil {
		return c, err
	}
	if c.Debug, err = boolVar(get, "DEBUG"); err != nil {
		return c, err
	}
	c.Strategy = domain.Strategy(get("LOAD_BALANCING_STRATEGY"))
	if !c.Strategy.Valid() {
		names := make([]string, len(domain.Strategies))
		for i, s := range domain.Strategies {
			names[i] = string(s)
		}
		return c, &envError{"LOAD_BALANCING_STRATEGY", fmt.Sprintf("%q is not one of %s", c.Strategy, strings.Join(names, ", "))}
	}
	secs, err := intVar(get, "LOAD_BALANCING_HEALTH_CHECK_INTERVAL", 1, 86400)
	if err != nil {
		return c, err
	}
	c.HealthCheckInterval = time.Duration(secs) * time.Second
	if c.MaxRetries, err = intVar(get, "LOAD_BALANCING_MAX_RETRIES", 0, 10); err != nil {
		return c, err
	}
	c.TemporalAddress = get("TEMPORAL_ADDRESS")
	if _, _, serr := net.SplitHostPort(c.TemporalAddress); serr != nil {
		return c, &envError{"TEMPORAL_ADDRESS", "must be host:port, e.g. 127.0.0.1:7233"}
	}
	c.TemporalNamespace = get("TEMPORAL_NAMESPACE")
	c.TemporalTaskQueue = get("TEMPORAL_TASK_QUEUE")
	c.AdminToken = getenv("ADMIN_TOKEN")
	if need.admin {
		switch {
		case c.AdminToken == "":
			return c, &envError{"ADMIN_TOKEN", "is required: the admin API does not run open; set a random token of at least 16 characters"}
		case len(c.AdminToken) < 16:
			return c, &envError{"ADMIN_TOKEN", "must be at least 16 characters"}
		case strings.TrimSpace(c.AdminToken) != c.AdminToken:
			return c, &envError{"ADMIN_TOKEN", "must not start or end with white space"}
		case tokenBits(c.AdminToken) < minTokenBits:
			return c, &envError{"ADMIN_TOKEN", fmt.Sprintf("is too guessable: about %.0f bits of entropy estimated from its characters, %d needed; use a random token such as the output of `openssl rand -hex 32`", tokenBits(c.AdminToken), minTokenBits)}
		}
	}
	if mk := getenv("AIROUTER_MASTER_KEY"); mk != "" || need.masterKey {
		if c.MasterKey, err = secretbox.ParseKey(mk); err != nil {
			return c, &envError{"AIROUTER_MASTER_KEY", err.Error()}
		}
	}
	if c.AutoMigrate, err = boolVar(get, "DB_AUTO_MIGRATE"); err != nil {
		return c, err
	}
	mb, err := intVar(get, "MAX_BODY_BYTES", 1024, 1<<30)
	if err != nil {
		return c, err
	}
	c.MaxBodyBytes = int64(mb)
	if secs, err = intVar(get, "SHUTDOWN_TIMEOUT", 0, 3600); err != nil {
		return c, err
	}
	c.ShutdownTimeout = time.Duration(secs) * time.Second
	ms, err := intVar(get, "HEALTH_DEGRADED_THRESHOLD_MS", 1, 600000)
	if err != nil {
		return c, err
	}
	c.DegradedThreshold = time.Duration(ms) * time.Millisecond
	if secs, err = intVar(get, "KEY_ROTATION_GRACE_PERIOD", 0, 30*86400); err != nil {
		return c, err
	}
	c.RotationGrace = time.Duration(secs) * time.Second
	days, err := intVar(get, "REQUEST_LOG_RETENTION_DAYS", 0, 3650)
	if err != nil {
		return c, err
	}
	c.LogRetention = time.Duration(days) * 24 * time.Hour
	if days, err = intVar(get, "RESPONSES_RETENTION", 0, 36500); err != nil {
		return c, err
	}
	c.ResponsesRetention = time.Duration(days) * 24 * time.Hour
	if c.DBMaxConns, err = intVar(get, "DB_MAX_CONNS", 2, 1000); err != nil {
		return c, err
	}
	if secs, err = intVar(get, "REQUEST_TIMEOUT", 1, 7*86400); err != nil {
		return c, err
	}
	c.RequestTimeout = time.Duration(secs) * time.Second
	if secs, err = intVar(get, "CLIENT_KEY_LEASE_MS", 100, 600000); err != nil {
		return c, err
	}
	c.LeaseTTL = time.Duration(secs) * time.Millisecond
	if secs, err = intVar(get, "REQUEST_BODY_TIMEOUT", 1, 3600); err != nil {
		return c, err
	}
	c.BodyTimeout = time.Duration(secs) * time.Second
	if c.MaxInFlight, err = intVar(get, "MAX_IN_FLIGHT", 1, 1<<20); err != nil {
		return c, err
	}
	c.MetricsToken = getenv("METRICS_TOKEN")
	if c.MetricsToken != "" && strings.TrimSpace(c.MetricsToken) != c.MetricsToken {
		return c, &envError{"METRICS_TOKEN", "must not start or end with white space"}
	}
	if c.AllowPrivate, err = boolVar(get, "UPSTREAM_ALLOW_PRIVATE"); err != nil {
		return c, err
	}
	if c.PprofAddr = get("PPROF_ADDR"); c.PprofAddr != "" {
		if _, _, serr := net.SplitHostPort(c.PprofAddr); serr != nil {
			return c, &envError{"PPROF_ADDR", "must be host:port, e.g. 127.0.0.1:6060"}
		}
	}
	return c, nil
}

// minTokenBits is the least estimated entropy of ADMIN_TOKEN.
const minTokenBits = 64

// tokenBits estimates a token's entropy from its own characters: its length
// times the Shannon entropy of their frequencies. It cannot see structure
// (a dictionary word scores like random letters), so it only catches the
// plainly weak: repeated or few distinct characters, short tokens.
func tokenBits(tok string) float64 {
	counts := map[rune]int{}
	n := 0
	for _, r := range tok {
		counts[r]++
		n++
	}
	var h float64
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h * float64(n)
}

type needs struct {
	database, admin, masterKey bool
}

func intVar(get func(string) string, name string, lo, hi int) (int, error) {
	v := get(name)
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, &envError{name, fmt.Sprintf("%q is not a whole number; it accepts %d to %d", v, lo, hi)}
	}
	if n < lo || n > hi {
		return 0, &envError{name, fmt.Sprintf("%d is out of range; it accepts %d to %d", n, lo, hi)}
	}
	return n, nil
}

func boolVar(get func(string) string, name string) (bool, error) {
	v := get(name)
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, &envError{name, fmt.Sprintf("%q is not a boolean; it accepts true or false", v)}
}

var errUsage = errors.New("usage")
