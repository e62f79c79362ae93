package mock

import (
	"context"

	"net"
	"net/http"
	"strconv"

	"time"
)

// writeWhole writes a JSON response and reports whether all of it was
// written.
func (h *handler) writeWhole(ctx context.Context, w http.ResponseWriter, st *state, p *params, pl *plan) bool {
	if !st.sleep(ctx, p.due(pl.bodyEvents()-1)) {
		return false
	}
	return h.writeBody(ctx, w, st, p, pl.appendJSON(st.buf[:0]))
}

// writeBody writes body, a rendered JSON response that becomes st.buf,
// with the mid-body injections of p, and reports whether all of it was
// written.
func (h *handler) writeBody(ctx context.Context, w http.ResponseWriter, st *state, p *params, body []byte) bool {
	st.buf = body
	hdr := w.Header()
	hdr["Content-Type"] = hvJSON
	mid := p.stall.At == MidStream || p.cut || p.reset == MidStream
	if mid || len(st.buf) > 2048 {
		// Below the server's chunking threshold net/http sets
		// Content-Length itself without allocating.
		hdr["Content-Length"] = []string{strconv.Itoa(len(st.buf))}
	}
	if !mid {
		return write(w, st.buf)
	}
	half := len(st.buf) / 2
	_, _ = w.Write(st.buf[:half])
	flush(w)
	switch {
	case p.reset == MidStream:
		abort(w, true)
		return false
	case p.cut:
		abort(w, false)
		return false
	}
	if !st.sleep(ctx, p.stall.For) {
		return false
	}
	return write(w, st.buf[half:])
}

// flushAt is the buffered size above which a stream writes without waiting
// for a pause.
const flushAt = 32 << 10

// writeStream writes an event stream and reports whether all of it was
// written.
func (h *handler) writeStream(ctx context.Context, w http.ResponseWriter, st *state, p *params, pl *plan) bool {
	hdr := w.Header()
	hdr["Content-Type"] = hvSSE
	hdr["Cache-Control"] = hvNoCache
	if pl.prov == openAI {
		st.pre = pl.renderChunkPrefix(st.pre[:0])
		pl.chunkPrefix = st.pre
	}
	start := time.Now()
	st.buf = pl.appendHead(st.buf[:0])
	n := pl.bodyEvents()
	mid := n / 2
	for i := range n {
		if i == mid {
			switch {
			case p.reset == MidStream:
				write(w, st.buf)
				flush(w)
				abort(w, true)
				return false
			case p.cut:
				// Half of this event, then a closed connection.
				pending := len(st.buf)
				st.buf = pl.appendBody(st.buf, i)
				write(w, st.buf[:pending+(len(st.buf)-pending)/2])
				flush(w)
				abort(w, false)
				return false
			case p.stall.At == MidStream:
				write(w, st.buf)
				flush(w)
				st.buf = st.buf[:0]
				if !st.sleep(ctx, p.stall.For) {
					return false
				}
				// The stall shifts the remaining schedule.
				start = start.Add(p.stall.For)
			}
		}
		if wait := time.Until(start.Add(p.due(i))); wait > 0 {
			if len(st.buf) > 0 {
				write(w, st.buf)
				st.buf = st.buf[:0]
			}
			flush(w)
			if !st.sleep(ctx, wait) {
				return false
			}
		}
		st.buf = pl.appendBody(st.buf, i)
		if len(st.buf) >= flushAt {
			if !write(w, st.buf) {
				return false
			}
			st.buf = st.buf[:0]
		}
	}
	st.buf = pl.appendTail(st.buf)
	if !write(w, st.buf) {
		return false
	}
	// The tail is only delivered once flushed.
	return flushErr(w) == nil
}

func write(w http.ResponseWriter, b []byte) bool {
	_, err := w.Write(b)
	return err == nil
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
		return
	}
	// A wrapping ResponseWriter may still reach a Flusher through Unwrap.
	_ = http.NewResponseController(w).Flush()
}

// flushErr is flush that reports a failed write; net/http's own writer has
// the FlushError method, which spares the ResponseController.
func flushErr(w http.ResponseWriter) error {
	if f, ok := w.(interface{ FlushError() error }); ok {
		return f.FlushError()
	}
	return http.NewResponseController(w).Flush()
}

// abort drops the connection: with reset, by a TCP RST (SO_LINGER 0);
// otherwise by an orderly close (FIN) that leaves the response unfinished.
func abort(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 or a writer that cannot hijack: the server drops the
		// connection (HTTP/1) or resets the stream (HTTP/2).
		panic(http.ErrAbortHandler)
	}
	if reset {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	}
	_ = conn.Close()
}

// sleep waits d or until ctx ends, reporting whether it waited it all.
func (st *state) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	if st.timer == nil {
		st.timer = time.NewTimer(d)
	} else {
		st.timer.Reset(d)
	}
	select {
	case <-st.timer.C:
		return true
	case <-ctx.Done():
		st.timer.Stop()
		return false
	}
}
