// Command bench measures what AI Router costs: the latency it adds, the load
// it holds, its CPU and memory per request and per stream, side by side
// with direct calls to the same mock upstream and with a minimal
// net/http/httputil.ReverseProxy in front of it, all in one run on one mock
// process (issue 7), and the router's other front doors (Anthropic
// Messages, Responses, embeddings) on native and translated routes, with
// the cost of translating (issue 14). With -portkey it also measures the
// Portkey gateway (a Node.js gateway users pick instead) as a peer row, not
// a target.
//
//	go run ./cmd/bench -out bench/results   # the full run (make bench), ~11 minutes
//	go run ./cmd/bench -smoke               # every section with tiny counts (make bench-smoke)
//	go run ./cmd/bench -portkey .dev/portkey/node_modules/@portkey-ai/gateway/build/start-server.js
//
// It builds bin/airouter and bin/mockllm (unless -airouter / -mockllm name
// existing binaries), creates a database bench_<random> on the PostgreSQL
// server of TEST_DATABASE_URL or DATABASE_URL (dropped at the end), and
// starts the mock, the router (without Temporal) and the reverse proxy as
// separate processes; the load generator runs in this process. The report
// goes to stdout and, with -out, to DIR/<date>.md and DIR/latest.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

// config is the harness's settings, from flags.
type config struct {
	smoke        bool
	out          string
	reps         int
	pairs        int
	rates        []float64
	duration     time.Duration // of each open-loop run
	warmup       time.Duration // before each open-loop run, not measured
	probe        time.Duration // of each max-rate search probe
	probeWarmup  time.Duration
	p99Limit     time.Duration
	ttftStreams  int // sequential stream triplets per repetition
	doorRequests int // rounds per front door and repetition
	concStreams  int // the middle concurrency level (64)
	concFor      time.Duration
	longStreams  int // the concurrent long streams of the memory test (1000)
	profile      time.Duration
	airouter     string
	mockllm      string
	databaseURL  string
	keepLogs     bool
	noRouter     bool
	portkey      string // the Portkey gateway's start script, "" for none
	node         string
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	var rates string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.smoke, "smoke", false, "a few seconds: every section with tiny counts and 1 repetition; fails if the harness breaks")
	fs.StringVar(&c.out, "out", "", "write the Markdown report to DIR/<date>.md and DIR/latest.md (not in a smoke run)")
	fs.IntVar(&c.reps, "reps", 3, "repetitions of every measurement (the report gives their median and range)")
	fs.IntVar(&c.pairs, "pairs", 2000, "interleaved request pairs per repetition at concurrency 1")
	fs.StringVar(&rates, "rates", "500,1000,2000", "open-loop rates, requests per second")
	fs.DurationVar(&c.duration, "duration", 2*time.Second, "length of each open-loop run")
	fs.DurationVar(&c.warmup, "warmup", 500*time.Millisecond, "unmeasured load before each open-loop run")
	fs.DurationVar(&c.probe, "probe", 1500*time.Millisecond, "length of each probe of the max-rate search")
	fs.DurationVar(&c.probeWarmup, "probe-warmup", 300*time.Millisecond, "unmeasured load before each probe")
	fs.DurationVar(&c.p99Limit, "p99-limit", 10*time.Millisecond, "the max-rate search's latency limit at p99")
	fs.IntVar(&c.ttftStreams, "ttft-streams", 100, "sequential stream triplets per repetition for time to first token and chunk gaps")
	fs.IntVar(&c.doorRequests, "door-requests", 500, "interleaved rounds per new front door (Messages, Responses, embeddings) per repetition at concurrency 1")
	fs.IntVar(&c.concStreams, "conc-streams", 64, "concurrent streams of the middle truncation level")
	fs.DurationVar(&c.concFor, "conc-for", 2*time.Second, "how long the middle level keeps its streams open back to back")
	fs.IntVar(&c.longStreams, "long-streams", 1000, "concurrent long streams of the memory and top truncation level")
	fs.DurationVar(&c.profile, "profile", 10*time.Second, "perf CPU profile of the router under load for this long (0: none; needs perf)")
	fs.StringVar(&c.airouter, "airouter", "", "existing airouter binary (default: go build ./cmd/airouter to bin/airouter)")
	fs.StringVar(&c.mockllm, "mockllm", "", "existing mockllm binary (default: go build ./cmd/mockllm to bin/mockllm)")
	fs.StringVar(&c.databaseURL, "database-url", "", "PostgreSQL server to create the throwaway database on (default: TEST_DATABASE_URL, then DATABASE_URL)")
	fs.BoolVar(&c.keepLogs, "keep-logs", false, "keep the processes' logs (their directory is printed)")
	fs.BoolVar(&c.noRouter, "no-router", false, "measure only direct and the reverse proxy (to check the harness; needs no PostgreSQL)")
	fs.StringVar(&c.portkey, "portkey", "", "also measure the Portkey gateway as a peer: path of its start script (.dev/portkey/node_modules/@portkey-ai/gateway/build/start-server.js, installed by make bench when node and npm exist)")
	fs.StringVar(&c.node, "node", "node", "the node binary that runs -portkey")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.smoke {
		// Tiny counts unless a flag says otherwise.
		def := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		def("reps", func() { c.reps = 1 })
		def("pairs", func() { c.pairs = 40 })
		def("rates", func() { rates = "200" })
		def("duration", func() { c.duration = 300 * time.Millisecond })
		def("warmup", func() { c.warmup = 100 * time.Millisecond })
		def("probe", func() { c.probe = 250 * time.Millisecond })
		def("probe-warmup", func() { c.probeWarmup = 100 * time.Millisecond })
		def("ttft-streams", func() { c.ttftStreams = 8 })
		def("door-requests", func() { c.doorRequests = 10 })
		def("conc-streams", func() { c.concStreams = 8 })
		def("conc-for", func() { c.concFor = 300 * time.Millisecond })
		def("long-streams", func() { c.longStreams = 50 })
		def("profile", func() { c.profile = 0 })
	}
	for f := range strings.SplitSeq(rates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return c, fmt.Errorf("-rates: %q is not a positive number", f)
		}
		c.rates = append(c.rates, r)
	}
	switch {
	case c.reps < 1:
		return c, errors.New("-reps must be at least 1")
	case c.pairs < 1 || c.ttftStreams < 1 || c.concStreams < 1 || c.longStreams < 1 || c.doorRequests < 1:
		return c, errors.New("-pairs, -ttft-streams, -conc-streams, -long-streams and -door-requests must be at least 1")
	case c.duration <= 0 || c.probe <= 0 || c.concFor <= 0:
		return c, errors.New("-duration, -probe and -conc-for must be positive")
	}
	if c.databaseURL == "" {
		c.databaseURL = getenv("TEST_DATABASE_URL")
	}
	if c.databaseURL == "" {
		c.databaseURL = getenv("DATABASE_URL")
	}
	if c.databaseURL == "" && !c.noRouter {
		return c, errors.New("no PostgreSQL: set TEST_DATABASE_URL or DATABASE_URL (make bench and make bench-smoke read .dev/env), or pass -database-url")
	}
	return c, nil
}

