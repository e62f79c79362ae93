package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// A scenario is one kind of request: the mock's behaviour, set by X-Mock-*
// headers (sent by the client to the mock and the reverse proxy, and by
// the router as its provider's extra headers), and whether it streams.
type scenario struct {
	name    string            // also the router model: "bench-" + name
	headers map[string]string // X-Mock-* headers
	stream  bool
	tokens  int // content frames of a stream
}

func (s scenario) model() string { return "bench-" + s.name }

// body is the request body; the mock echoes whatever model it names, so the
// three targets receive byte-identical bodies.
func (s scenario) body() []byte {
	stream := ""
	if s.stream {
		stream = `,"stream":true`
	}
	return fmt.Appendf(nil, `{"model":%q,"messages":[{"role":"system","content":"You are a concise assistant."},{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":256%s}`, s.model(), stream)
}

// Target names.
const (
	direct   = "direct"
	router   = "router"
	revproxy = "revproxy"
	portkey  = "portkey" // a peer, not a target: see portkey.go
)

// isPeer reports whether a path is a peer: measured alongside, but its
// failures neither discard the other paths' samples nor count as targets.
func isPeer(name string) bool { return name == portkey }

// A target is one way to reach the mock: directly, through the router, or
// through the reference reverse proxy, each with its own connection pool.
type target struct {
	name string
	base string // http://host:port
	pid  int    // the process that serves base
	tr   *http.Transport
	c    *http.Client
	reqs map[string]prepared // by scenario name
}

type prepared struct {
	url    string
	header http.Header
	body   []byte
	tokens int
}

// newTransport is the load generator's transport: a deep idle pool so
// open-loop bursts reuse connections, no compression, no proxy.
func newTransport() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:               nil,
		DialContext:         d.DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: 8192,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ReadBufferSize:      16 << 10,
		WriteBufferSize:     8 << 10,
	}
}

// newTarget prepares the requests of every scenario. A router target sends
// its client key and the scenario's model and no X-Mock-* header (the
// router's provider adds them); the others send the X-Mock-* headers
// themselves, with a dummy key so the header sizes are alike.
func newTarget(name, base string, pid int, scenarios []scenario, clientKey string) *target {
	tr := newTransport()
	t := &target{name: name, base: base, pid: pid, tr: tr, c: &http.Client{Transport: tr}, reqs: map[string]prepared{}}
	for _, sc := range scenarios {
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		if sc.stream {
			h.Set("Accept", "text/event-stream")
		}
		if name == router {
			h.Set("Authorization", "Bearer "+clientKey)
		} else {
			h.Set("Authorization", "Bearer sk-bench-direct-0000000000000000000000000000")
			for k, v := range sc.headers {
				h.Set(k, v)
			}
		}
		t.reqs[sc.name] = prepared{url: base + "/v1/chat/completions", header: h, body: sc.body(), tokens: sc.tokens}
	}
	return t
}

func (t *target) request(ctx context.Context, sc string) (*http.Request, prepared, error) {
	p, ok := t.reqs[sc]
	if !ok {
		return nil, p, fmt.Errorf("no scenario %q", sc)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.body))
	if err != nil {
		return nil, p, err
	}
	req.Header = p.header.Clone()
	return req, p, nil
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %.200s", e.code, e.body) }

var errEmpty = errors.New("empty response body")

// send sends the request of sc (a scenario, or a door's row) and returns
// the answer when it is a 200, for the caller to read and close. Otherwise
// it returns the error (a *statusError for another status, whose body it
// closes) and the answer's status, 0 when there was no answer.
func (t *target) send(ctx context.Context, sc string) (*http.Response, int, error) {
	req, _, err := t.request(ctx, sc)
	if err != nil {
		return nil, 0, err
	}
	resp, err := t.c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, resp.StatusCode, &statusError{resp.StatusCode, string(b)}
	}
	return resp, resp.StatusCode, nil
}

// doJSON sends one non-streaming request and reads the whole answer.
func (t *target) doJSON(ctx context.Context, sc string) error {
	resp, _, err := t.send(ctx, sc)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if n == 0 {
		return errEmpty
	}
	return nil
}

