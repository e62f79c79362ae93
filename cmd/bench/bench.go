package main

import (
	"context"

	"fmt"
	"io"

	"net/http"
	"os"

	"path/filepath"
	"regexp"

	"strconv"

	"time"
)

// bench is one run: the processes, the targets and the results.
type bench struct {
	cfg config
	log io.Writer

	root, logDir, dbName string
	mock, router, proxy  *proc
	portkey              *proc // the optional peer, nil when not run
	routerSpec           procSpec
	proxySpec            procSpec
	portkeySpec          procSpec
	starts               map[string]int
	mockURL              string
	targets              map[string]*target
	order                []string // direct, router, revproxy, then the peer portkey
	scenarios            []scenario
	doors                []door // the new front doors' rows
	rep                  *report
}

// The scenarios. The 0 ms and 50 ms ones are small JSON answers; "stream"
// is 20 content chunks 1 ms apart, for time to first token and chunk gaps;
// "long" streams are the memory test's, open for about four seconds.
func scenarios(smoke bool) []scenario {
	const streamTokens = 20
	longTokens, longTPS := 20, 5
	if smoke {
		longTokens, longTPS = 5, 10
	}
	return []scenario{
		{name: "0ms", headers: map[string]string{"X-Mock-Latency": "0ms"}},
		{name: "50ms", headers: map[string]string{"X-Mock-Latency": "50ms"}},
		{name: "stream", stream: true, tokens: streamTokens,
			headers: map[string]string{"X-Mock-Tokens": strconv.Itoa(streamTokens), "X-Mock-TPS": "1000"}},
		{name: "long", stream: true, tokens: longTokens,
			headers: map[string]string{"X-Mock-Tokens": strconv.Itoa(longTokens), "X-Mock-TPS": strconv.Itoa(longTPS)}},
	}
}

// atoi is strconv.Atoi without the error (0), for level labels.
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

var (
	mockReady   = regexp.MustCompile(`mockllm listening on http://(\S+)`)
	routerReady = regexp.MustCompile(`serving on http://(\S+)`)
	proxyReady  = regexp.MustCompile(`revproxy listening on http://(\S+)`)
)

// run sets everything up, measures every section and tears down. The
// report is returned even when a section failed, with what was measured.
func (b *bench) run(ctx context.Context) (*report, error) {
	c := b.cfg
	b.rep = newReport(c)
	rep := b.rep
	var err error
	if b.root, err = repoRoot(); err != nil {
		return nil, err
	}
	rep.Commit = gitCommit(b.root)
	rep.GoToolchain = goVersion(b.root)
	b.logDir, err = os.MkdirTemp("", "airouter-bench-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if c.keepLogs {
			b.logf("logs kept in %s", b.logDir)
		} else {
			_ = os.RemoveAll(b.logDir)
		}
	}()

	// Binaries.
	if c.airouter == "" || c.mockllm == "" {
		b.logf("building bin/airouter and bin/mockllm")
	}
	if c.airouter == "" && !c.noRouter {
		c.airouter = filepath.Join(b.root, "bin", "airouter")
		if err := goBuild(ctx, b.root, "./cmd/airouter", c.airouter); err != nil {
			return nil, err
		}
	}
	if c.mockllm == "" {
		c.mockllm = filepath.Join(b.root, "bin", "mockllm")
		if err := goBuild(ctx, b.root, "./cmd/mockllm", c.mockllm); err != nil {
			return nil, err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}

	// Processes.
	b.scenarios = scenarios(c.smoke)
	b.doors = doors()
	b.mock, err = startProc(ctx, "mockllm", c.mockllm, []string{"-addr", "127.0.0.1:0"}, childEnv(), b.logDir, mockReady, 15*time.Second)
	if err != nil {
		return nil, err
	}
	defer b.mock.stop()
	b.mockURL = "http://" + b.mock.addr
	b.proxySpec = procSpec{name: "revproxy", path: self, args: []string{revproxyFlag, b.mockURL}, env: childEnv(), ready: proxyReady, timeout: 15 * time.Second}
	if b.proxy, err = b.start(ctx, b.proxySpec); err != nil {
		return nil, err
	}
	defer func() { b.proxy.stop() }()

	b.targets = map[string]*target{
		direct:   newTarget(direct, b.mockURL, b.mock.pid(), b.scenarios, ""),
		revproxy: newTarget(revproxy, "http://"+b.proxy.addr, b.proxy.pid(), b.scenarios, ""),
	}
	b.order = []string{direct, revproxy}
	for _, t := range b.targets {
		t.addDoors(b.doors, "")
	}
	if !c.noRouter {
		dbURL, dbName, drop, err := createDatabase(ctx, c.databaseURL)
		if err != nil {
			return nil, err
		}
		defer drop()
		b.dbName = dbName
		adminToken, masterKey := "bench-admin-"+randomHex(16), randomKey()
		b.routerSpec = procSpec{name: "airouter", path: c.airouter, args: []string{"serve"}, env: childEnv(
			"DATABASE_URL="+dbURL, "HOST=127.0.0.1", "PORT=0", "ADMIN_TOKEN="+adminToken,
			"AIROUTER_MASTER_KEY="+masterKey, "TEMPORAL_ADDRESS=127.0.0.1:1", "DEBUG=false", "SHUTDOWN_TIMEOUT=5",
		), ready: routerReady, timeout: 90 * time.Second}
		if b.router, err = b.start(ctx, b.routerSpec); err != nil {
			return nil, err
		}
		defer func() { b.router.stop() }()
		routerURL := "http://" + b.router.addr
		if err := waitHTTP(ctx, routerURL+"/healthz", 30*time.Second); err != nil {
			return nil, fmt.Errorf("router: %w", err)
		}
		key, err := configureRouter(ctx, admin{base: routerURL, token: adminToken, c: &http.Client{Timeout: 10 * time.Second}}, b.mockURL, b.scenarios)
		if err != nil {
			return nil, fmt.Errorf("configure the router: %w", err)
		}
		if err := configureDoors(ctx, admin{base: routerURL, token: adminToken, c: &http.Client{Timeout: 10 * time.Second}}, b.mockURL, b.doors); err != nil {
			return nil, fmt.Errorf("configure the router's front doors: %w", err)
		}
		b.targets[router] = newTarget(router, routerURL, b.router.pid(), b.scenarios, key)
		b.targets[router].addDoors(b.doors, key)
		b.order = []string{direct, router, revproxy}
	}
	b.startPortkey(ctx)
	defer func() { b.portkey.stop() }()
	rep.Targets = b.order
	if err := b.waitReady(ctx); err != nil {
		return nil, err
	}
	if b.router != nil {
		b.logf("stack up: mock %s (pid %d), router %s (pid %d), reverse proxy %s (pid %d), database %s",
			b.mock.addr, b.mock.pid(), b.router.addr, b.router.pid(), b.proxy.addr, b.proxy.pid(), b.dbName)
	} else {
		b.logf("stack up without the router (-no-router): mock %s (pid %d), reverse proxy %s (pid %d)",
			b.mock.addr, b.mock.pid(), b.proxy.addr, b.proxy.pid())
	}
	if b.portkey != nil {
		b.logf("peer: Portkey gateway %s (pid %d)", b.portkey.addr, b.portkey.pid())
	} else {
		b.logf("peer: Portkey gateway %s", rep.PortkeyNote)
	}

	// Measurements.
	rep.Started = time.Now()
	rep.LoadBefore = loadAvg()
	busy0, _, _ := machineCPU()
	ours0 := b.ourCPU()

	err = b.sections(ctx)

	busy1, _, _ := machineCPU()
	ours1 := b.ourCPU()
	rep.Finished = time.Now()
	rep.LoadAfter = loadAvg()
	if el := rep.Finished.Sub(rep.Started).Seconds(); el > 0 {
		rep.OtherCPU = ((busy1 - busy0) - (ours1 - ours0)).Seconds() / el
		rep.OurCPU = (ours1 - ours0).Seconds() / el
	}
	return rep, err
}

