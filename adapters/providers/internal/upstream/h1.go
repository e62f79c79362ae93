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
	"sync/atomic"
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
//     before reuse (see alive), since nothing reads them while they idle.
//
// Its rules are net/http's: a request is never resent once written (the
// upstream may be processing and billing it); a connection returns to the
// pool only once its response body has been read to the end; the caller's
// context cancels the exchange at any point (the connection is closed); no
// Accept-Encoding is added, so bodies arrive as the upstream sends them.
// HTTPS upstreams keep net/http's Transport, for its HTTP/2 and TLS session
// handling: over the Internet, round trips dwarf the gateway's own cost.
type h1 struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle int
	idleFor time.Duration

	mu   sync.Mutex
	idle map[string][]*h1Conn // by host:port, most recently used last
}

type h1Conn struct {
	nc     net.Conn
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
	return &h1{dial: d.DialContext, maxIdle: MaxIdleConnsPerHost, idleFor: IdleConnTimeout, idle: make(map[string][]*h1Conn)}
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
		if now.Sub(c.idleAt) < t.idleFor && alive(c.nc) {
			return c, nil
		}
		_ = c.nc.Close()
	}
	nc, err := t.dialAside(ctx, addr)
	if err != nil {
		return nil, err
	}
	c := &h1Conn{nc: nc, br: bufio.NewReaderSize(nc, h1ReadBuffer), addr: addr}
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

// put returns c to the idle pool, or closes it when the pool is full.
func (t *h1) put(c *h1Conn) {
	c.idleAt = time.Now()
	t.mu.Lock()
	if len(t.idle[c.addr]) < t.maxIdle {
		t.idle[c.addr] = append(t.idle[c.addr], c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	_ = c.nc.Close()
}

// closeIdle closes every idle connection.
func (t *h1) closeIdle() {
	t.mu.Lock()
	idle := t.idle
	t.idle = make(map[string][]*h1Conn)
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

// parseStatus parses "HTTP/1.x NNN reason\r\n".
func parseStatus(line []byte) (*http.Response, error) {
	n := len(line)
	for n > 0 && (line[n-1] == '\n' || line[n-1] == '\r') {
		n--
	}
	line = line[:n]
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return nil, fmt.Errorf("malformed HTTP status line %q", line[:min(len(line), 64)])
	}
	code := 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return nil, fmt.Errorf("malformed HTTP status code %q", line[9:12])
		}
		code = code*10 + int(d-'0')
	}
	resp := &http.Response{Status: string(line[9:]), StatusCode: code, Proto: string(line[:8]), ProtoMajor: 1, ProtoMinor: int(line[7] - '0')}
	if resp.ProtoMinor == 1 {
		resp.Proto = "HTTP/1.1"
	}
	return resp, nil
}

// framing sets the body's length, transfer encoding and whether the
// connection closes after it, from the headers.
func framing(resp *http.Response) error {
	h := resp.Header
	resp.Close = resp.ProtoMinor == 0 && !headerHas(h["Connection"], "keep-alive") || headerHas(h["Connection"], "close")
	resp.ContentLength = -1
	if te := h["Transfer-Encoding"]; len(te) > 0 {
		if len(te) != 1 || !asciiEqualFold(te[0], "chunked") {
			return fmt.Errorf("unsupported transfer encoding %q", te)
		}
		resp.TransferEncoding = []string{"chunked"}
		delete(h, "Content-Length")
		delete(h, "Transfer-Encoding")
		return nil
	}
	if cl := h["Content-Length"]; len(cl) > 0 {
		for _, v := range cl[1:] {
			if v != cl[0] {
				return errors.New("malformed HTTP response: conflicting Content-Length")
			}
		}
		n, err := strconv.ParseInt(textproto.TrimString(cl[0]), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("malformed HTTP response: bad Content-Length %q", cl[0])
		}
		resp.ContentLength = n
	}
	return nil
}