// streamResult is what a client saw of one SSE stream.
type streamResult struct {
	Status  int
	Err     error
	TTFT    time.Duration   // from the send to the first frame with content
	Frames  int             // data frames other than [DONE]
	Content int             // frames that carry non-empty delta content
	Done    bool            // data: [DONE] arrived
	Gaps    []time.Duration // between consecutive content frames, when asked for
}

// complete reports whether every expected content frame and [DONE] arrived.
func (r *streamResult) complete(tokens int) bool {
	return r.Err == nil && r.Status == http.StatusOK && r.Done && r.Content == tokens
}

// truncated is a stream that started (200) but did not complete.
func (r *streamResult) truncated(tokens int) bool {
	return r.Status == http.StatusOK && !r.complete(tokens)
}

// openSSE sends the streaming request of scenario sc and returns its
// response once it answered 200; otherwise it returns nil and r says why.
func (t *target) openSSE(ctx context.Context, sc string, r *streamResult) *http.Response {
	resp, status, err := t.send(ctx, sc)
	r.Status, r.Err = status, err
	return resp
}

// doStream sends one streaming request and counts its frames; with gaps
// it records the time between consecutive content frames. onFirst, if
// set, runs at the first content frame.
func (t *target) doStream(ctx context.Context, sc string, gaps bool, onFirst func()) streamResult {
	var r streamResult
	start := time.Now()
	resp := t.openSSE(ctx, sc, &r)
	if resp == nil {
		return r
	}
	defer resp.Body.Close()
	var prev time.Time
	r.Err = readSSE(resp.Body, func(payload []byte) {
		if bytes.Equal(payload, []byte("[DONE]")) {
			r.Done = true
			return
		}
		r.Frames++
		if !hasContent(payload) {
			return
		}
		now := time.Now()
		r.Content++
		if r.Content == 1 {
			r.TTFT = now.Sub(start)
			if onFirst != nil {
				onFirst()
			}
		} else if gaps {
			r.Gaps = append(r.Gaps, now.Sub(prev))
		}
		prev = now
	})
	return r
}

var bufPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

// readSSE calls data with the payload of every "data:" line (one leading
// space removed) until the body ends; it returns the read error, or nil at
// a clean end.
func readSSE(body io.Reader, data func([]byte)) error {
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(body)
	defer func() { br.Reset(nil); bufPool.Put(br) }()
	var long []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, line...)
			continue
		}
		if long != nil {
			line = append(long, line...)
			long = nil
		}
		if len(line) > 0 {
			line = bytes.TrimRight(line, "\r\n")
			if p, ok := bytes.CutPrefix(line, []byte("data:")); ok {
				data(bytes.TrimPrefix(p, []byte(" ")))
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// hasContent reports whether an OpenAI chunk carries non-empty text in a
// "content" field, whatever the spacing of its JSON: the role chunk
// ("content":"") and finish and usage chunks do not.
func hasContent(p []byte) bool {
	key := []byte(`"content"`)
	for {
		i := bytes.Index(p, key)
		if i < 0 {
			return false
		}
		p = p[i+len(key):]
		j := 0
		for j < len(p) && (p[j] == ' ' || p[j] == '\t') {
			j++
		}
		if j >= len(p) || p[j] != ':' {
			continue
		}
		j++
		for j < len(p) && (p[j] == ' ' || p[j] == '\t') {
			j++
		}
		if j+1 < len(p) && p[j] == '"' && p[j+1] != '"' {
			return true
		}
	}
}

// tally counts errors and keeps the first few messages.
type tally struct {
	n     atomic.Int64
	mu    sync.Mutex
	first []string
}

func (t *tally) add(err error) {
	if err == nil {
		return
	}
	t.n.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.first) < 3 {
		t.first = append(t.first, err.Error())
	}
}

func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.first) == 0 {
		return ""
	}
	return fmt.Sprintf("%d errors, e.g. %q", t.n.Load(), t.first)
}
