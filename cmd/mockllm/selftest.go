package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/airouter/airouter/cmd/mockllm/mock"
)

// A selftest scenario is one request sent over and over.
type scenario struct {
	name, path, body, extra string
}

var scenarios = []scenario{
	{"openai json small", "/v1/chat/completions",
		`{"model":"mock-gpt","messages":[{"role":"user","content":"Hello there"}]}`, ""},
	{"anthropic json small", "/v1/messages",
		`{"model":"mock-claude","max_tokens":256,"messages":[{"role":"user","content":"Hello there"}]}`,
		"x-api-key: k\r\nanthropic-version: 2023-06-01\r\n"},
	{"openai sse 12 chunks", "/v1/chat/completions",
		`{"model":"mock-gpt","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello there"}]}`, ""},
	{"openai json large", "/v1/chat/completions",
		`{"model":"mock-gpt","messages":[{"role":"user","content":"Hello there"}]}`, "X-Mock-Size: large\r\n"},
}

// selftest measures the mock's throughput with a minimal keep-alive
// HTTP/1.1 client (far cheaper than net/http's). By default the mock runs
// as a child process, so its CPU time per request, read from /mock/stats,
// is its own; the ceiling is its CPUs divided by that. With
// -selftest-target inprocess, client and server share one process and the
// CPU figure covers both.
func selftest(ctx context.Context, o options, stdout io.Writer) error {
	target, where := o.benchTarget, "remote "+o.benchTarget
	switch target {
	case "inprocess":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		cfg := o.cfg
		cfg.RequireKey = ""
		srv := newServer(withStats(mock.NewHandler(cfg)), io.Discard)
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		target, where = ln.Addr().String(), "in-process (client and server share the process: CPU is both)"
	case "":
		addr, stop, err := startChild(ctx, o.serverArgs)
		if err != nil {
			return err
		}
		defer stop()
		target, where = addr, "child process "+addr
	}
	fmt.Fprintf(stdout, "mockllm selftest: server %s; client GOMAXPROCS=%d, %d connections, %v per scenario\n",
		where, runtime.GOMAXPROCS(0), o.benchConns, o.benchFor)
	for _, sc := range scenarios {
		if ctx.Err() != nil {
			return nil
		}
		before, statsErr := readStats(target)
		r, err := load(ctx, target, sc, o.benchConns, o.benchFor)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		after, err := readStats(target)
		switch {
		case statsErr == nil && err == nil && after.Requests > before.Requests && after.CPUSeconds > before.CPUSeconds && o.benchTarget == "inprocess":
			perReq := (after.CPUSeconds - before.CPUSeconds) * 1e6 / float64(after.Requests-before.Requests)
			fmt.Fprintf(stdout, "  %-22s %8.0f req/s  p50 %-9v p99 %-9v errors %d  client+server CPU %5.1f µs/req\n",
				sc.name, r.rate, r.p50, r.p99, r.errors, perReq)
		case statsErr == nil && err == nil && after.Requests > before.Requests && after.CPUSeconds > before.CPUSeconds:
			perReq := (after.CPUSeconds - before.CPUSeconds) * 1e6 / float64(after.Requests-before.Requests)
			fmt.Fprintf(stdout, "  %-22s %8.0f req/s  p50 %-9v p99 %-9v errors %d  server CPU %5.1f µs/req: ceiling ~%.0f req/s on %d CPUs\n",
				sc.name, r.rate, r.p50, r.p99, r.errors, perReq, float64(after.GOMAXPROCS)*1e6/perReq, after.GOMAXPROCS)
		default:
			fmt.Fprintf(stdout, "  %-22s %8.0f req/s  p50 %-9v p99 %-9v errors %d  (server CPU unknown)\n",
				sc.name, r.rate, r.p50, r.p99, r.errors)
		}
	}
	return nil
}

// startChild runs this executable as a mock server on a free port and
// returns its address and a function that stops it.
func startChild(ctx context.Context, serverArgs []string) (string, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, exe, append([]string{"-addr=127.0.0.1:0"}, serverArgs...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MOCKLLM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	_, addr, ok := strings.Cut(strings.TrimSpace(line), "http://")
	if err != nil || !ok {
		stop()
		return "", nil, fmt.Errorf("child mockllm did not start: %q %v", line, err)
	}
	return addr, stop, nil
}

type stats struct {
	Requests   uint64  `json:"requests"`
	CPUSeconds float64 `json:"cpu_seconds"`
	GOMAXPROCS int     `json:"gomaxprocs"`
}

func readStats(target string) (stats, error) {
	var s stats
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + target + statsPath)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("%s: %s", statsPath, resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s, err
}

type loadResult struct {
	rate     float64
	p50, p99 time.Duration
	errors   int
}

func load(ctx context.Context, target string, sc scenario, conns int, d time.Duration) (loadResult, error) {
	req := []byte(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s",
		sc.path, target, sc.extra, len(sc.body), sc.body))
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		lats    []time.Duration
		nerr    int
		firstEr error
	)
	t0 := time.Now()
	for range conns {
		wg.Go(func() {
			l, n, err := worker(ctx, target, req)
			mu.Lock()
			defer mu.Unlock()
			lats = append(lats, l...)
			nerr += n
			if err != nil && firstEr == nil {
				firstEr = err
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if len(lats) == 0 {
		if firstEr == nil {
			firstEr = errors.New("no responses")
		}
		return loadResult{}, firstEr
	}
	slices.Sort(lats)
	return loadResult{
		rate:   float64(len(lats)) / elapsed.Seconds(),
		p50:    lats[len(lats)/2].Round(time.Microsecond),
		p99:    lats[len(lats)*99/100].Round(time.Microsecond),
		errors: nerr,
	}, nil
}

// worker sends req on one connection until ctx ends, returning the latency
// of every 200 response and the number of other responses.
func worker(ctx context.Context, target string, req []byte) ([]time.Duration, int, error) {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", target)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	br := bufio.NewReaderSize(conn, 64<<10)
	lats := make([]time.Duration, 0, 4096)
	nerr := 0
	for ctx.Err() == nil {
		t := time.Now()
		if _, err := conn.Write(req); err != nil {
			break
		}
		status, err := readResponse(br)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return lats, nerr, err
		}
		if status == 200 {
			lats = append(lats, time.Since(t))
		} else {
			nerr++
		}
	}
	return lats, nerr, nil
}

var errFormat = errors.New("malformed HTTP response")

// readResponse reads one HTTP/1.1 response, with a Content-Length or
// chunked body, and returns its status.
func readResponse(br *bufio.Reader) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, errFormat
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errFormat
	}
	clen, chunked := -1, false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok {
			v = bytes.TrimSpace(v)
			switch {
			case bytes.EqualFold(k, []byte("Content-Length")):
				if clen, err = strconv.Atoi(string(v)); err != nil {
					return 0, errFormat
				}
			case bytes.EqualFold(k, []byte("Transfer-Encoding")):
				chunked = bytes.EqualFold(v, []byte("chunked"))
			}
		}
	}
	switch {
	case chunked:
		for {
			line, err = br.ReadSlice('\n')
			if err != nil {
				return 0, err
			}
			n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
			if err != nil {
				return 0, errFormat
			}
			if _, err := br.Discard(int(n) + 2); err != nil {
				return 0, err
			}
			if n == 0 {
				return status, nil
			}
		}
	case clen >= 0:
		_, err = br.Discard(clen)
		return status, err
	}
	return 0, errFormat
}