// run is the whole program. With revproxyFlag first it is the reference
// proxy instead.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == revproxyFlag {
		return runRevproxy(ctx, args[1:], stdout, stderr)
	}
	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	raiseFileLimit()
	b := &bench{cfg: cfg, log: stderr}
	rep, err := b.run(ctx)
	if rep == nil {
		return err
	}
	md := rep.markdown()
	fmt.Fprint(stdout, md)
	if cfg.out != "" && !cfg.smoke && err == nil {
		if werr := writeReport(cfg.out, rep.Started, md); werr != nil {
			return werr
		}
		fmt.Fprintf(stderr, "bench: report written to %s\n", cfg.out)
	}
	if err != nil {
		return err
	}
	if cfg.smoke {
		if problems := rep.smokeProblems(); len(problems) > 0 {
			return fmt.Errorf("smoke run found the harness broken:\n  %s", strings.Join(problems, "\n  "))
		}
		fmt.Fprintln(stderr, "bench: smoke run OK")
	}
	return nil
}

// writeReport writes the report to dir/<date>.md (a second run the same day
// gets the time too) and dir/latest.md.
func writeReport(dir string, at time.Time, md string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := dir + "/" + at.Format("2006-01-02") + ".md"
	if _, err := os.Stat(name); err == nil {
		name = dir + "/" + at.Format("2006-01-02-1504") + ".md"
	}
	if err := os.WriteFile(name, []byte(md), 0o644); err != nil {
		return err
	}
	return os.WriteFile(dir+"/latest.md", []byte(md), 0o644)
}

// raiseFileLimit lifts the soft open-files limit to the hard one: a
// thousand concurrent streams need a few thousand descriptors in the
// harness and the router (children inherit the limit).
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
