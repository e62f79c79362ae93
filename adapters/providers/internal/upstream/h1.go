package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"sync"
	"time"
)

// h1 is the HTTP/1.1 client of plain-http upstreams (self-hosted vLLM,
// Ollama, an OpenAI-compatible server on the same network: the upstreams
// whose latency is small enough for the gateway's own to matter). It does
// what net/http's Transport does for one request, minus the machinery a
// gateway does not need, and on the caller's goroutine:
//
//   - The request is written and the response read by the goroutine that
//     sends it. net/http hands each request to a connection's write loop
//     and its response back from a read loop: two goroutine switches per
//     request, and two goroutines with their stacks per open connection.
//   - A connection holds only its read buffer; requests are written through
//     a pooled writer.
//   - Idle connections are kept most recently used first, and checked
//     before reuse (see peeker), since nothing reads them while they idle.
//
// Its rules are net/http's: a request is never resent once written (the
// upstream may be processing and billing it); a connection returns to the
// pool only once its response body has been read to the end; the caller's
// context cancels the exchange at any point (the connection is closed); no
// Accept-Encoding is added, so bodies arrive as the upstream sends them.
// HTTPS upstreams keep net/http's Transport, for its HTTP/2 and TLS session
// handling: over the Internet, round trips dwarf the gateway's own cost.
//
// Unlike net/http it writes the whole request before reading: an upstream
// that answers early (a 413) and closes without reading a body too large
// for the socket buffers fails the write, which counts as a request never
// sent. Idle connections are swept every h1SweepEvery.
type h1 struct {
	dial       func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle    int
	idleFor    time.Duration
	sweepEvery time.Duration // h1SweepEvery

	mu     sync.Mutex
	idle   map[string][]*h1Conn // by host:port, most recently used last
	sweep  *time.Timer          // armed while connections idle
	closed bool                 // closeIdle ran: connections are no longer kept
}

// h1SweepEvery is how often idle connections are checked: those idle
// longer than idleFor, or closed by the upstream (still holding a socket
// until closed here), are closed.
const h1SweepEvery = 15 * time.Second

type h1Conn struct {
	nc     net.Conn
	peek   *peeker
	br     *bufio.Reader
	tp     textproto.Reader
	addr   string
	idleAt time.Time
}

// h1ReadBuffer is a connection's read buffer. It holds a response's head
// and the chunk framing of its body; body bytes bypass it whenever the
// reader asks for at least its size (bufio reads into the caller's slice),
// so it only needs to fit a status line. Every open stream holds one.
const (
	h1ReadBuffer  = 2 << 10
	h1MaxTrailers = 64
)

var h1Writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}

func newH1(d *net.Dialer) *h1 {
	return &h1{dial: d.DialContext, maxIdle: MaxIdleConnsPerHost, idleFor: IdleConnTimeout, sweepEvery: h1SweepEvery, idle: make(map[string][]*h1Conn)}
}

func (t *h1) roundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validHeader(req.Header); err != nil {
		return nil, err
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	c, err := t.get(ctx, addr)
	if err != nil {
		return nil, err
	}
	// From here the caller's context closes the connection, which ends any
	// read or write in progress; stop reports whether that happened.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.Close() })
	trace := httptrace.ContextClientTrace(ctx)
	if err := c.write(req); err != nil {
		stop()
		_ = c.nc.Close()
		if trace != nil && trace.WroteRequest != nil {
			trace.WroteRequest(httptrace.WroteRequestInfo{Err: err})
		}
		return nil, ctxErr(ctx, err)
	}
	if trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{})
	}
	resp, err := c.readResponse(req)
	if err != nil {
		stop()
		_ = c.nc.Close()
		return nil, ctxErr(ctx, err)
	}
	b := &h1Body{t: t, c: c, stop: stop, ctx: ctx, reuse: !resp.Close}
	switch {
	case req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified || resp.ContentLength == 0:
		resp.ContentLength = 0
		b.finish()
		resp.Body = http.NoBody
		return resp, nil
	case len(resp.TransferEncoding) > 0:
		b.r = httputil.NewChunkedReader(c.br)
		b.chunked = true
	case resp.ContentLength > 0:
		b.left = resp.ContentLength
	default:
		// Neither length nor chunks: the body ends when the upstream
		// closes the connection, which therefore cannot be reused.
		b.r, b.reuse, resp.Close = c.br, false, true
	}
	resp.Body = b
	return resp, nil
}

