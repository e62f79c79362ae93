package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"sync/atomic"
)

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
