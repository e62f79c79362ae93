package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Portkey gateway (npm @portkey-ai/gateway) is an optional peer: a
// gateway users pick instead of the router, measured on the same requests
// as the other paths so every run shows where the router stands against
// it. It is not one of the targets (the targets compare the router with
// the reverse proxy). make bench installs it under .dev/portkey when node
// and npm exist and passes -portkey; without -portkey its rows say why it
// did not run.

// portkeyReady matches the line the gateway's start script prints once it
// listens ("   \x1b[1;4;32mhttp://localhost:8787\x1b[0m"); the submatch is
// the port.
var portkeyReady = regexp.MustCompile(`http://localhost:(\d+)`)

// portkeyArgs is node's command line: the start script (the package's bin,
// build/start-server.js), the port, and --headless (no log console UI).
func portkeyArgs(script string, port int) []string {
	return []string{script, "--port=" + strconv.Itoa(port), "--headless"}
}

// portkeyAddr turns the ready match (the port the gateway says it listens
// on) into the loopback address the harness dials, checking that it is the
// port it was asked for.
func portkeyAddr(printed string, want int) (string, error) {
	port, err := strconv.Atoi(printed)
	if err != nil || port <= 0 || port > 65535 {
		return "", fmt.Errorf("gateway printed port %q", printed)
	}
	if port != want {
		return "", fmt.Errorf("gateway listens on port %d, asked for %d", port, want)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// portkeyHeaders are the gateway's routing headers: provider openai at the
// mock's /v1, a dummy key, and the X-Mock-* headers the request carries
// named in x-portkey-forward-headers (the gateway forwards no other client
// header upstream). Names are sorted, so the request is the same every
// time.
func portkeyHeaders(h http.Header, mockURL string, mockHeaders map[string]string) {
	h.Set("x-portkey-provider", "openai")
	h.Set("x-portkey-custom-host", strings.TrimRight(mockURL, "/")+"/v1")
	h.Set("Authorization", "Bearer sk-bench-direct-0000000000000000000000000000")
	var fwd []string
	for k := range mockHeaders {
		fwd = append(fwd, strings.ToLower(k))
	}
	if len(fwd) > 0 {
		slices.Sort(fwd)
		h.Set("x-portkey-forward-headers", strings.Join(fwd, ","))
	}
}

// newPortkeyTarget is the peer's target: the same bodies and X-Mock-*
// headers as direct and the reverse proxy, plus the gateway's headers.
func newPortkeyTarget(base string, pid int, scenarios []scenario, mockURL string) *target {
	t := newTarget(portkey, base, pid, scenarios, "")
	for _, sc := range scenarios {
		portkeyHeaders(t.reqs[sc.name].header, mockURL, sc.headers)
	}
	return t
}

// portkeyNotRun is the row's text when -portkey is not given.
func portkeyNotRun(node string) string {
	if _, err := exec.LookPath(node); err != nil {
		return "not run (node not found)"
	}
	return "not run (-portkey not given; make bench passes it once make portkey has installed the gateway)"
}

// freePort asks the kernel for a free loopback port (the gateway takes a
// port number, not 0).
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startPortkey starts the gateway and checks that one JSON and one
// streaming request pass through it to the mock. On any failure the peer
// is left out and rep.PortkeyNote says why; the run goes on without it.
func (b *bench) startPortkey(ctx context.Context) {
	c := b.cfg
	if c.portkey == "" {
		b.rep.PortkeyNote = portkeyNotRun(c.node)
		return
	}
	fail := func(err error) {
		b.rep.PortkeyNote = "failed: " + err.Error()
		b.logf("portkey peer left out: %v", err)
		if b.portkey != nil {
			b.portkey.stop()
			b.portkey = nil
		}
	}
	node, err := exec.LookPath(c.node)
	if err != nil {
		b.rep.PortkeyNote = "not run (node not found)"
		return
	}
	if _, err := os.Stat(c.portkey); err != nil {
		fail(err)
		return
	}
	port, err := freePort()
	if err != nil {
		fail(err)
		return
	}
	b.portkeySpec = procSpec{name: portkey, path: node, port: port, args: portkeyArgs(c.portkey, port), env: childEnv(), ready: portkeyReady, timeout: 30 * time.Second}
	if b.portkey, err = b.startPortkeyProc(ctx, b.portkeySpec); err != nil {
		fail(err)
		return
	}
	t := newPortkeyTarget("http://"+b.portkey.addr, b.portkey.pid(), b.scenarios, b.mockURL)
	if err := verifyPeer(ctx, t); err != nil {
		fail(err)
		return
	}
	b.targets[portkey] = t
	b.order = append(b.order, portkey)
	b.rep.PortkeyNote = "node " + nodeVersion(node) + ", " + c.portkey
}

// startPortkeyProc starts the gateway from spec and waits until it
// answers GET / on the port it printed.
func (b *bench) startPortkeyProc(ctx context.Context, spec procSpec) (*proc, error) {
	p, err := b.start(ctx, spec)
	if err != nil {
		return nil, err
	}
	if p.addr, err = portkeyAddr(p.addr, spec.port); err != nil {
		p.stop()
		return nil, err
	}
	if err := waitHTTP(ctx, "http://"+p.addr+"/", 15*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// verifyPeer sends one JSON and one streaming request through t.
func verifyPeer(ctx context.Context, t *target) error {
	vctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := t.doJSON(vctx, "0ms"); err != nil {
		return fmt.Errorf("JSON request: %w", err)
	}
	tokens := t.reqs["stream"].tokens
	r := t.doStream(vctx, "stream", false, nil)
	if !r.complete(tokens) {
		if r.Err == nil {
			r.Err = errors.New("incomplete")
		}
		return fmt.Errorf("streaming request: status %d, %d/%d content frames, [DONE] %v: %v", r.Status, r.Content, tokens, r.Done, r.Err)
	}
	return nil
}

func nodeVersion(node string) string {
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}
