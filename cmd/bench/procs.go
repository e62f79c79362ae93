package main

import (
	"context"
	"encoding/json"
	"fmt"

	"net"
	"net/http"

	"os/exec"

	"regexp"
	"runtime"
	"slices"

	"strings"
	"time"
)

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
