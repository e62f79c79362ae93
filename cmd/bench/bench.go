package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
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
		b.targets[router] = newTarget(router, routerURL, b.router.pid(), b.scenarios, key)
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
	pids := []int{os.Getpid(), b.mock.pid(), b.proxy.pid()}
	if b.portkey != nil {
		pids = append(pids, b.portkey.pid())
	}
	if b.router != nil {
		pids = append(pids, b.router.pid())
		pids = append(pids, pgBackends(b.dbName)...)
	}
	return cpuSum(pids)
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

// waitReady waits until every target answers every scenario: the router
// applies configuration changes through LISTEN/NOTIFY, within a second.
func (b *bench) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(20 * time.Second)
	for _, name := range b.order {
		t := b.targets[name]
		for _, sc := range b.scenarios {
			for {
				var err error
				if sc.stream {
					r := t.doStream(ctx, sc.name, false, nil)
					if !r.complete(sc.tokens) {
						err = fmt.Errorf("stream incomplete: status %d, %d/%d content frames, done %v, err %v", r.Status, r.Content, sc.tokens, r.Done, r.Err)
					}
				} else {
					err = t.doJSON(ctx, sc.name)
				}
				if err == nil {
					break
				}
				if time.Now().After(deadline) || ctx.Err() != nil {
					return fmt.Errorf("%s does not answer scenario %s: %v", name, sc.name, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	return nil
}

// procSpec is how to start a child, kept to restart it.
type procSpec struct {
	name, path string
	args, env  []string
	ready      *regexp.Regexp
	timeout    time.Duration
	port       int // the port it is told to listen on, if any (the Portkey gateway)
}

func (b *bench) start(ctx context.Context, s procSpec) (*proc, error) {
	if b.starts == nil {
		b.starts = map[string]int{}
	}
	b.starts[s.name]++
	logName := s.name
	if n := b.starts[s.name]; n > 1 {
		logName = fmt.Sprintf("%s.%d", s.name, n)
	}
	p, err := startProc(ctx, logName, s.path, s.args, s.env, b.logDir, s.ready, s.timeout)
	if p != nil {
		p.name = s.name
	}
	return p, err
}

// restartServers restarts the router, the reverse proxy and the peer on the same
// ports, so a measurement starts from fresh processes, and waits until
// they answer again.
func (b *bench) restartServers(ctx context.Context) error {
	if b.router != nil {
		b.router.stop()
		s := b.routerSpec
		s.env = slices.Clone(s.env)
		for i, kv := range s.env {
			if kv == "PORT=0" {
				s.env[i] = "PORT=" + portOf(b.router.addr)
			}
		}
		p, err := b.start(ctx, s)
		if err != nil {
			return err
		}
		b.router = p
		b.targets[router].pid = p.pid()
		b.targets[router].tr.CloseIdleConnections()
	}
	b.proxy.stop()
	s := b.proxySpec
	s.args = append(slices.Clone(s.args), b.proxy.addr)
	p, err := b.start(ctx, s)
	if err != nil {
		return err
	}
	b.proxy = p
	b.targets[revproxy].pid = p.pid()
	b.targets[revproxy].tr.CloseIdleConnections()
	if b.portkey != nil {
		b.portkey.stop()
		p, err := b.startPortkeyProc(ctx, b.portkeySpec) // the same port
		if err != nil {
			return fmt.Errorf("portkey: %w", err)
		}
		b.portkey = p
		b.targets[portkey].pid = p.pid()
		b.targets[portkey].tr.CloseIdleConnections()
	}
	return b.waitReady(ctx)
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mockStats reads the mock's request count and CPU time.
type mockStats struct {
	Requests   uint64  `json:"requests"`
	CPUSeconds float64 `json:"cpu_seconds"`
	GOMAXPROCS int     `json:"gomaxprocs"`
}

func (b *bench) mockStats() (mockStats, error) {
	var s mockStats
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(b.mockURL + "/mock/stats")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("/mock/stats: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

func gitCommit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		commit += " (with uncommitted changes)"
	}
	return commit
}

func goVersion(root string) string {
	cmd := exec.Command("go", "version")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}
