package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
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
// HTTP/1.1 client (far cheaper than net/http's), against a mock in this
// process unless o.benchTarget names another one. In-process, both sides
// share the CPUs, so the figures are a lower bound of the server's ceiling.
func selftest(ctx context.Context, o options, stdout io.Writer) error {
	target := o.benchTarget
	where := "remote " + target
	if target == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		cfg := o.cfg
		cfg.RequireKey = ""
		srv := newServer(mock.NewHandler(cfg), io.Discard)
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		target = ln.Addr().String()
		where = "in-process (client and server share the CPUs)"
	}
	fmt.Fprintf(stdout, "mockllm selftest: %s, GOMAXPROCS=%d, %d connections, %v per scenario\n",
		where, runtime.GOMAXPROCS(0), o.benchConns, o.benchFor)
	for _, sc := range scenarios {
		if ctx.Err() != nil {
			return nil
		}
		r, err := load(ctx, target, sc, o.benchConns, o.benchFor)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		fmt.Fprintf(stdout, "  %-22s %9.0f req/s  p50 %-9v p99 %-9v cpu %5.1f µs/req (whole process)  errors %d\n",
			sc.name, r.rate, r.p50, r.p99, r.cpuPerReq, r.errors)
	}
	return nil
}

type loadResult struct {
	rate      float64
	p50, p99  time.Duration
	cpuPerReq float64
	errors    int
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
	cpu0 := cpuTime()
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
	cpu := cpuTime() - cpu0
	if len(lats) == 0 {
		if firstEr == nil {
			firstEr = errors.New("no responses")
		}
		return loadResult{}, firstEr
	}
	slices.Sort(lats)
	return loadResult{
		rate:      float64(len(lats)) / elapsed.Seconds(),
		p50:       lats[len(lats)/2].Round(time.Microsecond),
		p99:       lats[len(lats)*99/100].Round(time.Microsecond),
		cpuPerReq: float64(cpu.Microseconds()) / float64(len(lats)),
		errors:    nerr,
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