func headerHas(vs []string, token string) bool {
	for _, v := range vs {
		for len(v) > 0 {
			var part string
			if i := indexByte(v, ','); i >= 0 {
				part, v = v[:i], v[i+1:]
			} else {
				part, v = v, ""
			}
			if asciiEqualFold(textproto.TrimString(part), token) {
				return true
			}
		}
	}
	return false
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// validHeader refuses header names and values that would change the
// request's framing: a name that is not an HTTP token, a value with a line
// break or NUL. (net/http refuses them the same way.)
func validHeader(h http.Header) error {
	for k, vs := range h {
		if k == "" {
			return errors.New("invalid empty header name")
		}
		for i := 0; i < len(k); i++ {
			if !tokenChar[k[i]] {
				return fmt.Errorf("invalid header name %q", k)
			}
		}
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if c := v[i]; c < ' ' && (c == '\r' || c == '\n' || c == 0) {
					return fmt.Errorf("invalid value for header %q", k)
				}
			}
		}
	}
	return nil
}

// tokenChar holds the characters of an HTTP token (RFC 9110, 5.6.2).
var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// h1Body is a response body. The connection returns to the pool when the
// body has been read to its end (chunked trailer included) and the context
// never fired; any error, an early Close or a connection marked close
// closes it.
type h1Body struct {
	t       *h1
	c       *h1Conn
	stop    func() bool
	ctx     context.Context
	r       io.Reader // chunked or until-close; nil for a Content-Length body
	left    int64     // bytes left of a Content-Length body
	chunked bool
	reuse   bool
	state   atomic.Int32 // bodyOpen, bodyDone or bodyClosed
	err     error        // the error every later Read returns
}

const (
	bodyOpen int32 = iota
	bodyDone
	bodyClosed
)

func (b *h1Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.state.Load() != bodyOpen {
		b.err = errBodyClosed
		return 0, b.err
	}
	var n int
	var err error
	if b.r == nil {
		if b.left == 0 {
			b.end()
			return 0, io.EOF
		}
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err = b.c.br.Read(p)
		b.left -= int64(n)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err == nil && b.left == 0 {
			err = io.EOF
		}
	} else {
		n, err = b.r.Read(p)
		if err == io.EOF && b.chunked {
			if terr := b.readTrailer(); terr != nil {
				err = terr
			}
		}
	}
	switch {
	case err == io.EOF:
		b.end()
	case err != nil:
		b.fail()
		err = ctxErr(b.ctx, err)
	}
	b.err = err
	return n, err
}

var errBodyClosed = errors.New("http: read on closed response body")

// readTrailer reads the chunked body's trailer section up to its empty
// line, so that the connection is positioned at the next response.
func (b *h1Body) readTrailer() error {
	for range h1MaxTrailers {
		line, err := b.c.br.ReadSlice('\n')
		for err == bufio.ErrBufferFull { // a long trailer line: skip it
			_, err = b.c.br.ReadSlice('\n')
			line = nil
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if line != nil && len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
			return nil
		}
	}
	return errors.New("malformed chunked trailer: too many lines")
}

// end runs once the body was read to its end: the connection is reused if
// it may be and the context did not close it.
func (b *h1Body) end() {
	if !b.state.CompareAndSwap(bodyOpen, bodyDone) {
		return
	}
	b.finish()
}

func (b *h1Body) finish() {
	if !b.stop() || !b.reuse {
		_ = b.c.nc.Close()
		return
	}
	b.t.put(b.c)
}

func (b *h1Body) fail() {
	if b.state.CompareAndSwap(bodyOpen, bodyClosed) {
		b.stop()
		_ = b.c.nc.Close()
	}
}

// Close closes the connection unless the body was read to its end. It may
// be called from another goroutine while a Read waits: closing the
// connection ends that Read.
func (b *h1Body) Close() error {
	b.fail()
	return nil
}