// sections runs every measurement in order; memory first, while the
// processes are fresh.
func (b *bench) sections(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"idle memory", b.idleMemory},
		{"memory and truncation at " + fmt.Sprint(b.cfg.longStreams) + " concurrent long streams", b.memory},
		{"streaming: time to first token, chunk gaps, truncation at 1 and " + fmt.Sprint(b.cfg.concStreams), b.streaming},
		{"added latency at concurrency 1", b.pairs},
		{"new front doors at concurrency 1", b.frontDoors},
		{"open-loop constant load", b.openLoopGrid},
		{"highest rate with p99 under " + b.cfg.p99Limit.String(), b.maxRate},
		{"CPU profile of the router", b.profile},
		{"idle memory after the load", b.idleMemoryAfter},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, p := range []*proc{b.mock, b.router, b.proxy, b.portkey} {
			if p == nil {
				continue
			}
			if err := p.alive(); err != nil {
				return err
			}
		}
		b.logf("%s", s.name)
		t0 := time.Now()
		busy0, _, _ := machineCPU()
		ours0 := b.ourCPU()
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		took := time.Since(t0)
		busy1, _, _ := machineCPU()
		other := ((busy1 - busy0) - (b.ourCPU() - ours0)).Seconds() / took.Seconds()
		b.rep.SectionTimes = append(b.rep.SectionTimes, sectionTime{s.name, took, max(other, 0)})
	}
	return nil
}

// ourCPU is the CPU time of the harness, its three children and the
// PostgreSQL backends of the benchmark's database.
func (b *bench) ourCPU() time.Duration {
	return cpuSum([]int{os.Getpid()}) + b.serversCPU()
}

// serversCPU is the CPU time of the measured servers: the mock, the
// proxy, the router and its PostgreSQL backends.
func (b *bench) serversCPU() time.Duration {
	pids := []int{b.mock.pid(), b.proxy.pid()}
	if b.portkey != nil {
		pids = append(pids, b.portkey.pid())
	}
	if b.router != nil {
		pids = append(pids, b.router.pid())
		pids = append(pids, pgBackends(b.dbName)...)
	}
	return cpuSum(pids)
}