// ctxErr is the context's error once it is done (the connection was closed
// because of it), else err.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// get returns an idle connection to addr that is still open, or dials one.
func (t *h1) get(ctx context.Context, addr string) (*h1Conn, error) {
	now := time.Now()
	for {
		t.mu.Lock()
		l := t.idle[addr]
		if len(l) == 0 {
			t.mu.Unlock()
			break
		}
		c := l[len(l)-1]
		l[len(l)-1] = nil
		t.idle[addr] = l[:len(l)-1]
		t.mu.Unlock()
		if now.Sub(c.idleAt) < t.idleFor && c.peek.alive() {
			return c, nil
		}
		_ = c.nc.Close()
	}
	nc, err := t.dialAside(ctx, addr)
	if err != nil {
		return nil, err
	}
	c := &h1Conn{nc: nc, br: bufio.NewReaderSize(nc, h1ReadBuffer), addr: addr, peek: newPeeker(nc)}
	c.tp.R = c.br
	return c, nil
}

// dialAside dials addr on a goroutine of its own. Dialing (name
// resolution, the socket calls) runs deeper than anything else a request
// does: on the request's goroutine it would double that goroutine's stack,
// which an open stream then holds for as long as it lasts. (net/http's
// Transport dials aside too.)
func (t *h1) dialAside(ctx context.Context, addr string) (net.Conn, error) {
	type result struct {
		nc  net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		nc, err := t.dial(ctx, "tcp", addr)
		ch <- result{nc, err}
	}()
	r := <-ch
	return r.nc, r.err
}

// put returns c to the idle pool, or closes it when the pool is full or
// the client was closed (a request that was in flight when its provider's
// configuration changed ends here).
func (t *h1) put(c *h1Conn) {
	c.idleAt = time.Now()
	t.mu.Lock()
	if !t.closed && len(t.idle[c.addr]) < t.maxIdle {
		t.idle[c.addr] = append(t.idle[c.addr], c)
		if t.sweep == nil {
			t.sweep = time.AfterFunc(t.sweepEvery, t.sweepIdle)
		}
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	_ = c.nc.Close()
}

// sweepIdle closes the idle connections that idled too long or that the
// upstream closed, and runs again while any are left.
func (t *h1) sweepIdle() {
	now := time.Now()
	var dead []*h1Conn
	t.mu.Lock()
	for addr, l := range t.idle {
		keep := l[:0]
		for _, c := range l {
			if now.Sub(c.idleAt) < t.idleFor && c.peek.alive() {
				keep = append(keep, c)
			} else {
				dead = append(dead, c)
			}
		}
		clear(l[len(keep):])
		if len(keep) == 0 {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = keep
		}
	}
	if len(t.idle) > 0 && !t.closed {
		t.sweep.Reset(t.sweepEvery)
	} else {
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, c := range dead {
		_ = c.nc.Close()
	}
}

// closeIdle closes every idle connection, for good: the client is being
// dropped, and connections of requests still in flight are closed when
// they end instead of kept.
func (t *h1) closeIdle() {
	t.mu.Lock()
	idle := t.idle
	t.idle = make(map[string][]*h1Conn)
	t.closed = true
	if t.sweep != nil {
		t.sweep.Stop()
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, l := range idle {
		for _, c := range l {
			_ = c.nc.Close()
		}
	}
}

// write sends req's head and body in as few writes as they fit in.
func (c *h1Conn) write(req *http.Request) error {
	bw := h1Writers.Get().(*bufio.Writer)
	bw.Reset(c.nc)
	defer func() {
		bw.Reset(nil)
		h1Writers.Put(bw)
	}()
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(req.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	for k, vs := range req.Header {
		if k == "Host" || k == "Content-Length" || k == "Transfer-Encoding" || k == "Connection" {
			continue
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if req.Body != nil && req.Body != http.NoBody || req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
		var num [20]byte
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(num[:0], max(req.ContentLength, 0), 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	if req.Body != nil && req.Body != http.NoBody {
		n, err := io.Copy(bw, req.Body)
		_ = req.Body.Close()
		if err != nil {
			return err
		}
		if n != req.ContentLength {
			return fmt.Errorf("request body of %d bytes, Content-Length %d", n, req.ContentLength)
		}
	}
	return bw.Flush()
}

// readResponse reads the status line and headers, skipping interim (1xx)
// responses.
func (c *h1Conn) readResponse(req *http.Request) (*http.Response, error) {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return nil, errors.New("malformed HTTP response: status line too long")
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		resp, err := parseStatus(line)
		if err != nil {
			return nil, err
		}
		hd, err := c.tp.ReadMIMEHeader()
		if err != nil {
			return nil, fmt.Errorf("malformed HTTP response headers: %w", err)
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			if resp.StatusCode == http.StatusSwitchingProtocols {
				return nil, errors.New("unexpected 101 Switching Protocols")
			}
			continue
		}
		resp.Header = http.Header(hd)
		resp.Request = req
		return resp, framing(resp)
	}
}
